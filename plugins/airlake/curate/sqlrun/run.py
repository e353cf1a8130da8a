"""The SQL curate run (:func:`run_curate_sql`) and what its engines implement (:class:`SqlCurateEngine`);
the story is told in :mod:`airlake.curate.sqlrun`."""

from __future__ import annotations

import abc
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.inputs import BACKLOG_DAYS, ingest_date_of, raw_parts, raw_runs_to_curate, read_ingest
from airlake.curate.merge import LocalPart
from airlake.curate.parse import Reject
from airlake.curate.partitions import (
    LiveLocation,
    pending_versions,
    remove_orphans,
    resolve_live,
    same_as_live,
    same_as_pending,
)
from airlake.curate.parts import RejectWriter
from airlake.curate.rawfile import raw_format
from airlake.curate.record import (
    FAILED,
    add_partition_counts,
    advance_state,
    mark_raw_runs_consumed,
    new_manifest,
    quarantine_rejects,
    reject_rate_exceeded,
    summary,
)
from airlake.curate.sql import curate_sql, sql_unsupported
from airlake.curate.versions import (
    ORPHAN_GRACE,
    new_version_id,
    version_of_location,
)
from airlake.lake import curated_version_prefix, s3_uri
from airlake.manifest import COMPLETE, Manifest

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
    def load_raw(
        self, store: LakeStore, parts: list[dict[str, Any]], inputs: list[dict[str, Any]]
    ) -> list[int]:
        """Expose the raw parts as :attr:`raw_relation`; append each part's manifest input entry to
        ``inputs``; return the records (non-blank lines) read per part."""

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
    ingest_date: date | None = None,
    reject_rate_max: float | None = None,
    backlog: bool = False,
    backlog_days: int = BACKLOG_DAYS,
    compare_location: LiveLocation | None = None,
    orphan_grace: timedelta = ORPHAN_GRACE,
) -> dict[str, Any]:
    """
    Curate the run's raw parts (and with ``backlog`` every unpublished raw run) on ``engine``; the same
    outputs, manifest and summary as :func:`airlake.curate.run_curate` (see it for the parameters), in
    the same order of steps; the manifest also names the ``engine`` and its ``query_ids``.

    :raises RejectRateExceeded: too many rejects (quarantine and manifest written first).
    :raises CurateError: no complete ingest manifest, a raw part changed or is not JSON Lines, the
        contract uses what the SQL path does not implement, or the accounting does not balance.
    """
    problems = sql_unsupported(contract)
    if problems:
        listed = "; ".join(f"{'.'.join(map(str, loc))}: {text}" for loc, text in problems)
        raise CurateError(f"{contract.name} cannot be curated by SQL: {listed}")
    dataset = contract.name
    ingest = read_ingest(store, dataset, run_id)
    threshold = contract.quality.reject_rate_max if reject_rate_max is None else reject_rate_max
    raw_runs = raw_runs_to_curate(store, dataset, ingest, backlog=backlog, backlog_days=backlog_days)
    manifest = new_manifest(contract, run_id, ingest, raw_runs, threshold)
    manifest.extra.update(engine=engine.name, query_ids=engine.query_ids)
    work_dir.mkdir(parents=True, exist_ok=True)
    parts = raw_parts(raw_runs)
    try:
        for part in parts:
            if raw_format(part["key"]) != "jsonl":
                raise CurateError(
                    f"raw part {part['key']} is not JSON Lines: the SQL curate reads JSON Lines only"
                )
        return _run(
            contract,
            store,
            manifest,
            ingest,
            parts,
            live_location,
            compare_location,
            work_dir,
            engine,
            ingest_date,
            orphan_grace,
        )
    except RejectRateExceeded:
        raise
    except Exception as exc:
        manifest.extra["error"] = f"{type(exc).__name__}: {exc}"
        try:
            manifest.write(store, FAILED)
        except Exception:  # the original error matters more
            log.exception("Could not write the failed curate manifest of %s run %s", dataset, run_id)
        raise


