"""Partition pruning: which partitions of each table a query can read at most.

Each table is pruned on its own partition column: the engines pass the Glue table's
``PartitionKeys`` (``keys``); without them the lake's ``dt`` is assumed. Below, ``dt`` stands for it.

A query's ``WHERE`` clauses are analysed with sqlglot (a safe, conservative analysis) on the query's
one parsed tree (:func:`airlake.engines.base.parse_query`): for every reference of a table, the
top-level ``AND`` conjuncts of the ``WHERE`` of the ``SELECT`` that reads the table directly are kept
when they compare that table's ``dt`` with a constant (``=``, ``IN``, ``BETWEEN``, ``<``, ``<=``,
``>``, ``>=``, either side). Constants may be expressions without columns or sub-queries
(``cast(date(date_trunc('week', date '2026-11-20')) as varchar)``): string literals are taken as
they are, the others evaluated in one SELECT by DuckDB (the local engine's own connection when it
passes one, as it would compute them). Anything else (``OR``, a function of ``dt``, a predicate on a
CTE's output, an unqualified ``dt`` in a join, a non-string constant) widens the selection, never
narrows it: a reference without a usable predicate selects every partition. All comparison
predicates are null-rejecting, so pruning a table read under an outer join gives the same rows.

The selection of a table is the union over its references. It is applied twice: as a Glue
``get_partitions`` ``Expression`` (fewer partitions listed) and again in Python on the values Glue
returns (the result does not depend on how well the catalog evaluates expressions).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airlake.engines.base import table_references

PARTITION_KEY = "dt"
"""The lake's partition column: the key of a table whose Glue ``PartitionKeys`` are not at hand."""
GLUE_EXPRESSION_MAX = 2048
"""Glue's limit on the length of a get_partitions Expression; longer selections filter in Python."""
_GLUE_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_:.\- ]{0,64}$")
_GLUE_SAFE_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_COMPARISONS = {"EQ": "=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}
_FLIPPED = {"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_VOLATILE = re.compile(r"(current|now|rand|uuid|localtime|shuffle|random)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Constraint:
    """``dt <op> value`` (``op`` one of ``= > >= < <=``) or ``dt IN values`` (op ``in``)."""

    op: str
    values: tuple[str, ...]

    def matches(self, value: str) -> bool:
        if self.op == "in":
            return value in self.values
        bound = self.values[0]
        return {
            "=": value == bound,
            ">": value > bound,
            ">=": value >= bound,
            "<": value < bound,
            "<=": value <= bound,
        }[self.op]

    def glue(self, key: str) -> str:
        quoted = [f"'{v}'" for v in self.values]
        if self.op == "in":
            return f"{key} in ({', '.join(quoted)})"
        return f"{key} {self.op} {quoted[0]}"


@dataclass(frozen=True, slots=True)
class PartitionSelection:
    """The partitions a query may read of one table: the union of its references' conjunctions."""

    conjunctions: tuple[tuple[Constraint, ...], ...]
    key: str = PARTITION_KEY
    """The table's partition column, which the constraints compare."""

    def matches(self, value: str) -> bool:
        return any(all(c.matches(value) for c in conjunction) for conjunction in self.conjunctions)

    def glue_expression(self, key: str | None = None) -> str | None:
        """A Glue ``get_partitions`` Expression selecting (at least) these partitions (on ``key``,
        default the selection's); None when the values are not plain enough to quote safely or the
        expression would be too long."""
        key = key or self.key
        if not _GLUE_SAFE_KEY.match(key):
            return None
        values = [v for conjunction in self.conjunctions for c in conjunction for v in c.values]
        if not all(_GLUE_SAFE_VALUE.match(v) for v in values):
            return None
        terms = [" and ".join(c.glue(key) for c in conjunction) for conjunction in self.conjunctions]
        expression = " or ".join(f"({term})" for term in terms)
        return expression if len(expression) <= GLUE_EXPRESSION_MAX else None


Selections = dict[str, PartitionSelection | None]
"""``database.table`` -> its selection; None: every partition."""


def _evaluate(expressions: Iterable[Any], connection: Any = None) -> list[Any]:
    """
    Values of constant SQL expressions (Trino): string literals as they are, the others computed by
    DuckDB in one SELECT, on ``connection`` (the engine's, in UTC) or, when None, a short-lived one.
    Any failure leaves the values None (their predicates are dropped, which only widens).
    """
    from sqlglot import exp

    expressions = list(expressions)
    values: list[Any] = [e.this if isinstance(e, exp.Literal) and e.is_string else None for e in expressions]
    pending = [i for i, e in enumerate(expressions) if not (isinstance(e, exp.Literal) and e.is_string)]
    if not pending:
        return values
    try:
        sql = exp.select(*[expressions[i].copy() for i in pending]).sql(dialect="duckdb")
        if connection is not None:
            row = connection.execute(sql).fetchone()
        else:
            import duckdb

            with duckdb.connect() as throwaway:
                throwaway.execute("set TimeZone = 'UTC'")
                row = throwaway.execute(sql).fetchone()
    except Exception:
        return values
    for index, value in zip(pending, row or [None] * len(pending), strict=True):
        values[index] = value
    return values


def _is_constant(node: Any) -> bool:
    from sqlglot import exp

    for sub in node.walk():
        if isinstance(sub, exp.Column | exp.Query | exp.Placeholder | exp.Parameter | exp.Star):
            return False
        if isinstance(sub, exp.Func) and _VOLATILE.search(sub.sql_name() + type(sub).__name__):
            return False
        if isinstance(sub, exp.Anonymous) and _VOLATILE.search(str(sub.this)):
            return False
    return True


def _as_partition_value(value: Any) -> str | None:
    """A constant as the ``dt`` string it compares like; None when its comparison is not a plain
    string comparison (numbers, timestamps)."""
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.isoformat()  # YYYY-MM-DD strings order like dates
    return None


def _sources(select: Any) -> list[Any]:
    from sqlglot import exp

    sources = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        sources.append(from_.this)
    sources.extend(join.this for join in select.args.get("joins") or [])
    return [s for s in sources if isinstance(s, exp.Expression)]


def _refers_to(column: Any, table: Any, select: Any, key: str) -> bool:
    if column.name.lower() != key:
        return False
    qualifier = (column.table or "").lower()
    if qualifier:
        return qualifier == table.alias_or_name.lower() and not column.args.get("db")
    return len(_sources(select)) == 1


def _conjuncts(node: Any) -> list[Any]:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _reference_constraints(table: Any, key: str) -> list[tuple[str, list[Any]]] | None:
    """(op, constant expressions) on ``key`` for one table reference; None: not analysable."""
    from sqlglot import exp

    parent = table.parent
    if not isinstance(parent, exp.From | exp.Join) or not isinstance(parent.parent, exp.Select):
        return None
    select = parent.parent
    where = select.args.get("where")
    if where is None:
        return []
    found: list[tuple[str, list[Any]]] = []
    for conjunct in _conjuncts(where.this):
        name = type(conjunct).__name__
        if name in _COMPARISONS:
            op = _COMPARISONS[name]
            left, right = conjunct.this, conjunct.expression
            if isinstance(left, exp.Column) and _refers_to(left, table, select, key) and _is_constant(right):
                found.append((op, [right]))
            elif (
                isinstance(right, exp.Column) and _refers_to(right, table, select, key) and _is_constant(left)
            ):
                found.append((_FLIPPED[op], [left]))
        elif isinstance(conjunct, exp.In) and not conjunct.args.get("query"):
            column, items = conjunct.this, conjunct.expressions
            if (
                isinstance(column, exp.Column)
                and _refers_to(column, table, select, key)
                and items
                and all(_is_constant(item) for item in items)
            ):
                found.append(("in", list(items)))
        elif isinstance(conjunct, exp.Between):
            column, low, high = conjunct.this, conjunct.args.get("low"), conjunct.args.get("high")
            if (
                isinstance(column, exp.Column)
                and _refers_to(column, table, select, key)
                and low is not None
                and high is not None
                and _is_constant(low)
                and _is_constant(high)
                and not conjunct.args.get("symmetric")
            ):
                found.append((">=", [low]))
                found.append(("<=", [high]))
    return found


def partition_selections(
    sql: str,
    database: str,
    key: str = PARTITION_KEY,
    *,
    keys: Mapping[str, str | None] | None = None,
    connection: Any = None,
) -> Selections:
    """
    ``{database.table: selection}`` for every table the query reads (None: every partition).

    :param sql: Athena (Trino) SQL, rendered.
    :param database: the database of bare table names.
    :param key: the partition column of the tables ``keys`` does not name.
    :param keys: ``{database.table: partition column}`` from the Glue tables' ``PartitionKeys``
        (None: unpartitioned, or not by one key: every partition).
    :param connection: a DuckDB connection for the constants (the engine's); None: a short-lived one.
    """
    references: dict[str, list[list[tuple[str, list[Any]]] | None]] = {}
    table_keys: dict[str, str | None] = {}
    for name, table in table_references(sql, database):
        column = keys[name] if keys is not None and name in keys else key
        table_keys[name] = column.lower() if column else None
        constraints = _reference_constraints(table, table_keys[name]) if table_keys[name] else None
        references.setdefault(name, []).append(constraints)
    constants = [e for refs in references.values() for ref in refs if ref for _op, es in ref for e in es]
    values = iter(_evaluate(constants, connection))
    selections: Selections = {}
    for name, refs in sorted(references.items()):
        conjunctions: list[tuple[Constraint, ...]] = []
        everything = False
        for ref in refs:
            constraints: list[Constraint] = []
            for op, expressions in ref or []:
                evaluated = [_as_partition_value(next(values)) for _ in expressions]
                if all(v is not None for v in evaluated):  # else: dropped, which only widens
                    constraints.append(Constraint(op, tuple(v for v in evaluated if v is not None)))
            if not constraints:
                everything = True
            conjunctions.append(tuple(constraints))
        column = table_keys[name]
        selections[name] = (
            None if everything or column is None else PartitionSelection(tuple(conjunctions), column)
        )
    return selections
