"""Typing of CSV records a block at a time with Arrow compute kernels; the exact row parser for the rest.

:class:`~airlake.curate.parse.RowParser` stays the definition of every value and every reject. This
module only takes a fast path where it can prove it gives the same result: each column has a strict
*vector rule* (a regex of the common text form plus kernels that type it, and a round trip or bounds
check where a kernel could be lenient). A row every column's rule accepts gets its values from the
kernels; any other row (a NULL in a NOT NULL column, a value outside the common form, a failed range or
accepted-values check) goes through ``RowParser.parse``, which types it or names its exact reason. A
column whose rules cannot be vectorised exactly (declared formats, a range on a string, ...) sends every
row of the block to the row parser. Flagging too much costs time, never correctness; accepting what the
row parser would type differently is the only possible bug, and ``test_vector_identity.py`` hunts it.

CSV values arrive as strings; JSON Lines values as Arrow's JSON reader typed them by kind (strings,
int64, float64, bool: :mod:`airlake.curate.json_vector`); Parquet keeps the row path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airlake.curate.parse import Reject, RowParser, _typed_bound, converter

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.contracts import Column, Contract

_DAY_US = 86_400_000_000
_EPOCH_SHIFT_DAYS = 40_000  # keeps the floor division of 1900-2999 timestamps on positive numbers
_YEAR = r"(?:19|2[0-9])[0-9]{2}"  # years the fast path takes; any other goes to the row parser
# dates that exist: a month's days, and 29 February of the leap years among 1900-2999
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = r"(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2000|2400|2800)"
_DAY = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_DATE = rf"^{_DAY}$"
_STAMP = (
    rf"^{_DAY}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?:[0-9]{{6}}|[0-9]{{3}}))?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$"
)
"""Only real dates and times match, so Arrow's ISO-8601 cast of a matching text never fails and gives
what ``datetime.fromisoformat`` gives (``test_vector_identity.py``): one regex pass and one cast, no
strptime round trip."""
_BOOLEANS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


@dataclass(frozen=True)
class _Rule:
    name: str
    base: str
    arrow_type: Any
    required: bool
    column: Column
    accepted: tuple[Any, ...] | None
    ranges: tuple[tuple[Any, Any], ...]
    utc: bool
    """Naive timestamps are UTC (else they go to the row parser: DST rules are not vectorised)."""


class VectorTyper:
    """The vector rules of a contract's columns; ``exact`` is False when some column has none."""

    def __init__(self, contract: Contract) -> None:
        from airlake.contracts import AcceptedValuesCheck, NotNullCheck, RangeCheck
        from airlake.curate.parse import reading_defaults

        formats, timezone = reading_defaults(contract)
        not_null = {column.name for column in contract.columns if not column.nullable}
        accepted: dict[str, list[Any]] = {}
        ranges: dict[str, list[tuple[Any, Any]]] = {}
        self.exact = True
        for check in contract.quality.checks:
            if isinstance(check, NotNullCheck):
                not_null.add(check.column)
            elif isinstance(check, AcceptedValuesCheck):
                column = contract.column(check.column)
                convert = converter(column)
                accepted.setdefault(column.name, []).append(frozenset(convert(v) for v in check.values))
            elif isinstance(check, RangeCheck):
                column = contract.column(check.column)
                low = None if check.min is None else _typed_bound(column, check.min)
                high = None if check.max is None else _typed_bound(column, check.max)
                ranges.setdefault(column.name, []).append((low, high))
        self.rules: list[_Rule] = []
        for column in contract.columns:
            base = column.column_type.base
            fmts = tuple(column.formats if column.formats is not None else formats)
            zone = column.timezone or timezone
            if base in ("date", "timestamp", "timestamptz") and fmts not in ((), ("iso",)):
                self.exact = False  # strptime formats: the row parser's job
            sets = accepted.get(column.name)
            values: tuple[Any, ...] | None = None
            if sets:
                if base not in ("string", "int", "bigint") or len(sets) > 1:
                    self.exact = False
                values = tuple(sorted(sets[0], key=str))
            if ranges.get(column.name) and base in ("string", "boolean"):
                self.exact = False
            self.rules.append(
                _Rule(
                    column.name,
                    "decimal" if column.column_type.is_decimal else base,
                    column.arrow_type(),
                    column.name in not_null,
                    column,
                    values,
                    tuple(ranges.get(column.name, ())),
                    zone is None or zone == "UTC",
                )
            )
        self.event_index = contract.column_names.index(contract.event_time)
        self.schema = contract.arrow_schema()

    def type_columns(self, records: Sequence[dict[str, Any]]) -> tuple[list[pa.Array], Any, pa.Array]:
        """(typed arrays in schema order, rows every rule accepted as a numpy bool array, event days)."""
        import pyarrow as pa

        return self.type_arrays(
            [pa.array([record.get(rule.name) for record in records], type=pa.string()) for rule in self.rules]
        )

    def type_arrays(self, raws: Sequence[pa.Array]) -> tuple[list[pa.Array], Any, pa.Array]:
        """:meth:`type_columns` of the records' values as one string array per column (NULL = None)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        count = len(raws[0]) if raws else 0
        ok = np.ones(count, dtype=bool)
        typed: list[pa.Array] = []
        for rule, raw in zip(self.rules, raws, strict=True):
            present = pc.is_valid(raw)
            values, good = _vector(rule, raw)
            good = pc.fill_null(good, False)
            if rule.accepted is not None:
                good = pc.and_(
                    good, pc.fill_null(pc.is_in(values, pa.array(rule.accepted, values.type)), False)
                )
            for low, high in rule.ranges:
                if low is not None:
                    good = pc.and_(
                        good, pc.fill_null(pc.greater_equal(values, _scalar(low, values.type)), False)
                    )
                if high is not None:
                    good = pc.and_(
                        good, pc.fill_null(pc.less_equal(values, _scalar(high, values.type)), False)
                    )
            # a NULL is fine where the column is nullable (the row parser appends None)
            accepted = good if rule.required else pc.or_(good, pc.invert(present))
            ok &= accepted.to_numpy(zero_copy_only=False)
            typed.append(values)
        event = typed[self.event_index]
        if pa.types.is_date32(event.type):
            days = event
        else:
            micros = pc.cast(event, pa.int64())
            shifted = pc.add(micros, _EPOCH_SHIFT_DAYS * _DAY_US)
            days = pc.cast(pc.subtract(pc.divide(shifted, _DAY_US), _EPOCH_SHIFT_DAYS), pa.int32())
            days = pc.cast(days, pa.date32())
        return typed, ok, days


def _scalar(value: Any, type_: Any) -> Any:
    import pyarrow as pa

    return pa.scalar(value, type=type_)


def _vector(rule: _Rule, raw: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(values of the column's Arrow type, where the fast path may take them); unsafe rows are NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    base, target = rule.base, rule.arrow_type
    none = pa.nulls(len(raw), target)
    if not pa.types.is_string(raw.type):
        return _typed_vector(rule, raw)
    if base == "string":
        return raw, pc.is_valid(raw)
    if base in ("int", "bigint"):
        good = pc.match_substring_regex(raw, r"^-?[0-9]{1,18}$")
        wide = pc.cast(pc.if_else(good, raw, pa.scalar(None, pa.string())), pa.int64())
        if base == "int":
            good = pc.and_(good, pc.and_(pc.greater_equal(wide, -(2**31)), pc.less_equal(wide, 2**31 - 1)))
            wide = pc.if_else(good, wide, pa.scalar(None, pa.int64()))
        return pc.cast(wide, target), good
    if base == "double":
        good = pc.match_substring_regex(raw, r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$")
        return pc.cast(pc.if_else(good, raw, pa.scalar(None, pa.string())), target), good
    if base == "decimal":
        precision, scale = target.precision, target.scale
        whole = precision - scale
        if whole < 1:
            return none, pa.array([False] * len(raw))
        pattern = rf"^-?[0-9]{{1,{whole}}}(\.[0-9]{{1,{scale}}})?$" if scale else rf"^-?[0-9]{{1,{whole}}}$"
        good = pc.match_substring_regex(raw, pattern)
        return pc.cast(pc.if_else(good, raw, pa.scalar(None, pa.string())), target), good
    if base == "boolean":
        lowered = pc.ascii_lower(raw)
        good = pc.is_in(lowered, pa.array(list(_BOOLEANS)))
        truthy = pc.is_in(lowered, pa.array([k for k, v in _BOOLEANS.items() if v]))
        return pc.if_else(good, truthy, pa.scalar(None, pa.bool_())), good
    if base == "date":
        good = pc.match_substring_regex(raw, _DATE)
        return pc.cast(pc.if_else(good, raw, pa.scalar(None, pa.string())), pa.date32()), good
    if base in ("timestamp", "timestamptz"):
        good = pc.match_substring_regex(raw, _STAMP)
        text = pc.if_else(good, raw, pa.scalar(None, pa.string()))
        # the text's structure is known: an offset (+hh:mm / -hh:mm) starts 6 from the end, a Z is last
        offset = pc.is_in(pc.utf8_slice_codeunits(text, -6, -5), pa.array(["+", "-"]))
        naive = pc.invert(pc.or_(offset, pc.ends_with(text, "Z")))
        if not rule.utc:  # a naive wall time in a zone with DST: the row parser decides
            good = pc.and_(good, pc.invert(naive))
        utc_text = pc.if_else(naive, pc.binary_join_element_wise(text, pa.scalar("Z"), pa.scalar("")), text)
        stamp = pc.cast(pc.if_else(good, utc_text, pa.scalar(None, pa.string())), pa.timestamp("us", "UTC"))
        return pc.cast(pc.cast(stamp, pa.int64()), target), good
    return none, pa.array([False] * len(raw))


def _typed_vector(rule: _Rule, raw: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The rule of a column whose values Arrow's JSON reader already typed by their JSON kind (int64,
    float64 or bool: :func:`airlake.curate.json_vector.json_schema`); the row parser takes the same
    values as exactly these Python ints, floats and bools."""
    import pyarrow as pa
    import pyarrow.compute as pc

    base, target = rule.base, rule.arrow_type
    if base in ("int", "bigint") and pa.types.is_int64(raw.type):
        good = pc.is_valid(raw)
        if base == "int":
            good = pc.and_(good, pc.and_(pc.greater_equal(raw, -(2**31)), pc.less_equal(raw, 2**31 - 1)))
        return pc.cast(pc.if_else(good, raw, pa.scalar(None, pa.int64())), target), good
    if base == "double" and pa.types.is_float64(raw.type):
        good = pc.is_finite(raw)  # NaN and Infinity (which Python's json reads) are rejects
        return pc.if_else(good, raw, pa.scalar(None, pa.float64())), good
    if base == "boolean" and pa.types.is_boolean(raw.type):
        return raw, pc.is_valid(raw)
    return pa.nulls(len(raw), target), pa.array([False] * len(raw))


