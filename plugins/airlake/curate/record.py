"""The record a curate run leaves: its manifest (started, counted, summed up), the dataset's curate state
and the consumed markers of the raw log; shared by the worker run and the SQL run step for step.

The manifest ``_manifests/<ds>/<run>/curate.json`` (and ``curate/attempt=<n>.json``) is what catalog,
quality, load and lineage read (typed, as :class:`~airlake.manifest.CurateRecord`); the state
``_state/<ds>/curate.json`` holds the version id of the latest complete curate (versions after it are an
attempt's, :func:`~airlake.curate.versions.orphan_versions`). A run's values are typed until they are
written: what it read of each raw part (:class:`RawInput`) and what it made of each partition
(:class:`PartitionOutcome`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.rawfile import raw_format
from airlake.lake import manifest_key, quarantine_key, s3_uri, state_key
from airlake.manifest import (
    COMPLETE,
    FAILED,
    CuratedPartition,
    IngestRecord,
    Manifest,
    RawPart,
    mark_consumed,
)
from airlake.store import file_sha256

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

STAGE = "curate"
INGEST_STAGE = "ingest"
ROW_COUNTS = (
    "read",
    "accepted",
    "quarantined",
    "written",
    "duplicates_dropped",
    "existing",
    "existing_kept",
    "existing_replaced",
    "output",
)
"""The manifest's ``rows``: balanced by :func:`check_accounting`."""

Write = Callable[["LakeStore", Manifest, str], str]
"""How a run writes its manifest with a status (the runner's, so a test can stop it there)."""

__all__ = ["FAILED", "ROW_COUNTS", "STAGE", "PartitionOutcome", "RawInput"]


@dataclass(frozen=True)
class RawInput:
    """One raw part as the run read it: its ``inputs`` entry."""

    part: RawPart
    bytes: int
    sha256: str | None
    rows: int
    """Records (non-blank lines, rows) read."""
    landing: str | None = None
    """The landing file, when the run names it (the worker path does)."""
    header: Mapping[str, Any] | None = None
    """What the part's header said against the schema (:mod:`airlake.curate.header`)."""

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "key": self.part.key,
            "format": raw_format(self.part.key),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "rows": self.rows,
            "rows_ingested": self.part.rows,
            "raw_run": self.part.raw_run,
        }
        if self.landing:
            entry["landing"] = self.landing
        if self.header is not None:
            entry["header"] = dict(self.header)
        return entry

    def findings(self) -> list[str]:
        """Warnings for the manifest: a count unlike the ingest's, what the header said."""
        found = []
        if self.part.rows is not None and self.part.rows != self.rows:
            found.append(
                f"{self.part.key}: read {self.rows} rows, the ingest manifest counted {self.part.rows}"
            )
        if self.header is not None:
            refused = self.header.get("refused")
            found.extend([refused["message"]] if refused else self.header.get("warnings", []))
        return found


@dataclass(frozen=True)
class PartitionOutcome:
    """What a run made of one partition: its manifest entry and the objects this attempt uploaded (none
    when it is ``unchanged`` or ``reused``)."""

    partition: CuratedPartition
    uploaded: tuple[Mapping[str, Any], ...] = field(default=())


def new_manifest(
    contract: Contract, run_id: str, ingest: IngestRecord, raw_runs: Sequence[IngestRecord], threshold: float
) -> Manifest:
    """The manifest of a run that starts: what it consumes, its rules, every count at zero."""
    dataset = contract.name
    manifest = Manifest(dataset=dataset, run_id=run_id, stage=STAGE)
    manifest.source = {
        "ingest_manifest": manifest_key(dataset, run_id, INGEST_STAGE),
        "ingest_manifests": [manifest_key(dataset, r.run_id, INGEST_STAGE) for r in raw_runs],
    }
    manifest.interval = dict(ingest.interval)
    manifest.extra = {
        "raw_runs": [r.run_id for r in raw_runs],
        "version": None,
        "partitions": [],
        "quarantine": None,
        "schema_hash": contract.schema_hash,
        "dedup": {
            "keys": list(contract.dedup.keys),
            "keep": contract.dedup.keep,
            "order_by": contract.dedup.order_by,
            "scope": "partition",
        },
        "reject_rate": 0.0,
        "reject_rate_max": threshold,
        "warnings": [],
        "unchanged": [],
        "removed_versions": [],
        "timings": {},
    }
    manifest.rows = dict.fromkeys(ROW_COUNTS, 0)
    return manifest


