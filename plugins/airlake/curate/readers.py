"""Stream the records of one raw part (JSON Lines, CSV or Parquet), each with its line number and raw text.

Readers never hold a whole file: lines and rows are read one at a time from the local copy of the part
(gzip or plain), Parquet in record batches. A line that cannot be read as a record at all (not JSON,
not an object, a CSV row with the wrong number of fields) comes out as a :class:`Reject` instead of a
record, so it is counted and quarantined like any other bad row.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from airlake.curate.parse import BAD_CSV_ROW, BAD_ENCODING, EMPTY_ROW, NOT_AN_OBJECT, NOT_JSON, Reject

RawItem = tuple[int, "dict[str, Any] | Reject", Any]
"""(line number, record or Reject, raw) where raw becomes text with :meth:`RawReader.raw_text`."""

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_BATCH_ROWS = 8192


def raw_format(key: str) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from a raw part's key (``.jsonl.gz``, ``.csv.gz``, ``.parquet``)."""
    name = key.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise ValueError(f"cannot tell the format of raw part {key!r} (expected .jsonl.gz, .csv.gz or .parquet)")


def _open_binary(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


class RawReader:
    """Base: ``items()`` yields :data:`RawItem` in file order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[RawItem]:
        raise NotImplementedError

    def raw_text(self, raw: Any) -> str:
        return raw if isinstance(raw, str) else str(raw)


class JsonLinesReader(RawReader):
    """One JSON object per line; blank lines are not records (ingest does not count them either)."""

    _decoder = json.JSONDecoder(parse_float=Decimal)  # numbers with a fraction stay exact

    def items(self) -> Iterator[RawItem]:
        decode = self._decoder.decode
        with _open_binary(self.path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    text = line.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raw = line.decode("utf-8", errors="surrogateescape").rstrip("\r\n")
                    yield number, Reject(BAD_ENCODING, f"line is not valid UTF-8: {exc.reason}"), raw
                    continue
                try:
                    record = decode(text)
                except (ValueError, RecursionError) as exc:
                    yield number, Reject(NOT_JSON, f"line is not JSON: {exc}"), text
                    continue
                if type(record) is not dict:
                    kind = type(record).__name__ if record is not None else "null"
                    yield number, Reject(NOT_AN_OBJECT, f"line is JSON but not an object ({kind})"), text
                    continue
                yield number, record, text


class CsvReader(RawReader):
    """Columns by header name: extra columns are ignored, missing ones are absent (NULL if nullable).

    CSV has no NULL: an empty field is NULL. Without a header, columns are taken in schema order.
    """

    def __init__(
        self, path: Path, columns: Sequence[str], *, delimiter: str = ",", header: bool = True
    ) -> None:
        super().__init__(path)
        self.columns = tuple(columns)
        self.delimiter = delimiter
        self.header = header

    def items(self) -> Iterator[RawItem]:
        with _open_binary(self.path) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            names: list[str] = list(self.columns)
            if self.header:
                first = next(reader, None)
                if first is None:
                    return
                names = [name.strip() for name in first]
            wanted = set(self.columns)
            positions: dict[str, int] = {}
            for index, name in enumerate(names):
                if name in wanted and name not in positions:
                    positions[name] = index
            pairs = tuple(positions.items())
            width = len(names)
            previous_line = reader.line_num
            for row in reader:
                number = previous_line + 1
                previous_line = reader.line_num
                if not row:
                    yield number, Reject(EMPTY_ROW, "empty CSV row"), row
                    continue
                if len(row) != width:
                    yield (
                        number,
                        Reject(BAD_CSV_ROW, f"CSV row has {len(row)} field(s), the header has {width}"),
                        row,
                    )
                    continue
                try:
                    "".join(row).encode("utf-8")
                except UnicodeEncodeError:
                    yield number, Reject(BAD_ENCODING, "CSV row is not valid UTF-8"), row
                    continue
                yield number, {name: (row[index] or None) for name, index in pairs}, row

    def raw_text(self, raw: Any) -> str:
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\n").writerow(
            raw
        )  # quotes embedded newlines
        return out.getvalue()[:-1]


class ParquetReader(RawReader):
    """Rows of a Parquet part, batch by batch; values arrive typed, the line number is the row number."""

    def items(self) -> Iterator[RawItem]:
        import pyarrow.parquet as pq

        number = 0
        parquet = pq.ParquetFile(self.path)
        try:
            for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                for record in batch.to_pylist():
                    number += 1
                    yield number, record, record
        finally:
            parquet.close()

    def raw_text(self, raw: Any) -> str:
        return json.dumps(raw, default=str, ensure_ascii=False)


def open_reader(
    path: Path, key: str, columns: Sequence[str], *, csv_delimiter: str = ",", csv_header: bool = True
) -> RawReader:
    """The reader for a local copy of the raw part ``key``."""
    kind = raw_format(key)
    if kind == "csv":
        return CsvReader(path, columns, delimiter=csv_delimiter, header=csv_header)
    if kind == "parquet":
        return ParquetReader(path)
    return JsonLinesReader(path)
