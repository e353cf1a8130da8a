"""Run manifests: what one stage of one run read and wrote, with row accounting and checksums.

Records are append-only per attempt: every write of a stage's record is a new
``_manifests/<dataset>/<run>/<stage>/attempt=<n>.json`` (``n`` = 1, 2, ...), and
``<stage>.json`` beside it is a copy of the latest attempt, for readers that want "the run's record".
A retry, a clear or a rerun of a finished run adds an attempt; what an earlier attempt recorded stays.

This module is also the one place that says which raw runs are **published** (see
:func:`unpublished_raw_runs`): curate reads the raw zone as a log and consumes every ingested run that
is not yet, so a failed run never strands the data it landed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import airlake
from airlake.lake import (
    consumed_marker_key,
    manifest_attempt_key,
    manifest_attempts_prefix,
    manifest_key,
    manifests_prefix,
)
from airlake.store import LakeStore

log = logging.getLogger(__name__)

COMPLETE = "complete"
_ATTEMPT = re.compile(r"/attempt=(\d+)\.json$")


def code_version() -> str:
    """Package version plus the deployment's revision when the environment provides one."""
    revision = os.environ.get("AIRLAKE_CODE_REVISION")
    return f"{airlake.__version__}+{revision}" if revision else airlake.__version__


@dataclass
class Manifest:
    dataset: str
    run_id: str
    stage: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: dict[str, Any] = field(default_factory=dict)
    interval: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    attempt: int | None = None
    """The attempt number this record was written as (set by the first :meth:`write`)."""

    def as_document(self, status: str = COMPLETE) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": status,
            "attempt": self.attempt,
            "code_version": code_version(),
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(),
            "source": self.source,
            "interval": self.interval,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "rows": self.rows,
            "bytes_written": sum(int(item.get("bytes", 0)) for item in self.outputs),
            **self.extra,
        }

    def write(self, store: LakeStore, status: str = COMPLETE) -> str:
        """Record this attempt as a new ``attempt=<n>.json`` and as the run's latest ``<stage>.json``.

        The first write of a :class:`Manifest` takes the next attempt number; writing the same object
        again (a stage that records "running", then its outcome) rewrites only its own attempt.
        :return: the key of ``<stage>.json``.
        """
        if self.attempt is None:
            self.attempt = _next_attempt(store, self.dataset, self.run_id, self.stage)
        document = self.as_document(status=status)
        store.put_json(manifest_attempt_key(self.dataset, self.run_id, self.stage, self.attempt), document)
        key = manifest_key(self.dataset, self.run_id, self.stage)
        store.put_json(key, document)
        return key


def _attempt_numbers(store: LakeStore, dataset: str, run_id: str, stage: str) -> list[int]:
    found = []
    for obj in store.list(manifest_attempts_prefix(dataset, run_id, stage)):
        match = _ATTEMPT.search(obj.key)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def _next_attempt(store: LakeStore, dataset: str, run_id: str, stage: str) -> int:
    numbers = _attempt_numbers(store, dataset, run_id, stage)
    if numbers:
        return numbers[-1] + 1
    legacy = store.get_json(manifest_key(dataset, run_id, stage))
    if legacy is None:
        return 1
    # a record written before attempts were kept: keep it as attempt 1 before adding ours
    store.put_json(manifest_attempt_key(dataset, run_id, stage, 1), {**legacy, "attempt": 1})
    return 2


def manifest_attempts(store: LakeStore, dataset: str, run_id: str, stage: str) -> list[dict[str, Any]]:
    """Every attempt's record of a stage of a run, oldest first (a legacy ``<stage>.json`` alone as one)."""
    numbers = _attempt_numbers(store, dataset, run_id, stage)
    if not numbers:
        legacy = store.get_json(manifest_key(dataset, run_id, stage))
        return [legacy] if legacy is not None else []
    records = [store.get_json(manifest_attempt_key(dataset, run_id, stage, n)) for n in numbers]
    return [record for record in records if record is not None]


def read_manifest(
    store: LakeStore, dataset: str, run_id: str, stage: str, *, status: str | None = None
) -> dict[str, Any] | None:
    """The latest record of a stage of a run, or with ``status`` the latest attempt with that status."""
    latest = store.get_json(manifest_key(dataset, run_id, stage))
    if latest is None or status is None or latest.get("status", COMPLETE) == status:
        return latest
    for record in reversed(manifest_attempts(store, dataset, run_id, stage)):
        if record.get("status", COMPLETE) == status:
            return record
    return None


# --------------------------------------------------------------------------------------------------
# The raw log: which ingested runs are published
# --------------------------------------------------------------------------------------------------

INGEST, CURATE, CATALOG = "ingest", "curate", "catalog"


def consumed_raw_runs(curate: dict[str, Any]) -> list[str]:
    """The raw (ingest) runs a curate record consumed; a record older than the field consumed its own."""
    return list(curate.get("raw_runs") or [curate["run_id"]])


def _published_curate(curates: list[dict[str, Any]], catalog: dict[str, Any]) -> dict[str, Any] | None:
    """The curate attempt a catalog attempt published: the latest complete one finished before it started."""
    started = str(catalog.get("started_at") or "")
    done = [
        c
        for c in curates
        if c.get("status", COMPLETE) == COMPLETE and str(c.get("finished_at") or "") <= started
    ]
    return done[-1] if done else None


def published_by(store: LakeStore, dataset: str, run_id: str) -> set[str]:
    """The raw runs that the catalog attempts of ``run_id`` published (through its curate attempts)."""
    catalogs = [c for c in manifest_attempts(store, dataset, run_id, CATALOG) if c.get("status") == COMPLETE]
    if not catalogs:
        return set()
    curates = manifest_attempts(store, dataset, run_id, CURATE)
    runs: set[str] = set()
    for catalog in catalogs:
        curate = _published_curate(curates, catalog)
        if curate is not None:
            runs.update(consumed_raw_runs(curate))
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
) -> list[dict[str, Any]]:
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
    pending: list[dict[str, Any]] = []
    for folder in _index(store, dataset).values():
        if INGEST not in folder.stages or CATALOG in folder.stages:
            continue
        ingest = store.get_json(manifest_key(dataset, folder.folder, INGEST))  # folder: a safe run id
        if not ingest or ingest.get("status", COMPLETE) != COMPLETE:
            continue
        finished = ingest.get("finished_at")
        if since is not None and finished and datetime.fromisoformat(str(finished)) < since:
            continue
        raw_run = str(ingest["run_id"])
        if any(
            raw_run in published_by(store, dataset, consumer)
            for consumer in _consumers(store, dataset, folder)
        ):
            continue
        pending.append(ingest)
    return sorted(pending, key=lambda record: (str(record.get("finished_at") or ""), str(record["run_id"])))


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