def record_inputs(manifest: Manifest, inputs: Sequence[RawInput]) -> None:
    """The parts read, in order, as the manifest's ``inputs``, their findings as warnings, ``read``."""
    manifest.inputs = [item.entry() for item in inputs]
    for item in inputs:
        for finding in item.findings():
            log.warning(finding)
            manifest.extra["warnings"].append(finding)
    manifest.rows["read"] = sum(item.rows for item in inputs)


def check_reject_budget(
    store: LakeStore,
    manifest: Manifest,
    rejects_path: Path,
    reasons: Mapping[str, int],
    ingest_day: date,
    write: Write,
) -> None:
    """Upload the run's rejects (when it holds any) to quarantine and record them and the reject rate;
    over the contract's budget, write the failed manifest and raise :class:`RejectRateExceeded`."""
    rows, dataset, run_id = manifest.rows, manifest.dataset, manifest.run_id
    quarantined = rows["quarantined"]
    if quarantined:
        qkey = quarantine_key(dataset, ingest_day, run_id)
        store.put_file(qkey, rejects_path)
        manifest.outputs.append(
            {
                "kind": "quarantine",
                "key": qkey,
                "rows": quarantined,
                "bytes": rejects_path.stat().st_size,
                "sha256": file_sha256(rejects_path),
            }
        )
        manifest.extra["quarantine"] = {
            "key": qkey,
            "location": s3_uri(store.bucket, qkey),
            "rows": quarantined,
            "reasons": dict(sorted(reasons.items())),
        }
    rate = quarantined / rows["read"] if rows["read"] else 0.0
    threshold = manifest.extra["reject_rate_max"]
    manifest.extra["reject_rate"] = round(rate, 6)
    if rate <= threshold:
        return
    manifest.extra["error"] = (
        f"reject rate {rate:.2%} ({quarantined} of {rows['read']}) above threshold {threshold:.2%}"
    )
    key = write(store, manifest, FAILED)
    raise RejectRateExceeded(
        dataset,
        run_id,
        quarantined,
        rows["read"],
        threshold,
        manifest.extra["quarantine"]["location"],
        s3_uri(store.bucket, key),
    )


def add_partitions(manifest: Manifest, outcomes: Sequence[PartitionOutcome]) -> None:
    """The partitions' entries, their counts summed into the manifest's rows (then balanced) and the
    objects this attempt uploaded as its outputs."""
    rows = manifest.rows
    partitions = [outcome.partition for outcome in outcomes]
    for outcome in outcomes:
        entry = outcome.partition
        rows["written"] += entry.rows_new_kept
        rows["duplicates_dropped"] += entry.rows_new - entry.rows_new_kept
        rows["existing"] += entry.rows_existing
        rows["existing_kept"] += entry.rows_existing_kept
        rows["output"] += entry.rows
        manifest.outputs.extend({"kind": "curated", "dt": entry.dt, **item} for item in outcome.uploaded)
    rows["existing_replaced"] = rows["existing"] - rows["existing_kept"]
    check_accounting(rows)
    manifest.extra["partitions"] = [p.as_entry() for p in partitions]
    manifest.extra["accounting"] = "read = written + quarantined + duplicates_dropped"
    manifest.extra["unchanged"] = [p.dt for p in partitions if p.unchanged]


