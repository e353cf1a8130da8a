"""Typed parsing of raw records by the contract: one value at a time, exact, with a reason for every reject.

A record is a mapping of field name to raw value: JSON values (numbers with a fraction arrive as
``Decimal`` so decimals stay exact), CSV strings (empty = NULL) or Parquet values (already typed).
:class:`RowParser` turns it into the contract's columns in schema order, or raises :class:`Reject`
naming the first problem: the reason code, the field and a readable message. Nothing is rounded or
guessed: a decimal with more fraction digits than its scale is a reject, not a rounded value.
"""

from __future__ import annotations

import datetime as dt_
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlake.contracts import Column, Contract

UTC = dt_.UTC

# Reason codes, as written to quarantine and counted in the manifest.
NOT_JSON = "not_json"
NOT_AN_OBJECT = "not_an_object"
BAD_CSV_ROW = "bad_csv_row"
EMPTY_ROW = "empty_row"
BAD_ENCODING = "bad_encoding"
MISSING_FIELD = "missing_field"
NULL_VALUE = "null_value"
WRONG_TYPE = "wrong_type"
BAD_DATE = "bad_date"
BAD_TIMESTAMP = "bad_timestamp"
DECIMAL_TOO_LARGE = "decimal_too_large"
DECIMAL_TOO_PRECISE = "decimal_too_precise"
OUT_OF_RANGE = "out_of_range"
NOT_ACCEPTED = "not_accepted"
# structure of a text file (readers): a physical record that cannot become fields
UNTERMINATED_QUOTE = "unterminated_quote"
BAD_QUOTING = "bad_quoting"
NUL_BYTE = "nul_byte"
FIELD_TOO_LARGE = "field_too_large"
# the header of a file against the schema: every record of a refused file carries one of these
MISSING_COLUMN = "missing_column"
EXTRA_COLUMN = "extra_column"
BAD_HEADER = "bad_header"

REASONS = (
    NOT_JSON,
    NOT_AN_OBJECT,
    BAD_CSV_ROW,
    EMPTY_ROW,
    BAD_ENCODING,
    MISSING_FIELD,
    NULL_VALUE,
    WRONG_TYPE,
    BAD_DATE,
    BAD_TIMESTAMP,
    DECIMAL_TOO_LARGE,
    DECIMAL_TOO_PRECISE,
    OUT_OF_RANGE,
    NOT_ACCEPTED,
    UNTERMINATED_QUOTE,
    BAD_QUOTING,
    NUL_BYTE,
    FIELD_TOO_LARGE,
    MISSING_COLUMN,
    EXTRA_COLUMN,
    BAD_HEADER,
)

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_DATE_TEXT = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")
_TRUE = frozenset({"true", "t", "1"})
_FALSE = frozenset({"false", "f", "0"})
_DECIMAL_CONTEXT = Context(prec=100)  # wide enough for any decimal(38,s) and its checks


