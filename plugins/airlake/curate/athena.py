"""CURATE on the query engine (contract ``curate: {engine: athena}``): the same run as the worker path,
computed by :func:`~airlake.curate.sql.curate_sql` instead of in the Airflow worker.

    from airlake.curate.athena import LocalSqlCurate, run_curate_sql

    summary = run_curate_sql(contract, store, run_id=run_id, live_location=lookup, work_dir=tmp,
                             engine=LocalSqlCurate(work_dir=tmp))   # or AthenaSqlCurate(...) on AWS

What stays the worker path's (reused from its homes, in :func:`~airlake.curate.run_curate`'s order of
steps): which raw runs a run consumes and the checks of the ingest manifest
(:mod:`airlake.curate.inputs`), the live-location lookups, reuse of a pending version, the byte-for-byte
"unchanged" comparison and the removal of orphan versions (:mod:`airlake.curate.partitions`), the version
id (:mod:`airlake.curate.versions`), the quarantine upload, reject budget, row accounting, manifest, state
and summary (:mod:`airlake.curate.record`). So catalog publish, quality checks, load and lineage read the
result unchanged.

What the engine does, all in SQL on a table of raw lines (``raw_lines``: ``line``, ``seq``, ``source``,
``line_number``) and the live rows of the touched partitions (``existing``):

1. counts per part (``read``) and per partition (``rows_new``, ``rows_existing``);
2. the rejects with reason and field (``rejects=True``), written as the worker's quarantine file
   (:class:`~airlake.curate.parts.RejectWriter`: same keys, same gzip JSON Lines layout);
3. the curated rows, de-duplicated against the live partition, written per partition into the new
   version prefix ``curated/<ds>/dt=<dt>/v=<version>/``.

Engines: :class:`LocalSqlCurate` (DuckDB on the SQL transpiled by sqlglot, raw parts and live files
downloaded from S3; Parquet written by the worker path's :class:`~airlake.curate.merge.ParquetPartWriter`,
so the files are byte-identical to the worker's for the same rows) and :class:`AthenaSqlCurate`
(a per-run Glue external table over the raw run prefixes, CTAS of the result, one ``UNLOAD`` per
partition into its version prefix, the rejects ``UNLOAD`` as gzip JSON; every query id kept for
:meth:`~SqlCurateEngine.on_kill`).

Limits of this path against the worker's (see also :mod:`airlake.curate.sql`): JSON Lines raw parts
only (:func:`~airlake.curate.sql.sql_unsupported`); the raw text of a line with bytes invalid in UTF-8
holds U+FFFD where the worker keeps the byte (the reason, ``bad_encoding``, is the same). On Athena:
rejects carry line 0 (Athena has no line numbers), duplicates that tie on ``dedup.order_by`` are broken
arbitrarily (the worker keeps the later line), a UTF-8 byte order mark makes the first line
``not_json``, no "unchanged" comparison is made (every run writes its versions), and the statements
were exercised against a DuckDB stand-in (``tests/.../test_curate_athena_statements.py``), not yet on
AWS: UNLOAD's file names (not ``part-*.parquet``) and Parquet timestamp types are to be checked there.
The Athena engine polls; it is not deferrable yet.
"""

from __future__ import annotations

import abc
import codecs
import gzip
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.inputs import BACKLOG_DAYS, ingest_date_of, raw_parts, raw_runs_to_curate, read_ingest
from airlake.curate.merge import MAX_FILE_BYTES, ROW_GROUP_ROWS, LocalPart, ParquetPartWriter
from airlake.curate.parse import Reject
from airlake.curate.partitions import (
    LiveLocation,
    pending_versions,
    remove_orphans,
    resolve_live,
    same_as_live,
    same_as_pending,
)
from airlake.curate.parts import PART_SHIFT, RejectWriter
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
from airlake.curate.sql import curate_sql, sql_unsupported, to_duckdb
from airlake.curate.versions import (
    ORPHAN_GRACE,
    download_version_files,
    new_version_id,
    split_location,
    version_of_location,
)
from airlake.lake import curated_version_prefix, s3_uri
from airlake.manifest import COMPLETE, Manifest
from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    import duckdb

    from airlake.contracts import Contract
    from airlake.engines.athena import AthenaEngine
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


# --------------------------------------------------------------------------------------------------
# Local: DuckDB on the transpiled SQL
# --------------------------------------------------------------------------------------------------


def _sql_type(contract: Contract, name: str) -> str:
    """DuckDB type of a column as the curate SQL produces it (timestamps without a zone, in UTC)."""
    column = contract.column(name)
    if column.column_type.base in ("timestamp", "timestamptz"):
        return "TIMESTAMP"
    return contract.duckdb_type(column)


