"""Stream the records of one raw part (JSON Lines, CSV or Parquet), each with its line number and raw text.

Reading is two passes kept apart, so the first can later run as a vector pass (e.g. pyarrow.csv with
all-string columns and an ``invalid_row_handler``) without changing what the second sees:

1. **structure** (:class:`CsvSplitter`, :func:`json_lines`): the file's *physical records*, each
   either a list of field texts or a :class:`Reject` naming why it is not one (unterminated or bad
   quoting, wrong field count, bytes invalid in the declared encoding, a NUL, a field over
   ``max_field_bytes``). A broken record is never merged with its neighbours: a record that spans
   lines and then breaks is split back into its physical lines, each judged on its own.
   :func:`count_records` counts the same records, so ingest's count and curate's "read" agree by
   construction and a merged row cannot hide in the accounting;
2. **header and values** (:class:`CsvReader` and friends): the header is checked against the schema
   (:class:`HeaderCheck`: a refused file quarantines every record, naming file and column), then
   fields become ``{column: text or None}`` by the contract's NULL markers and trimming. Typing is
   :mod:`airlake.curate.parse`'s job.

Readers never hold a whole file: lines are read one at a time from the local copy of the part (gzip or
plain), Parquet in record batches.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from airlake.curate.parse import (
    BAD_CSV_ROW,
    BAD_ENCODING,
    BAD_HEADER,
    BAD_QUOTING,
    EMPTY_ROW,
    EXTRA_COLUMN,
    FIELD_TOO_LARGE,
    MISSING_COLUMN,
    NOT_AN_OBJECT,
    NOT_JSON,
    NUL_BYTE,
    UNTERMINATED_QUOTE,
    Reject,
)

if TYPE_CHECKING:
    from airlake.contracts import Contract, CsvOptions

RawItem = tuple[int, "dict[str, Any] | Reject", Any]
"""(line number, record or Reject, raw) where raw becomes text with :meth:`RawReader.raw_text`."""

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_BATCH_ROWS = 8192
_BATCH_CHARS = 1 << 16
RAW_TEXT_MAX = 4096
"""Characters of a rejected record's raw text kept in quarantine (the rest is cut, and said so)."""
BAD_BYTES = "airlake.badbytes"
"""Decode error handler: each invalid byte becomes U+DC00 + byte (like surrogateescape, any codec)."""


def _bad_bytes(error: UnicodeError) -> tuple[str, int]:
    if isinstance(error, UnicodeDecodeError):
        bad = error.object[error.start : error.end]
        return "".join(chr(0xDC00 + byte) for byte in bad), error.end
    raise error


codecs.register_error(BAD_BYTES, _bad_bytes)


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


