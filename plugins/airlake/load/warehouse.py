"""Load curated Parquet files into the warehouse table of a contract, in one transaction.

The parts both warehouses share, written against any DB-API connection (psycopg 3 for PostgreSQL,
redshift_connector for Redshift), plus the PostgreSQL way of filling the staging table:

1. :func:`ensure_target_table` creates the target from the contract and adds new nullable columns;
2. :func:`run_load` creates a TEMP staging table like the target, lets the caller fill it (PostgreSQL:
   :func:`load_partitions` streams each file with ``COPY ... FROM STDIN``; Redshift:
   :func:`airlake.load.redshift.load_manifest` runs one ``COPY`` of a manifest), de-duplicates it by
   the contract's rule and applies the warehouse mode (merge, append, partition_replace). Any error
   rolls the whole load back: the target is left unchanged. The de-duplication is skipped when one
   cheap query finds every dedup key of the staged rows unique (curate writes one row per key, so the
   files of one run are): the rows applied are then the same, without the sort and the second table.

Every statement comes from ``sql/redshift/*.sql`` (SQL that both Redshift and PostgreSQL 15 accept), so
the offline stand-in runs the same de-duplication and MERGE as production.
"""

from __future__ import annotations

import io
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.sql_text import quote_identifier, render_sql

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.contracts import Column, Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

SEQ_COLUMN = "airlake_seq"
"""Staging-only column: the arrival order of a row across the loaded files (ties of the dedup rule).
PostgreSQL fills it while streaming; a Redshift COPY cannot, so it stays NULL there."""
BATCH_ROWS = 50_000
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^'\\\s;]+$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/\-]{1,512}$")

DbApiConnection = Any
"""A PEP 249 connection (psycopg 3, redshift_connector, or a test double)."""
DbApiCursor = Any


@dataclass(frozen=True)
class LoadResult:
    """Row counts of one load."""

    table: str
    mode: str
    files: int
    staged: int
    deduplicated: int
    """Rows left after de-duplication of the staged rows (the rows applied to the target)."""
    duplicates: int
    inserted: int
    updated: int
    deleted: int
    dedup_skipped: bool = False
    """The staged rows were unique by dedup key: applied as they are, without the de-duplication."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# SQL pieces
# --------------------------------------------------------------------------------------------------


def _warehouse(contract: Contract) -> Any:
    if contract.warehouse is None:
        raise ValueError(f"dataset {contract.name!r} has no warehouse target in its contract")
    return contract.warehouse


def _column_definition(column: Column, *, redshift: bool) -> str:
    type_name = column.redshift_type if redshift else column.postgres_type
    return f"{quote_identifier(column.name)} {type_name}" + ("" if column.nullable else " not null")


def _names(names: Any, prefix: str = "") -> str:
    return ", ".join(prefix + quote_identifier(name) for name in names)


def _key_condition(keys: Any) -> str:
    return " and ".join(f"tgt.{quote_identifier(k)} = src.{quote_identifier(k)}" for k in keys)


def _event_date(contract: Contract) -> str:
    """SQL expression of the UTC event date of a row (the ``dt`` of its curated partition)."""
    column = contract.column(contract.event_time)
    name = quote_identifier(column.name)
    base = column.column_type.base
    if base == "date":
        return name
    if base == "timestamptz":
        return f"cast({name} at time zone 'UTC' as date)"
    return f"cast({name} as date)"


def create_table_sql(contract: Contract, *, redshift: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the contract's warehouse table (primary key on the keys for merge)."""
    warehouse = _warehouse(contract)
    elements = [_column_definition(column, redshift=redshift) for column in contract.columns]
    if warehouse.mode == "merge" and warehouse.keys:
        elements.append(f"primary key ({_names(warehouse.keys)})")
    options = ""
    if redshift:
        parts = []
        if warehouse.dist_key:
            parts.append(f"diststyle key distkey ({quote_identifier(warehouse.dist_key)})")
        if warehouse.sort_key:
            parts.append(f"compound sortkey ({_names(warehouse.sort_key)})")
        options = " ".join(parts)
    return render_sql(
        "redshift/create_table.sql",
        target=quote_identifier(warehouse.table),
        table_elements=",\n    ".join(elements),
        table_options=options,
    )