@dataclass
class TypedBlock:
    """The outcome of a block: accepted rows as Arrow (schema order, plus each row's block index and
    partition date), grouped by partition date in date order and in block order within a date (as the
    spill writes them), and the rejects (block index, Reject) in block order."""

    columns: list[pa.Array]
    index: pa.Array
    dt: pa.Array
    rejects: list[tuple[int, Reject]]
    row_parsed: int


def type_block(
    parser: RowParser,
    typer: VectorTyper | None,
    records: Sequence[dict[str, Any]],
    schema: pa.Schema,
    raws: Sequence[pa.Array] | None = None,
    suspect: Any = None,
) -> TypedBlock:
    """Type ``records``: by the vector rules where they accept a row, by ``parser`` for every other row
    (``typer`` None or not exact: every row). Same values, same rejects as ``parser`` alone.
    ``raws``: the same records' values as string arrays, one per column (then ``records`` is only
    indexed for the rows the parser types); ``suspect``: a numpy bool array of rows the parser must
    type whatever the rules say (their raw text holds what the vector reading cannot judge)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(records)
    ok = np.zeros(count, dtype=bool)
    typed: list[pa.Array] = []
    days: pa.Array | None = None
    if typer is not None and typer.exact and count:
        try:
            typed, ok, days = typer.type_arrays(raws) if raws is not None else typer.type_columns(records)
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):  # never guess: all rows by the parser
            ok = np.zeros(count, dtype=bool)
        if suspect is not None:
            ok &= ~suspect
    rejects: list[tuple[int, Reject]] = []
    slow_rows: list[list[Any]] = []
    slow_index: list[int] = []
    parse = parser.parse
    for position in np.flatnonzero(~ok).tolist():
        try:
            slow_rows.append(parse(records[position]))
        except Reject as problem:
            rejects.append((position, problem.with_traceback(None)))  # no cycle through this frame
            continue
        slow_index.append(position)
    fast = np.flatnonzero(ok)
    slow_dt = pa.array([parser.partition_of(row) for row in slow_rows], pa.string())
    if not len(fast):
        columns = [pa.array([row[i] for row in slow_rows], type=field.type) for i, field in enumerate(schema)]
        index = np.array(slow_index, dtype=np.int64)
        return _by_date(
            TypedBlock(
                columns, pa.array(index), slow_dt, _in_line_order(rejects), len(slow_rows) + len(rejects)
            )
        )
    assert days is not None
    # the vector values of every block row, then the parser's rows after them: one take picks the
    # accepted rows of both in block order (instead of a take, a concat and a take per column)
    combined = [
        pa.concat_arrays(
            [typed[i].cast(field.type), pa.array([row[i] for row in slow_rows], type=field.type)]
        )
        for i, field in enumerate(schema)
    ]
    index = np.concatenate([fast, np.array(slow_index, dtype=np.int64)]).astype(np.int64)
    picks = np.concatenate([fast, count + np.arange(len(slow_rows), dtype=np.int64)])
    dt = pa.concat_arrays([pc.cast(days, pa.string()), slow_dt])  # YYYY-MM-DD
    order = np.argsort(index, kind="stable") if slow_rows else np.arange(len(index))
    block = TypedBlock(
        combined, pa.array(index[order]), dt, _in_line_order(rejects), len(slow_rows) + len(rejects)
    )
    return _by_date(block, picks[order])


def _in_line_order(rejects: list[tuple[int, Reject]]) -> list[tuple[int, Reject]]:
    rejects.sort(key=lambda item: item[0])
    return rejects


def _by_date(block: TypedBlock, picks: Any = None) -> TypedBlock:
    """``block`` with its rows (``picks`` of its arrays, default all, in block order) grouped by
    partition date in date order, block order within a date (as :func:`write_block` slices them)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    dt = block.dt if picks is None else block.dt.take(pa.array(picks))
    encoded = pc.dictionary_encode(dt)
    dates = encoded.dictionary.to_pylist()
    if len(dates) > 1:
        rank = np.argsort(np.argsort(np.array(dates, dtype=object), kind="stable"), kind="stable")
        codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        by_date = np.argsort(codes, kind="stable")
        picks = by_date if picks is None else picks[by_date]
        dt = dt.take(pa.array(by_date))
        index = block.index.take(pa.array(by_date))
    else:
        index = block.index
    columns = block.columns if picks is None else [column.take(pa.array(picks)) for column in block.columns]
    return TypedBlock(columns, index, dt, block.rejects, block.row_parsed)


def write_block(spill: Any, block: TypedBlock, seqs: Sequence[int]) -> None:
    """Spill a typed block per partition date, each row with its ``_seq`` (``seqs`` by block index);
    rows keep their block order within a date (one stable sort by date, then a slice per date)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(block.dt):
        return
    seq = pa.array(np.asarray(seqs, dtype=np.int64)).take(block.index)
    batch = pa.RecordBatch.from_arrays([*block.columns, seq], schema=spill.schema)
    encoded = pc.dictionary_encode(block.dt)
    dates = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes, minlength=len(dates))
    if len(dates) > 1 and not bool(np.all(codes[1:] >= codes[:-1])):  # type_block groups by date
        batch = batch.take(pa.array(np.argsort(codes, kind="stable")))
    starts = np.concatenate(([0], np.cumsum(counts)))
    for code in sorted(range(len(dates)), key=dates.__getitem__):
        part = batch.slice(int(starts[code]), int(counts[code]))
        spill._writer(dates[code]).write_batch(part)  # the spill writer; rows counted below
        spill.rows[dates[code]] = spill.rows.get(dates[code], 0) + part.num_rows


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