def _text_codec(encoding: str) -> str:
    """utf-8 reads an optional byte order mark (utf-16/32 handle theirs)."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def _clean(text: str) -> str | None:
    """The reason a decoded text cannot be stored (invalid bytes, NUL), None if it can."""
    if "\x00" in text:
        return NUL_BYTE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: bytes invalid in the encoding (or JSON \ud800)
            return BAD_ENCODING
    return None


_CLEAN_MESSAGES = {
    NUL_BYTE: "record holds a NUL byte (the warehouse cannot store it)",
    BAD_ENCODING: "record holds bytes that are invalid in the declared encoding",
}


def cut(text: str) -> str:
    """Raw text as kept in quarantine: at most :data:`RAW_TEXT_MAX` characters."""
    if len(text) <= RAW_TEXT_MAX:
        return text
    return f"{text[:RAW_TEXT_MAX]}... [cut: {len(text)} characters]"


# --------------------------------------------------------------------------------------------------
# Structure: physical records of a CSV file
# --------------------------------------------------------------------------------------------------

CsvRecord = tuple[int, "list[str] | Reject", str]
"""(first physical line, fields or Reject, raw text of its lines with their line ends)."""


def _line_end(text: str) -> str:
    """``text`` without its final line end (\\n, \\r\\n or \\r)."""
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    return text[:-1] if text.endswith("\r") else text


class CsvSplitter:
    """Physical records of a CSV text by the contract's dialect, checked for structure only.

    A physical line ends at \\n, \\r\\n or \\r. A record is one line, or several when a quoted field
    holds line breaks (``newlines_in_values``). Comment lines and the ``skip_rows`` preamble are not
    records; blank lines are (``empty_row``). After the header (the first record, if any) every
    record must have the header's field count (without a header: ``width``).
    """

    def __init__(self, options: CsvOptions, width: int | None = None) -> None:
        self.options = options
        self.width = width
        self.encoding = _text_codec(options.encoding)
        self.dialect: dict[str, Any] = {
            "delimiter": options.delimiter,
            "quotechar": options.quote or '"',
            "quoting": csv.QUOTE_MINIMAL if options.quote else csv.QUOTE_NONE,
            "escapechar": options.escape,
            "doublequote": True,
            "strict": True,
        }
        self._dialect = csv.reader([], **self.dialect).dialect  # built once: a reader per line is cheap
        self.max_field = options.max_field_bytes
        # fields are limited in characters by csv (never lower the process-wide limit) and in UTF-8
        # bytes here: a line under max_field / 4 characters cannot hold a field over max_field bytes
        csv.field_size_limit(max(csv.field_size_limit(), self.max_field))
        self._quick = self.max_field // 4

    def open(self, binary: BinaryIO) -> io.TextIOWrapper:
        return io.TextIOWrapper(binary, encoding=self.encoding, errors=BAD_BYTES, newline="")

    def records(self, text: io.TextIOWrapper) -> Iterator[CsvRecord]:
        """Every physical record in file order (the header first, if the contract has one)."""
        for block in self.blocks(text):
            yield from block

    def blocks(self, text: io.TextIOWrapper) -> Iterator[list[CsvRecord]]:
        """The records in blocks (about :data:`_BATCH_CHARS` of text each), in file order."""
        consumed = 0
        for _ in range(self.options.skip_rows):
            if not text.readline():
                return
            consumed += 1
        if self.options.comment is None:
            yield from self._batched(text, consumed)
            return
        block: list[CsvRecord] = []
        for record in self._line_by_line(text, consumed, self.options.comment):
            block.append(record)
            if len(block) >= 1024:
                yield block
                block = []
        if block:
            yield block

    def _batched(self, text: io.TextIOWrapper, consumed: int) -> Iterator[list[CsvRecord]]:
        """The fast path: lines are read in batches and each batch is checked once (encoding, NUL,
        line length). A clean batch without quote or escape characters is split by the delimiter;
        any other is parsed by csv, a reader per batch, and a record still open at the end of a
        batch is carried into the next one (at the end of the file it is an unterminated quote)."""
        options = self.options
        delimiter, quick = options.delimiter, self._quick
        specials = [char for char in (options.quote, options.escape) if char is not None]
        header = options.header
        base = consumed  # lines before the batch
        carry: list[str] = []
        following = text.readlines(_BATCH_CHARS)
        while following:
            lines = carry + following if carry else following
            following = text.readlines(_BATCH_CHARS)
            last = not following
            joined = "".join(lines)
            clean = max(map(len, lines)) <= quick and _clean(joined) is None
            width = self.width
            out: list[CsvRecord] = []
            if clean and not header and width is not None and not any(c in joined for c in specials):
                number = base
                for line in lines:
                    number += 1
                    row = line.rstrip("\r\n").split(delimiter)  # one line end: \n, \r\n or \r
                    if len(row) == width and (width > 1 or row[0]):
                        out.append((number, row, line))
                    else:  # blank or short: as csv reads it
                        parsed, error = self._parse_line(line)
                        out.append(self._verdict(number, line, parsed, error))
                base = number
                carry = []
                yield out
                continue
            reader = csv.reader(lines, self._dialect)
            prev = 0
            carry = []
            while True:
                error: str | None = None
                try:
                    row: list[str] | None = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    row, error = None, str(exc)
                end = reader.line_num
                if error is not None and not last and end == len(lines) and "unexpected end of data" in error:
                    carry = lines[prev:]  # the record goes on in the next batch
                    break
                if clean and end - prev == 1 and error is None and not header and len(row) == width:  # type: ignore[arg-type]
                    out.append((base + end, row, lines[prev]))  # type: ignore[arg-type]
                    prev = end
                    continue
                record = lines[prev:end]
                start, prev = base + prev + 1, end
                if header:
                    header = False
                    out.extend(self._header(start, record, row, error))
                    width = self.width
                    continue
                out.extend(self._judge(start, record, row, error))
            base += prev
            if out:
                yield out

    def _line_by_line(self, text: io.TextIOWrapper, consumed: int, comment: str) -> Iterator[CsvRecord]:
        """With comments: csv reads line by line, and a line starting a record may be a comment."""
        lines: list[str] = []
        skipped = [0]

        def feed() -> Iterator[str]:
            for line in text:
                if not lines and line.startswith(comment):
                    skipped[0] += 1
                    continue
                lines.append(line)
                yield line

        reader = csv.reader(feed(), **self.dialect)
        header = self.options.header
        while True:
            lines.clear()
            error: str | None = None
            try:
                row: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row, error = None, str(exc)
            start = consumed + skipped[0] + 1
            consumed += skipped[0] + len(lines)
            skipped[0] = 0
            if header:
                header = False
                yield from self._header(start, list(lines), row, error)
                continue
            yield from self._judge(start, list(lines), row, error)

    def _header(
        self, start: int, lines: list[str], row: list[str] | None, error: str | None
    ) -> Iterator[CsvRecord]:
        raw = "".join(lines)
        if error is not None or len(lines) > 1:  # the header is its first line; the others are records
            problem = _csv_error(error).message if error is not None else "it spans lines"
            yield start, Reject(BAD_HEADER, f"the header cannot be read ({problem})"), lines[0]
            for offset, line in enumerate(lines[1:], start=1):
                parsed, line_error = self._parse_line(line)
                yield self._verdict(start + offset, line, parsed, line_error)
            return
        problem = _clean(raw)
        if problem is not None:
            yield start, Reject(BAD_HEADER, f"the header: {_CLEAN_MESSAGES[problem]}"), raw
            return
        assert row is not None
        self.width = len(row)
        yield start, row, raw

    def _judge(
        self, start: int, lines: list[str], row: list[str] | None, error: str | None
    ) -> Iterator[CsvRecord]:
        """The slow path: one record that is not plainly fine; broken multi-line records are split."""
        raw = "".join(lines)
        if len(lines) > 1 and (
            error is not None
            or not self.options.newlines_in_values
            or (row is not None and len(row) != self.width)
        ):
            for offset, line in enumerate(lines):
                parsed, line_error = self._parse_line(line)
                yield self._verdict(start + offset, line, parsed, line_error)
            return
        yield self._verdict(start, raw, row, error)

    def _parse_line(self, line: str) -> tuple[list[str] | None, str | None]:
        try:
            return next(csv.reader([line], self._dialect), []), None
        except csv.Error as exc:
            return None, str(exc)

    def _verdict(self, start: int, raw: str, row: list[str] | None, error: str | None) -> CsvRecord:
        if error is not None or row is None:
            return start, _csv_error(error or "no fields"), raw
        problem = _clean(raw)
        if problem is not None:
            return start, Reject(problem, _CLEAN_MESSAGES[problem]), raw
        if not row:
            return start, Reject(EMPTY_ROW, "empty CSV row"), raw
        if len(raw) > self._quick:
            for index, value in enumerate(row):
                if len(value) > self._quick and len(value.encode("utf-8")) > self.max_field:
                    return (
                        start,
                        Reject(
                            FIELD_TOO_LARGE,
                            f"field {index + 1} has {len(value.encode('utf-8'))} bytes, more than "
                            f"max_field_bytes ({self.max_field})",
                        ),
                        raw,
                    )
        if self.width is not None and len(row) != self.width:
            expected = "the header has" if self.options.header else "the schema has"
            return (
                start,
                Reject(BAD_CSV_ROW, f"CSV row has {len(row)} field(s), {expected} {self.width}"),
                raw,
            )
        return start, row, raw


def _csv_error(message: str) -> Reject:
    if "unexpected end of data" in message:
        return Reject(UNTERMINATED_QUOTE, "a quoted field is not closed before the end of the record")
    if "field larger than field limit" in message:
        return Reject(FIELD_TOO_LARGE, "a field is larger than max_field_bytes")
    return Reject(BAD_QUOTING, f"bad quoting: {message}")


# --------------------------------------------------------------------------------------------------
# Structure: physical records of a JSON Lines file
# --------------------------------------------------------------------------------------------------


def json_lines(binary: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every record: lines end at \\n, blank lines are not records, a UTF-8 BOM
    is not part of the first line (:class:`JsonLinesReader` follows the same rules, inlined)."""
    if binary.peek(3)[:3] == codecs.BOM_UTF8:  # type: ignore[attr-defined]
        binary.read(3)
    for number, line in enumerate(binary, start=1):
        if line.strip():
            yield number, line