class LocalSqlCurate(SqlCurateEngine):
    """
    The local stand-in of Athena: the curate SQL transpiled to DuckDB (:func:`to_duckdb`) over the raw
    parts and live files downloaded from S3 (whole-object GETs, as everywhere locally).

    :param work_dir: scratch for downloads, DuckDB's spill and the output files.
    :param memory_limit: DuckDB memory limit (it spills beyond it).
    :param threads: DuckDB threads (default: all cores).
    :param row_group_rows: rows per Parquet row group (as the worker's).
    :param max_file_bytes: a partition's file rolls to the next one at about this size (as the worker's).
    """

    name = "duckdb"

    def __init__(
        self,
        work_dir: Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        import duckdb

        self.work_dir = Path(work_dir) / "sql"
        (self.work_dir / "duckdb-tmp").mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "temp_directory": str(self.work_dir / "duckdb-tmp"),
        }
        if threads:
            config["threads"] = threads
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(config=config)
        self.con.execute("SET TimeZone = 'UTC'")  # Athena computes in UTC
        self.row_group_rows = row_group_rows
        self.max_file_bytes = max_file_bytes
        self.query_ids = []

    def load_raw(
        self, store: LakeStore, parts: list[dict[str, Any]], inputs: list[dict[str, Any]]
    ) -> list[int]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [("line", pa.string()), ("seq", pa.int64()), ("source", pa.string()), ("line_number", pa.int64())]
        )
        folder = self.work_dir / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        lines_path = folder / "raw_lines.parquet"
        counts: list[int] = []
        with pq.ParquetWriter(lines_path, schema, compression="zstd") as out:
            for index, part in enumerate(parts):
                local = folder / f"part-{index:05d}"
                sha256 = store.download(part["key"], local)
                if part.get("sha256") and part["sha256"] != sha256:
                    raise CurateError(
                        f"raw part s3://{store.bucket}/{part['key']} changed since it was ingested "
                        f"(sha256 {sha256}, ingest manifest says {part['sha256']}): raw data is immutable"
                    )
                inputs.append(
                    {
                        "key": part["key"],
                        "format": raw_format(part["key"]),
                        "bytes": local.stat().st_size,
                        "sha256": sha256,
                        "rows": None,
                        "rows_ingested": part.get("rows"),
                        "raw_run": part.get("raw_run"),
                    }
                )
                counts.append(self._lines(local, index, part["key"], schema, out))
                local.unlink()
        self.con.execute(
            f"CREATE OR REPLACE VIEW {self.raw_relation} AS SELECT * FROM read_parquet({_literal(str(lines_path))})"
        )
        return counts

    @staticmethod
    def _lines(path: Path, index: int, key: str, schema: Any, out: Any) -> int:
        """Write a part's records (non-blank lines, the worker's rule) to the raw lines file; their count.

        Text as Athena's TEXTFILE reader gives it: UTF-8, an invalid byte as U+FFFD, no line end."""
        import pyarrow as pa

        base, count = index << PART_SHIFT, 0
        batch: dict[str, list[Any]] = {"line": [], "seq": [], "source": [], "line_number": []}

        def flush() -> None:
            if batch["line"]:
                out.write_table(pa.table(batch, schema=schema))
                for values in batch.values():
                    values.clear()

        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else path.open("rb") as handle:
            first = handle.read(3)
            head = b"" if first == codecs.BOM_UTF8 else first
            for number, line in enumerate(_prefixed(head, handle), start=1):
                if not line.strip():
                    continue
                batch["line"].append(line.decode("utf-8", errors="replace").rstrip("\r\n"))
                batch["seq"].append(base + number)
                batch["source"].append(key)
                batch["line_number"].append(number)
                count += 1
                if len(batch["line"]) >= _BATCH_LINES:
                    flush()
        flush()
        return count

    def load_live(self, store: LakeStore, contract: Contract, locations: dict[str, str]) -> str | None:
        import pyarrow.parquet as pq

        selects = []
        part = quote_identifier(contract.partition_column)
        for dt, location in sorted(locations.items()):
            for path in download_version_files(store, location, self.work_dir / "live" / f"dt={dt}"):
                present = set(pq.read_schema(path).names)
                columns = ", ".join(
                    f"CAST({quote_identifier(c) if c in present else 'NULL'} AS {_sql_type(contract, c)}) "
                    f"AS {quote_identifier(c)}"
                    for c in contract.column_names
                )
                selects.append(
                    f"SELECT {columns}, {_literal(dt)} AS {part} FROM read_parquet({_literal(str(path))})"
                )
        if not selects:
            return None
        self.con.execute(f"CREATE OR REPLACE VIEW {LIVE_ROWS} AS " + "\nUNION ALL\n".join(selects))
        return LIVE_ROWS

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.sql(to_duckdb(sql)).fetchall()

    def write_rejects(self, sql: str, writer: RejectWriter) -> None:
        cursor = self.con.execute(to_duckdb(sql))
        names = [column[0] for column in cursor.description or ()]
        while batch := cursor.fetchmany(_BATCH_LINES):
            for values in batch:
                writer.add(*_reject(dict(zip(names, values, strict=True))))

    def write_partitions(
        self, store: LakeStore, contract: Contract, sql: str, dts: list[str], version: str, work_dir: Path
    ) -> list[PartitionOutput]:
        import pyarrow.compute as pc

        schema = contract.arrow_schema()
        part = quote_identifier(contract.partition_column)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE curated AS {to_duckdb(sql)}")
        outputs = []
        for dt in dts:
            keys = ", ".join(quote_identifier(k) for k in contract.dedup.keys)
            reader = self.con.sql(
                f"SELECT * FROM curated WHERE {part} = {_literal(dt)} ORDER BY {keys}"
            ).to_arrow_reader(self.row_group_rows)
            writer = ParquetPartWriter(
                self.work_dir / "out" / f"dt={dt}",
                schema,
                row_group_rows=self.row_group_rows,
                max_file_bytes=self.max_file_bytes,
            )
            new_kept = total = 0
            try:
                for batch in reader:
                    new_kept += pc.sum(batch.column("_src")).as_py() or 0
                    total += batch.num_rows
                    writer.write(batch.select(schema.names).cast(schema))
            finally:
                parts = writer.close()
            outputs.append(PartitionOutput(dt, new_kept, total - new_kept, local_parts=parts))
        self.con.execute("DROP TABLE curated")
        return outputs

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _prefixed(head: bytes, handle: Any) -> Any:
    """Lines of ``handle`` with ``head`` (bytes already read) in front of the first one."""
    first = head + handle.readline() if head and not head.endswith(b"\n") else head
    if first:
        yield first
    yield from handle


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------------
# AWS: Athena
# --------------------------------------------------------------------------------------------------