class Reject(Exception):
    """A record that cannot be curated: ``reason`` (a code of :data:`REASONS`), ``field``, ``message``."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------------------------------
# One converter per type: raw value (never None) -> typed Python value, or Reject
# --------------------------------------------------------------------------------------------------

Converter = Callable[[Any], Any]


def _string(name: str) -> Converter:
    def convert(value: Any) -> str:
        if type(value) is str:
            return value
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        raise Reject(WRONG_TYPE, f"{name}: expected a string, got {_kind(value)} {_show(value)}", name)

    return convert


def _boolean(name: str) -> Converter:
    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise Reject(WRONG_TYPE, f"{name}: expected a boolean, got {_kind(value)} {_show(value)}", name)

    return convert


def _integer(name: str, type_name: str, bounds: tuple[int, int]) -> Converter:
    low, high = bounds

    def convert(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            number = int(value)
        else:
            raise Reject(WRONG_TYPE, f"{name}: expected an integer, got {_kind(value)} {_show(value)}", name)
        if not low <= number <= high:
            raise Reject(WRONG_TYPE, f"{name}: {number} does not fit {type_name}", name)
        return number

    return convert


def _double(name: str) -> Converter:
    def convert(value: Any) -> float:
        if (isinstance(value, int | float | Decimal) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER_TEXT.fullmatch(value)
        ):
            number = float(value)
        else:
            raise Reject(WRONG_TYPE, f"{name}: expected a number, got {_kind(value)} {_show(value)}", name)
        if not math.isfinite(number):
            raise Reject(WRONG_TYPE, f"{name}: {_show(value)} is not a finite number", name)
        return number

    return convert


def _decimal(name: str, precision: int, scale: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)
    type_name = f"decimal({precision},{scale})"

    def convert(value: Any) -> Decimal:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
            number = Decimal(value.strip())
        else:
            raise Reject(
                WRONG_TYPE, f"{name}: expected a decimal number, got {_kind(value)} {_show(value)}", name
            )
        if not number.is_finite():
            raise Reject(WRONG_TYPE, f"{name}: {_show(value)} is not a finite number", name)
        try:
            exact = number.quantize(quantum, context=_DECIMAL_CONTEXT)
        except InvalidOperation:  # far too many digits for any decimal(38,s)
            raise Reject(
                DECIMAL_TOO_LARGE, f"{name}: {_show(value)} does not fit {type_name}", name
            ) from None
        if exact != number:
            raise Reject(
                DECIMAL_TOO_PRECISE,
                f"{name}: {_show(value)} has more than {scale} decimal place(s) ({type_name}); "
                "values are never rounded",
                name,
            )
        if abs(exact) >= limit:
            raise Reject(DECIMAL_TOO_LARGE, f"{name}: {_show(value)} does not fit {type_name}", name)
        return exact

    return convert


def _strptime(formats: Sequence[str]) -> Callable[[Any], dt_.datetime | None]:
    """Text -> datetime by the first of ``formats`` that matches ('iso' = ISO 8601); None if none does."""
    strptime, fromisoformat = dt_.datetime.strptime, dt_.datetime.fromisoformat

    def parse(value: Any) -> dt_.datetime | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        for fmt in formats:
            try:
                return fromisoformat(text) if fmt == "iso" else strptime(text, fmt)
            except ValueError:
                continue
        return None

    return parse


def _date(name: str, formats: Sequence[str] = ()) -> Converter:
    by_format = _strptime(formats) if formats else None
    wanted = f"a date ({', '.join(formats)})" if formats else "a date YYYY-MM-DD"

    def convert(value: Any) -> dt_.date:
        if isinstance(value, dt_.date) and not isinstance(value, dt_.datetime):
            return value
        if by_format is not None:
            stamp = by_format(value)
            if stamp is not None:
                return stamp.date()
        elif isinstance(value, str) and _DATE_TEXT.fullmatch(value):
            try:
                return dt_.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise Reject(BAD_DATE, f"{name}: expected {wanted}, got {_kind(value)} {_show(value)}", name)

    return convert


def _parse_timestamp(name: str, value: Any) -> dt_.datetime:
    if isinstance(value, dt_.datetime):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt_.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Reject(
        BAD_TIMESTAMP, f"{name}: expected an ISO-8601 timestamp, got {_kind(value)} {_show(value)}", name
    )


def _zone(name: str | None) -> dt_.tzinfo:
    if name is None or name == "UTC":
        return UTC
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def _timestamptz(name: str, formats: Sequence[str] = (), timezone: str | None = None) -> Converter:
    """Aware UTC datetime: an offset is converted to UTC, a naive timestamp is taken in ``timezone``
    (UTC by default). A wall time that does not exist there (a DST gap) is a reject; an ambiguous one
    (a DST overlap) is its first occurrence."""
    fromisoformat = dt_.datetime.fromisoformat
    zone = _zone(timezone)
    by_format = _strptime(formats) if formats else None
    wanted = f"a timestamp ({', '.join(formats)})" if formats else "an ISO-8601 timestamp"

    def parse(value: Any) -> dt_.datetime:
        if by_format is None:
            return _parse_timestamp(name, value)
        if isinstance(value, dt_.datetime):
            return value
        stamp = by_format(value)
        if stamp is None:
            raise Reject(BAD_TIMESTAMP, f"{name}: expected {wanted}, got {_kind(value)} {_show(value)}", name)
        return stamp

    def local(stamp: dt_.datetime, value: Any) -> dt_.datetime:
        aware = stamp.replace(tzinfo=zone).astimezone(UTC)
        if aware.astimezone(zone).replace(tzinfo=None) != stamp:
            raise Reject(
                BAD_TIMESTAMP,
                f"{name}: {_show(value)} does not exist in time zone {timezone} (a DST gap)",
                name,
            )
        return aware

    def convert(value: Any) -> dt_.datetime:
        if by_format is None and type(value) is str and len(value) >= 10:  # the common case first
            try:
                stamp = fromisoformat(value)
            except ValueError:
                stamp = parse(value)
        else:
            stamp = parse(value)
        try:
            if stamp.tzinfo is None:
                return stamp.replace(tzinfo=UTC) if zone is UTC else local(stamp, value)
            return stamp.astimezone(UTC)
        except (OverflowError, ValueError):
            raise Reject(
                BAD_TIMESTAMP, f"{name}: {_show(value)} is out of the timestamp range", name
            ) from None

    return convert


def _timestamp(name: str, formats: Sequence[str] = (), timezone: str | None = None) -> Converter:
    """Naive datetime (UTC wall time): an offset is converted to UTC and dropped."""
    aware = _timestamptz(name, formats, timezone)

    def convert(value: Any) -> dt_.datetime:
        return aware(value).replace(tzinfo=None)

    return convert


def converter(column: Column, *, formats: Sequence[str] = (), timezone: str | None = None) -> Converter:
    """The converter of one contract column; ``formats`` and ``timezone`` are the source's defaults
    (the column's own ``formats`` and ``timezone`` win)."""
    ctype = column.column_type
    name = column.name
    if ctype.is_decimal:
        assert ctype.precision is not None and ctype.scale is not None
        return _decimal(name, ctype.precision, ctype.scale)
    formats = tuple(column.formats if column.formats is not None else formats)
    if formats == ("iso",):
        formats = ()
    zone = column.timezone or timezone
    factories: dict[str, Callable[[], Converter]] = {
        "string": lambda: _string(name),
        "boolean": lambda: _boolean(name),
        "int": lambda: _integer(name, "int (32-bit)", INT32),
        "bigint": lambda: _integer(name, "bigint (64-bit)", INT64),
        "double": lambda: _double(name),
        "date": lambda: _date(name, formats),
        "timestamp": lambda: _timestamp(name, formats, zone),
        "timestamptz": lambda: _timestamptz(name, formats, zone),
    }
    return factories[ctype.base]()


# --------------------------------------------------------------------------------------------------
# Row-level quality checks of the contract (accepted_values, range, not_null)
# --------------------------------------------------------------------------------------------------

Check = Callable[[Any], "str | None"]


def _typed_bound(column: Column, bound: Any) -> Any:
    """A range bound of the contract in the column's Python type, so comparisons are exact."""
    ctype = column.column_type
    if ctype.is_decimal:
        return Decimal(str(bound))
    if ctype.base == "timestamptz" or ctype.base == "timestamp":
        if not isinstance(bound, dt_.datetime):
            bound = dt_.datetime(bound.year, bound.month, bound.day)
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=UTC)
        bound = bound.astimezone(UTC)
        return bound if ctype.base == "timestamptz" else bound.replace(tzinfo=None)
    return bound