def complete_run(
    store: LakeStore, manifest: Manifest, write: Write, *, engine: str | None = None
) -> dict[str, Any]:
    """The end of every run that succeeds: the raw log's markers, the complete manifest, the dataset's
    curate state (when it wrote a version), one log line; the summary for XCom."""
    dataset, run_id, extra, rows = manifest.dataset, manifest.run_id, manifest.extra, manifest.rows
    mark_raw_runs_consumed(store, manifest)
    key = write(store, manifest, COMPLETE)
    version = extra["version"]
    if version is None:
        log.info("Ingest run(s) %s of %s landed nothing: nothing to curate", extra["raw_runs"], dataset)
        return summary(manifest, key)
    advance_state(store, dataset, run_id, version)
    log.info(
        "Curated %s run %s %s(raw runs %s): read %d, written %d, quarantined %d, duplicates dropped %d; "
        "%d partition(s) at version %s, %d unchanged",
        dataset,
        run_id,
        f"by SQL ({engine}) " if engine else "",
        ", ".join(extra["raw_runs"]),
        rows["read"],
        rows["written"],
        rows["quarantined"],
        rows["duplicates_dropped"],
        len(extra["partitions"]) - len(extra["unchanged"]),
        version,
        len(extra["unchanged"]),
    )
    return summary(manifest, key)


def write_manifest(store: LakeStore, manifest: Manifest, status: str) -> str:
    """This attempt's record (a new ``attempt=<n>.json``; earlier attempts' records stay)."""
    return manifest.write(store, status)


def fail_run(store: LakeStore, manifest: Manifest, exc: BaseException, write: Write) -> None:
    """Record why the run failed as its ``failed`` manifest; a failure to write it only logs (the
    original error matters more)."""
    manifest.extra["error"] = f"{type(exc).__name__}: {exc}"
    try:
        write(store, manifest, FAILED)
    except Exception:
        log.exception(
            "Could not write the failed curate manifest of %s run %s", manifest.dataset, manifest.run_id
        )


def mark_raw_runs_consumed(store: LakeStore, manifest: Manifest) -> None:
    """Index the log: beside each other raw run this attempt consumed, a marker naming this run."""
    for raw_run in manifest.extra["raw_runs"]:
        if raw_run != manifest.run_id:
            mark_consumed(store, manifest.dataset, raw_run, manifest.run_id)


def advance_state(store: LakeStore, dataset: str, run_id: str, version: str) -> None:
    """The version id of the dataset's latest complete curate: versions after it are an attempt's."""
    state = store.get_json(state_key(dataset, STAGE)) or {}
    store.put_json(
        state_key(dataset, STAGE),
        {"version": max(version, str(state.get("version") or "")), "run_id": run_id},
    )


def check_accounting(rows: dict[str, int]) -> None:
    """Raise :class:`CurateError` when the run's counts do not add up (a row was lost or made)."""
    problems = []
    if rows["read"] != rows["written"] + rows["quarantined"] + rows["duplicates_dropped"]:
        problems.append("read != written + quarantined + duplicates_dropped")
    if rows["read"] != rows["accepted"] + rows["quarantined"]:
        problems.append("read != accepted + quarantined")
    if rows["output"] != rows["written"] + rows["existing_kept"]:
        problems.append("output != written + existing_kept")
    if problems:
        raise CurateError(f"row accounting does not balance ({'; '.join(problems)}): {rows}")


def summary(manifest: Manifest, key: str) -> dict[str, Any]:
    """The small XCom value: counts, versions and locations, never data."""
    quarantine = manifest.extra["quarantine"]
    return {
        "dataset": manifest.dataset,
        "run_id": manifest.run_id,
        "version": manifest.extra["version"],
        "rows": dict(manifest.rows),
        "partitions": [
            {
                "dt": p["dt"],
                "version": p["version"],
                "location": p["location"],
                "previous_location": p["previous_location"],
                "rows": p["rows"],
                "unchanged": bool(p.get("unchanged")),
                "reused": bool(p.get("reused")),
            }
            for p in manifest.extra["partitions"]
        ],
        "raw_runs": list(manifest.extra["raw_runs"]),
        "quarantine": quarantine["key"] if quarantine else None,
        "manifest": key,
    }
