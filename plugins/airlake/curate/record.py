"""The record a curate run leaves: its manifest (started, counted, summed up), the dataset's curate state
and the consumed markers of the raw log; shared by the worker run and the SQL run step for step.

The manifest ``_manifests/<ds>/<run>/curate.json`` (and ``curate/attempt=<n>.json``) is what catalog,
quality, load and lineage read (typed, as :class:`~airlake.manifest.CurateRecord`); the state
``_state/<ds>/curate.json`` holds the version id of the latest complete curate (versions after it are an
attempt's, :func:`~airlake.curate.versions.orphan_versions`). A run's values are typed until they are
written: what it read of each raw part (:class:`RawInput`), what it made of each partition
(:class:`PartitionOutcome`) and the record's own fields (:class:`CurateDetails` of a
:class:`CurateManifest`, written under the document keys readers know); a run that completes hands back
the record as written (:class:`CurateResult`).
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
    CurateRecord,
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

Write = Callable[["LakeStore", "CurateManifest", str], str]
"""How a run writes its manifest with a status (the runner's, so a test can stop it there)."""

__all__ = [
    "FAILED",
    "ROW_COUNTS",
    "STAGE",
    "CurateDetails",
    "CurateManifest",
    "CurateResult",
    "PartitionOutcome",
    "RawInput",
]


@dataclass
class CurateDetails:
    """What a curate record holds beyond every stage's fields, typed while the run fills it in; the
    document stores it under the same keys (:meth:`entries`), read back by
    :class:`~airlake.manifest.CurateRecord`."""

    raw_runs: list[str]
    """The raw (ingest) runs the attempt consumes, in log order."""
    schema_hash: str
    dedup: dict[str, Any]
    reject_rate_max: float
    version: str | None = None
    """The version the attempt writes (None until planned, and when it landed nothing)."""
    partitions: list[CuratedPartition] = field(default_factory=list)
    quarantine: dict[str, Any] | None = None
    reject_rate: float = 0.0
    warnings: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed_versions: list[Any] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    engine: str | None = None
    """The SQL run's engine (and the ids of its queries, filled in as they run); None in the worker."""
    query_ids: list[str] | None = None
    accounting: str | None = None
    error: str | None = None
    """Why the attempt failed."""

    def entries(self) -> dict[str, Any]:
        """The document's keys, in the order records have always had them (optional ones only when set)."""
        document: dict[str, Any] = {
            "raw_runs": self.raw_runs,
            "version": self.version,
            "partitions": [partition.as_entry() for partition in self.partitions],
            "quarantine": self.quarantine,
            "schema_hash": self.schema_hash,
            "dedup": self.dedup,
            "reject_rate": self.reject_rate,
            "reject_rate_max": self.reject_rate_max,
            "warnings": self.warnings,
            "unchanged": self.unchanged,
            "removed_versions": self.removed_versions,
            "timings": self.timings,
        }
        optional = {
            "engine": self.engine,
            "query_ids": self.query_ids,
            "accounting": self.accounting,
            "error": self.error,
        }
        return {**document, **{key: value for key, value in optional.items() if value is not None}}


@dataclass
class CurateManifest(Manifest):
    """A curate attempt's manifest: every stage's fields and the curate record's (:class:`CurateDetails`)."""

    details: CurateDetails = field(kw_only=True)

    def as_document(self, status: str = COMPLETE) -> dict[str, Any]:
        return {**super().as_document(status), **self.details.entries()}


@dataclass(frozen=True)
class CurateResult:
    """What a completed run hands back: the small summary for XCom and the record as it was written."""

    summary: dict[str, Any]
    record: CurateRecord


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
) -> CurateManifest:
    """The manifest of a run that starts: what it consumes, its rules, every count at zero."""
    dataset = contract.name
    details = CurateDetails(
        raw_runs=[r.run_id for r in raw_runs],
        schema_hash=contract.schema_hash,
        dedup={
            "keys": list(contract.dedup.keys),
            "keep": contract.dedup.keep,
            "order_by": contract.dedup.order_by,
            "scope": "partition",
        },
        reject_rate_max=threshold,
    )
    manifest = CurateManifest(dataset=dataset, run_id=run_id, stage=STAGE, details=details)
    manifest.source = {
        "ingest_manifest": manifest_key(dataset, run_id, INGEST_STAGE),
        "ingest_manifests": [manifest_key(dataset, r.run_id, INGEST_STAGE) for r in raw_runs],
    }
    manifest.interval = dict(ingest.interval)
    manifest.rows = dict.fromkeys(ROW_COUNTS, 0)
    return manifest


def record_inputs(manifest: CurateManifest, inputs: Sequence[RawInput]) -> None:
    """The parts read, in order, as the manifest's ``inputs``, their findings as warnings, ``read``."""
    manifest.inputs = [item.entry() for item in inputs]
    for item in inputs:
        for finding in item.findings():
            log.warning(finding)
            manifest.details.warnings.append(finding)
    manifest.rows["read"] = sum(item.rows for item in inputs)


