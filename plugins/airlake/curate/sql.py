"""The curate transformation as SQL, for inputs too big for one worker: Athena CTAS / INSERT INTO.

:func:`curate_sql` generates, from the contract, one Trino (Athena engine v3) SELECT over a table of
raw JSON lines: typed columns, the same reject rules and reason codes as the worker path
(:mod:`airlake.curate.parse`), and the same de-duplication per partition. Locally the SQL is transpiled
with sqlglot to DuckDB and runs there (``to_duckdb``); tests prove both paths give the same rows.

Where the engines differ from the worker (documented limits of this path): Athena's
``from_iso8601_timestamp`` keeps milliseconds; JSON numbers are read as doubles by both engines, so a
decimal given as a JSON number (not a string) is exact up to ~15 significant digits; decimals written
with an exponent (``1.5E2``) in text are rejects here.
"""

from __future__ import annotations

import datetime as dt_
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airlake.curate import parse as reasons
from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    from airlake.contracts import Column, Contract

_NUMBER = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$"
_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$"


def _q(name: str) -> str:
    return quote_identifier(name)


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal(column: Column, value: Any) -> str:
    """A contract value (accepted value, range bound) as a SQL literal of the column's type."""
    base = column.column_type.base
    if base == "string":
        return _text(str(value))
    if base == "boolean":
        return "true" if value else "false"
    if base == "date":
        return f"DATE '{value.isoformat()}'"
    if base in ("timestamp", "timestamptz"):
        if not isinstance(value, dt_.datetime):
            value = dt_.datetime(value.year, value.month, value.day)
        if value.tzinfo is not None:
            value = value.astimezone(dt_.UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"
    if column.column_type.is_decimal:
        return str(Decimal(str(value)))
    return repr(value) if isinstance(value, float) else str(int(value))


def _typed(column: Column) -> tuple[str, str]:
    """(typed expression over the scalar text ``_s_<name>``, reason code when it is NULL)."""
    s = _q(f"_s_{column.name}")
    ctype = column.column_type
    base = ctype.base
    if base == "string":
        return s, reasons.WRONG_TYPE
    if base == "boolean":
        low = f"lower(trim({s}))"
        return (
            f"CASE WHEN {low} IN ('true', 't', '1') THEN true WHEN {low} IN ('false', 'f', '0') THEN false END",
            reasons.WRONG_TYPE,
        )
    if base in ("int", "bigint"):
        sql_type = "INTEGER" if base == "int" else "BIGINT"
        return (
            f"CASE WHEN regexp_like({s}, '{_INTEGER}') THEN TRY_CAST(trim({s}) AS {sql_type}) END",
            reasons.WRONG_TYPE,
        )
    if base == "double":
        return (
            f"CASE WHEN regexp_like({s}, '{_NUMBER}') THEN TRY_CAST(trim({s}) AS DOUBLE) END",
            reasons.WRONG_TYPE,
        )
    if ctype.is_decimal:
        return (
            f"CASE WHEN regexp_like({s}, '{_NUMBER}') "
            f"THEN TRY_CAST(trim({s}) AS DECIMAL({ctype.precision}, {ctype.scale})) END",
            reasons.WRONG_TYPE,
        )
    if base == "date":
        return (
            f"CASE WHEN regexp_like({s}, '{_DATE}') THEN TRY_CAST(trim({s}) AS DATE) END",
            reasons.BAD_DATE,
        )
    # timestamp and timestamptz: ISO-8601, an offset converted to UTC, naive taken as UTC (session zone)
    return (
        f"CAST(TRY(from_iso8601_timestamp(trim({s}))) AT TIME ZONE 'UTC' AS TIMESTAMP(6))",
        reasons.BAD_TIMESTAMP,
    )


def _column_reasons(contract: Contract, column: Column, required: bool) -> list[str]:
    """CASE branches for one column, in the worker's order: missing/null, type, decimal fit, checks."""
    from airlake.contracts import AcceptedValuesCheck, RangeCheck

    j, s, v = _q(f"_j_{column.name}"), _q(f"_s_{column.name}"), _q(column.name)
    is_null = f"json_format({j}) = 'null'"
    present = f"({j} IS NOT NULL AND NOT {is_null})"
    branches = []
    if required:
        branches.append(f"WHEN {j} IS NULL THEN '{reasons.MISSING_FIELD}'")
        branches.append(f"WHEN {is_null} THEN '{reasons.NULL_VALUE}'")
    non_scalar = f"substr(json_format({j}), 1, 1) IN ('{{', '[')"
    branches.append(f"WHEN {present} AND {non_scalar} THEN '{reasons.WRONG_TYPE}'")
    if column.column_type.base == "string":
        branches.append(
            f"WHEN {present} AND json_format({j}) IN ('true', 'false') THEN '{reasons.WRONG_TYPE}'"
        )
    ctype = column.column_type
    if ctype.is_decimal:
        assert ctype.precision is not None and ctype.scale is not None
        whole = ctype.precision - ctype.scale
        branches.append(f"WHEN {present} AND NOT regexp_like({s}, '{_NUMBER}') THEN '{reasons.WRONG_TYPE}'")
        branches.append(
            f"WHEN {present} AND regexp_like({s}, '\\.[0-9]{{{ctype.scale}}}0*[1-9]') "
            f"THEN '{reasons.DECIMAL_TOO_PRECISE}'"
        )
        branches.append(
            f"WHEN {present} AND regexp_like({s}, '^\\s*[+-]?0*[1-9][0-9]{{{whole}}}') "
            f"THEN '{reasons.DECIMAL_TOO_LARGE}'"
        )
    _, type_reason = _typed(column)
    branches.append(f"WHEN {present} AND {v} IS NULL THEN '{type_reason}'")
    for check in contract.quality.checks:
        if getattr(check, "column", None) != column.name:
            continue
        if isinstance(check, AcceptedValuesCheck):
            values = ", ".join(_literal(column, value) for value in check.values)
            branches.append(f"WHEN {v} IS NOT NULL AND {v} NOT IN ({values}) THEN '{reasons.NOT_ACCEPTED}'")
        elif isinstance(check, RangeCheck):
            if check.min is not None:
                branches.append(
                    f"WHEN {v} IS NOT NULL AND {v} < {_literal(column, check.min)} THEN '{reasons.OUT_OF_RANGE}'"
                )
            if check.max is not None:
                branches.append(
                    f"WHEN {v} IS NOT NULL AND {v} > {_literal(column, check.max)} THEN '{reasons.OUT_OF_RANGE}'"
                )
    return branches


def curate_sql(
    contract: Contract,
    *,
    source: str = "raw_lines",
    line_column: str = "line",
    order_column: str | None = "seq",
    existing: str | None = None,
    rejects: bool = False,
) -> str:
    """
    Trino (Athena) SQL of the curate transformation over a table of raw JSON lines.

    The result has the contract's columns (timestamps as UTC ``timestamp``) and the partition column
    last (as Athena CTAS ``partitioned_by`` wants), one row per (partition, key) by the contract's
    de-duplication rule, sorted by partition and key.

    :param contract: the dataset's contract.
    :param source: table or view (``name`` or ``schema.name``) of raw lines; on Athena a one-string-column
        TEXTFILE table over the run's raw prefix, or a view over it adding an ordinal.
    :param line_column: its column holding one raw line.
    :param order_column: its column giving the input order (breaks ties like the worker's line order);
        None: ties are broken arbitrarily (Athena has no line numbers).
    :param existing: a table or view of the live rows of the touched partitions (contract columns plus
        the partition column), merged with the new rows; None: new rows only.

    Names are validated and quoted (:func:`airlake.sql_text.quote_identifier`); values never come from
    outside the contract.
    :param rejects: return the rejected lines instead (``raw``, ``ordinal``, ``reason``).
    """
    part = _q(contract.partition_column)
    source, line = _q(source), _q(line_column)
    ordinal = _q(order_column) if order_column else "0"
    required = {c.name for c in contract.columns if not c.nullable}
    required |= {
        check.column for check in contract.quality.checks if getattr(check, "kind", "") == "not_null"
    }
    extract = ",\n    ".join(
        f"json_extract(_j, {_text('$.' + c.name)}) AS {_q('_j_' + c.name)},\n"
        f"    json_extract_scalar(_j, {_text('$.' + c.name)}) AS {_q('_s_' + c.name)}"
        for c in contract.columns
    )
    typed = ",\n    ".join(f"{_typed(c)[0]} AS {_q(c.name)}" for c in contract.columns)
    branches = [
        f"WHEN _j IS NULL THEN '{reasons.NOT_JSON}'",
        f"WHEN substr(json_format(_j), 1, 1) <> '{{' THEN '{reasons.NOT_AN_OBJECT}'",
    ]
    for column in contract.columns:
        branches += _column_reasons(contract, column, column.name in required)
    event = _q(contract.event_time)
    names = ", ".join(_q(c.name) for c in contract.columns)
    checked = (
        "WITH parsed AS (\n"
        f"  SELECT {line} AS _line, {ordinal} AS _ord, TRY(json_parse({line})) AS _j\n"
        f"  FROM {source}\n"
        f"  WHERE trim({line}) <> ''\n"
        "),\n"
        f"fields AS (\n  SELECT _line, _ord, _j,\n    {extract}\n  FROM parsed\n),\n"
        f"typed AS (\n  SELECT *,\n    {typed}\n  FROM fields\n),\n"
        "checked AS (\n"
        "  SELECT *,\n"
        "    CASE\n      " + "\n      ".join(branches) + "\n    END AS _reason\n"
        "  FROM typed\n"
        ")\n"
    )
    if rejects:
        return (
            checked + "SELECT _line AS raw, _ord AS ordinal, _reason AS reason\n"
            "FROM checked\nWHERE _reason IS NOT NULL\nORDER BY _ord"
        )
    keys = ", ".join(_q(k) for k in contract.dedup.keys)
    direction = "DESC" if contract.dedup.keep == "latest" else "ASC"
    order = [f"_src {direction}", f"_ord {direction}"]
    if contract.dedup.order_by:
        order.insert(0, f"{_q(contract.dedup.order_by)} {direction} NULLS LAST")
    incoming = (
        f"new_rows AS (\n  SELECT {names}, CAST(CAST({event} AS DATE) AS VARCHAR) AS {part}, 1 AS _src, _ord\n"
        "  FROM checked\n  WHERE _reason IS NULL\n)\n"
    )
    union = "    SELECT * FROM new_rows"
    if existing:
        union += (
            f"\n    UNION ALL\n    SELECT {names}, {part}, 0 AS _src, 0 AS _ord\n    FROM {_q(existing)}\n"
            f"    WHERE {part} IN (SELECT DISTINCT {part} FROM new_rows)"
        )
    checked = checked.rstrip("\n") + ",\n" + incoming
    return (
        checked + f"SELECT {names}, {part}\nFROM (\n"
        f"  SELECT *, row_number() OVER (PARTITION BY {part}, {keys} ORDER BY {', '.join(order)}) AS _rn\n"
        f"  FROM (\n{union}\n  ) AS incoming\n"
        ") AS ranked\n"
        f"WHERE _rn = 1\nORDER BY {part}, {keys}"
    )


def to_duckdb(sql: str) -> str:
    """Trino SQL -> DuckDB SQL (sqlglot), for the local stand-in of Athena."""
    import sqlglot

    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]