def count_records(
    path: Path, file_format: str, options: CsvOptions | None = None, *, columns: int | None = None
) -> int:
    """Physical records of a landed or raw file, exactly as curate's readers will count them.

    :param options: the contract's ``source.csv`` (default: the defaults).
    :param columns: the schema's column count, the field count of a CSV without a header.
    """
    if file_format == "parquet":
        import pyarrow.parquet as pq  # heavy: only when a Parquet file arrives

        return pq.ParquetFile(path).metadata.num_rows
    with _open_binary(path) as binary:
        if file_format != "csv":
            return sum(1 for _ in json_lines(binary))
        if options is None:
            from airlake.contracts import CsvOptions

            options = CsvOptions()
        splitter = CsvSplitter(options, None if options.header else columns)
        records = sum(len(block) for block in splitter.blocks(splitter.open(binary)))
    return max(records - 1, 0) if options.header else records


# --------------------------------------------------------------------------------------------------
# Header contract and values
# --------------------------------------------------------------------------------------------------


@dataclass
class HeaderCheck:
    """What one file's header (or Parquet columns) says against the schema, and whether it is refused.

    ``as_dict()`` is what the curate manifest records for the part.
    """

    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: Reject | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"missing": self.missing, "extra": self.extra}
        if self.duplicates:
            out["duplicates"] = self.duplicates
        if self.refused is not None:
            out["refused"] = {"reason": self.refused.reason, "message": self.refused.message}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def check_header(names: Sequence[str], contract: Contract, source_key: str) -> HeaderCheck:
    """The header ``names`` of file ``source_key`` against the schema and the contract's policies."""
    on_extra, on_missing = "warn", "null"
    if contract.source.kind == "files":
        on_extra, on_missing = contract.source.on_extra_columns, contract.source.on_missing_nullable
    found = HeaderCheck(columns=list(names))
    seen: set[str] = set()
    for name in names:
        if name in seen and name not in found.duplicates:
            found.duplicates.append(name)
        seen.add(name)
    schema = {column.name: column for column in contract.columns}
    found.missing = [name for name in schema if name not in seen]
    found.extra = [name for name in dict.fromkeys(names) if name not in schema]
    required = [name for name in found.missing if not schema[name].nullable]
    nullable = [name for name in found.missing if schema[name].nullable]
    where = f"the header of {source_key}"
    if required:
        found.refused = Reject(
            MISSING_COLUMN,
            f"NOT NULL column(s) {', '.join(required)} missing from {where}: the file is refused",
            required[0],
        )
    elif nullable and on_missing == "refuse":
        found.refused = Reject(
            MISSING_COLUMN,
            f"column(s) {', '.join(nullable)} missing from {where} (on_missing_nullable: refuse)",
            nullable[0],
        )
    elif found.extra and on_extra == "refuse":
        found.refused = Reject(
            EXTRA_COLUMN,
            f"column(s) {', '.join(found.extra)} in {where} are not in the schema (on_extra_columns: refuse)",
            found.extra[0],
        )
    if found.refused is None:
        if nullable:
            found.warnings.append(f"{where} lacks nullable column(s) {', '.join(nullable)}: NULL in its rows")
        if found.extra and on_extra == "warn":
            found.warnings.append(
                f"{where} has column(s) {', '.join(found.extra)} not in the schema: dropped"
            )
        if found.duplicates:
            found.warnings.append(
                f"{where} names column(s) {', '.join(found.duplicates)} twice: the first one is read"
            )
    return found


