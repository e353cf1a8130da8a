"""A part's records typed a block at a time on the vector path (:mod:`airlake.curate.vector`): CSV
blocks from the strict splitter or Arrow (:mod:`airlake.curate.csv_split`), JSON Lines blocks from Arrow's
JSON reader (:mod:`airlake.curate.json_vector`); every row a rule flags typed by the row parser, every
reject written in line order, as the row path writes them (:func:`airlake.curate.parts.parse_part`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airlake.curate.csv_split import ArrowBlock
from airlake.curate.json_vector import JsonBlock, json_blocks
from airlake.curate.parse import Reject, RowParser
from airlake.curate.readers import CsvReader, JsonLinesReader
from airlake.curate.vector import VectorTyper, type_block, write_block

if TYPE_CHECKING:
    from airlake.curate.parts import RejectWriter
    from airlake.curate.spill import PartitionSpill


@dataclass(frozen=True)
class BlockTyping:
    """What typing a part's blocks writes to: its reader, parsers, spill and rejects, the part's key
    and its ordinal base (``index << PART_SHIFT``)."""

    reader: CsvReader | JsonLinesReader
    parser: RowParser
    typer: VectorTyper
    spill: PartitionSpill
    rejects: RejectWriter
    key: str
    base: int

    def write(self, block: Any, found: list[tuple[int, Reject, str]], lines: Any) -> None:
        """A typed block's rows spilled (``lines``: the physical line of each block row, a sequence or a
        numpy array) and the block's rejects (line, problem, raw) written in line order."""
        import numpy as np

        found.sort(key=lambda item: item[0])
        for line, problem, raw in found:
            self.rejects.add(self.key, line, problem, self.reader.raw_text(raw))
        write_block(self.spill, block, np.asarray(lines, dtype=np.int64) + self.base)


def parse_csv_blocks(typing: BlockTyping, flush_rows: int, *, arrow_structure: bool) -> int:
    """CSV records typed a block of ``flush_rows`` at a time (:mod:`airlake.curate.vector`); rejects
    (structural and typing) written in line order, as the row path writes them. Returns rows read.
    With ``arrow_structure`` (:data:`airlake.curate.parts.ARROW_STRUCTURE`), Arrow blocks are typed whole
    from their string arrays."""
    read, size = 0, max(1024, flush_rows)
    pending: list[Any] = []
    for block in typing.reader.field_blocks(arrow=arrow_structure):
        if isinstance(block, ArrowBlock):
            if pending:
                _type_records(typing, pending)
                pending = []
            read += block.records
            _type_arrow(typing, block)
            continue
        pending.extend(block)
        while len(pending) >= size:
            _type_records(typing, pending[:size])
            pending = pending[size:]
        read += len(block)
    if pending:
        _type_records(typing, pending)
    return read


def parse_json_blocks(typing: BlockTyping, schema: Any) -> int:
    """JSON Lines typed a block at a time (:mod:`airlake.curate.json_vector`); the lines Arrow refused,
    and the suspect rows, by the strict reader and the row parser. Returns rows read."""
    reader, parser, typer = typing.reader, typing.parser, typing.typer
    read = 0
    for block in json_blocks(reader, schema):  # type: ignore[arg-type]
        read += len(block)
        if isinstance(block, list):  # the strict reader's items
            found = [item for item in block if isinstance(item[1], Reject)]
            good = [item for item in block if not isinstance(item[1], Reject)]
            typed = type_block(parser, None, [record for _, record, _ in good], typer.schema)
            found.extend((good[i][0], problem, good[i][2]) for i, problem in typed.rejects)
            typing.write(typed, found, [line for line, _, _ in good])
            continue
        records = _JsonRecords(reader, block)  # type: ignore[arg-type]
        typed = type_block(parser, typer, records, typer.schema, block.columns, block.suspect)
        found = [(block.line(i), problem, records.raw(i)) for i, problem in typed.rejects]
        typing.write(typed, found, block.records + block.chunk.first)
    return read


class _JsonRecords:
    """The strict reader's record of each row of a JSON block, made when the row parser asks for it
    (a line the strict reader rejects raises its Reject there)."""

    def __init__(self, reader: JsonLinesReader, block: JsonBlock) -> None:
        self.reader, self.block = reader, block

    def __len__(self) -> int:
        return len(self.block)

    def __getitem__(self, index: int) -> dict[str, Any]:
        _, record, _ = self.reader.item(self.block.line(index), self.block.text(index))
        if isinstance(record, Reject):
            raise record
        return record

    def raw(self, index: int) -> Any:
        return self.reader.item(self.block.line(index), self.block.text(index))[2]


def _type_records(typing: BlockTyping, chunk: list[Any]) -> None:
    """One chunk of the strict splitter's records (field lists or Rejects) typed and written."""
    reader, parser, typer = typing.reader, typing.parser, typing.typer
    schema = typer.schema
    positions = [i for i, (_, fields, _) in enumerate(chunk) if fields.__class__ is list]
    rows = [chunk[i][1] for i in positions]
    if reader.plain:  # the fields straight into columns; dicts only for the rows the parser types
        raws = _string_columns(reader, rows, schema.names)
        block = type_block(parser, typer, _Records(rows, reader.record), schema, raws)
    else:
        block = type_block(parser, typer, [reader.record(fields) for fields in rows], schema)
    found = [(line, record, raw) for line, record, raw in chunk if isinstance(record, Reject)]
    found.extend((chunk[positions[i]][0], problem, chunk[positions[i]][2]) for i, problem in block.rejects)
    typing.write(block, found, [chunk[i][0] for i in positions])


def _type_arrow(typing: BlockTyping, arrow: ArrowBlock) -> None:
    """An Arrow block typed from its string arrays; only the rows the vector rules flag become dicts
    (for the row parser's value or reason). Its rejects, structural and typing, in line order."""
    reader = typing.reader
    raws = reader.string_columns(arrow)
    records = _ArrowRecords(reader, raws, len(arrow.lines))
    block = type_block(typing.parser, typing.typer, records, typing.typer.schema, raws)
    found: list[tuple[int, Reject, str]] = [(line, problem, raw) for line, problem, raw in arrow.rejects]  # type: ignore[misc]
    found.extend((int(arrow.lines[i]), problem, arrow.raw(i)) for i, problem in block.rejects)
    typing.write(block, found, arrow.lines)


class _ArrowRecords:
    """Records of an Arrow block's string arrays, each made when the row parser asks for it."""

    def __init__(self, reader: CsvReader, raws: list[Any], count: int) -> None:
        self.reader, self.raws, self.count = reader, raws, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.reader.arrow_record(self.raws, index)


class _Records:
    """Records of field lists, each made when the row parser asks for it."""

    def __init__(self, rows: list[list[str]], record: Any) -> None:
        self.rows, self.record = rows, record

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.record(self.rows[index])


def _string_columns(reader: CsvReader, rows: list[list[str]], names: list[str]) -> list[Any]:
    """One string array per contract column of ``rows`` (a plain reader: the empty field is NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = list(zip(*rows, strict=True)) if rows else []  # one width: the splitter checked it
    empty = pa.scalar(None, pa.string())
    out = []
    for name in names:
        index = reader.positions.get(name)
        if index is None or not rows:  # no rows: no field lists to take a column from
            out.append(pa.nulls(len(rows), pa.string()))
            continue
        array = pa.array(fields[index], pa.string())
        out.append(pc.if_else(pc.equal(array, ""), empty, array))
    return out
