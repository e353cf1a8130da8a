"""The PostgreSQL load path: download the run's files, then COPY them straight or through staging.

Files of an ``append`` or ``partition_replace`` table that are unique by key (what curate writes) COPY
straight into the target after the delete of their event dates; anything else goes through the staging
table of :func:`airlake.load.warehouse.run_load`. DuckDB reads the files' event dates and counts their
repeated keys beside the COPY.

The rows go by binary COPY through the ADBC PostgreSQL driver (:mod:`.arrow_copy`: Arrow in, no text
formatting or parsing), on an ADBC connection opened to the caller's server for the load's one
transaction; ``copy_format="csv"`` keeps the CSV ``COPY FROM STDIN`` of :mod:`.csv_copy` on the
caller's psycopg connection (also the path when the driver is not installed).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from airlake.load.arrow_copy import adbc_available, adbc_connection, ingest_files
from airlake.load.csv_copy import _copy_columns, _FileFailed, _stream_files
from airlake.load.dbapi import DbApiConnection, DbApiCursor, transaction
from airlake.load.statements import LoadStatements, _event_date, _warehouse
from airlake.load.warehouse import LoadResult, run_load
from airlake.sql_text import quote_identifier, render_sql

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

CopyFormat = Literal["binary", "csv"]
FileRows = Sequence[tuple[str, Path, list[str]]]
Send = Callable[[DbApiCursor, str, FileRows, bool], int]
"""COPY the files into a table: ``(cursor, table, files, staging) -> rows``; staging adds the arrival
order column (the staging table is TEMP)."""


def _duckdb_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parquet_source(paths: Sequence[Path]) -> str:
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{listed}], union_by_name = true)"


KEY_CHECK_MEMORY = "256MB"
"""DuckDB's memory for the repeated-key check; beyond it the grouping spills to disk (measured at 4M rows:
peak RSS 258 MB instead of 309 MB with 1GB, same time; it grew to 1.2 GB at 16M rows with 1GB)."""


def _repeated_keys(contract: Contract, paths: Sequence[Path]) -> int | None:
    """Dedup keys that occur more than once in the files, counted by their 64-bit hashes (DuckDB over
    the local Parquet files, one thread: it runs beside the COPY); None when DuckDB cannot tell (the
    load then asks SQL). Grouping hashes instead of the key strings takes ~0.6x the memory and half
    the time at 4M rows; a repeated key is never missed, and a hash collision (a chance of ~3 in 10^6 at
    10^7 distinct keys) only sends the load through the staging table's exact de-duplication."""
    import duckdb

    if not paths:
        return 0
    keys = ", ".join(_duckdb_name(k) for k in contract.dedup.keys or contract.primary_key)
    # a bounded hash table that spills beside the files: memory stays flat as the run grows
    config = {
        "memory_limit": KEY_CHECK_MEMORY,
        "threads": 1,
        "temp_directory": str(paths[0].parent / ".keys-tmp"),
    }
    try:
        with duckdb.connect(config=config) as con:
            row = con.execute(
                f"select count(*) from (select hash({keys}) as key_hash from {_parquet_source(paths)} "
                "group by key_hash having count(*) > 1)"
            ).fetchone()
    except Exception as exc:  # e.g. a type DuckDB reads differently: SQL decides instead
        log.info("Could not check the load's keys with DuckDB (%s); checking in SQL", exc)
        return None
    return int(row[0]) if row else 0


