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
_Branch = tuple[str, str, "str | None"]
"""One reject rule: (SQL condition, reason code, the column it is about or None for the whole line)."""


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


def _column_reasons(contract: Contract, column: Column, required: bool) -> list[_Branch]:
    """Reject rules of one column, in the worker's order: missing/null, type, decimal fit, checks."""
    from airlake.contracts import AcceptedValuesCheck, RangeCheck

    j, s, v = _q(f"_j_{column.name}"), _q(f"_s_{column.name}"), _q(column.name)
    is_null = f"json_format({j}) = 'null'"
    present = f"({j} IS NOT NULL AND NOT {is_null})"
    branches: list[_Branch] = []
    name = column.name
    if required:
        branches.append((f"{j} IS NULL", reasons.MISSING_FIELD, name))
        branches.append((f"{is_null}", reasons.NULL_VALUE, name))
    non_scalar = f"substr(json_format({j}), 1, 1) IN ('{{', '[')"
    branches.append((f"{present} AND {non_scalar}", reasons.WRONG_TYPE, name))
    if column.column_type.base == "string":
        branches.append((f"{present} AND json_format({j}) IN ('true', 'false')", reasons.WRONG_TYPE, name))
    ctype = column.column_type
    if ctype.is_decimal:
        assert ctype.precision is not None and ctype.scale is not None
        whole = ctype.precision - ctype.scale
        branches.append((f"{present} AND NOT regexp_like({s}, '{_NUMBER}')", reasons.WRONG_TYPE, name))
        precise = f"{present} AND regexp_like({s}, '\\.[0-9]{{{ctype.scale}}}0*[1-9]')"
        large = f"{present} AND regexp_like({s}, '^\\s*[+-]?0*[1-9][0-9]{{{whole}}}')"
        branches.append((precise, reasons.DECIMAL_TOO_PRECISE, name))
        branches.append((large, reasons.DECIMAL_TOO_LARGE, name))
    _, type_reason = _typed(column)
    branches.append((f"{present} AND {v} IS NULL", type_reason, name))
    for check in contract.quality.checks:
        if getattr(check, "column", None) != column.name:
            continue
        if isinstance(check, AcceptedValuesCheck):
            values = ", ".join(_literal(column, value) for value in check.values)
            branches.append((f"{v} IS NOT NULL AND {v} NOT IN ({values})", reasons.NOT_ACCEPTED, name))
        elif isinstance(check, RangeCheck):
            if check.min is not None:
                branches.append(
                    (f"{v} IS NOT NULL AND {v} < {_literal(column, check.min)}", reasons.OUT_OF_RANGE, name)
                )
            if check.max is not None:
                branches.append(
                    (f"{v} IS NOT NULL AND {v} > {_literal(column, check.max)}", reasons.OUT_OF_RANGE, name)
                )
    return branches


def _case(branches: list[_Branch], item: int) -> str:
    """CASE over the reject rules giving the first matching rule's reason (1) or column (2)."""
    whens = "\n      ".join(
        f"WHEN {branch[0]} THEN {_text(branch[item]) if branch[item] else 'NULL'}" for branch in branches
    )
    return f"CASE\n      {whens}\n    END"


def sql_unsupported(contract: Contract) -> list[tuple[tuple[str | int, ...], str]]:
    """What of the contract the SQL path does not implement, as ``(location in the contract, why)``;
    empty when :func:`curate_sql` curates it like the worker path (JSON Lines raw parts, the default
    text rules)."""
    from airlake.contracts import FilesSource

    found: list[tuple[tuple[str | int, ...], str]] = []
    source = contract.source
    if isinstance(source, FilesSource):
        if source.format != "jsonl":
            found.append((("source", "format"), f"the SQL curate reads JSON Lines only, not {source.format}"))
        if source.jsonl.null_values or source.jsonl.trim != "none":
            found.append((("source", "jsonl"), "the SQL curate has no text NULL markers or trimming"))
        if source.timestamp_formats or source.timezone != "UTC":
            found.append((("source", "timestamp_formats"), "the SQL curate reads ISO-8601 times in UTC only"))
    for index, column in enumerate(contract.columns):
        for name in ("formats", "timezone", "null_values"):
            if getattr(column, name) is not None:
                found.append((("schema", index, name), f"the SQL curate has no per-column {name}"))
    return found


