"""Partition pruning: which ``dt`` partitions of each table a query can read at most.

A query's ``WHERE`` clauses are analysed with sqlglot (a safe, conservative analysis): for every
reference of a table, the top-level ``AND`` conjuncts of the ``WHERE`` of the ``SELECT`` that reads
the table directly are kept when they compare that table's ``dt`` with a constant (``=``, ``IN``,
``BETWEEN``, ``<``, ``<=``, ``>``, ``>=``, either side). Constants may be expressions without
columns or sub-queries (``cast(date(date_trunc('week', date '2026-11-20')) as varchar)``): they are
evaluated once by an in-process DuckDB, as the local engine would. Anything else (``OR``, a function
of ``dt``, a predicate on a CTE's output, an unqualified ``dt`` in a join, a non-string constant)
widens the selection, never narrows it: a reference without a usable predicate selects every
partition. All comparison predicates are null-rejecting, so pruning a table read under an outer
join gives the same rows.

The selection of a table is the union over its references. It is applied twice: as a Glue
``get_partitions`` ``Expression`` (fewer partitions listed) and again in Python on the values Glue
returns (the result does not depend on how well the catalog evaluates expressions).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airlake.engines.base import SQL_DIALECT, table_references

PARTITION_KEY = "dt"
GLUE_EXPRESSION_MAX = 2048
"""Glue's limit on the length of a get_partitions Expression; longer selections filter in Python."""
_GLUE_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_:.\- ]{0,64}$")
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

    def matches(self, value: str) -> bool:
        return any(all(c.matches(value) for c in conjunction) for conjunction in self.conjunctions)

    def glue_expression(self, key: str = PARTITION_KEY) -> str | None:
        """A Glue ``get_partitions`` Expression selecting (at least) these partitions; None when the
        values are not plain enough to quote safely or the expression would be too long."""
        values = [v for conjunction in self.conjunctions for c in conjunction for v in c.values]
        if not all(_GLUE_SAFE_VALUE.match(v) for v in values):
            return None
        terms = [" and ".join(c.glue(key) for c in conjunction) for conjunction in self.conjunctions]
        expression = " or ".join(f"({term})" for term in terms)
        return expression if len(expression) <= GLUE_EXPRESSION_MAX else None


Selections = dict[str, PartitionSelection | None]
"""``database.table`` -> its selection; None: every partition."""


def _evaluate(expressions: Iterable[Any]) -> list[Any]:
    """Values of constant SQL expressions (Trino), computed by DuckDB in one SELECT."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    expressions = list(expressions)
    if not expressions:
        return []
    select = exp.select(*[e.copy() for e in expressions])
    try:
        sql = sqlglot.transpile(select.sql(dialect=SQL_DIALECT), read=SQL_DIALECT, write="duckdb")[0]
        with duckdb.connect() as connection:
            connection.execute("set TimeZone = 'UTC'")
            row = connection.execute(sql).fetchone()
    except Exception:
        return [None] * len(expressions)
    return list(row or [None] * len(expressions))


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


def partition_selections(sql: str, database: str, key: str = PARTITION_KEY) -> Selections:
    """
    ``{database.table: selection}`` for every table the query reads (None: every partition).

    :param sql: Athena (Trino) SQL, rendered.
    :param database: the database of bare table names.
    :param key: the partition column.
    """
    references: dict[str, list[list[tuple[str, list[Any]]] | None]] = {}
    for name, table in table_references(sql, database):
        references.setdefault(name, []).append(_reference_constraints(table, key))
    constants = [e for refs in references.values() for ref in refs if ref for _op, es in ref for e in es]
    values = iter(_evaluate(constants))
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
        selections[name] = None if everything else PartitionSelection(tuple(conjunctions))
    return selections