def redshift_copy_sql(table: str, manifest_s3_uri: str, iam_role: str, *, columns: Sequence[str]) -> str:
    """Redshift ``COPY`` of exactly the Parquet files listed in a manifest (the AWS path).

    ``table`` and ``columns`` are quoted as identifiers (Parquet columns map to ``columns`` by
    position); the manifest URI and the role ARN are checked and rendered as string literals (COPY
    takes no bind parameters). The result holds the role: never log it."""
    if not _S3_URI.match(manifest_s3_uri):
        raise ValueError(f"not an s3:// manifest URI: {manifest_s3_uri!r}")
    if not IAM_ROLE_ARN.match(iam_role):
        raise ValueError("not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    if not columns:
        raise ValueError("a COPY needs the list of the Parquet files' columns")
    return render_sql(
        "redshift/copy_manifest.sql",
        target=quote_identifier(table),
        load_columns=_names(columns),
        manifest_uri=f"'{manifest_s3_uri}'",
        iam_role=f"'{iam_role}'",
    )


@dataclass(frozen=True)
class ApplyStatements:
    """The statements that apply a load to the target, reading one source table (the de-duplicated
    table, or the staging table itself when it is unique by key)."""

    count_matched: str | None
    merge: str | None
    delete_partitions: str | None
    insert: str | None


@dataclass(frozen=True)
class LoadStatements:
    """The SQL of one load, in the order it runs; the same on PostgreSQL and Redshift (only the COPY
    that fills ``staging`` differs). Names are unquoted; statements are one each. ``count_matched``
    .. ``insert`` read the de-duplicated table; ``from_staging`` holds the same statements reading the
    staging table, run when ``count_duplicate_keys`` finds no repeated key."""

    staging: str
    deduped: str
    create_staging: str
    add_seq_column: str
    count_staged: str
    count_duplicate_keys: str
    dedup: str
    count_deduped: str
    count_matched: str | None
    merge: str | None
    delete_partitions: str | None
    insert: str | None
    from_staging: ApplyStatements
    drop: tuple[str, ...]


def load_statements(contract: Contract, *, token: str | None = None) -> LoadStatements:
    """Render every statement of one load of ``contract`` (``token`` names its staging tables).

    De-duplication keeps one row per dedup key: by the contract's ``order_by``, then the event date,
    then the arrival order. The event date makes ties deterministic on Redshift too, where COPY leaves
    no arrival order; for curated files (one partition per event date, listed in date order) it agrees
    with the arrival order."""
    warehouse = _warehouse(contract)
    token = token or uuid.uuid4().hex[:12]
    staging, deduped = f"airlake_stage_{token}", f"airlake_dedup_{token}"
    dedup = contract.dedup
    keys = dedup.keys or contract.primary_key
    direction = "desc" if dedup.keep == "latest" else "asc"
    order = [f"{quote_identifier(dedup.order_by)} {direction}"] if dedup.order_by else []
    order.append(f"{_event_date(contract)} {direction}")
    order.append(f"{quote_identifier(SEQ_COLUMN)} {direction}")
    values = {
        "target": quote_identifier(warehouse.table),
        "staging": quote_identifier(staging),
        "deduped": quote_identifier(deduped),
        "load_columns": _names(contract.column_names),
    }
    applied = _apply_statements(contract, values)
    return LoadStatements(
        staging=staging,
        deduped=deduped,
        create_staging=render_sql("redshift/create_staging.sql", **values),
        add_seq_column=render_sql(
            "redshift/add_column.sql",
            target=values["staging"],
            column_definition=f"{quote_identifier(SEQ_COLUMN)} bigint",
        ),
        count_staged=render_sql("redshift/count_rows.sql", staging=values["staging"]),
        count_duplicate_keys=render_sql(
            "redshift/count_duplicate_keys.sql", staging=values["staging"], dedup_keys=_names(keys)
        ),
        dedup=render_sql(
            "redshift/dedup.sql", **values, dedup_keys=_names(keys), dedup_order=", ".join(order)
        ),
        count_deduped=render_sql("redshift/count_rows.sql", staging=values["deduped"]),
        count_matched=applied.count_matched,
        merge=applied.merge,
        delete_partitions=applied.delete_partitions,
        insert=applied.insert,
        from_staging=_apply_statements(contract, {**values, "deduped": values["staging"]}),
        drop=tuple(
            render_sql("redshift/drop_table.sql", staging=quote_identifier(name))
            for name in (staging, deduped)
        ),
    )


def _apply_statements(contract: Contract, values: dict[str, str]) -> ApplyStatements:
    """Merge / partition delete / insert of the warehouse mode, reading ``values["deduped"]``."""
    warehouse = _warehouse(contract)
    if warehouse.mode == "merge":
        key_condition = _key_condition(warehouse.keys)
        non_keys = [name for name in contract.column_names if name not in warehouse.keys]
        return ApplyStatements(
            count_matched=render_sql("redshift/count_matched.sql", **values, key_condition=key_condition),
            merge=render_sql(
                "redshift/merge.sql",
                **values,
                key_condition=key_condition,
                update_assignments=", ".join(
                    f"{quote_identifier(n)} = src.{quote_identifier(n)}" for n in non_keys
                ),
                source_columns=_names(contract.column_names, "src."),
            ),
            delete_partitions=None,
            insert=None,
        )
    delete = None
    if warehouse.mode == "partition_replace":
        delete = render_sql("redshift/delete_partitions.sql", **values, event_date=_event_date(contract))
    return ApplyStatements(
        count_matched=None,
        merge=None,
        delete_partitions=delete,
        insert=render_sql("redshift/insert.sql", **values),
    )


# --------------------------------------------------------------------------------------------------
# Transactions and the target table
# --------------------------------------------------------------------------------------------------


@contextmanager
def transaction(conn: DbApiConnection) -> Iterator[DbApiCursor]:
    """One transaction on a DB-API connection, whatever its autocommit mode: a cursor, then COMMIT, or
    ROLLBACK on any error. Autocommit is switched off for the block (and restored) so that every
    statement inside belongs to the one transaction."""
    autocommit = bool(getattr(conn, "autocommit", False))
    if autocommit:
        conn.autocommit = False
    try:
        with closing(conn.cursor()) as cursor:
            yield cursor
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if autocommit:
            conn.autocommit = True


def _scalar(cursor: DbApiCursor, sql: str) -> int:
    cursor.execute(sql)
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _existing_columns(cursor: DbApiCursor, table: str) -> dict[str, bool] | None:
    """``name -> nullable`` of the table's columns, None if it does not exist (information_schema:
    the same query on PostgreSQL and Redshift; an unqualified table is looked up in current_schema())."""
    quote_identifier(table)  # validates the name
    schema, _, name = table.rpartition(".")
    where = "table_schema = %s" if schema else "table_schema = current_schema()"
    cursor.execute(
        "select column_name, is_nullable from information_schema.columns "
        f"where {where} and table_name = %s order by ordinal_position",
        (schema, name) if schema else (name,),
    )
    rows = cursor.fetchall()
    return {str(r[0]): str(r[1]).upper() == "YES" for r in rows} if rows else None


def ensure_target_table(conn: DbApiConnection, contract: Contract, *, redshift: bool = False) -> list[str]:
    """Create the warehouse table of the contract if missing, else add the contract's new columns.

    On Redshift the table gets the contract's DISTKEY and SORTKEY. Only nullable columns can be added
    (existing rows get NULL); a new NOT NULL column, or a target column the contract no longer has, is
    an error for a human (no destructive change here). One transaction. Returns the names of the
    columns added (empty when the table was created or is up to date).
    """
    warehouse = _warehouse(contract)
    added: list[str] = []
    with transaction(conn) as cursor:
        existing = _existing_columns(cursor, warehouse.table)
        if existing is None:
            cursor.execute(create_table_sql(contract, redshift=redshift))
            log.info("Created warehouse table %s", warehouse.table)
            return added
        extra = sorted(set(existing) - set(contract.column_names))
        if extra:
            log.warning("Table %s has columns the contract does not list: %s", warehouse.table, extra)
        for column in contract.columns:
            if column.name in existing:
                continue
            if not column.nullable:
                raise ValueError(
                    f"{warehouse.table}: new column {column.name!r} is NOT NULL; only nullable columns "
                    "can be added to an existing table"
                )
            cursor.execute(
                render_sql(
                    "redshift/add_column.sql",
                    target=quote_identifier(warehouse.table),
                    column_definition=_column_definition(column, redshift=redshift),
                )
            )
            added.append(column.name)
            log.info("Added column %s to %s", column.name, warehouse.table)
    return added


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


def run_load(
    conn: DbApiConnection,
    contract: Contract,
    fill_staging: Callable[[DbApiCursor, LoadStatements], bool | None],
    *,
    files: int,
    statements: LoadStatements | None = None,
    always_dedup: bool = False,
) -> dict[str, Any]:
    """Staging -> ``fill_staging`` -> de-duplication -> merge / partition replace / append, in one
    transaction. The target must exist (:func:`ensure_target_table`). Returns :class:`LoadResult` as a
    dict.

    The de-duplication runs only when a dedup key repeats among the staged rows (one GROUP BY ...
    HAVING query; curate's files of one run never repeat a key), or always with ``always_dedup``.
    ``fill_staging`` may answer that question itself: True (no key repeats), False (some do), None
    (not known: the query decides)."""
    warehouse = _warehouse(contract)
    sql = statements or load_statements(contract)
    inserted = updated = deleted = 0
    with transaction(conn) as cursor:
        cursor.execute(sql.create_staging)
        cursor.execute(sql.add_seq_column)
        unique = fill_staging(cursor, sql)
        staged = _scalar(cursor, sql.count_staged)
        if unique is None and not always_dedup:
            unique = _scalar(cursor, sql.count_duplicate_keys) == 0
        if unique and not always_dedup:
            apply = sql.from_staging  # unique by key: de-duplication would keep every row
            deduplicated = staged
        else:
            cursor.execute(sql.dedup)
            deduplicated = _scalar(cursor, sql.count_deduped)
            apply = ApplyStatements(sql.count_matched, sql.merge, sql.delete_partitions, sql.insert)
        log.info(
            "Staged %d row(s) for %s; %s",
            staged,
            warehouse.table,
            "unique by key, no de-duplication"
            if apply is sql.from_staging
            else f"{deduplicated} after de-duplication",
        )
        if apply.merge is not None and apply.count_matched is not None:
            updated = _scalar(cursor, apply.count_matched)
            cursor.execute(apply.merge)
            inserted = deduplicated - updated
            if cursor.rowcount not in (-1, deduplicated):
                raise RuntimeError(f"MERGE changed {cursor.rowcount} rows, expected {deduplicated}")
        else:
            if apply.delete_partitions is not None:
                cursor.execute(apply.delete_partitions)
                deleted = max(cursor.rowcount, 0)
            if apply.insert is not None:
                cursor.execute(apply.insert)
                inserted = max(cursor.rowcount, 0)
        for statement in sql.drop:
            cursor.execute(statement)
    result = LoadResult(
        table=warehouse.table,
        mode=warehouse.mode,
        files=files,
        staged=staged,
        deduplicated=deduplicated,
        duplicates=staged - deduplicated,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        dedup_skipped=apply is sql.from_staging,
    )
    log.info("Loaded %s", result)
    return result.as_dict()


def _naive_utc(table: pa.Table) -> pa.Table:
    """``timestamp[tz]`` columns as naive UTC wall time (the same instants): pyarrow's CSV writer
    formats them ~4x faster, and the load's ``SET LOCAL TimeZone = 'UTC'`` reads them back as UTC."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(
                index, field.name, table.column(index).cast(pa.timestamp(field.type.unit))
            )
    return table


def _copy_columns(contract: Contract, path: Path) -> list[str]:
    """The contract's columns present in a Parquet file (a file written before a column was added
    lacks it: it stays NULL); a missing NOT NULL column is an error naming the file."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    present = [name for name in contract.column_names if name in names]
    missing_required = [c.name for c in contract.columns if c.name not in present and not c.nullable]
    if missing_required:
        raise ValueError(f"{path.name}: required column(s) missing from the Parquet file: {missing_required}")
    return present