def curate_sql(
    contract: Contract,
    *,
    source: str = "raw_lines",
    line_column: str = "line",
    order_column: str | None = "seq",
    existing: str | None = None,
    rejects: bool = False,
    carry: tuple[str, ...] = (),
    with_source: bool = False,
    counts: bool = False,
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
    :param rejects: return the rejected lines instead (``raw``, ``ordinal``, ``reason``, ``field``,
        then the ``carry`` columns), in input order.
    :param carry: columns of ``source`` carried into the rejects (where a line came from: the raw
        part's key and line number, or Athena's ``"$path"``).
    :param with_source: add ``_src`` to the rows: 1 for a row of this run, 0 for a kept live row (the
        per-partition accounting of the curate manifest).
    :param counts: return ``(partition, rows_new, rows_existing)`` per touched partition instead:
        accepted rows of this run and live rows merged with them, before de-duplication.
    """
    part = _q(contract.partition_column)
    source, line = _q(source), _q(line_column)
    carried = "".join(f", {_q(name)}" for name in carry)
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
    branches: list[_Branch] = [
        (f"strpos(_line, {_text(chr(0xFFFD))}) > 0", reasons.BAD_ENCODING, None),
        ("strpos(_line, chr(0)) > 0", reasons.NUL_BYTE, None),
        ("_j IS NULL", reasons.NOT_JSON, None),
        ("substr(json_format(_j), 1, 1) <> '{'", reasons.NOT_AN_OBJECT, None),
    ]
    # an escaped NUL (the warehouse cannot store it): named by its column, as the worker does
    branches += [
        (f"strpos({_q('_s_' + c.name)}, chr(0)) > 0", reasons.NUL_BYTE, c.name) for c in contract.columns
    ]
    branches.append((f"strpos(_line, {_text(chr(92) + 'u0000')}) > 0", reasons.NUL_BYTE, None))
    for column in contract.columns:
        branches += _column_reasons(contract, column, column.name in required)
    event = _q(contract.event_time)
    names = ", ".join(_q(c.name) for c in contract.columns)
    checked = (
        "WITH parsed AS (\n"
        f"  SELECT {line} AS _line, {ordinal} AS _ord, TRY(json_parse({line})) AS _j{carried}\n"
        f"  FROM {source}\n"
        f"  WHERE trim({line}) <> ''\n"
        "),\n"
        f"fields AS (\n  SELECT _line, _ord, _j{carried},\n    {extract}\n  FROM parsed\n),\n"
        f"typed AS (\n  SELECT *,\n    {typed}\n  FROM fields\n),\n"
        "checked AS (\n"
        "  SELECT *,\n"
        f"    {_case(branches, 1)} AS _reason,\n"
        f"    {_case(branches, 2)} AS _field\n"
        "  FROM typed\n"
        ")\n"
    )
    if rejects:
        return (
            checked + f"SELECT _line AS raw, _ord AS ordinal, _reason AS reason, _field AS field{carried}\n"
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
    if counts:
        return (
            checked + f"SELECT {part}, count_if(_src = 1) AS rows_new, count_if(_src = 0) AS rows_existing\n"
            f"FROM (\n{union}\n) AS incoming\nGROUP BY {part}\nORDER BY {part}"
        )
    output = f"{names}, {part}, _src" if with_source else f"{names}, {part}"
    return (
        checked + f"SELECT {output}\nFROM (\n"
        f"  SELECT *, row_number() OVER (PARTITION BY {part}, {keys} ORDER BY {', '.join(order)}) AS _rn\n"
        f"  FROM (\n{union}\n  ) AS incoming\n"
        ") AS ranked\n"
        f"WHERE _rn = 1\nORDER BY {part}, {keys}"
    )


def to_duckdb(sql: str) -> str:
    """Trino SQL -> DuckDB SQL (sqlglot), for the local stand-in of Athena."""
    import sqlglot

    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]
