"""PostgreSQL binary ``COPY`` of curated Parquet files through the ADBC PostgreSQL driver.

The driver takes Arrow record batches and encodes PostgreSQL's binary COPY format in C (numeric,
timestamptz and text included), so neither Python nor the server formats or parses text: the load runs
at the speed of the server taking binary rows, about that of ``psql \\copy`` of CSV or better. Every file
of a load goes through one ``COPY`` (one stream of batches in the contract's columns: columns a file
lacks are sent as NULL), the batches read ahead by a helper thread (pyarrow releases the GIL).

The ADBC connection is opened from the caller's psycopg connection (the one the operator built from
the Airflow postgres connection): the same server, database, user, password and TLS settings, and the
same ``search_path``. The conninfo holds the password: it is never logged, and connection errors are
re-raised without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.load.csv_copy import BATCH_ROWS, _FileFailed
from airlake.load.dbapi import DbApiConnection, DbApiCursor
from airlake.load.statements import SEQ_COLUMN
from airlake.prefetch import prefetched

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.contracts import Contract

log = logging.getLogger(__name__)

_CONNINFO_SKIP = frozenset({"password", "passfile"})
_IDLE = 0
"""``psycopg.pq.TransactionStatus.IDLE``."""


def adbc_available() -> bool:
    """Whether the ADBC PostgreSQL driver is installed (requirements.txt has it)."""
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def conninfo_of(conn: Any) -> str:
    """libpq conninfo of a psycopg 3 connection, password included (never log the result).

    ``conn.info.get_parameters()`` lists the connection's non-default settings without the password
    (host, port, dbname, user, sslmode ...); the password comes from ``conn.info.password``."""
    from psycopg.conninfo import make_conninfo

    parameters = {k: v for k, v in conn.info.get_parameters().items() if k not in _CONNINFO_SKIP}
    password = conn.info.password
    if password:
        parameters["password"] = password
    return make_conninfo("", **parameters)


def _describe(conn: Any) -> str:
    """Where a psycopg connection points, for messages: no password."""
    info = conn.info
    return f"{info.user}@{info.host}:{info.port}/{info.dbname}"


@contextmanager
def adbc_connection(conn: Any) -> Iterator[DbApiConnection]:
    """An ADBC DB-API connection (autocommit off) to the server of a psycopg connection, with its
    ``search_path`` (an unqualified table is found where the caller's session would find it). An open
    transaction of ``conn`` is committed first (the other session would not see it)."""
    import adbc_driver_postgresql.dbapi as adbc
    from psycopg import sql

    if conn.info.transaction_status != _IDLE:
        # the load's transaction used to run on this connection and committed what it had open:
        # commit it here too, so that the other session sees it
        conn.commit()
    search_path = conn.execute("select current_setting('search_path')").fetchone()[0]
    if conn.info.transaction_status != _IDLE:
        conn.rollback()  # the read above opened a transaction (autocommit off): leave it idle
    try:
        arrow_conn = adbc.connect(conninfo_of(conn))
    except Exception as exc:
        # the driver's message is libpq's (no password); the conninfo is not repeated
        raise RuntimeError(f"could not open an ADBC connection to {_describe(conn)}: {exc}") from None
    with closing(arrow_conn):
        with closing(arrow_conn.cursor()) as cursor:
            cursor.execute(
                sql.SQL("select set_config('search_path', {}, false)")
                .format(sql.Literal(search_path))
                .as_string(conn)
            )
            cursor.fetchall()
        arrow_conn.commit()
        yield arrow_conn


def ingest_schema(contract: Contract, *, seq: bool) -> pa.Schema:
    """The Arrow schema of the stream: the contract's columns in their warehouse types (the binary
    format needs each value's exact width: int32 -> integer, int64 -> bigint ...), then the arrival
    order column when staging."""
    import pyarrow as pa

    fields = [pa.field(c.name, c.arrow_type()) for c in contract.columns]
    if seq:
        fields.append(pa.field(SEQ_COLUMN, pa.int64()))
    return pa.schema(fields)


def _file_batches(
    path: Path, present: list[str], schema: pa.Schema, seq_start: int | None
) -> Iterator[pa.RecordBatch]:
    """One Parquet file as record batches of ``schema`` (:data:`BATCH_ROWS` rows): the file's columns
    cast to the contract's types, the ones it lacks as NULL, the arrival order from ``seq_start``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = seq_start or 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=present):
        arrays = []
        for field in schema:
            if field.name == SEQ_COLUMN and seq_start is not None:
                arrays.append(pa.array(range(rows, rows + batch.num_rows), pa.int64()))
            elif field.name in present:
                column = batch.column(field.name)
                arrays.append(column if column.type == field.type else column.cast(field.type))
            else:
                arrays.append(pa.nulls(batch.num_rows, field.type))
        rows += batch.num_rows
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def ingest_files(
    cursor: DbApiCursor,
    table: str,
    contract: Contract,
    paths: Sequence[tuple[str, Path, list[str]]],
    *,
    seq: bool,
    temporary: bool = False,
) -> int:
    """Binary COPY of the files into ``table`` (a TEMP table with ``temporary``), in order, as one
    ``COPY`` in the cursor's transaction; the rows sent. Errors name the key of the file that failed.

    ``table`` is a plain (possibly schema-qualified) name, validated by the caller's quoting; the
    driver quotes the schema, table and column names itself."""
    import pyarrow as pa

    if not paths:
        return 0
    schema = ingest_schema(contract, seq=seq)
    failed: list[_FileFailed] = []
    starts: list[tuple[int, str]] = []

    def read() -> Iterator[tuple[str, pa.RecordBatch]]:
        sent = 0
        for key, path, present in paths:
            try:
                for batch in _file_batches(path, present, schema, sent if seq else None):
                    sent += batch.num_rows
                    yield key, batch
            except Exception as exc:
                failed.append(_FileFailed(key, exc))
                raise

    schema_name, _, name = table.rpartition(".")
    stream = prefetched(read(), depth=4, name="airlake-load-read")
    reader = pa.RecordBatchReader.from_batches(schema, _to_driver(stream, starts))
    try:
        rows = cursor.adbc_ingest(
            name,
            reader,
            mode="append",
            db_schema_name=schema_name or None,
            temporary=temporary,
        )
    except Exception as exc:
        if failed:
            raise failed[0] from None
        raise _FileFailed(_failed_key(str(exc), starts, paths), exc) from exc
    finally:
        stream.close()
    return int(rows)


def _to_driver(
    items: Iterator[tuple[str, pa.RecordBatch]], starts: list[tuple[int, str]]
) -> Iterator[pa.RecordBatch]:
    """The batches as the driver takes them into the COPY (in the driver's thread), noting in
    ``starts`` the first row of each file's rows: a server error's ``line N`` names its file."""
    sent = 0
    for key, batch in items:
        if not starts or starts[-1][1] != key:
            starts.append((sent, key))
        sent += batch.num_rows
        yield batch


_COPY_LINE = re.compile(r"\bCOPY [^,\n]+, line (\d+)")


def _failed_key(
    message: str, starts: list[tuple[int, str]], paths: Sequence[tuple[str, Path, list[str]]]
) -> str:
    """The key of the file a server error points at: the COPY's ``line N`` (1-based row) mapped to the
    file whose rows it is in; the files' keys when the message names no line."""
    if len(paths) == 1:
        return paths[0][0]
    match = _COPY_LINE.search(message)
    if match and starts:
        row = int(match.group(1)) - 1
        return [key for first, key in starts if first <= row][-1]
    return ", ".join(key for key, _path, _present in paths)
