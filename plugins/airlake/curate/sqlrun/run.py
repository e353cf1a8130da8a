"""The SQL curate run (:func:`run_curate_sql`) and what its engines implement (:class:`SqlCurateEngine`);
the story is told in :mod:`airlake.curate.sqlrun`."""

from __future__ import annotations

import abc
import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError
from airlake.curate.inputs import BACKLOG_DAYS, CurateStart, curate_attempt, ingest_date_of
from airlake.curate.merge import LocalPart
from airlake.curate.parse import Reject
from airlake.curate.partitions import LiveLocation, plan_versions, remove_orphans, settle_partition
from airlake.curate.parts import RejectWriter
from airlake.curate.rawfile import raw_format
from airlake.curate.record import (
    CurateResult,
    PartitionOutcome,
    RawInput,
    add_partitions,
    check_reject_budget,
    complete_run,
    record_inputs,
    write_manifest,
)
from airlake.curate.runner import CurateOptions
from airlake.curate.sql import curate_sql, sql_unsupported
from airlake.lake import curated_version_prefix, s3_uri
from airlake.manifest import CuratedPartition, RawPart

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

LIVE_ROWS = "live_rows"
"""The relation of the live rows of the touched partitions (local engine)."""
_CARRY = ("source", "line_number")
_BATCH_LINES = 65_536


@dataclass
class PartitionOutput:
    """What the engine wrote for one partition: local files to upload (local engine) or the objects
    already in the version prefix (Athena), and how many new and live rows survived de-duplication."""

    dt: str
    rows_new_kept: int
    rows_existing_kept: int
    local_parts: list[LocalPart] | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)


class SqlCurateEngine(abc.ABC):
    """Where the curate SQL runs: registers the inputs, runs the queries, writes the outputs."""

    name: str = "sql"
    raw_relation: str = "raw_lines"
    """The relation :meth:`load_raw` exposes (``line``, ``seq``, ``source``, ``line_number``)."""
    query_ids: list[str]

    @abc.abstractmethod
    def load_raw(self, store: LakeStore, parts: list[RawPart]) -> list[RawInput]:
        """Expose the raw parts as :attr:`raw_relation`; what was read of each (records: non-blank
        lines), in order."""

    @abc.abstractmethod
    def load_live(self, store: LakeStore, contract: Contract, locations: dict[str, str]) -> str | None:
        """Expose the live rows of these partitions (``dt -> location``); the relation's name, None
        when there are none to merge."""

    @abc.abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small result (counts) of Trino SQL."""

    @abc.abstractmethod
    def write_rejects(self, sql: str, writer: RejectWriter) -> None:
        """Every row of the rejects query into the quarantine file."""

    @abc.abstractmethod
    def write_partitions(
        self, store: LakeStore, contract: Contract, sql: str, dts: list[str], version: str, work_dir: Path
    ) -> list[PartitionOutput]:
        """The curated rows (``with_source``) of each partition: local Parquet files (to compare and
        upload) or objects written under ``curated_version_prefix(dataset, dt, version)``."""

    def on_kill(self) -> None:  # noqa: B027 - nothing to stop by default
        """Stop the running query."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Drop what the run created (tables, scratch files)."""


def run_curate_sql(
    contract: Contract,
    store: LakeStore,
    *,
    run_id: str,
    live_location: LiveLocation,
    work_dir: Path,
    engine: SqlCurateEngine,
    reject_rate_max: float | None = None,
    backlog: bool = False,
    backlog_days: int = BACKLOG_DAYS,
    options: CurateOptions = CurateOptions(),  # noqa: B008 - frozen
) -> CurateResult:
    """
    Curate the run's raw parts (and with ``backlog`` every unpublished raw run) on ``engine``; the same
    outputs, manifest and summary as :func:`airlake.curate.run_curate` (see it for the parameters), in
    the same order of steps; the manifest also names the ``engine`` and its ``query_ids``. Of the
    ``options`` it uses the ingest date, comparison location and orphan grace (the engine has its own
    tuning).

    :raises RejectRateExceeded: too many rejects (quarantine and manifest written first).
    :raises CurateError: no complete ingest manifest, a raw part changed or is not JSON Lines, the
        contract uses what the SQL path does not implement, or the accounting does not balance.
    """
    problems = sql_unsupported(contract)
    if problems:
        listed = "; ".join(f"{'.'.join(map(str, loc))}: {text}" for loc, text in problems)
        raise CurateError(f"{contract.name} cannot be curated by SQL: {listed}")
    limits = {"reject_rate_max": reject_rate_max, "backlog": backlog, "backlog_days": backlog_days}
    with curate_attempt(contract, store, run_id, work_dir, **limits, write=write_manifest) as start:
        start.manifest.details.engine = engine.name
        start.manifest.details.query_ids = engine.query_ids  # the engine adds each query's id as it runs
        for part in start.parts:
            if raw_format(part.key) != "jsonl":
                raise CurateError(
                    f"raw part {part.key} is not JSON Lines: the SQL curate reads JSON Lines only"
                )
        return _run(start, live_location, engine, options)