def _csv_chunks(
    path: Path, present: list[str], seq_start: int | None, *, naive_utc: bool
) -> Iterator[tuple[bytes, int]]:
    """One Parquet file as (CSV chunk, rows) of :data:`BATCH_ROWS` rows, the arrival order column last
    (none when ``seq_start`` is None); ``naive_utc``: timestamps with a time zone written as naive UTC
    (see :func:`_naive_utc`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    options = pacsv.WriteOptions(include_header=False)
    rows = seq_start or 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=present):
        table = pa.Table.from_batches([batch])
        if seq_start is not None:
            table = table.append_column(SEQ_COLUMN, pa.array(range(rows, rows + batch.num_rows), pa.int64()))
        buffer = io.BytesIO()
        pacsv.write_csv(_naive_utc(table) if naive_utc else table, buffer, options)
        rows += batch.num_rows
        yield buffer.getvalue(), batch.num_rows


def _copy_statement(table: str, present: list[str], *, seq: bool = True) -> str:
    columns = [*present, SEQ_COLUMN] if seq else present
    return f"copy {quote_identifier(table)} ({_names(columns)}) from stdin with (format csv)"


def copy_parquet_from_stdin(
    cursor: DbApiCursor, staging: str, contract: Contract, path: Path, seq_start: int
) -> int:
    """Stream one Parquet file into a PostgreSQL staging table (psycopg 3 ``COPY FROM STDIN``, CSV
    chunks); the number of rows copied. Columns the file lacks (added later to the contract) stay NULL.
    Timestamps keep their offset, so any session time zone reads them right."""
    present = _copy_columns(contract, path)
    rows = 0
    with cursor.copy(_copy_statement(staging, present)) as copy:
        for chunk, count in _csv_chunks(path, present, seq_start, naive_utc=False):
            copy.write(chunk)
            rows += count
    return rows


_END = object()


def _prefetched(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """Iterate ``items`` in a helper thread, at most ``depth`` ahead (encoding overlaps sending:
    pyarrow releases the GIL); an error of the producer is raised here, in order."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((_END, None))
        except BaseException as exc:  # handed to the consumer
            slots.put((_END, exc))

    worker = threading.Thread(target=produce, name="airlake-load-encode", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


class _FileFailed(Exception):
    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.key, self.error = key, error


def _duckdb_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parquet_source(paths: Sequence[Path]) -> str:
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{listed}], union_by_name = true)"


