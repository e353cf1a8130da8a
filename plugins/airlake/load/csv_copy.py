"""PostgreSQL ``COPY ... FROM STDIN`` of curated Parquet files, encoded as CSV chunks by pyarrow.

A helper thread encodes Parquet -> CSV ahead of the COPY that sends (pyarrow releases the GIL), so
encoding overlaps sending; errors name the lake key of the file that failed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.load.dbapi import DbApiCursor
from airlake.load.statements import SEQ_COLUMN, _names
from airlake.prefetch import prefetched
from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.contracts import Contract

BATCH_ROWS = 50_000


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


class _FileFailed(Exception):
    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.key, self.error = key, error


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
    stream = prefetched(events(), depth=4, name="airlake-load-encode")
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
