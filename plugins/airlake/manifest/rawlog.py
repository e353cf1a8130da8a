"""The raw log: the one place that says which ingested raw runs are **published**.

Curate reads the raw zone as a log and consumes every ingested run that is not yet published
(:func:`unpublished_raw_runs`), so a failed run never strands the data it landed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from airlake.lake import consumed_marker_key, manifest_key, manifests_prefix
from airlake.manifest.records import CATALOG, CURATE, INGEST, CatalogRecord, CurateRecord, IngestRecord
from airlake.manifest.writer import manifest_attempts
from airlake.store import LakeStore


def _published_curate(curates: list[CurateRecord], catalog: CatalogRecord) -> CurateRecord | None:
    """The curate attempt a catalog attempt published: the latest complete one finished before it started."""
    done = [c for c in curates if c.complete and c.finished_at <= catalog.started_at]
    return done[-1] if done else None


def published_by(store: LakeStore, dataset: str, run_id: str) -> set[str]:
    """The raw runs that the catalog attempts of ``run_id`` published (through its curate attempts)."""
    catalogs = [
        record
        for record in map(CatalogRecord.parse, manifest_attempts(store, dataset, run_id, CATALOG))
        if record.complete
    ]
    if not catalogs:
        return set()
    curates = [CurateRecord.parse(d) for d in manifest_attempts(store, dataset, run_id, CURATE)]
    runs: set[str] = set()
    for catalog in catalogs:
        curate = _published_curate(curates, catalog)
        if curate is not None:
            runs.update(curate.raw_runs)
    return runs


@dataclass(frozen=True)
class _RunKeys:
    """What one listing of ``_manifests/<dataset>/`` says about one run folder."""

    folder: str
    stages: frozenset[str]
    consumed_by: frozenset[str]


def _index(store: LakeStore, dataset: str) -> dict[str, _RunKeys]:
    base = manifests_prefix(dataset)
    stages: dict[str, set[str]] = {}
    consumers: dict[str, set[str]] = {}
    for obj in store.list(base):
        parts = obj.key[len(base) :].split("/")
        if len(parts) == 2 and parts[1].endswith(".json"):
            stages.setdefault(parts[0], set()).add(parts[1][: -len(".json")])
        elif len(parts) == 3 and parts[1] == "consumed_by" and parts[2].endswith(".json"):
            consumers.setdefault(parts[0], set()).add(parts[2][: -len(".json")])
    return {
        folder: _RunKeys(folder, frozenset(found), frozenset(consumers.get(folder, ())))
        for folder, found in stages.items()
    }


def unpublished_raw_runs(
    store: LakeStore, dataset: str, *, since: datetime | None = None
) -> list[IngestRecord]:
    """
    The complete ingest records of every raw run of ``dataset`` that is not yet published, oldest first
    (with ``since``: only those whose ingest finished at or after it).

    **Published** (the one definition the lake uses): a raw run R is published when some run X has a
    complete catalog record whose published curate attempt (the latest complete curate attempt of X
    finished before that catalog attempt started) consumed R (its ``raw_runs`` names R). A run's own
    catalog success therefore publishes its own raw run, since every curate consumes its own run.

    Cost: one listing of ``_manifests/<dataset>/``, then reads only for runs without a catalog record of
    their own (failed runs): their ingest record, and the records of the runs that claim to have
    consumed them (the ``consumed_by/`` markers curate leaves beside a raw run).
    """
    pending: list[IngestRecord] = []
    for folder in _index(store, dataset).values():
        if INGEST not in folder.stages or CATALOG in folder.stages:
            continue
        document = store.get_json(manifest_key(dataset, folder.folder, INGEST))  # folder: a safe run id
        if not document:
            continue
        ingest = IngestRecord.parse(document)
        if not ingest.complete:
            continue
        if since is not None and ingest.finished_at and datetime.fromisoformat(ingest.finished_at) < since:
            continue
        if any(
            ingest.run_id in published_by(store, dataset, consumer)
            for consumer in _consumers(store, dataset, folder)
        ):
            continue
        pending.append(ingest)
    return sorted(pending, key=ingested_at)


def ingested_at(ingest: IngestRecord) -> tuple[str, str]:
    """Log order of raw runs: when their ingest finished (the run id breaks a tie)."""
    return ingest.finished_at, ingest.run_id


def _consumers(store: LakeStore, dataset: str, folder: _RunKeys) -> Iterable[str]:
    """Run ids named by a raw run's ``consumed_by/`` markers (folder names are the safe run ids)."""
    for marker in sorted(folder.consumed_by):
        record = store.get_json(consumed_marker_key(dataset, folder.folder, marker))
        if record and record.get("curate_run_id"):
            yield str(record["curate_run_id"])


def mark_consumed(store: LakeStore, dataset: str, raw_run_id: str, curate_run_id: str) -> None:
    """Leave beside raw run ``raw_run_id`` a marker that the curate of ``curate_run_id`` consumed it."""
    store.put_json(
        consumed_marker_key(dataset, raw_run_id, curate_run_id),
        {
            "dataset": dataset,
            "raw_run_id": raw_run_id,
            "curate_run_id": curate_run_id,
            "at": datetime.now(UTC).isoformat(),
        },
    )
