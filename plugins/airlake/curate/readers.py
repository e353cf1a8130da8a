"""Stream the records of one raw part (JSON Lines, CSV or Parquet), each with its line number and raw text.

Reading is two passes kept apart, so the first can run as a vector pass (for CSV, pyarrow.csv with
all-string columns and an ``invalid_row_handler`` where a chunk is safe by construction:
:func:`~airlake.curate.csv_split.arrow_block`) without changing what the second sees:

1. **structure** (:class:`~airlake.curate.csv_split.CsvSplitter`, :func:`json_lines`): the file's
   *physical records*, each either a list of field texts or a :class:`Reject` naming why it is not one.
   :func:`count_records` counts the same records, so ingest's count and curate's "read" agree by
   construction and a merged row cannot hide in the accounting;
2. **header and values** (:class:`CsvReader` and friends): the header is checked against the schema
   (:mod:`airlake.curate.header`: a refused file quarantines every record, naming file and column), then
   fields become ``{column: text or None}`` by the contract's NULL markers and trimming. Typing is
   :mod:`airlake.curate.parse`'s job.

Readers never hold a whole file: lines are read one at a time from the local copy of the part (gzip or
plain, :mod:`airlake.curate.rawfile`), Parquet in record batches.
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from airlake.curate.csv_split import ArrowBlock, CsvSplitter, line_end
from airlake.curate.header import HeaderCheck, check_header, null_sets, trimmed_columns
from airlake.curate.parse import BAD_ENCODING, BAD_HEADER, NOT_AN_OBJECT, NOT_JSON, NUL_BYTE, Reject
from airlake.curate.rawfile import (
    BAD_BYTES,
    PROBLEM_MESSAGES,
    Piece,
    cut,
    is_utf8,
    open_binary,
    open_piece,
    raw_format,
    text_problem,
)

if TYPE_CHECKING:
    from airlake.contracts import Contract, CsvOptions

RawItem = tuple[int, "dict[str, Any] | Reject", Any]
"""(line number, record or Reject, raw) where raw becomes text with :meth:`RawReader.raw_text`."""

_PARQUET_BATCH_ROWS = 8192


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
    with open_binary(path) as binary:
        if file_format != "csv":
            return sum(1 for _ in json_lines(binary))
        if options is None:
            from airlake.contracts import CsvOptions

            options = CsvOptions()
        splitter = CsvSplitter(options, None if options.header else columns)
        records = sum(len(block) for block in splitter.blocks(splitter.open(binary)))
    return max(records - 1, 0) if options.header else records


class RawReader:
    """Base: ``items()`` yields :data:`RawItem` in file order; ``header`` is set once it was read."""

    header: HeaderCheck | None = None
    open_at_end = False
    """The text ended inside a record (a piece not cut at a record boundary: CSV only)."""

    def __init__(self, path: Path, piece: Piece | None = None) -> None:
        self.path = path
        self.piece = piece

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

    def __init__(self, path: Path, contract: Contract | None = None, piece: Piece | None = None) -> None:
        super().__init__(path, piece)
        self.values: tuple[tuple[str, bool, frozenset[str]], ...] = ()
        if contract is not None and contract.source.kind == "files":
            options = contract.source.jsonl
            nulls = null_sets(contract, options.null_values)
            trimmed = trimmed_columns(contract, options.trim)
            self.values = tuple(
                (name, name in trimmed, nulls[name])
                for name in contract.column_names
                if name in trimmed or nulls[name]
            )

    def items(self) -> Iterator[RawItem]:
        item, piece = self.item, self.piece
        with open_piece(self.path, piece) as handle:
            if self.at_start and handle.peek(3)[:3] == codecs.BOM_UTF8:  # type: ignore[attr-defined]
                handle.read(3)
            for number, line in enumerate(handle, start=1 + (piece.line_offset if piece else 0)):
                if line.strip():  # the rule of json_lines, inlined: blank lines are not records
                    yield item(number, line)

    @property
    def at_start(self) -> bool:
        """The text starts the file: only there is a byte order mark not part of the first line."""
        return self.piece is None or self.piece.first

    def item(self, number: int, line: bytes) -> RawItem:
        """The record of one non-blank line (its bytes, line end included), or the Reject naming why
        it is none; the raw text is the line without its end."""
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raw = line.decode("utf-8", errors=BAD_BYTES).rstrip("\r\n")
            return number, Reject(BAD_ENCODING, f"line is not valid UTF-8: {exc.reason}"), raw
        try:
            record = self._decoder.decode(text)
        except (ValueError, RecursionError) as exc:  # a raw NUL is never valid JSON: said so
            reason = Reject(NUL_BYTE, "line holds a NUL byte") if "\x00" in text else None
            return number, reason or Reject(NOT_JSON, f"line is not JSON: {exc}"), text
        if type(record) is not dict:
            kind = type(record).__name__ if record is not None else "null"
            return number, Reject(NOT_AN_OBJECT, f"line is JSON but not an object ({kind})"), text
        if "\\u" in text:  # an escape may decode to what cannot be stored (NUL, lone surrogate)
            problem = _unstorable(record)
            if problem is not None:
                return number, problem, text
        if self.values:  # only when the contract declares markers or trim
            self._normalise(record)
        return number, record, text

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
        problem = text_problem(value)
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
        piece: Piece | None = None,
    ) -> None:
        super().__init__(path, piece)
        from airlake.contracts import CsvOptions

        self.columns = tuple(columns)
        self.contract = contract
        self.source_key = source_key or path.name
        if options is None:
            options = CsvOptions(delimiter=delimiter, header=header)
        self.options = options
        default_nulls = options.null_values
        if contract is not None:
            nulls = null_sets(contract, default_nulls)
            trimmed = trimmed_columns(contract, options.trim)
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

    def field_blocks(self, arrow: bool = False) -> Iterator[Any]:
        """The records after the header in blocks, as field lists (or Rejects), for a vector pass:
        :meth:`record` makes a field list what :meth:`items` yields. Sets ``positions`` (column ->
        field index) and ``plain`` (NULL is only the empty field, nothing trimmed) once the header
        was read; a refused file yields every record as the header's Reject.

        ``arrow``: blocks that are safe by construction come as
        :class:`~airlake.curate.csv_split.ArrowBlock` (:meth:`string_columns` gives their values);
        only where nothing is trimmed (Python's and Arrow's notions of blanks differ)."""
        options = self.options
        splitter = CsvSplitter(options, None if options.header else len(self.columns))
        self._splitter = splitter
        piece = self.piece
        if piece is not None:
            splitter.line_offset = piece.line_offset
            if not piece.first and not piece.head and splitter.encoding == "utf-8-sig":
                splitter.encoding = "utf-8"  # a BOM is dropped at the start of the file only
        with open_piece(self.path, piece) as binary:
            text = splitter.open(binary)
            arrow = arrow and not self._trimmed
            blocks = splitter.mixed_blocks(text) if arrow else splitter.blocks(text)
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
            if arrow:
                splitter.arrow_fields = tuple(positions.values())
            yield from blocks

    @property
    def open_at_end(self) -> bool:  # type: ignore[override]
        splitter = getattr(self, "_splitter", None)
        return bool(splitter is not None and splitter.open_at_end)

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
        return cut(line_end(raw))

    def string_columns(self, block: ArrowBlock) -> list[Any]:
        """One string array per column of ``self.columns`` for the rows of an Arrow block, by the same
        NULL markers as :meth:`record` (a column the header lacks: all NULL)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        count = len(block.lines)
        out = []
        for name in self.columns:
            index = self.positions.get(name)
            if index is None:
                out.append(pa.nulls(count, pa.string()))
                continue
            array = block.columns[index]
            nulls = self._nulls.get(name, frozenset())
            if nulls == {""}:
                array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
            elif nulls:
                found = pc.is_in(array, value_set=pa.array(sorted(nulls), pa.string()))
                array = pc.if_else(found, pa.scalar(None, pa.string()), array)
            out.append(array)
        return out

    def arrow_record(self, columns: Sequence[Any], row: int) -> dict[str, Any]:
        """:meth:`record` of row ``row`` of :meth:`string_columns`' arrays (the header's columns only)."""
        return {name: columns[position][row].as_py() for position, name in self._present}

    @property
    def _present(self) -> tuple[tuple[int, str], ...]:
        return tuple((i, name) for i, name in enumerate(self.columns) if name in self.positions)


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
                        yield number, Reject(reason, PROBLEM_MESSAGES[reason]), record
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
            bad = [
                i for i, value in enumerate(binary.to_pylist()) if value is not None and not is_utf8(value)
            ]
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


def open_reader(
    path: Path,
    key: str,
    columns: Sequence[str] | None = None,
    *,
    contract: Contract | None = None,
    csv_delimiter: str = ",",
    csv_header: bool = True,
    landing: str | None = None,
    piece: Piece | None = None,
) -> RawReader:
    """The reader for a local copy of the raw part ``key``; with ``contract``, by its reading options.

    :param landing: the landing file the part came from; header findings name it beside the part.
    :param piece: read only this piece of the (plain) file (CSV and JSON Lines).
    """
    kind = raw_format(key)
    source = f"{landing} (raw part {key})" if landing else key
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
            source_key=source,
            piece=piece,
        )
    if kind == "parquet":
        assert piece is None, "a Parquet part is read whole"
        return ParquetReader(path, contract, source)
    return JsonLinesReader(path, contract, piece)