def _repeated_keys(contract: Contract, paths: Sequence[Path]) -> int | None:
    """Dedup keys that occur more than once in the files (DuckDB over the local Parquet files, one
    thread: it runs beside the COPY); None when DuckDB cannot tell (the load then asks SQL)."""
    import duckdb

    if not paths:
        return 0
    keys = ", ".join(_duckdb_name(k) for k in contract.dedup.keys or contract.primary_key)
    try:
        with duckdb.connect(config={"memory_limit": "1GB", "threads": 1}) as con:
            row = con.execute(
                f"select count(*) from (select {keys} from {_parquet_source(paths)} "
                f"group by {keys} having count(*) > 1)"
            ).fetchone()
    except Exception as exc:  # e.g. a type DuckDB reads differently: SQL decides instead
        log.info("Could not check the load's keys with DuckDB (%s); checking in SQL", exc)
        return None
    return int(row[0]) if row else 0


def _event_dates(contract: Contract, paths: Sequence[Path]) -> tuple[str, ...] | None:
    """``YYYY-MM-DD`` of the files' event dates as :func:`_event_date` computes them (one column read
    by DuckDB); None when unknown (the load then goes through the staging table)."""
    import duckdb

    column = contract.column(contract.event_time)
    if column.column_type.base not in ("timestamptz", "timestamp", "date"):
        return None
    if not paths:
        return ()
    try:
        with duckdb.connect(config={"memory_limit": "1GB"}) as con:
            con.execute("set TimeZone = 'UTC'")  # a timestamptz's date in UTC, as _event_date
            rows = con.execute(
                f"select distinct cast({_duckdb_name(column.name)} as date) from {_parquet_source(paths)}"
            ).fetchall()
    except Exception as exc:
        log.info("Could not read the load's event dates with DuckDB (%s)", exc)
        return None
    return tuple(sorted(row[0].isoformat() for row in rows if row[0] is not None))