def _range_check(column: Column, low: Any, high: Any) -> Check:
    low = None if low is None else _typed_bound(column, low)
    high = None if high is None else _typed_bound(column, high)
    wanted = " and ".join(
        part
        for part in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "")
        if part
    )

    def check(value: Any) -> str | None:
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{column.name}: {value} is out of range (must be {wanted})"
        return None

    return check


def _accepted_check(column: Column, values: Sequence[Any]) -> Check:
    convert = converter(column)
    accepted = frozenset(convert(value) for value in values)
    shown = ", ".join(sorted(str(value) for value in values))

    def check(value: Any) -> str | None:
        if value not in accepted:
            return f"{column.name}: {_show(value)} is not an accepted value ({shown})"
        return None

    return check


def reading_defaults(contract: Contract) -> tuple[tuple[str, ...], str | None]:
    """The source's timestamp formats and zone of naive timestamps (files sources declare them)."""
    source = contract.source
    if source.kind == "files":
        return tuple(source.timestamp_formats), source.timezone
    return (), None


@dataclass(frozen=True)
class _Field:
    name: str
    convert: Converter
    required: bool
    checks: tuple[tuple[str, Check], ...]


class RowParser:
    """Parses records into the contract's columns (schema order) and derives the partition date."""

    def __init__(self, contract: Contract) -> None:
        from airlake.contracts import AcceptedValuesCheck, NotNullCheck, RangeCheck

        by_column: dict[str, list[tuple[str, Check]]] = {name: [] for name in contract.column_names}
        not_null = {column.name for column in contract.columns if not column.nullable}
        for check in contract.quality.checks:
            if isinstance(check, NotNullCheck):
                not_null.add(check.column)
            elif isinstance(check, AcceptedValuesCheck):
                column = contract.column(check.column)
                by_column[column.name].append((NOT_ACCEPTED, _accepted_check(column, check.values)))
            elif isinstance(check, RangeCheck):
                column = contract.column(check.column)
                by_column[column.name].append((OUT_OF_RANGE, _range_check(column, check.min, check.max)))
        formats, timezone = reading_defaults(contract)
        self.names: tuple[str, ...] = contract.column_names
        self.fields: tuple[_Field, ...] = tuple(
            _Field(
                column.name,
                converter(column, formats=formats, timezone=timezone),
                column.name in not_null,
                tuple(by_column[column.name]),
            )
            for column in contract.columns
        )
        self._plan = tuple((f.name, f.convert, f.required, f.checks) for f in self.fields)
        self.event_index = self.names.index(contract.event_time)
        self._dates: dict[dt_.date, str] = {}
        event_type = contract.column(contract.event_time).column_type.base
        self._event_date: Callable[[Any], dt_.date] = (
            (lambda value: value) if event_type == "date" else (lambda value: value.date())
        )

    def parse(self, record: Mapping[str, Any]) -> list[Any]:
        """The typed values of ``record`` in schema order; raises :class:`Reject` on the first problem."""
        values: list[Any] = []
        append = values.append
        get = record.get
        for name, convert, required, checks in self._plan:
            raw = get(name)
            if raw is None:
                if required:
                    if name in record:
                        raise Reject(NULL_VALUE, f"{name}: null in a NOT NULL column", name)
                    raise Reject(MISSING_FIELD, f"{name}: required field is missing", name)
                append(None)
                continue
            value = convert(raw)
            for reason, check in checks:
                problem = check(value)
                if problem is not None:
                    raise Reject(reason, problem, name)
            append(value)
        return values

    def partition_of(self, values: Sequence[Any]) -> str:
        """``YYYY-MM-DD``: the UTC date of the event-time column (timestamps are already UTC)."""
        day = self._event_date(values[self.event_index])
        text = self._dates.get(day)
        if text is None:
            if len(self._dates) > 10_000:
                self._dates.clear()
            text = self._dates[day] = day.isoformat()
        return text
