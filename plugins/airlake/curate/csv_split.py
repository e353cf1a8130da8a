"""Structure of a CSV file: its physical records, each a list of field texts or a :class:`Reject` naming
why it is not one (unterminated or bad quoting, wrong field count, bytes invalid in the declared encoding,
a NUL, a field over ``max_field_bytes``).

A broken record is never merged with its neighbours: a record that spans lines and then breaks is split
back into its physical lines, each judged on its own. The header and the values are the readers' job
(:mod:`airlake.curate.readers`); :func:`~airlake.curate.readers.count_records` counts these same records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from airlake.curate.parse import (
    BAD_CSV_ROW,
    BAD_HEADER,
    BAD_QUOTING,
    EMPTY_ROW,
    FIELD_TOO_LARGE,
    UNTERMINATED_QUOTE,
    Reject,
)
from airlake.curate.rawfile import BAD_BYTES, PROBLEM_MESSAGES, text_codec, text_problem

if TYPE_CHECKING:
    from airlake.contracts import CsvOptions

BATCH_CHARS = 1 << 16
"""Characters of text the fast path reads and checks at once."""

CsvRecord = tuple[int, "list[str] | Reject", str]
"""(first physical line, fields or Reject, raw text of its lines with their line ends)."""


def line_end(text: str) -> str:
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
        self.encoding = text_codec(options.encoding)
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
        """The records in blocks (about :data:`BATCH_CHARS` of text each), in file order."""
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
        following = text.readlines(BATCH_CHARS)
        while following:
            lines = carry + following if carry else following
            following = text.readlines(BATCH_CHARS)
            last = not following
            joined = "".join(lines)
            clean = max(map(len, lines)) <= quick and text_problem(joined) is None
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
            for row, error in _rows(reader):
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
        for row, error in _rows(reader):
            record = lines.copy()
            lines.clear()  # before csv reads on: an empty list means the next line starts a record
            start = consumed + skipped[0] + 1
            consumed += skipped[0] + len(record)
            skipped[0] = 0
            if header:
                header = False
                yield from self._header(start, record, row, error)
                continue
            yield from self._judge(start, record, row, error)

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
        problem = text_problem(raw)
        if problem is not None:
            yield start, Reject(BAD_HEADER, f"the header: {PROBLEM_MESSAGES[problem]}"), raw
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
        problem = text_problem(raw)
        if problem is not None:
            return start, Reject(problem, PROBLEM_MESSAGES[problem]), raw
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


def _rows(reader: Iterator[list[str]]) -> Iterator[tuple[list[str] | None, str | None]]:
    """``(fields, None)`` for each record csv reads, ``(None, error)`` where it fails (it reads on)."""
    while True:
        try:
            yield next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:
            yield None, str(exc)


def _csv_error(message: str) -> Reject:
    if "unexpected end of data" in message:
        return Reject(UNTERMINATED_QUOTE, "a quoted field is not closed before the end of the record")
    if "field larger than field limit" in message:
        return Reject(FIELD_TOO_LARGE, "a field is larger than max_field_bytes")
    return Reject(BAD_QUOTING, f"bad quoting: {message}")