class _NotUnique(Exception):
    """A direct load found a repeated key after its COPY: undo it and go through the staging table."""

    def __init__(self, repeated: int | None) -> None:
        super().__init__(f"{repeated} repeated key(s)")
        self.repeated = repeated


def _stream_files(
    cursor: DbApiCursor, table: str, paths: Sequence[tuple[str, Path, list[str]]], *, seq: bool
) -> int:
    """COPY the files into ``table`` in order (CSV encoded by a helper thread ahead of the sending;
    with ``seq`` the arrival order column too); the rows sent. Errors name the file's key."""

    def events() -> Iterator[tuple[str, Any]]:
        sent = 0
        for key, path, present in paths:
            yield "file", (key, present)
            try:
                for chunk, rows in _csv_chunks(path, present, sent if seq else None, naive_utc=True):
                    sent += rows
                    yield "data", (chunk, rows)
            except Exception as exc:
                raise _FileFailed(key, exc) from exc
            yield "end", path

    cursor.execute("set local timezone = 'UTC'")  # the naive timestamps of the CSV are UTC
    stream = _prefetched(events(), depth=4)
    key, total = "", 0
    try:
        for _file, current in stream:
            key, present = current
            with cursor.copy(_copy_statement(table, present, seq=seq)) as copy:
                for kind, value in stream:
                    if kind == "end":
                        break
                    copy.write(value[0])
                    total += value[1]
    except _FileFailed:
        raise
    except Exception as exc:
        raise _FileFailed(key, exc) from exc
    finally:
        stream.close()
    return total