def _statistics_day(value: Any) -> str | None:
    """The UTC date of a Parquet min/max statistic, as :func:`_event_date` computes it in SQL."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


def _file_event_dates(path: Path, name: str) -> set[str] | None:
    """The event dates of one Parquet file from its row groups' min/max statistics, when they prove
    it: every row group's exact min and max fall on the same day (a curated file holds one
    partition). None when a file spans days or has no usable statistics (DuckDB reads it then)."""
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    paths = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if name not in paths:
        return None
    index = paths.index(name)
    days: set[str] = set()
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        stats = row_group.column(index).statistics
        if row_group.num_rows == 0 or (stats is not None and stats.null_count == row_group.num_rows):
            continue  # no rows, or only NULL event times: no event date
        if stats is None or not stats.has_min_max:
            return None
        if not getattr(stats, "is_min_value_exact", True) or not getattr(stats, "is_max_value_exact", True):
            return None
        days.update((_statistics_day(stats.min), _statistics_day(stats.max)))
        if None in days or len(days) > 1:
            return None
    return days


def _event_dates(contract: Contract, paths: Sequence[Path]) -> tuple[str, ...] | None:
    """``YYYY-MM-DD`` of the files' event dates as :func:`_event_date` computes them: from the Parquet
    statistics of the files they prove it for (no read of the data), else from the event time column
    read by DuckDB; None when unknown (the load then goes through the staging table)."""
    import duckdb

    column = contract.column(contract.event_time)
    if column.column_type.base not in ("timestamptz", "timestamp", "date"):
        return None
    days: set[str] = set()
    unread: list[Path] = []
    for path in paths:
        try:
            known = _file_event_dates(path, column.name)
        except Exception as exc:  # an unreadable footer: DuckDB's read says what is wrong
            log.info("Could not read the statistics of %s (%s)", path.name, exc)
            known = None
        if known is None:
            unread.append(path)
        else:
            days |= known
    if not unread:
        return tuple(sorted(days))
    try:
        with duckdb.connect(config={"memory_limit": "1GB"}) as con:
            con.execute("set TimeZone = 'UTC'")  # a timestamptz's date in UTC, as _event_date
            rows = con.execute(
                f"select distinct cast({_duckdb_name(column.name)} as date) from {_parquet_source(unread)}"
            ).fetchall()
    except Exception as exc:
        log.info("Could not read the load's event dates with DuckDB (%s)", exc)
        return None
    return tuple(sorted(days | {row[0].isoformat() for row in rows if row[0] is not None}))


class _NotUnique(Exception):
    """A direct load found a repeated key after its COPY: undo it and go through the staging table."""

    def __init__(self, repeated: int | None) -> None:
        super().__init__(f"{repeated} repeated key(s)")
        self.repeated = repeated


@contextmanager
def _copy_path(
    conn: DbApiConnection, contract: Contract, copy_format: CopyFormat
) -> Iterator[tuple[DbApiConnection, Send]]:
    """The connection the load's transaction runs on and how it sends the rows: binary COPY on an ADBC
    connection to the same server, or CSV on the caller's connection."""
    if copy_format == "binary" and adbc_available():
        with adbc_connection(conn) as arrow_conn:

            def binary(cursor: DbApiCursor, table: str, paths: FileRows, staging: bool) -> int:
                return ingest_files(cursor, table, contract, paths, seq=staging, temporary=staging)

            yield arrow_conn, binary
        return
    if copy_format == "binary":
        log.warning("The ADBC PostgreSQL driver is not installed: loading by CSV COPY")

    def csv(cursor: DbApiCursor, table: str, paths: FileRows, staging: bool) -> int:
        return _stream_files(cursor, table, paths, seq=staging)

    yield conn, csv


