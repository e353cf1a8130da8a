"""Parquet footers against the Glue table: a written file's schema is checked before it is registered.

pyarrow is imported only by the functions that read footers, so the catalog stays light to import.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from airlake.catalog.errors import CatalogError, ColumnChange, ParquetSchemaError
from airlake.catalog.tables import normalize_glue_type

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

_T = TypeVar("_T")

FOOTER_TAIL_BYTES = 1024 * 1024
"""Bytes fetched from the end of a Parquet file to read its footer (one ranged GET in the common case)."""


def arrow_to_glue_type(data_type: pa.DataType) -> str:
    """Glue type name of an Arrow type (as Athena reads it from Parquet); ``str(type)`` when it has none."""
    import pyarrow as pa

    t = pa.types
    if t.is_string(data_type) or t.is_large_string(data_type) or t.is_string_view(data_type):
        return "string"
    checks: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
        (t.is_boolean, "boolean"),
        (t.is_int8, "tinyint"),
        (t.is_int16, "smallint"),
        (t.is_int32, "int"),
        (t.is_int64, "bigint"),
        (t.is_float32, "float"),
        (t.is_float64, "double"),
        (t.is_date, "date"),
        (t.is_timestamp, "timestamp"),
        (t.is_binary, "binary"),
        (t.is_large_binary, "binary"),
    )
    for check, name in checks:
        if check(data_type):
            return name
    if t.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    return str(data_type)


def check_parquet_schema(
    parquet_schema: pa.Schema,
    table_columns: Sequence[Mapping[str, Any]],
    *,
    file: str = "(parquet file)",
    ignore: Iterable[str] = (),
) -> None:
    """
    Check a written Parquet file's schema against the Glue table's columns, before registering it.

    Every table column must be in the file with the same type (Arrow types mapped as Athena reads
    them: int32 -> int, timestamp[us, tz=UTC] -> timestamp, ...), and the file must have no other
    column. Nullability is not compared: Glue has none.

    :param parquet_schema: the file's schema (``pyarrow.parquet.read_schema``; :func:`read_parquet_schema`).
    :param table_columns: the table's ``StorageDescriptor.Columns`` (``Name``, ``Type``).
    :param file: the file's name for the error message (``s3://bucket/key``).
    :param ignore: column names to leave out, such as the partition column when a file carries it.
    :raises ParquetSchemaError: listing each column with the expected and the found type.
    """
    skipped = set(ignore)
    found = {f.name: arrow_to_glue_type(f.type) for f in parquet_schema if f.name not in skipped}
    mismatches: list[ColumnChange] = []
    expected_names: set[str] = set()
    for column in table_columns:
        name = column["Name"]
        if name in skipped:
            continue
        expected_names.add(name)
        expected = normalize_glue_type(column["Type"])
        actual = found.get(name)
        if actual is None:
            mismatches.append(ColumnChange(name, expected, "(missing)", "missing"))
        elif actual != expected:
            mismatches.append(ColumnChange(name, expected, actual, "type differs"))
    for name, actual in found.items():
        if name not in expected_names:
            mismatches.append(ColumnChange(name, "(not in table)", actual, "extra column"))
    if mismatches:
        raise ParquetSchemaError(file, mismatches)


class S3TailFile(io.RawIOBase):
    """A read-only file over an S3 object that fetches the tail in one ranged GET, more only on demand.

    Reading a Parquet footer touches only the end of the file: one request, whatever the file's size
    (a small file comes back whole, which suits moto).
    """

    def __init__(self, s3: Any, bucket: str, key: str, tail_bytes: int = FOOTER_TAIL_BYTES) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{tail_bytes}")
        self._data = response["Body"].read()
        content_range = response.get("ContentRange")  # "bytes 596-695/696"
        self.size = int(content_range.rsplit("/", 1)[1]) if content_range else len(self._data)
        self._start = self.size - len(self._data)
        self._pos = 0
        self.requests = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._pos + len(buffer), self.size)
        if end <= self._pos:
            return 0
        if self._pos < self._start:
            response = self._s3.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{self._start - 1}"
            )
            self._data = response["Body"].read() + self._data
            self._start = self._pos
            self.requests += 1
        chunk = self._data[self._pos - self._start : end - self._start]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def read_parquet_schema(s3: Any, bucket: str, key: str) -> pa.Schema:
    """
    The Arrow schema in a Parquet file's footer, read with one ranged GET of the object's tail.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.get_object`

    :param s3: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the Parquet object's key.
    """
    import pyarrow.parquet as pq

    return _read_footer(s3, bucket, key, pq.read_schema)


def read_parquet_metadata(s3: Any, bucket: str, key: str) -> pq.FileMetaData:
    """The whole footer (``FileMetaData``: schema, rows, row groups) of a Parquet object, read as
    :func:`read_parquet_schema` reads its schema."""
    import pyarrow.parquet as pq

    return _read_footer(s3, bucket, key, pq.read_metadata)


def _read_footer(s3: Any, bucket: str, key: str, read: Callable[[Any], _T]) -> _T:
    try:
        with S3TailFile(s3, bucket, key) as handle:
            return read(handle)
    except ClientError as exc:
        raise CatalogError(f"cannot read the Parquet footer of s3://{bucket}/{key}: {exc}") from exc


def date_ranges(metadata: pq.FileMetaData, columns: Iterable[str]) -> dict[str, tuple[str, str]]:
    """
    Per date column, the first and last day (ISO) of a file's values, from its row groups' statistics.

    A consumer whose day is such a column (a view over ``fx_rates`` by ``rate_date``, where a partition
    of published days also holds corrections of earlier days) learns which days a new file touches
    without reading it. A column some row group has no statistics for is left out: unknown, not empty.
    """
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    found: dict[str, tuple[str, str]] = {}
    for name in set(columns) & set(leaves):
        lows, highs, known = [], [], True
        for group in groups:
            stats = group.column(leaves[name]).statistics
            if stats is not None and stats.has_min_max:
                lows.append(stats.min)
                highs.append(stats.max)
            elif not (group.num_rows == 0 or (stats is not None and stats.null_count == group.num_rows)):
                known = False  # values without statistics (only nulls or no rows need none)
        if known and lows:
            found[name] = (min(lows).isoformat(), max(highs).isoformat())
    return found