def _load_direct(
    conn: DbApiConnection,
    contract: Contract,
    paths: Sequence[tuple[str, Path, list[str]]],
    event_dates: tuple[str, ...],
    repeated_keys: Callable[[], int | None],
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
        rows = _stream_files(cursor, warehouse.table, paths, seq=False)
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
) -> dict[str, Any]:
    """PostgreSQL: load the curated Parquet ``files`` (keys in ``store``) into the contract's table.

    The files are downloaded; DuckDB reads their event dates, and counts their repeated dedup keys in a
    helper thread while the COPY runs. Files of an ``append`` or ``partition_replace`` table COPY
    straight into the target after the delete of their event dates, committed only if no key repeats
    (what curate writes); else the transaction is rolled back and the files go through the staging
    table of :func:`run_load` (de-duplicated only if a key repeats), as ``merge`` always does. Either way one transaction, in the listed order (the rows' arrival
    order); a helper thread encodes Parquet -> CSV (timestamps as naive UTC under ``SET LOCAL TimeZone = 'UTC'``)
    ahead of the COPY that sends.
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
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="airlake-load-keys") as pool:
            checked = None if always_dedup else pool.submit(_repeated_keys, contract, local)

            def repeated_keys() -> int | None:
                return None if checked is None else checked.result()

            def fill_staging(cursor: DbApiCursor, sql: LoadStatements) -> bool | None:
                _stream_files(cursor, sql.staging, paths, seq=True)
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
                        return _load_direct(conn, contract, paths, dates, repeated_keys)
                    except _NotUnique as not_unique:
                        log.info("%s: %s, loading through the staging table", warehouse.table, not_unique)
                return run_load(conn, contract, fill_staging, files=len(files), always_dedup=always_dedup)
            except _FileFailed as failed:
                raise RuntimeError(
                    f"load of s3://{store.bucket}/{failed.key} into {warehouse.table} failed: {failed.error}"
                ) from failed.error