def _null_sets(contract: Contract, default: Sequence[str]) -> dict[str, frozenset[str]]:
    return {
        column.name: frozenset(column.null_values if column.null_values is not None else default)
        for column in contract.columns
    }


def _trimmed(contract: Contract, trim: str) -> frozenset[str]:
    if trim == "all":
        return frozenset(contract.column_names)
    if trim == "strings":
        return frozenset(c.name for c in contract.columns if c.column_type.base == "string")
    return frozenset()


class RawReader:
    """Base: ``items()`` yields :data:`RawItem` in file order; ``header`` is set once it was read."""

    header: HeaderCheck | None = None

    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[RawItem]:
        raise NotImplementedError

    def raw_text(self, raw: Any) -> str:
        return cut(raw if isinstance(raw, str) else str(raw))


class JsonLinesReader(RawReader):
    """One JSON object per line; blank lines are not records (ingest does not count them either).

    Strings that the warehouse cannot store (a ``\\u0000``, a lone surrogate escape) reject the record.
    Text NULL markers and trimming (``jsonl`` options, column ``null_values``) apply to string values.
    """

    _decoder = json.JSONDecoder(parse_float=Decimal)  # numbers with a fraction stay exact

    def __init__(self, path: Path, contract: Contract | None = None) -> None:
        super().__init__(path)
        self.values: tuple[tuple[str, bool, frozenset[str]], ...] = ()
        if contract is not None and contract.source.kind == "files":
            options = contract.source.jsonl
            nulls = _null_sets(contract, options.null_values)
            trimmed = _trimmed(contract, options.trim)
            self.values = tuple(
                (name, name in trimmed, nulls[name])
                for name in contract.column_names
                if name in trimmed or nulls[name]
            )

    def items(self) -> Iterator[RawItem]:
        decode, values = self._decoder.decode, self.values
        with _open_binary(self.path) as handle:
            if handle.peek(3)[:3] == codecs.BOM_UTF8:  # type: ignore[attr-defined]
                handle.read(3)
            for number, line in enumerate(handle, start=1):
                if not line.strip():  # the rule of json_lines, inlined: this loop is hot
                    continue
                try:
                    text = line.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raw = line.decode("utf-8", errors=BAD_BYTES).rstrip("\r\n")
                    yield number, Reject(BAD_ENCODING, f"line is not valid UTF-8: {exc.reason}"), raw
                    continue
                try:
                    record = decode(text)
                except (ValueError, RecursionError) as exc:  # a raw NUL is never valid JSON: said so
                    reason = Reject(NUL_BYTE, "line holds a NUL byte") if "\x00" in text else None
                    yield number, reason or Reject(NOT_JSON, f"line is not JSON: {exc}"), text
                    continue
                if type(record) is not dict:
                    kind = type(record).__name__ if record is not None else "null"
                    yield number, Reject(NOT_AN_OBJECT, f"line is JSON but not an object ({kind})"), text
                    continue
                if "\\u" in text:  # an escape may decode to what cannot be stored (NUL, lone surrogate)
                    problem = _unstorable(record)
                    if problem is not None:
                        yield number, problem, text
                        continue
                if values:  # only when the contract declares markers or trim
                    self._normalise(record)
                yield number, record, text

    def _normalise(self, record: dict[str, Any]) -> None:
        """Trim and NULL markers of the contract, on string values."""
        for name, trim, nulls in self.values:
            value = record.get(name)
            if type(value) is str:
                if trim:
                    value = record[name] = value.strip()
                if value in nulls:
                    record[name] = None


