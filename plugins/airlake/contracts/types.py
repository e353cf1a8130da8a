"""Column types of a contract and their mappings to Arrow, Glue/Athena, PostgreSQL, Redshift and DuckDB.

Light to import: pyarrow is imported inside :func:`arrow_type` only, never at module level.

=============  ======================  ==============  ================  ===============  ===============
contract       Arrow                   Glue / Athena   PostgreSQL        Redshift         DuckDB
=============  ======================  ==============  ================  ===============  ===============
string         string                  string          text              varchar(65535)   varchar
boolean        bool                    boolean         boolean           boolean          boolean
int            int32                   int             integer           integer          integer
bigint         int64                   bigint          bigint            bigint           bigint
double         float64                 double          double precision  double precision double
date           date32                  date            date              date             date
timestamp      timestamp[us]           timestamp       timestamp         timestamp        timestamp
timestamptz    timestamp[us, UTC]      timestamp       timestamptz       timestamptz      timestamptz
decimal(p,s)   decimal128(p, s)        decimal(p,s)    numeric(p,s)      numeric(p,s)     decimal(p,s)
=============  ======================  ==============  ================  ===============  ===============

Redshift's ``text`` is ``varchar(256)``, hence the explicit ``varchar(65535)`` (its maximum).
Glue has no zone-aware timestamp: ``timestamptz`` columns are stored as UTC instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SIMPLE_TYPES: tuple[str, ...] = (
    "string",
    "boolean",
    "int",
    "bigint",
    "double",
    "date",
    "timestamp",
    "timestamptz",
)
TYPE_NAMES: tuple[str, ...] = (*SIMPLE_TYPES, "decimal(p,s)")
MAX_DECIMAL_PRECISION = 38

TYPE_PATTERN = (
    r"^(string|boolean|int|bigint|double|date|timestamp|timestamptz|decimal\(\s*\d{1,2}\s*,\s*\d{1,2}\s*\))$"
)
_DECIMAL_RE = re.compile(r"^decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")

INTEGER_TYPES = frozenset({"int", "bigint"})
NUMERIC_TYPES = frozenset({"int", "bigint", "double", "decimal"})
TEMPORAL_TYPES = frozenset({"date", "timestamp", "timestamptz"})
TIMESTAMP_TYPES = frozenset({"timestamp", "timestamptz"})


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed column type: ``base`` is one of SIMPLE_TYPES or ``"decimal"`` (with precision, scale)."""

    base: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.base == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.base

    @property
    def is_decimal(self) -> bool:
        return self.base == "decimal"

    @property
    def is_integer(self) -> bool:
        return self.base in INTEGER_TYPES

    @property
    def is_numeric(self) -> bool:
        return self.base in NUMERIC_TYPES

    @property
    def is_temporal(self) -> bool:
        return self.base in TEMPORAL_TYPES


@lru_cache(maxsize=512)
def parse_type(text: str) -> ColumnType:
    """Parse a contract type name; raise ValueError naming the expected types when it is unknown."""
    if text in SIMPLE_TYPES:
        return ColumnType(text)
    match = _DECIMAL_RE.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= MAX_DECIMAL_PRECISION:
            raise ValueError(
                f"invalid type {text!r}: "
                f"decimal precision must be 1..{MAX_DECIMAL_PRECISION}, got {precision}"
            )
        if scale > precision:
            raise ValueError(
                f"invalid type {text!r}: decimal scale must be 0..precision ({precision}), got {scale}"
            )
        return ColumnType("decimal", precision, scale)
    hint = ""
    lowered = text.lower().strip()
    if lowered != text and (lowered in SIMPLE_TYPES or _DECIMAL_RE.match(lowered)):
        hint = f"; type names are lowercase: {lowered!r}"
    elif lowered.startswith(("decimal", "numeric")):
        hint = "; write decimals as decimal(precision,scale), e.g. decimal(12,2)"
    raise ValueError(f"unknown type {text!r} (expected one of {', '.join(TYPE_NAMES)}){hint}")


def _as_type(column_type: ColumnType | str) -> ColumnType:
    return column_type if isinstance(column_type, ColumnType) else parse_type(column_type)


def glue_type(column_type: ColumnType | str) -> str:
    """Glue Data Catalog / Athena (Hive DDL) type name."""
    t = _as_type(column_type)
    if t.is_decimal:
        return f"decimal({t.precision},{t.scale})"
    return "timestamp" if t.base == "timestamptz" else t.base


_POSTGRES = {
    "string": "text",
    "boolean": "boolean",
    "int": "integer",
    "bigint": "bigint",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}


def postgres_type(column_type: ColumnType | str) -> str:
    """PostgreSQL type name (the local stand-in of the warehouse)."""
    t = _as_type(column_type)
    if t.is_decimal:
        return f"numeric({t.precision},{t.scale})"
    return _POSTGRES[t.base]


def redshift_type(column_type: ColumnType | str) -> str:
    """Redshift type name: as PostgreSQL, but strings are varchar(65535) (Redshift ``text`` is 256)."""
    t = _as_type(column_type)
    if t.base == "string":
        return "varchar(65535)"
    return postgres_type(t)


_DUCKDB = {"string": "varchar", "double": "double"}


def duckdb_type(column_type: ColumnType | str) -> str:
    """DuckDB type name (the local query engine)."""
    t = _as_type(column_type)
    if t.is_decimal:
        return f"decimal({t.precision},{t.scale})"
    return _DUCKDB.get(t.base) or _POSTGRES[t.base]


def arrow_type(column_type: ColumnType | str) -> pa.DataType:
    """pyarrow type (imports pyarrow on first call): microsecond timestamps, ``timestamptz`` in UTC."""
    import pyarrow as pa

    t = _as_type(column_type)
    if t.is_decimal:
        return pa.decimal128(t.precision, t.scale)
    factories = {
        "string": pa.string,
        "boolean": pa.bool_,
        "int": pa.int32,
        "bigint": pa.int64,
        "double": pa.float64,
        "date": pa.date32,
        "timestamp": lambda: pa.timestamp("us"),
        "timestamptz": lambda: pa.timestamp("us", tz="UTC"),
    }
    return factories[t.base]()