def _run(
    contract: Contract,
    store: LakeStore,
    manifest: Manifest,
    ingest: dict[str, Any],
    parts: list[dict[str, Any]],
    live_location: LiveLocation,
    compare_location: LiveLocation | None,
    work_dir: Path,
    engine: SqlCurateEngine,
    ingest_date: date | None,
    orphan_grace: timedelta,
) -> dict[str, Any]:
    dataset, run_id = contract.name, manifest.run_id
    timings: dict[str, float] = manifest.extra["timings"]
    rows = manifest.rows
    if not parts:
        mark_raw_runs_consumed(store, manifest)
        key = manifest.write(store, COMPLETE)
        log.info(
            "Ingest run(s) %s of %s landed nothing: nothing to curate", manifest.extra["raw_runs"], dataset
        )
        return summary(manifest, key)

    # 1. raw lines -> counts and rejects (the SQL's reject rules) ------------------------------------
    started = time.monotonic()
    read = engine.load_raw(store, parts, manifest.inputs)
    for part, item, count in zip(parts, manifest.inputs, read, strict=True):
        item["rows"] = count
        ingested = part.get("rows")
        if ingested is not None and int(ingested) != count:
            warning = f"{part['key']}: read {count} rows, the ingest manifest counted {ingested}"
            log.warning(warning)
            manifest.extra["warnings"].append(warning)
    rows["read"] = sum(read)
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
    if quarantine_rejects(
        store, manifest, rejects_path, writer.reasons, ingest_date or ingest_date_of(ingest)
    ):
        key = manifest.write(store, FAILED)
        raise reject_rate_exceeded(manifest, s3_uri(store.bucket, key))

    # 3. per partition: live rows + new rows -> de-duplicated new version ---------------------------
    started = time.monotonic()
    dts = sorted(new_counts)
    previous = resolve_live(live_location, dts)
    compare = resolve_live(compare_location, dts) if compare_location else previous
    pending = pending_versions(store, dataset, run_id, compare)
    live_versions = [v for v in (version_of_location(loc) for loc in compare.values()) if v]
    version = new_version_id(after=max(live_versions, default=None))
    manifest.extra["version"] = version
    existing = engine.load_live(store, contract, {dt: loc for dt, loc in previous.items() if loc})
    merged = {
        str(dt): (int(new), int(old))
        for dt, new, old in engine.rows(curate_sql(contract, counts=True, existing=existing, **sql_options))
    }
    sql = curate_sql(contract, existing=existing, with_source=True, **sql_options)
    for output in engine.write_partitions(store, contract, sql, dts, version, work_dir):
        rows_new, rows_existing = merged.get(output.dt, (0, 0))
        if rows_new != new_counts[output.dt]:
            raise CurateError(
                f"dt={output.dt}: {new_counts[output.dt]} rows accepted but the merge read {rows_new}"
            )
        counts = {
            "rows_new": rows_new,
            "rows_new_kept": output.rows_new_kept,
            "rows_existing": rows_existing,
            "rows_existing_kept": output.rows_existing_kept,
        }
        manifest.extra["partitions"].append(
            _publishable(
                store,
                contract,
                output,
                version,
                previous[output.dt],
                compare[output.dt],
                pending.get(output.dt),
                counts,
            )
        )
    timings["merge_seconds"] = round(time.monotonic() - started, 3)

    # 4. accounting, manifest (the worker path's) ---------------------------------------------------
    add_partition_counts(manifest)
    manifest.extra["removed_versions"] = remove_orphans(
        store, dataset, version, compare_location or live_location, orphan_grace
    )
    mark_raw_runs_consumed(store, manifest)
    key = manifest.write(store, COMPLETE)
    advance_state(store, dataset, run_id, version)
    log.info(
        "Curated %s run %s by SQL (%s; raw runs %s): read %d, written %d, quarantined %d, duplicates "
        "dropped %d; %d partition(s) at version %s, %d unchanged",
        dataset,
        run_id,
        engine.name,
        ", ".join(manifest.extra["raw_runs"]),
        rows["read"],
        rows["written"],
        rows["quarantined"],
        rows["duplicates_dropped"],
        len(dts) - len(manifest.extra["unchanged"]),
        version,
        len(manifest.extra["unchanged"]),
    )
    return summary(manifest, key)


def _publishable(
    store: LakeStore,
    contract: Contract,
    output: PartitionOutput,
    version: str,
    previous: str | None,
    live: str | None,
    pending: dict[str, Any] | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    """The manifest entry of one partition: local files equal to the live version are ``unchanged``,
    equal to an unpublished earlier attempt's are ``reused``, else uploaded to the new version prefix
    (the worker path's rules, :mod:`airlake.curate.runner`); Athena's objects are already there."""
    dt = output.dt
    total = output.rows_new_kept + output.rows_existing_kept
    base = {"dt": dt, "previous_location": previous, "rows": total, **counts}
    if output.local_parts is None:
        prefix = curated_version_prefix(contract.name, dt, version)
        return {
            **base,
            "version": version,
            "location": s3_uri(store.bucket, prefix),
            "files": [item["key"] for item in output.objects],
            "bytes": sum(item["bytes"] for item in output.objects),
            "sha256": {},
            "_outputs": output.objects,
        }
    parts = output.local_parts
    size = sum(part.bytes for part in parts)
    folder = parts[0].path.parent if parts else None
    same = same_as_live(store, parts, live, None, (folder or Path(".")) / "compare") if parts else None
    if same is None and pending is not None and same_as_pending(store, parts, pending):
        log.info(
            "dt=%s: the result equals %s, written by an earlier attempt; reused", dt, pending["location"]
        )
        return {
            **base,
            **{key: pending[key] for key in ("version", "location", "files", "sha256")},
            "reused": True,
            "bytes": size,
            "_outputs": [],
        }
    if same is not None:
        log.info("dt=%s: the result equals the live version %s; nothing uploaded", dt, live)
        return {
            **base,
            "version": version_of_location(live),
            "location": live,
            "unchanged": True,
            "files": list(same),
            "bytes": size,
            "sha256": same,
            "_outputs": [],
        }
    prefix = curated_version_prefix(contract.name, dt, version)
    files, checksums, objects = [], {}, []
    for part in parts:
        key = prefix + part.path.name
        store.put_file(key, part.path)
        files.append(key)
        checksums[key] = part.sha256
        objects.append({"key": key, "rows": part.rows, "bytes": part.bytes, "sha256": part.sha256})
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        **base,
        "version": version,
        "location": s3_uri(store.bucket, prefix),
        "files": files,
        "bytes": size,
        "sha256": checksums,
        "_outputs": objects,
    }


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