class AthenaSqlCurate(SqlCurateEngine):
    """
    The curate SQL on Athena (engine v3): per run, a Glue external table over the raw run prefixes (one
    partition each, read as whole lines by RegexSerDe), a view adding ``"$path"`` as ``source``, a CTAS
    of the curated rows under the scratch prefix, one ``UNLOAD`` (zstd Parquet) per partition into its
    new version prefix, and the rejects ``UNLOAD`` as gzip JSON, read back into the quarantine file.
    The live rows are the dataset's Glue table itself (its partitions point at the live versions).

    Each query's id is kept (:attr:`query_ids`, in the manifest) and :meth:`on_kill` stops the running
    one; :meth:`close` drops the run's tables and scratch objects.

    :param athena: an :class:`~airlake.engines.athena.AthenaEngine` (hook, workgroup, output location).
    :param database: the Glue database of the dataset's table (the run's tables are created beside it).
    :param scratch: ``s3://...`` prefix for the CTAS files and the rejects (default: under the output
        location).
    """

    name = "athena"

    def __init__(self, athena: AthenaEngine, database: str, *, scratch: str | None = None) -> None:
        self.athena = athena
        self.database = database
        token = uuid.uuid4().hex[:12]
        base = scratch or athena.output_location
        self.scratch = base.rstrip("/") + f"/airlake-curate/{token}/"
        self.raw_table = f"_curate_raw_{token}"
        self.lines_view = f"_curate_lines_{token}"
        self.raw_relation = f"{database}.{self.lines_view}"
        self.result_table = f"_curate_out_{token}"
        self.query_ids = []
        self._created: list[str] = []
        self._live: str | None = None
        self._contract: Contract | None = None

    def _query(self, sql: str) -> str:
        query_id = self.athena.submit(sql)
        self.query_ids.append(query_id)
        self.athena.wait(query_id)
        return query_id

    def _name(self, table: str) -> str:
        return quote_identifier(f"{self.database}.{table}")

    def load_raw(
        self, store: LakeStore, parts: list[dict[str, Any]], inputs: list[dict[str, Any]]
    ) -> list[int]:
        prefixes: dict[str, str] = {}
        for part in parts:
            head = store.head(part["key"])
            size = int(head.get("ContentLength", 0))
            if part.get("bytes") is not None and int(part["bytes"]) != size:
                raise CurateError(f"raw part s3://{store.bucket}/{part['key']} changed since it was ingested")
            inputs.append(
                {
                    "key": part["key"],
                    "format": raw_format(part["key"]),
                    "bytes": size,
                    "sha256": part.get("sha256"),
                    "rows": None,
                    "rows_ingested": part.get("rows"),
                    "raw_run": part.get("raw_run"),
                }
            )
            prefixes.setdefault(str(part["raw_run"]), part["key"].rsplit("/", 1)[0] + "/")
        table = f"`{self.database}`.`{self.raw_table}`"
        self._query(
            f"CREATE EXTERNAL TABLE {table} (line string) PARTITIONED BY (raw_part int) "
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe' "
            "WITH SERDEPROPERTIES ('input.regex' = '^(.*)$') STORED AS TEXTFILE "
            f"LOCATION '{s3_uri(store.bucket, '')}'"
        )
        self._created.append(self.raw_table)
        added = ", ".join(
            f"PARTITION (raw_part = {index}) LOCATION '{s3_uri(store.bucket, prefix)}'"
            for index, prefix in enumerate(prefixes.values())
        )
        self._query(f"ALTER TABLE {table} ADD {added}")
        self._query(
            f'CREATE OR REPLACE VIEW {self._name(self.lines_view)} AS SELECT line, 0 AS seq, "$path" AS source, '
            f"CAST(NULL AS bigint) AS line_number FROM {self._name(self.raw_table)}"
        )
        self._created.append(self.lines_view)
        counted = {
            str(path): int(n)
            for path, n in self.rows(
                f"SELECT source, count(*) FROM {self._name(self.lines_view)} WHERE trim(line) <> '' GROUP BY source"
            )
        }
        return [counted.get(s3_uri(store.bucket, part["key"]), 0) for part in parts]

    def load_live(self, store: LakeStore, contract: Contract, locations: dict[str, str]) -> str | None:
        return f"{self.database}.{contract.name}" if locations else None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.athena.fetch(self._query(sql))
        return [tuple(row.values()) for row in table.to_pylist()]

    def write_rejects(self, sql: str, writer: RejectWriter) -> None:
        target = self.scratch + "rejects/"
        self._query(f"UNLOAD ({sql}) TO '{target}' WITH (format = 'JSON', compression = 'GZIP')")
        bucket, prefix = split_location(target)
        s3 = self.athena.s3
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in sorted(page.get("Contents", []), key=lambda obj: obj["Key"]):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                for line in gzip.decompress(body).splitlines():
                    if line.strip():
                        writer.add(*_reject(json.loads(line)))

    def write_partitions(
        self, store: LakeStore, contract: Contract, sql: str, dts: list[str], version: str, work_dir: Path
    ) -> list[PartitionOutput]:
        result = self._name(self.result_table)
        self._query(
            f"CREATE TABLE {result} WITH (format = 'PARQUET', write_compression = 'ZSTD', "
            f"external_location = '{self.scratch}curated/') AS {sql}"
        )
        self._created.append(self.result_table)
        part = quote_identifier(contract.partition_column)
        kept = {
            str(dt): (int(new), int(old))
            for dt, new, old in self.rows(
                f"SELECT {part}, count_if(_src = 1), count_if(_src = 0) FROM {result} GROUP BY {part}"
            )
        }
        names = ", ".join(quote_identifier(c) for c in contract.column_names)
        keys = ", ".join(quote_identifier(k) for k in contract.dedup.keys)
        outputs = []
        for dt in dts:
            prefix = curated_version_prefix(contract.name, dt, version)
            self._query(
                f"UNLOAD (SELECT {names} FROM {result} WHERE {part} = {_literal(dt)} ORDER BY {keys}) "
                f"TO '{s3_uri(store.bucket, prefix)}' WITH (format = 'PARQUET', compression = 'ZSTD')"
            )
            objects = [
                {"key": obj.key, "rows": None, "bytes": obj.size}
                for obj in sorted(store.list(prefix), key=lambda o: o.key)
            ]
            new, old = kept.get(dt, (0, 0))
            outputs.append(PartitionOutput(dt, new, old, objects=objects))
        return outputs

    def on_kill(self) -> None:
        self.athena.on_kill()

    def close(self) -> None:
        for table in reversed(self._created):
            # DROP VIEW is Trino SQL (double quotes), DROP TABLE Hive DDL (backticks)
            statement = (
                f"DROP VIEW IF EXISTS {self._name(table)}"
                if table == self.lines_view
                else f"DROP TABLE IF EXISTS `{self.database}`.`{table}`"
            )
            try:
                self._query(statement)
            except Exception:  # cleanup must not hide the run's outcome
                log.exception("Could not drop %s.%s", self.database, table)
        try:
            bucket, prefix = split_location(self.scratch)
            s3 = self.athena.s3
            keys = [
                item["Key"]
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]}
                )
        except Exception:
            log.exception("Could not remove the scratch objects under %s", self.scratch)