def _run(
    start: CurateStart, live_location: LiveLocation, engine: SqlCurateEngine, options: CurateOptions
) -> CurateResult:
    contract, store, work_dir = start.contract, start.store, start.work_dir
    manifest, ingest, parts = start.manifest, start.ingest, start.parts
    dataset, run_id = contract.name, manifest.run_id
    details = manifest.details
    timings = details.timings
    rows = manifest.rows
    if not parts:
        return complete_run(store, manifest, write_manifest)

    # 1. raw lines -> counts and rejects (the SQL's reject rules) ------------------------------------
    started = time.monotonic()
    record_inputs(manifest, engine.load_raw(store, parts))
    sql_options: dict[str, Any] = {"source": engine.raw_relation, "order_column": "seq"}
    rejects_path = work_dir / "rejects.jsonl.gz"
    writer = RejectWriter(rejects_path)
    try:
        engine.write_rejects(curate_sql(contract, rejects=True, carry=_CARRY, **sql_options), writer)
    finally:
        writer.close()
    rows["quarantined"] = writer.rows
    rows["accepted"] = rows["read"] - writer.rows
    new_counts = {
        str(dt): int(n) for dt, n, _ in engine.rows(curate_sql(contract, counts=True, **sql_options))
    }
    if sum(new_counts.values()) != rows["accepted"]:
        raise CurateError(
            f"the SQL accepted {sum(new_counts.values())} rows but read - quarantined is {rows['accepted']}"
        )
    timings["parse_seconds"] = round(time.monotonic() - started, 3)

    # 2. quarantine, then the reject budget ---------------------------------------------------------
    ingest_day = options.ingest_date or ingest_date_of(ingest)
    check_reject_budget(store, manifest, rejects_path, writer.reasons, ingest_day, write_manifest)

    # 3. per partition: live rows + new rows -> de-duplicated new version ---------------------------
    started = time.monotonic()
    dts = sorted(new_counts)
    plan = plan_versions(store, dataset, run_id, dts, live_location, options.compare_location)
    details.version = plan.version
    existing = engine.load_live(store, contract, {dt: loc for dt, loc in plan.previous.items() if loc})
    merged = {
        str(dt): (int(new), int(old))
        for dt, new, old in engine.rows(curate_sql(contract, counts=True, existing=existing, **sql_options))
    }
    sql = curate_sql(contract, existing=existing, with_source=True, **sql_options)
    outcomes = []
    for output in engine.write_partitions(store, contract, sql, dts, plan.version, work_dir):
        rows_new, rows_existing = merged.get(output.dt, (0, 0))
        if rows_new != new_counts[output.dt]:
            raise CurateError(
                f"dt={output.dt}: {new_counts[output.dt]} rows accepted but the merge read {rows_new}"
            )
        counted = CuratedPartition(
            dt=output.dt,
            location="",
            previous_location=plan.previous[output.dt],
            rows=output.rows_new_kept + output.rows_existing_kept,
            rows_new=rows_new,
            rows_new_kept=output.rows_new_kept,
            rows_existing=rows_existing,
            rows_existing_kept=output.rows_existing_kept,
        )
        outcomes.append(
            _publishable(
                store,
                contract,
                output,
                plan.version,
                counted,
                plan.compare[output.dt],
                plan.pending.get(output.dt),
            )
        )
    timings["merge_seconds"] = round(time.monotonic() - started, 3)

    # 4. accounting, manifest (the worker path's) ---------------------------------------------------
    add_partitions(manifest, outcomes)
    live = options.compare_location or live_location
    details.removed_versions = remove_orphans(store, contract, plan.version, live, options.orphan_grace)
    return complete_run(store, manifest, write_manifest)


def _publishable(
    store: LakeStore,
    contract: Contract,
    output: PartitionOutput,
    version: str,
    counted: CuratedPartition,
    live: str | None,
    pending: CuratedPartition | None,
) -> PartitionOutcome:
    """One partition's outcome: Athena's objects are already in the new version prefix; local files are
    settled as the worker path's (:func:`~airlake.curate.partitions.settle_partition`: ``unchanged``,
    ``reused`` or uploaded)."""
    if output.local_parts is None:
        prefix = curated_version_prefix(contract.name, output.dt, version, column=contract.partition_column)
        written = replace(
            counted,
            version=version,
            location=s3_uri(store.bucket, prefix),
            files=tuple(item["key"] for item in output.objects),
            bytes=sum(item["bytes"] for item in output.objects),
        )
        return PartitionOutcome(written, tuple(output.objects))
    parts = output.local_parts
    folder = parts[0].path.parent if parts else Path(".")
    try:
        return settle_partition(
            store,
            contract,
            replace(counted, bytes=sum(part.bytes for part in parts)),
            parts,
            version=version,
            live=live,
            pending=pending,
            downloaded=None,
            scratch=folder / "compare",
        )
    finally:
        if parts:
            shutil.rmtree(folder, ignore_errors=True)


def _reject(row: dict[str, Any]) -> tuple[str, int, Reject, str]:
    """(source, line, Reject, raw) of one row of the rejects query, as the worker's RejectWriter takes it."""
    reason, name = str(row["reason"]), row.get("field")
    message = f"rejected by the SQL curate: {reason}" + (f" (field {name})" if name else "")
    line = row.get("line_number")
    return (
        str(row.get("source") or ""),
        int(line) if line is not None else 0,
        Reject(reason, message, name),
        str(row["raw"]),
    )
