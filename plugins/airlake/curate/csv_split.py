"""Structure of a CSV file: its physical records, each a list of field texts or a :class:`Reject` naming
why it is not one (unterminated or bad quoting, wrong field count, bytes invalid in the declared encoding,
a NUL, a field over ``max_field_bytes``).

A broken record is never merged with its neighbours: a record that spans lines and then breaks is split
back into its physical lines, each judged on its own. Chunks in which every line is provably one record
(no quote, escape, lone \\r, NUL, blank line, invalid byte) can come as :class:`ArrowBlock` instead
(:meth:`CsvSplitter.mixed_blocks`), parsed by pyarrow.csv and checked against their count of lines.
The header and the values are the readers' job (:mod:`airlake.curate.readers`);
:func:`~airlake.curate.readers.count_records` counts these same records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
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
ARROW_CHARS = 1 << 20
"""Characters of text :meth:`CsvSplitter.mixed_blocks` reads at once (a candidate :class:`ArrowBlock`);
4 MiB chunks took ~80 MB more peak memory than 1 MiB for no less CPU (2026-12-04-curate-arrow.md)."""
FIRST_CHARS = BATCH_CHARS
"""Characters of its first chunk, which holds the header and always goes the strict way."""
_BOM = b"\xef\xbb\xbf"  # pyarrow.csv drops one at the start of a buffer: such a chunk goes the strict way

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
        delimiter = options.delimiter
        self._arrow_safe = delimiter.isascii() and delimiter not in '\r\n"' + (options.quote or "")
        self.arrow_fields: tuple[int, ...] | None = None
        """Field indices an :class:`ArrowBlock` keeps; None: every block the strict way (the reader
        sets it once the header is read and the file not refused)."""
        self.line_offset = 0
        """Added to every line number: the text is a piece of a file that many lines in (after its head)."""
        self.open_at_end = False
        """Set when the text ended inside a record (an open quote or escape): the piece was not cut at a
        record boundary (:mod:`airlake.curate.pieces` then parses the file whole)."""

    def open(self, binary: BinaryIO) -> io.TextIOWrapper:
        return io.TextIOWrapper(binary, encoding=self.encoding, errors=BAD_BYTES, newline="")

    def records(self, text: io.TextIOWrapper) -> Iterator[CsvRecord]:
        """Every physical record in file order (the header first, if the contract has one)."""
        for block in self.blocks(text):
            yield from block

    def blocks(self, text: io.TextIOWrapper) -> Iterator[list[CsvRecord]]:
        """The records in blocks (about :data:`BATCH_CHARS` of text each), in file order."""
        consumed = self.line_offset
        for _ in range(self.options.skip_rows):
            if not text.readline():
                return
            consumed += 1
        yield from self.blocks_after(text, consumed)

    def _batched(self, text: io.TextIOWrapper, consumed: int) -> Iterator[list[CsvRecord]]:
        """The fast path: lines are read in batches and each batch is checked once (encoding, NUL,
        line length). A clean batch without quote or escape characters is split by the delimiter;
        any other is parsed by csv, a reader per batch, and a record still open at the end of a
        batch is carried into the next one (at the end of the file it is an unterminated quote)."""
        state = _State(consumed, self.options.header)
        following = text.readlines(BATCH_CHARS)
        while following:
            lines = state.carry + following if state.carry else following
            following = text.readlines(BATCH_CHARS)
            out = self._batch(lines, state, last=not following)
            if out:
                yield out

    def _batch(self, lines: list[str], state: _State, *, last: bool) -> list[CsvRecord]:
        """The records of one batch of lines (after the carried lines of an open record); updates
        ``state`` (lines consumed, the open record's lines, whether the header is still to come)."""
        options = self.options
        delimiter, quick = options.delimiter, self._quick
        specials = [char for char in (options.quote, options.escape) if char is not None]
        base = state.base
        joined = "".join(lines)
        clean = max(map(len, lines)) <= quick and text_problem(joined) is None
        width = self.width
        out: list[CsvRecord] = []
        state.carry = []
        if clean and not state.header and width is not None and not any(c in joined for c in specials):
            number = base
            for line in lines:
                number += 1
                row = line.rstrip("\r\n").split(delimiter)  # one line end: \n, \r\n or \r
                if len(row) == width and (width > 1 or row[0]):
                    out.append((number, row, line))
                else:  # blank or short: as csv reads it
                    parsed, error = self._parse_line(line)
                    out.append(self._verdict(number, line, parsed, error))
            state.base = number
            return out
        reader = csv.reader(lines, self._dialect)
        prev = 0
        for row, error in _rows(reader):
            end = reader.line_num
            if error is not None and end == len(lines) and "unexpected end of data" in error:
                if not last:
                    state.carry = lines[prev:]  # the record goes on in the next batch
                    break
                self.open_at_end = True
            if clean and end - prev == 1 and error is None and not state.header and len(row) == width:  # type: ignore[arg-type]
                out.append((base + end, row, lines[prev]))  # type: ignore[arg-type]
                prev = end
                continue
            record = lines[prev:end]
            start, prev = base + prev + 1, end
            if state.header:
                state.header = False
                out.extend(self._header(start, record, row, error))
                width = self.width
                continue
            out.extend(self._judge(start, record, row, error))
        state.base = base + prev
        return out

    def mixed_blocks(self, text: io.TextIOWrapper) -> Iterator[list[CsvRecord] | ArrowBlock]:
        """:meth:`blocks`, where a block that is safe by construction comes as an :class:`ArrowBlock`.

        The text is read in chunks cut at line ends. A chunk is an :class:`ArrowBlock` only when
        :attr:`arrow_fields` is set (the reader sets it once the header was read), no record is open
        and :func:`arrow_block` proves every line of it is one record; any other chunk is split into
        lines and goes through the strict batches of :meth:`blocks`, in file order, same numbering.
        """
        consumed = self.line_offset
        for _ in range(self.options.skip_rows):
            if not text.readline():
                return
            consumed += 1
        if self.options.comment is not None or not self._arrow_safe:
            yield from self.blocks_after(text, consumed)
            return
        state = _State(consumed, self.options.header)
        chunks = _Chunks(text)
        chunk = chunks.read(FIRST_CHARS)
        while chunk:
            following = chunks.read(ARROW_CHARS)
            if not state.carry and not state.header and self.arrow_fields is not None and self.width:
                block = arrow_block(self, chunk, state.base)
                if block is not None:
                    state.base += block.records
                    yield block
                    chunk = following
                    continue
            lines = io.StringIO(chunk, newline="").readlines()  # \n, \r\n and \r only, as the file
            groups = _groups(lines, BATCH_CHARS)
            for position, group in enumerate(groups):
                batch = state.carry + group if state.carry else group
                out = self._batch(batch, state, last=not following and position == len(groups) - 1)
                if out:
                    yield out
            chunk = following

    def blocks_after(self, text: io.TextIOWrapper, consumed: int) -> Iterator[list[CsvRecord]]:
        """:meth:`blocks` once the ``skip_rows`` preamble (``consumed`` lines) was read."""
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


@dataclass
class _State:
    """Where the strict batches are: lines consumed, the lines of a record still open, header to come."""

    base: int
    header: bool
    carry: list[str] = field(default_factory=list)


class _Chunks:
    """Text read in chunks of about ``size`` characters, each cut after a line end (never between
    the \\r and \\n of one)."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.pending = ""

    def read(self, size: int) -> str:
        chunk = self.pending + self.text.read(size)
        self.pending = ""
        if chunk and not chunk.endswith(("\n", "\r")):
            chunk += self.text.readline()
        if chunk.endswith("\r"):
            following = self.text.read(1)
            if following == "\n":
                chunk += following
            else:
                self.pending = following
        return chunk


def _groups(lines: list[str], size: int) -> list[list[str]]:
    """``lines`` in consecutive groups of at least ``size`` characters (the last may be shorter)."""
    groups: list[list[str]] = []
    group: list[str] = []
    total = 0
    for line in lines:
        group.append(line)
        total += len(line)
        if total >= size:
            groups.append(group)
            group, total = [], 0
    if group:
        groups.append(group)
    return groups


@dataclass
class ArrowBlock:
    """Physical records of a chunk in which every line is exactly one record, fields as Arrow strings.

    ``columns``: field index -> string array of the rows of the right field count (one per entry of
    ``lines``, their physical line numbers); ``rejects``: the other lines, judged by the strict
    splitter's own rules. ``records`` = ``len(lines) + len(rejects)``, checked when it was built.
    """

    records: int
    lines: Any
    """numpy int64 array: the physical line number of each row of ``columns``."""
    columns: dict[int, Any]
    rejects: list[CsvRecord]
    data: bytes
    starts: Any
    stops: Any
    rows: Any
    """numpy array: the block line (0-based) of each row of ``columns``."""

    def raw(self, row: int) -> str:
        """The raw text of row ``row`` of ``columns``, with its line end (as :data:`CsvRecord` has it)."""
        line = int(self.rows[row])
        end = int(self.stops[line])
        if end < len(self.data):
            end += 1  # its \n
        return self.data[int(self.starts[line]) : end].decode("utf-8")


def arrow_block(splitter: CsvSplitter, chunk: str, base: int) -> ArrowBlock | None:
    """``chunk`` (whole lines after ``base`` lines) parsed by pyarrow.csv, or None where that is not
    provably what the strict splitter gives.

    Safe by construction: no quote or escape character, no \\r but in \\r\\n (every line ends at \\n or
    \\r\\n, which csv and pyarrow both take as one line end), no NUL, no
    byte invalid in the encoding (the text encodes to UTF-8), no blank line (a record to the strict
    splitter, ``empty_row``), no leading byte order mark and no line longer than ``max_field_bytes``:
    then each line is one record whose fields are its text split at the delimiter, which is what both
    csv and pyarrow (quoting and escaping off) read. The block is still checked, not trusted: the
    physical lines counted here must equal the rows pyarrow parsed plus the rows its
    ``invalid_row_handler`` saw; each of those must be a line (by number) whose own delimiter count
    gives the field count pyarrow reported, not the block's width; and the block's delimiters must
    be exactly the good rows' ``width - 1`` each plus the bad lines' (one count, no per-line pass).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options, width, wanted = splitter.options, splitter.width, splitter.arrow_fields
    if not chunk or width is None or wanted is None or "\x00" in chunk:
        return None
    if "\r" in chunk and chunk.count("\r") != chunk.count("\r\n"):
        return None  # a line ending at a lone \r
    if any(char is not None and char in chunk for char in (options.quote, options.escape)):
        return None
    try:
        data = chunk.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: bytes invalid in the declared encoding
        return None
    if data.startswith((b"\n", b"\r\n", _BOM)) or b"\n\n" in data or b"\n\r\n" in data:
        return None
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    count = len(ends) + (0 if data.endswith(b"\n") else 1)
    starts = np.concatenate([[0], ends + 1])[:count]
    stops = ends if len(ends) == count else np.concatenate([ends, [len(data)]])
    longest = int((stops - starts).max())
    if longest > splitter.max_field:
        return None
    delimiter = options.delimiter.encode("utf-8")
    if len(delimiter) != 1:  # pyarrow splits at one byte
        return None
    delimiters = int(np.count_nonzero(buffer == delimiter[0]))
    handled: list[tuple[int, int]] = []

    def handler(row: Any) -> str:
        handled.append((row.number, row.actual_columns))
        return "skip"

    names = [f"f{index}" for index in range(width)]
    keep = [names[index] for index in wanted] or names[:1]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            # one thread: the invalid rows' line numbers are known (and the process is one of a pool)
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=max(1 << 20, longest + 2), use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=False,
                escape_char=False,
                double_quote=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=handler,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=keep,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows + len(handled) != count or not _bad_lines_hold(
        data, delimiter, starts, stops, handled, width
    ):
        return None  # pyarrow did not see these lines as the count says: the strict way
    if delimiters != table.num_rows * (width - 1) + sum(fields - 1 for _, fields in handled):
        return None
    bad = np.array([number - 1 for number, _ in handled], dtype=np.int64)
    rows = np.delete(np.arange(count), bad)
    rejects: list[CsvRecord] = []
    for line in bad.tolist():
        end = int(stops[line]) + (1 if int(stops[line]) < len(data) else 0)
        text = data[int(starts[line]) : end].decode("utf-8")
        parsed, error = splitter._parse_line(text)
        rejects.append(splitter._verdict(base + line + 1, text, parsed, error))
    columns = {index: table.column(names[index]).combine_chunks() for index in wanted}
    return ArrowBlock(count, rows + base + 1, columns, rejects, data, starts, stops, rows)


def _bad_lines_hold(
    data: bytes, delimiter: bytes, starts: Any, stops: Any, handled: list[tuple[int, int]], width: int
) -> bool:
    """Each row pyarrow refused is a line of the block, in order, whose delimiters give the field count
    pyarrow reported, which is not ``width``."""
    previous = 0
    for number, fields in handled:
        if number is None or not previous < number <= len(starts) or fields == width:
            return False
        line = number - 1
        if data.count(delimiter, int(starts[line]), int(stops[line])) + 1 != fields:
            return False
        previous = number
    return True


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