def _unstorable(value: Any, path: str = "") -> Reject | None:
    if isinstance(value, str):
        problem = _clean(value)
        if problem is not None:
            what = "a NUL character" if problem == NUL_BYTE else "an invalid (lone surrogate) character"
            return Reject(problem, f"{path or 'value'} holds {what}", path.split(".")[0] or None)
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(key, path) or _unstorable(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _unstorable(item, path)
            if found is not None:
                return found
    return None


class CsvReader(RawReader):
    """Columns by header name, checked against the schema first (:func:`check_header`).

    A refused file yields every record as a Reject of the header's reason. Fields become NULL by the
    NULL markers (default ``[""]``) after trimming; without a header columns come in schema order.
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        delimiter: str = ",",
        header: bool = True,
        contract: Contract | None = None,
        options: CsvOptions | None = None,
        source_key: str = "",
    ) -> None:
        super().__init__(path)
        from airlake.contracts import CsvOptions

        self.columns = tuple(columns)
        self.contract = contract
        self.source_key = source_key or path.name
        if options is None:
            options = CsvOptions(delimiter=delimiter, header=header)
        self.options = options
        default_nulls = options.null_values
        if contract is not None:
            nulls = _null_sets(contract, default_nulls)
            trimmed = _trimmed(contract, options.trim)
        else:
            nulls = {name: frozenset(default_nulls) for name in self.columns}
            trimmed = frozenset(self.columns) if options.trim == "all" else frozenset()
        self._nulls, self._trimmed = nulls, trimmed
        self.positions: dict[str, int] = {}
        self.plain = True
        self._pairs: tuple[tuple[str, int], ...] = ()
        self._values: tuple[tuple[str, int, bool, frozenset[str]], ...] = ()

    def items(self) -> Iterator[RawItem]:
        record = self.record
        for block in self.field_blocks():
            plain, pairs = self.plain, self._pairs
            for number, fields, raw in block:
                if fields.__class__ is not list:
                    yield number, fields, raw  # a structural Reject (or the refused header's)
                elif plain:
                    yield number, {name: (fields[index] or None) for name, index in pairs}, raw
                else:
                    yield number, record(fields), raw

    def field_blocks(self) -> Iterator[list[CsvRecord]]:
        """The records after the header in blocks, as field lists (or Rejects), for a vector pass:
        :meth:`record` makes a field list what :meth:`items` yields. Sets ``positions`` (column ->
        field index) and ``plain`` (NULL is only the empty field, nothing trimmed) once the header
        was read; a refused file yields every record as the header's Reject."""
        options = self.options
        splitter = CsvSplitter(options, None if options.header else len(self.columns))
        with _open_binary(self.path) as binary:
            blocks = splitter.blocks(splitter.open(binary))
            names: list[str] = list(self.columns)
            refused: Reject | None = None
            if options.header:
                first_block = next(blocks, None)
                if not first_block:
                    return
                _, fields, _ = first_block[0]
                blocks = itertools.chain([first_block[1:]], blocks)
                if isinstance(fields, Reject):
                    refused = Reject(BAD_HEADER, f"{self.source_key}: {fields.message}: the file is refused")
                    self.header = HeaderCheck(refused=refused)
                else:
                    names = [name.strip() for name in fields]
                    if names:
                        names[0] = names[0].lstrip("\ufeff")
                    if self.contract is not None:
                        self.header = check_header(names, self.contract, self.source_key)
                        refused = self.header.refused
            if refused is not None:
                for block in blocks:
                    yield [(number, refused, raw) for number, _, raw in block]
                return
            wanted = set(self.columns)
            positions: dict[str, int] = {}
            for index, name in enumerate(names):
                if name in wanted and name not in positions:
                    positions[name] = index
            self.positions = positions
            self._pairs = tuple(positions.items())
            self.plain = all(self._nulls.get(name) == {""} for name in positions) and not self._trimmed
            self._values = tuple(
                (name, index, name in self._trimmed, self._nulls.get(name, frozenset()))
                for name, index in self._pairs
            )
            yield from blocks

    def record(self, fields: list[str]) -> dict[str, Any]:
        """``{column: text or None}`` of a field list, by the NULL markers and trimming."""
        if self.plain:
            return {name: (fields[index] or None) for name, index in self._pairs}
        record: dict[str, Any] = {}
        for name, index, trim, nulls in self._values:
            value = fields[index]
            if trim:
                value = value.strip()
            record[name] = None if value in nulls else value
        return record

    def raw_text(self, raw: Any) -> str:
        return cut(_line_end(raw))


class ParquetReader(RawReader):
    """Rows of a Parquet part, batch by batch; values arrive typed, the line number is the row number.

    Its column names are checked like a CSV header; strings holding a NUL reject their row.
    """

    def __init__(self, path: Path, contract: Contract | None = None, source_key: str = "") -> None:
        super().__init__(path)
        self.contract = contract
        self.source_key = source_key or path.name

    def items(self) -> Iterator[RawItem]:
        import pyarrow.parquet as pq

        number = 0
        parquet = pq.ParquetFile(self.path)
        try:
            refused: Reject | None = None
            if self.contract is not None:
                self.header = check_header(parquet.schema_arrow.names, self.contract, self.source_key)
                refused = self.header.refused
            for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                flagged: dict[int, str] = {}
                if refused is None:
                    batch = _flag_strings(batch, flagged)
                for index, record in enumerate(batch.to_pylist()):
                    number += 1
                    if refused is not None:
                        yield number, refused, record
                    elif index in flagged:
                        reason = flagged[index]
                        yield number, Reject(reason, _CLEAN_MESSAGES[reason]), record
                    else:
                        yield number, record, record
        finally:
            parquet.close()

    def raw_text(self, raw: Any) -> str:
        return cut(json.dumps(raw, default=str, ensure_ascii=False))


def _flag_strings(batch: Any, flagged: dict[int, str]) -> Any:
    """Rows of a Parquet batch whose strings the warehouse cannot store: invalid UTF-8 (set to NULL in
    the returned batch, so it can become Python values) or a NUL; vector checks, rows only when hit."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for position, column in enumerate(batch.columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            binary = column.view(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary())
            bad = [i for i, value in enumerate(binary.to_pylist()) if value is not None and not _utf8(value)]
            for index in bad:
                flagged.setdefault(index, BAD_ENCODING)
            wrong = set(bad)
            mask = pa.array([i in wrong for i in range(len(column))])
            column = pc.if_else(mask, pa.scalar(None, binary.type), binary).view(column.type)
            batch = batch.set_column(position, batch.schema.field(position), column)
        hits = pc.match_substring(column, "\x00")
        if pc.any(hits).as_py():
            for index in pc.indices_nonzero(hits.fill_null(False)).to_pylist():
                flagged.setdefault(index, NUL_BYTE)
    return batch


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def open_reader(
    path: Path,
    key: str,
    columns: Sequence[str] | None = None,
    *,
    contract: Contract | None = None,
    csv_delimiter: str = ",",
    csv_header: bool = True,
) -> RawReader:
    """The reader for a local copy of the raw part ``key``; with ``contract``, by its reading options."""
    kind = raw_format(key)
    if columns is None:
        assert contract is not None, "open_reader needs columns or a contract"
        columns = contract.column_names
    if kind == "csv":
        options = None
        if contract is not None and contract.source.kind == "files":
            options = contract.source.csv
        return CsvReader(
            path,
            columns,
            delimiter=csv_delimiter,
            header=csv_header,
            contract=contract,
            options=options,
            source_key=key,
        )
    if kind == "parquet":
        return ParquetReader(path, contract, key)
    return JsonLinesReader(path, contract)
