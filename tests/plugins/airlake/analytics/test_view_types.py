"""Every view's Glue column types equal the types its SQL declares, materialised on DuckDB and on Athena.

The declared type of an output column is read from the SQL's final SELECT with sqlglot, without
any rule of type inference: a computed column must be a CAST (its target type is the declared
type) and a plain column reference takes the type of the column it names (through CTEs and
subqueries, down to the Glue table it comes from). A computed column without a CAST fails the test:
that is how the declared types stay explicit.

Every file of sql/athena/ is a view materialised into a Glue table (the views and reports DAGs);
the files of sql/athena/reports/ are not materialised (the business report reads their rows), so
for them the result types are checked instead, on both engines.

The Athena side runs offline (tests/plugins/airlake/engines/athena_fake.py): the fake writes the
UNLOAD's Parquet with the declared types, as Athena would, so what is checked is that the
materialise step registers exactly the types of the files Athena wrote. That Athena itself types
each SQL as declared, and writes those Parquet types, needs real Athena.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from airlake.analytics import materialise_view
from airlake.engines.athena import AthenaEngine
from airlake.engines.base import SQL_DIALECT, referenced_tables
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.athena_fake import FakeAthenaHook
from tests.plugins.airlake.engines.test_engine_duckdb import DS

SQL_ATHENA = Path(__file__).resolve().parents[4] / "sql" / "athena"
VIEWS = sorted(path.stem for path in SQL_ATHENA.glob("*.sql"))
REPORTS = sorted(path.stem for path in (SQL_ATHENA / "reports").glob("*.sql"))
WEEK = "2026-11-16"  # the Monday of DS's ISO week (the reports' ds)

# Glue spells a few types apart from Athena's SQL (the rest are the same words)
GLUE_OF_SQL = {"varchar": "string", "integer": "int", "real": "float"}
SQL_OF_GLUE = {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary"}
ARROW_OF_SQL = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


def _sql_type(data_type: exp.DataType) -> str:
    return "".join(data_type.sql(dialect=SQL_DIALECT).lower().split())


def source_schema(glue: Any, database: str, sql: str) -> dict[str, dict[str, dict[str, str]]]:
    """``{database: {table: {column: SQL type}}}`` of the Glue tables the SQL reads (``dt`` a string)."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for name in referenced_tables(sql, database):
        db, _, table = name.partition(".")
        glue_table = glue.get_table(DatabaseName=db, Name=table)["Table"]
        columns = glue_table["StorageDescriptor"]["Columns"] + glue_table.get("PartitionKeys", [])
        schema.setdefault(db, {})[table] = {
            c["Name"]: SQL_OF_GLUE.get(c["Type"].lower(), c["Type"].lower()) for c in columns
        }
    return schema


def declared_types(sql: str, schema: dict[str, dict[str, dict[str, str]]], database: str) -> dict[str, str]:
    """``{column: SQL type}`` of the final SELECT: a CAST's type, or the type of the column named."""
    statement = sqlglot.parse_one(sql, read=SQL_DIALECT)
    typed = annotate_types(
        qualify(statement.copy(), schema=schema, db=database, dialect=SQL_DIALECT, quote_identifiers=False),
        schema=schema,
        dialect=SQL_DIALECT,
    )
    declared: dict[str, str] = {}
    for original, annotated in zip(statement.selects, typed.selects, strict=True):
        node = original.unalias()
        if isinstance(node, exp.Cast):
            declared[annotated.alias_or_name] = _sql_type(node.to)
        elif isinstance(node, exp.Column):
            declared[annotated.alias_or_name] = _sql_type(annotated.unalias().type)
        else:
            pytest.fail(f"output column {original.sql(dialect=SQL_DIALECT)!r} is computed without a CAST")
    return declared


def arrow_type(sql_type: str) -> pa.DataType:
    if sql_type.startswith("decimal("):
        precision, scale = sql_type[len("decimal(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return ARROW_OF_SQL[sql_type]


def glue_columns(glue: Any, database: str, view: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    table = glue.get_table(DatabaseName=database, Name=view)["Table"]
    return (
        [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]],
        [(k["Name"], k["Type"]) for k in table["PartitionKeys"]],
    )


def expected_glue_columns(declared: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, GLUE_OF_SQL.get(t, t)) for name, t in declared.items() if name != "dt"]


def test_the_views_and_their_declared_types() -> None:
    assert VIEWS == ["daily_sales", "funnel_daily", "product_popularity_weekly"]  # a new view is checked too
    assert REPORTS == ["weekly_funnel", "weekly_top_countries", "weekly_top_products"]


def _materialise_all(engine: Any, glue: Any, lake: Any, database: str) -> dict[str, dict[str, str]]:
    """Materialise every view for DS; ``{view: declared types}``."""
    declared: dict[str, dict[str, str]] = {}
    for view in VIEWS:
        sql = render_sql(f"athena/{view}.sql", ds=DS, params={})
        declared[view] = declared_types(sql, source_schema(glue, database, sql), database)
        result = materialise_view(engine, glue, lake, database=database, view=view, sql=sql, ds=DS)
        assert result["rows"] > 0, view
    return declared


def _check_tables(glue: Any, database: str, declared: dict[str, dict[str, str]]) -> None:
    for view, types in declared.items():
        columns, keys = glue_columns(glue, database, view)
        assert columns == expected_glue_columns(types), view
        assert keys == [("dt", "string")], view


def _check_reports(engine: Any, glue: Any, database: str) -> None:
    for report in REPORTS:
        sql = render_sql(f"athena/reports/{report}.sql", ds=WEEK, params={})
        declared = declared_types(sql, source_schema(glue, database, sql), database)
        result = engine.run(sql)
        assert {f.name: f.type for f in result.schema} == {c: arrow_type(t) for c, t in declared.items()}, (
            report
        )


@pytest.mark.usefixtures("shop")
def test_duckdb_materialised_glue_types_equal_the_declared_types(engine, glue, lake, database) -> None:
    declared = _materialise_all(engine, glue, lake, database)

    _check_tables(glue, database, declared)
    assert declared["daily_sales"]["revenue"] == "decimal(38,2)"
    assert declared["product_popularity_weekly"]["week_start"] == "date"
    _check_reports(engine, glue, database)


@pytest.mark.usefixtures("shop")
def test_athena_materialised_glue_types_equal_the_declared_types(glue, lake, database) -> None:
    def result_schema(select: str) -> pa.Schema:
        types = declared_types(select, source_schema(glue, database, select), database)
        return pa.schema([(name, arrow_type(t)) for name, t in types.items()])

    hook = FakeAthenaHook(glue, lake, database, result_schema=result_schema, rows_per_file=4)
    athena = AthenaEngine(
        hook,  # type: ignore[arg-type]
        database,
        output_location=f"s3://{lake.bucket}/athena-results/",
        glue=glue,
        s3=lake,
        sleep_time=0,
    )
    try:
        declared = _materialise_all(athena, glue, lake, database)

        unloads = [q for q in hook.queries.values() if q["query"].startswith("UNLOAD")]
        assert len(unloads) == len(VIEWS) and all(q["files"] for q in unloads)  # Athena wrote every view
        _check_tables(glue, database, declared)
        _check_reports(athena, glue, database)  # GetQueryResults typed back from ColumnInfo
    finally:
        hook.close()
