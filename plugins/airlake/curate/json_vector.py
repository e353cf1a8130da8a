"""JSON Lines read a block at a time by Arrow's JSON reader, where it provably reads what Python's does.

The strict reader (:meth:`~airlake.curate.readers.JsonLinesReader.item`: ``json`` with exact decimals,
then the row parser) stays the definition of every record and reject. Arrow's reader is stricter than
it and never lenient (measured, ``test_json_vector.py``): it refuses a value of another JSON kind than
the column's Arrow type (a number in a string column, a string in an int column), a duplicate key, a
raw control character; a second object on a line shows in its count of rows; and it decodes strings
and numbers as Python does. It does not check UTF-8, and it crashes on a text that starts with a
top-level ``null``: only lines that are valid UTF-8 and look like one object (``{`` ... ``}``) are
given to it. So a block is read by Arrow, and:

- if Arrow refuses it, or reads another count of records than the block's non-blank lines, the block is
  halved until the lines it refuses are found (within a budget: where errors are dense, the strict
  reader takes the rest); those lines go through the strict reader;
- rows whose line holds what Arrow cannot judge for Python (a ``\\u`` escape, which may decode to a NUL
  or a lone surrogate; a byte order mark, which Arrow skips at the start of a block; deep nesting or an
  integer of thousands of digits, which Python's decoder refuses) are *suspects*: the row parser types
  them from the strict reader's record;
- every other row's values go to :mod:`airlake.curate.vector`'s rules as Arrow typed them.

Decimals are read as JSON strings only (what the database source writes): Arrow's decimal reading would
take a number or a string by rules of its own, so a decimal sent as a JSON number is refused and read by
the strict reader. A contract that trims strings keeps the row path.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airlake.curate.rawfile import is_utf8, open_piece

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from airlake.contracts import Contract
    from airlake.curate.readers import JsonLinesReader, RawItem

BLOCK_BYTES = 4 << 20
"""Bytes of JSON Lines read by Arrow at once (cut at a line end)."""
MIN_SPLIT_LINES = 16
"""A refused block is halved down to this many lines; smaller ones go through the strict reader."""
SPLIT_BUDGET = 8
"""Halving a refused chunk may read its records this many times again. Reading by Arrow costs ~1/14 of
the strict reader, so: one bad line in a chunk costs about two readings; one in a hundred lines about
eight (still cheaper than the strict reader); where errors are everywhere, the strict reader takes
over once the budget is spent (at most ~60 % slower than the strict reader alone)."""
MAX_BRACKETS = 64
"""Lines with more ``{`` and ``[`` than this are suspects (Python's decoder has a recursion limit)."""
_LONG_NUMBER = re.compile(rb"[0-9]{4301}")
"""Python's decoder refuses an integer of more than 4300 digits: a line holding such a run is a suspect."""
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() strips: a line of only these is blank
_TEXT_KINDS = frozenset({"string", "date", "timestamp", "timestamptz", "decimal"})
"""Columns read as JSON strings (a decimal too: as a string it keeps its digits; a JSON number there is
refused, and the strict reader reads it)."""


def json_schema(contract: Contract, reader: JsonLinesReader) -> pa.Schema | None:
    """The Arrow schema the block reader asks for (each column's JSON kind), or None where the
    contract has a column with no block reading or trims strings."""
    import pyarrow as pa

    if any(trim for _, trim, _ in reader.values):
        return None
    kinds = {"int": pa.int64(), "bigint": pa.int64(), "double": pa.float64(), "boolean": pa.bool_()}
    fields = []
    for column in contract.columns:
        base = "decimal" if column.column_type.is_decimal else column.column_type.base
        if base in _TEXT_KINDS:
            fields.append(pa.field(column.name, pa.string()))
        elif base in kinds:
            fields.append(pa.field(column.name, kinds[base]))
        else:
            return None
    return pa.schema(fields)


@dataclass
class JsonBlock:
    """Records Arrow read: one array per contract column, and of each record its line in the chunk
    (``records``, for its text) and whether it is a suspect."""

    columns: list[pa.Array]
    chunk: _Lines
    records: np.ndarray
    suspect: np.ndarray

    def __len__(self) -> int:
        return len(self.records)

    def line(self, index: int) -> int:
        """The physical line number of record ``index``."""
        return self.chunk.first + int(self.records[index])

    def text(self, index: int) -> bytes:
        """The bytes of record ``index``'s line (line end included)."""
        return self.chunk.text(int(self.records[index]))


def json_blocks(reader: JsonLinesReader, schema: pa.Schema) -> Iterator[JsonBlock | list[RawItem]]:
    """The reader's text in file order, :data:`BLOCK_BYTES` at a time: blocks Arrow read, and lists of the
    strict reader's items for the lines it refused. Blank lines are not records (as in
    :func:`~airlake.curate.readers.json_lines`)."""
    block_bytes = BLOCK_BYTES
    piece = reader.piece
    number = 1 + (piece.line_offset if piece else 0)
    with open_piece(reader.path, piece) as handle:
        if reader.at_start and handle.peek(3)[:3] == codecs.BOM_UTF8:  # type: ignore[attr-defined]
            handle.read(3)
        rest = b""
        while True:
            data = handle.read(block_bytes)
            text = rest + data
            if not data:
                if text:
                    yield from _records(reader, schema, _lines(text, number))
                return
            cut = text.rfind(b"\n") + 1
            if not cut:
                rest = text
                continue
            rest = text[cut:]
            lines = _lines(text[:cut], number)
            yield from _records(reader, schema, lines)
            number += len(lines.ends)  # the chunk ends at a line end: one line per line end


def _lines(data: bytes, first: int) -> _Lines:
    """A chunk's lines with what Arrow may read of them: whole passes over the bytes only for what every
    line needs (its end) or what is rare (a ``\\u``, a byte order mark, deep nesting, a long line), each
    then judged at its few positions."""
    import numpy as np

    buffer = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buffer == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1]))
    # a record Arrow may read is one object: its first and last visible bytes are { and } (Arrow
    # crashes on a text that starts with a top-level null, and reads a null line as a row of nulls)
    last = ends - 1
    last = np.where(buffer[last] == 10, last - 1, last)
    last = np.where((last >= starts) & (buffer[np.maximum(last, 0)] == 13), last - 1, last)
    objects = (buffer[starts] == 123) & (last >= starts) & (buffer[np.maximum(last, 0)] == 125)
    blank = np.zeros(len(ends), dtype=bool)
    for index in np.flatnonzero(~objects).tolist():  # rare: judged by the rule of bytes.strip()
        visible = data[int(starts[index]) : int(ends[index])].strip()
        blank[index] = not visible
        objects[index] = visible[:1] == b"{" and visible[-1:] == b"}"
    # Arrow does not check UTF-8 (measured): a line that is not valid UTF-8 is the strict reader's
    if not data.isascii() and not is_utf8(data):
        for index in np.flatnonzero(objects).tolist():
            objects[index] = is_utf8(data[int(starts[index]) : int(ends[index])])

    def lines_of(positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(ends, positions, side="right")

    suspect = np.zeros(len(ends), dtype=bool)
    # every object line holds at least one {: if the chunk's { and [ less one per other object line are
    # no more than MAX_BRACKETS, no object line holds more (counted per line only where they might);
    # a byte that is rare in the data is first looked for with memchr (``in``), ~2x faster than numpy
    squares = b"[" in data
    brackets = int(np.count_nonzero(buffer == 123)) + (int(np.count_nonzero(buffer == 91)) if squares else 0)
    if brackets - max(0, int(np.count_nonzero(objects)) - 1) > MAX_BRACKETS:
        per_line = np.bincount(
            lines_of(np.flatnonzero((buffer == 123) | (buffer == 91))), minlength=len(ends)
        )
        suspect |= per_line > MAX_BRACKETS
    for index in np.flatnonzero(ends - starts > 4300).tolist():  # rare: long lines
        suspect[index] |= _LONG_NUMBER.search(data, int(starts[index]), int(ends[index])) is not None
    if b"\\" in data:
        backslashes = np.flatnonzero(buffer[:-1] == 92)
        suspect[lines_of(backslashes[buffer[backslashes + 1] == 117])] = True  # "\\u"
    if b"\xef" in data:
        leads = np.flatnonzero(buffer[:-2] == 0xEF)
        suspect[lines_of(leads[(buffer[leads + 1] == 0xBB) & (buffer[leads + 2] == 0xBF)])] = True  # a BOM
    return _Lines(data, starts, ends, first, suspect, objects, blank)


def _records(
    reader: JsonLinesReader, schema: pa.Schema, lines: _Lines
) -> Iterator[JsonBlock | list[RawItem]]:
    """The chunk's records in line order: runs of object lines to Arrow, every other record to the
    strict reader."""
    import numpy as np

    records = np.flatnonzero(~lines.blank)
    if not len(records):
        return
    kinds = lines.objects[records]
    cuts = np.flatnonzero(kinds[1:] != kinds[:-1]) + 1
    for run in np.split(records, cuts):
        if lines.objects[run[0]]:
            yield from _read(reader, schema, lines, run)
        else:
            yield [reader.item(lines.first + int(i), lines.text(int(i))) for i in run]


@dataclass(frozen=True)
class _Lines:
    """A chunk's lines: byte ranges, the number of its first line, suspect, object and blank flags."""

    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    first: int
    suspect: np.ndarray
    objects: np.ndarray
    blank: np.ndarray

    def text(self, index: int) -> bytes:
        return self.data[int(self.starts[index]) : int(self.ends[index])]


def _read(
    reader: JsonLinesReader, schema: pa.Schema, lines: _Lines, records: np.ndarray
) -> Iterator[JsonBlock | list[RawItem]]:
    """The records ``records`` (indexes of non-blank lines) as one Arrow block, or halved where Arrow
    refuses them, within a budget of :data:`SPLIT_BUDGET` readings of the records again."""
    block = _arrow_block(reader, schema, lines, records)
    if block is not None:
        yield block
    else:
        yield from _refused(reader, schema, lines, records, [SPLIT_BUDGET * len(records)])


def _refused(
    reader: JsonLinesReader, schema: pa.Schema, lines: _Lines, records: np.ndarray, budget: list[int]
) -> Iterator[JsonBlock | list[RawItem]]:
    """Records Arrow refused: each half read by Arrow again, down to :data:`MIN_SPLIT_LINES` lines or
    until ``budget`` (records Arrow may still read) is spent; the rest by the strict reader."""
    if len(records) <= MIN_SPLIT_LINES or budget[0] < len(records):
        yield [reader.item(lines.first + int(i), lines.text(int(i))) for i in records]
        return
    budget[0] -= len(records)
    for half in (records[: len(records) // 2], records[len(records) // 2 :]):
        block = _arrow_block(reader, schema, lines, half)
        if block is not None:
            yield block
        else:
            yield from _refused(reader, schema, lines, half, budget)


def _arrow_block(
    reader: JsonLinesReader, schema: pa.Schema, lines: _Lines, records: np.ndarray
) -> JsonBlock | None:
    """Arrow's reading of the lines from the first to the last of ``records``, or None if it refuses
    them or counts other records than ``records`` (e.g. two objects on one line)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    if not len(records):
        return None
    start, stop = int(lines.starts[records[0]]), int(lines.ends[records[-1]])
    data = pa.py_buffer(lines.data).slice(start, stop - start)  # no copy of the lines
    try:
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(data.size, 1 << 16)),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, UnicodeError):
        return None
    if table.num_rows != len(records):
        return None
    columns = []
    markers = {name: nulls for name, _, nulls in reader.values}
    for field in schema:
        column = table.column(field.name).combine_chunks()
        nulls = markers.get(field.name)
        if nulls and pa.types.is_string(column.type):  # the contract's NULL markers of string values
            column = pc.if_else(
                pc.is_in(column, pa.array(sorted(nulls))), pa.scalar(None, pa.string()), column
            )
        columns.append(column)
    return JsonBlock(columns, lines, records, lines.suspect[records])