def _load_direct(
    conn: DbApiConnection,
    contract: Contract,
    paths: FileRows,
    event_dates: tuple[str, ...],
    repeated_keys: Callable[[], int | None],
    send: Send,
) -> dict[str, Any]:
    """append / partition_replace of files unique by key: the rows COPY straight into the target (no
    staging table), after the delete of the load's event dates; one transaction. ``repeated_keys``
    (computed while the COPY runs) must answer 0 before the commit, else :class:`_NotUnique` rolls
    everything back."""
    warehouse = _warehouse(contract)
    deleted = 0
    with transaction(conn) as cursor:
        if warehouse.mode == "partition_replace" and event_dates:
            literals = []
            for day in event_dates:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
                    raise ValueError(f"not an event date: {day!r}")
                literals.append(f"date '{day}'")
            cursor.execute(
                render_sql(
                    "redshift/delete_event_dates.sql",
                    target=quote_identifier(warehouse.table),
                    event_date=_event_date(contract),
                    event_dates=", ".join(literals),
                )
            )
            deleted = max(cursor.rowcount, 0)
        rows = send(cursor, warehouse.table, paths, False)
        repeated = repeated_keys()
        if repeated != 0:
            raise _NotUnique(repeated)
    result = LoadResult(
        table=warehouse.table,
        mode=warehouse.mode,
        files=len(paths),
        staged=rows,
        deduplicated=rows,
        duplicates=0,
        inserted=rows,
        updated=0,
        deleted=deleted,
        dedup_skipped=True,
    )
    log.info("Loaded %s straight into the target (unique by key)", result)
    return result.as_dict()


def load_partitions(
    conn: DbApiConnection,
    contract: Contract,
    store: LakeStore,
    files: list[str],
    *,
    work_dir: Path | None = None,
    always_dedup: bool = False,
    copy_format: CopyFormat = "binary",
) -> dict[str, Any]:
    """PostgreSQL: load the curated Parquet ``files`` (keys in ``store``) into the contract's table.

    The files are downloaded; DuckDB reads their event dates, and counts their repeated dedup keys in a
    helper thread while the COPY runs. Files of an ``append`` or ``partition_replace`` table COPY
    straight into the target after the delete of their event dates, committed only if no key repeats
    (what curate writes); else the transaction is rolled back and the files go through the staging
    table of :func:`run_load` (de-duplicated only if a key repeats), as ``merge`` always does. Either
    way one transaction, in the listed order (the rows' arrival order). ``copy_format``: ``binary``
    (the ADBC driver's binary COPY of Arrow batches read ahead by a helper thread, on its own connection
    to ``conn``'s server) or ``csv`` (pyarrow CSV encoded by a helper thread, timestamps as naive UTC
    under ``SET LOCAL TimeZone = 'UTC'``, on ``conn``).
    """
    warehouse = _warehouse(contract)
    from airlake.curate.spill import scratch_dir

    # airlake-load-<dataset>-p<pid>-*: a killed load's download folder is removed by the next load
    with scratch_dir(contract.name, work_dir, stage="load") as tmp:
        paths: list[tuple[str, Path, list[str]]] = []
        for index, key in enumerate(files):
            path = Path(tmp) / f"{index:05d}.parquet"
            try:
                store.download(key, path)
                paths.append((key, path, _copy_columns(contract, path)))
            except Exception as exc:
                raise RuntimeError(
                    f"load of s3://{store.bucket}/{key} into {warehouse.table} failed: {exc}"
                ) from exc
        local = [path for _key, path, _columns in paths]
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="airlake-load-keys") as pool,
            _copy_path(conn, contract, copy_format) as (load_conn, send),
        ):
            checked = None if always_dedup else pool.submit(_repeated_keys, contract, local)

            def repeated_keys() -> int | None:
                return None if checked is None else checked.result()

            def fill_staging(cursor: DbApiCursor, sql: LoadStatements) -> bool | None:
                send(cursor, sql.staging, paths, True)
                repeated = repeated_keys()
                return None if repeated is None else repeated == 0

            try:
                dates = _event_dates(contract, local)
                if (
                    not always_dedup
                    and dates is not None
                    and warehouse.mode in ("append", "partition_replace")
                ):
                    try:
                        return _load_direct(load_conn, contract, paths, dates, repeated_keys, send)
                    except _NotUnique as not_unique:
                        log.info("%s: %s, loading through the staging table", warehouse.table, not_unique)
                return run_load(
                    load_conn, contract, fill_staging, files=len(files), always_dedup=always_dedup
                )
            except _FileFailed as failed:
                raise RuntimeError(
                    f"load of s3://{store.bucket}/{failed.key} into {warehouse.table} failed: {failed.error}"
                ) from failed.error