def check_reject_budget(
    store: LakeStore,
    manifest: CurateManifest,
    rejects_path: Path,
    reasons: Mapping[str, int],
    ingest_day: date,
    write: Write,
) -> None:
    """Upload the run's rejects (when it holds any) to quarantine and record them and the reject rate;
    over the contract's budget, write the failed manifest and raise :class:`RejectRateExceeded`."""
    rows, dataset, run_id, details = manifest.rows, manifest.dataset, manifest.run_id, manifest.details
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
        details.quarantine = {
            "key": qkey,
            "location": s3_uri(store.bucket, qkey),
            "rows": quarantined,
            "reasons": dict(sorted(reasons.items())),
        }
    rate = quarantined / rows["read"] if rows["read"] else 0.0
    threshold = details.reject_rate_max
    details.reject_rate = round(rate, 6)
    if rate <= threshold:
        return
    details.error = (
        f"reject rate {rate:.2%} ({quarantined} of {rows['read']}) above threshold {threshold:.2%}"
    )
    key = write(store, manifest, FAILED)
    raise RejectRateExceeded(
        dataset,
        run_id,
        quarantined,
        rows["read"],
        threshold,
        details.quarantine["location"] if details.quarantine else "",
        s3_uri(store.bucket, key),
    )


def add_partitions(manifest: CurateManifest, outcomes: Sequence[PartitionOutcome]) -> None:
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
    manifest.details.partitions = partitions
    manifest.details.accounting = "read = written + quarantined + duplicates_dropped"
    manifest.details.unchanged = [p.dt for p in partitions if p.unchanged]


def complete_run(store: LakeStore, manifest: CurateManifest, write: Write) -> CurateResult:
    """The end of every run that succeeds: the raw log's markers, the complete manifest, the dataset's
    curate state (when it wrote a version), one log line; the summary for XCom and the record written."""
    dataset, run_id, details, rows = manifest.dataset, manifest.run_id, manifest.details, manifest.rows
    mark_raw_runs_consumed(store, manifest)
    key = write(store, manifest, COMPLETE)
    written = manifest.written or manifest.as_document(COMPLETE)
    result = CurateResult(summary(manifest, key), CurateRecord.parse(written))
    version = details.version
    if version is None:
        log.info("Ingest run(s) %s of %s landed nothing: nothing to curate", details.raw_runs, dataset)
        return result
    advance_state(store, dataset, run_id, version)
    log.info(
        "Curated %s run %s %s(raw runs %s): read %d, written %d, quarantined %d, duplicates dropped %d; "
        "%d partition(s) at version %s, %d unchanged",
        dataset,
        run_id,
        f"by SQL ({details.engine}) " if details.engine else "",
        ", ".join(details.raw_runs),
        rows["read"],
        rows["written"],
        rows["quarantined"],
        rows["duplicates_dropped"],
        len(details.partitions) - len(details.unchanged),
        version,
        len(details.unchanged),
    )
    return result


def write_manifest(store: LakeStore, manifest: CurateManifest, status: str) -> str:
    """This attempt's record (a new ``attempt=<n>.json``; earlier attempts' records stay)."""
    return manifest.write(store, status)


def fail_run(store: LakeStore, manifest: CurateManifest, exc: BaseException, write: Write) -> None:
    """Record why the run failed as its ``failed`` manifest; a failure to write it only logs (the
    original error matters more)."""
    manifest.details.error = f"{type(exc).__name__}: {exc}"
    try:
        write(store, manifest, FAILED)
    except Exception:
        log.exception(
            "Could not write the failed curate manifest of %s run %s", manifest.dataset, manifest.run_id
        )


def mark_raw_runs_consumed(store: LakeStore, manifest: CurateManifest) -> None:
    """Index the log: beside each other raw run this attempt consumed, a marker naming this run."""
    for raw_run in manifest.details.raw_runs:
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


def summary(manifest: CurateManifest, key: str) -> dict[str, Any]:
    """The small XCom value: counts, versions and locations, never data."""
    details = manifest.details
    quarantine = details.quarantine
    return {
        "dataset": manifest.dataset,
        "run_id": manifest.run_id,
        "version": details.version,
        "rows": dict(manifest.rows),
        "partitions": [
            {
                "dt": p.dt,
                "version": p.version,
                "location": p.location,
                "previous_location": p.previous_location,
                "rows": p.rows,
                "unchanged": p.unchanged,
                "reused": p.reused,
            }
            for p in details.partitions
        ],
        "raw_runs": list(details.raw_runs),
        "quarantine": quarantine["key"] if quarantine else None,
        "manifest": key,
    }
