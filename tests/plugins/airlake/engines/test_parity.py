"""Engine parity: the local engine (DuckDB) returns Athena's result types.

Two checks against a table of Athena's documented rules (Trino functions, Athena engine v3):
every aggregate/operator rule run on a typed table, and every file of sql/athena (views and reports)
run on the shop data with each output column's type derived from those rules.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.analytics import materialise_view
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.test_engine_duckdb import DS, shop  # noqa: F401 - the fixture

SQL_ATHENA = Path(__file__).resolve().parents[4] / "sql" / "athena"
WEEK = "2026-11-16"  # the Monday of DS's ISO week (the reports' ds)

# Athena type -> the Arrow type a result column of that type has
ARROW = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double": pa.float64(),
    "varchar": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


def arrow_type(athena_type: str) -> pa.DataType:
    if athena_type.startswith("decimal("):
        precision, scale = athena_type[len("decimal(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return ARROW[athena_type]


# (expression over the typed table, Athena's result type, the documented rule)
# https://trino.io/docs/current/functions/aggregate.html, .../functions/decimal.html, .../functions/math.html
RULES = [
    ("count(*)", "bigint", "count(*) -> bigint"),
    ("count(i)", "bigint", "count(x) -> bigint"),
    ("count(distinct s)", "bigint", "count(x) -> bigint"),
    ("count_if(i > 1)", "bigint", "count_if(x) -> bigint"),
    ("approx_distinct(s)", "bigint", "approx_distinct(x) -> bigint"),
    ("sum(ti)", "bigint", "sum of an integer type -> bigint"),
    ("sum(si)", "bigint", "sum of an integer type -> bigint"),
    ("sum(i)", "bigint", "sum of an integer type -> bigint"),
    ("sum(b)", "bigint", "sum of an integer type -> bigint"),
    ("sum(case when bo then 1 else 0 end)", "bigint", "sum of an integer type -> bigint (1 is an integer)"),
    ("sum(i) over (partition by dt)", "bigint", "sum as a window function: the same type"),
    ("sum(i) filter (where bo)", "bigint", "sum with FILTER: the same type"),
    ("sum(r)", "real", "sum(real) -> real"),
    ("sum(d)", "double", "sum(double) -> double"),
    ("sum(m)", "decimal(38,2)", "sum(decimal(p,s)) -> decimal(38,s)"),
    ("coalesce(sum(m), 0)", "decimal(38,2)", "coalesce: the common super type of decimal(38,2) and integer"),
    ("avg(i)", "double", "avg of an integer type -> double"),
    ("avg(b)", "double", "avg of an integer type -> double"),
    ("avg(d)", "double", "avg(double) -> double"),
    ("avg(r)", "real", "avg(real) -> real"),
    ("avg(m)", "decimal(12,2)", "avg(decimal(p,s)) -> decimal(p,s)"),
    ("min(m)", "decimal(12,2)", "min/max: the argument's type"),
    ("max(i)", "integer", "min/max: the argument's type"),
    ("max(case when bo then 1 else 0 end)", "integer", "min/max: the argument's type (integer literal)"),
    ("m + m2", "decimal(13,2)", "decimal(p1,s1) + decimal(p2,s2): 1 + max(s) + max(p - s) digits"),
    ("m * m2", "decimal(17,3)", "decimal(p1,s1) * decimal(p2,s2) -> decimal(p1 + p2, s1 + s2)"),
    ("i / 2", "integer", "integer / integer -> integer (truncating division)"),
    ("cast(sum(i) as double) / nullif(sum(i), 0)", "double", "double / bigint -> double"),
    ("round(d, 2)", "double", "round(double, d) -> double"),
    ("year_of_week(dd)", "bigint", "year_of_week(date) -> bigint"),
    ("week_of_year(dd)", "bigint", "week_of_year(date) -> bigint"),
    ("date(date_trunc('week', dd))", "date", "date(x) -> date"),
]

# every column of every sql/athena file: (Athena type, the rule of RULES it follows)
FILES = {
    "daily_sales": {
        "dt": ("varchar", "partition column (string)"),
        "country": ("varchar", "column"),
        "currency": ("varchar", "column"),
        "orders": ("bigint", "count_if(x) -> bigint"),
        "cancelled_orders": ("bigint", "count_if(x) -> bigint"),
        "revenue": ("decimal(38,2)", "coalesce: the common super type of decimal(38,2) and integer"),
        "revenue_eur": ("double", "round(double, d) -> double"),
    },
    "funnel_daily": {
        "dt": ("varchar", "partition column (string)"),
        "sessions": ("bigint", "count(*) -> bigint"),
        "product_view_sessions": ("bigint", "sum of an integer type -> bigint"),
        "add_to_cart_sessions": ("bigint", "sum of an integer type -> bigint"),
        "checkout_sessions": ("bigint", "sum of an integer type -> bigint"),
        "purchase_sessions": ("bigint", "sum of an integer type -> bigint"),
        "conversion_rate": ("double", "double / bigint -> double"),
    },
    "product_popularity_weekly": {
        "product_id": ("varchar", "column"),
        "product_name": ("varchar", "column"),
        "category": ("varchar", "column"),
        "week_start": ("date", "date(x) -> date"),
        "iso_year": ("bigint", "year_of_week(date) -> bigint"),
        "iso_week": ("bigint", "week_of_year(date) -> bigint"),
        "product_views": ("bigint", "count_if(x) -> bigint"),
        "add_to_cart": ("bigint", "count_if(x) -> bigint"),
        "purchases": ("bigint", "count_if(x) -> bigint"),
    },
    "reports/weekly_funnel": {
        "dt": ("varchar", "partition column (string)"),
        "sessions": ("bigint", "column (the view's bigint)"),
        "product_view_sessions": ("bigint", "column (the view's bigint)"),
        "add_to_cart_sessions": ("bigint", "column (the view's bigint)"),
        "purchase_sessions": ("bigint", "column (the view's bigint)"),
        "conversion_rate": ("double", "column (the view's double)"),
    },
    "reports/weekly_top_countries": {
        "country": ("varchar", "column"),
        "orders": ("bigint", "sum of an integer type -> bigint"),
        "revenue_eur": ("double", "round(double, d) -> double"),
        "orders_without_fx_rate": ("bigint", "sum of an integer type -> bigint"),
    },
    "reports/weekly_top_products": {
        "product_id": ("varchar", "column"),
        "product_name": ("varchar", "column"),
        "category": ("varchar", "column"),
        "product_views": ("bigint", "column (the view's bigint)"),
        "add_to_cart": ("bigint", "column (the view's bigint)"),
        "purchases": ("bigint", "column (the view's bigint)"),
    },
}

TYPED_COLUMNS = [
    ("ti", "tinyint", pa.int8(), [1, 2]),
    ("si", "smallint", pa.int16(), [3, 4]),
    ("i", "int", pa.int32(), [5, 6]),
    ("b", "bigint", pa.int64(), [7, 8]),
    ("r", "float", pa.float32(), [1.5, 2.5]),
    ("d", "double", pa.float64(), [0.25, 0.5]),
    ("m", "decimal(12,2)", pa.decimal128(12, 2), None),
    ("m2", "decimal(5,1)", pa.decimal128(5, 1), None),
    ("s", "string", pa.string(), ["a", "b"]),
    ("dd", "date", pa.date32(), None),
    ("bo", "boolean", pa.bool_(), [True, False]),
]


@pytest.fixture
def typed(lake, glue, database) -> str:
    """A Glue table ``typed`` (one partition, two rows) with a column of each Glue type."""
    from datetime import date
    from decimal import Decimal

    from airlake.catalog import ensure_database, parquet_storage_descriptor

    values = {
        "m": [Decimal("12.34"), Decimal("1.01")],
        "m2": [Decimal("1.5"), Decimal("2.0")],
        "dd": [date(2026, 11, 20), date(2026, 11, 21)],
    }
    table = pa.table(
        {
            name: pa.array(data if data is not None else values[name], arrow)
            for name, _, arrow, data in TYPED_COLUMNS
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    lake.put_bytes("curated/typed/dt=2026-11-20/v=1/part-00000.parquet", buffer.getvalue())
    ensure_database(glue, database)
    columns = [{"Name": name, "Type": glue_type} for name, glue_type, _, _ in TYPED_COLUMNS]
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "typed",
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "StorageDescriptor": parquet_storage_descriptor(columns, f"s3://{lake.bucket}/curated/typed/"),
        },
    )
    glue.create_partition(
        DatabaseName=database,
        TableName="typed",
        PartitionInput={
            "Values": ["2026-11-20"],
            "StorageDescriptor": parquet_storage_descriptor(
                columns, f"s3://{lake.bucket}/curated/typed/dt=2026-11-20/v=1/"
            ),
        },
    )
    return "typed"


def test_aggregates_and_operators_return_athenas_types(lake, glue, database, typed) -> None:
    with DuckDBEngine(glue, lake, database) as engine:
        wrong = {}
        for expression, athena_type, rule in RULES:
            result = engine.run(f"select {expression} as x from {typed}")
            if result.schema.field("x").type != arrow_type(athena_type):
                wrong[expression] = f"{result.schema.field('x').type}, Athena: {athena_type} ({rule})"
        assert wrong == {}
        # the values agree with Trino's too: integer division truncates, sums are exact integers
        row = engine.run(
            f"select i / 2 as q, sum(b) as total, count_if(bo) as n from {typed} group by i / 2"
        ).to_pylist()
        assert sorted(row, key=lambda r: r["q"]) == [
            {"q": 2, "total": 7, "n": 1},
            {"q": 3, "total": 8, "n": 0},
        ]


def test_every_sql_athena_file_returns_the_types_of_athenas_rules(lake, glue, database, shop) -> None:  # noqa: F811
    rules = {rule for _, _, rule in RULES}
    files = sorted(str(p.relative_to(SQL_ATHENA).with_suffix("")) for p in SQL_ATHENA.rglob("*.sql"))
    assert files == sorted(FILES)  # a new file needs its expected types here
    with DuckDBEngine(glue, lake, database) as engine:
        wrong = {}
        for name in files:
            expected = FILES[name]
            assert {rule for _, rule in expected.values()} - rules <= {
                "column",
                "partition column (string)",
                "column (the view's bigint)",
                "column (the view's double)",
            }
            is_report = name.startswith("reports/")
            sql = render_sql(f"athena/{name}.sql", ds=WEEK if is_report else DS, params={})
            result = engine.run(sql)
            actual = {field.name: field.type for field in result.schema}
            assert list(actual) == list(expected), name
            for column, (athena_type, rule) in expected.items():
                if actual[column] != arrow_type(athena_type):
                    wrong[f"{name}.{column}"] = f"{actual[column]}, Athena: {athena_type} ({rule})"
            if not is_report:  # the reports read the views: materialise them (their Glue types too)
                assert result.num_rows > 0, name
                materialise_view(engine, glue, lake, database=database, view=name, sql=sql, ds=DS)
        assert wrong == {}
        views = {
            name: {
                c["Name"]: c["Type"]
                for c in glue.get_table(DatabaseName=database, Name=name)["Table"]["StorageDescriptor"][
                    "Columns"
                ]
            }
            for name in ("funnel_daily", "daily_sales", "product_popularity_weekly")
        }
    assert views["funnel_daily"]["purchase_sessions"] == "bigint"
    assert views["daily_sales"]["orders"] == "bigint"
    assert views["daily_sales"]["revenue"] == "decimal(38,2)"
    assert views["product_popularity_weekly"]["purchases"] == "bigint"
