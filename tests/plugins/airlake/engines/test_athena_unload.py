"""AthenaEngine offline: typed result reading (ColumnInfo) and UNLOAD, against a stub and the fake Athena.

What real Athena would do differently is not checked here: its own result typing, the Parquet its
UNLOAD writes (encodings, file sizes and count) and the ColumnInfo spellings of rarer types.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from airlake.engines import QueryEngineError
from airlake.engines.athena import AthenaEngine, arrow_type_of_column, unload_statement
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.athena_fake import FakeAthenaHook
from tests.plugins.airlake.engines.test_engine_duckdb import DS, shop  # noqa: F401 - the fixture


def test_unload_statement_writes_zstd_parquet_with_dt_as_folder() -> None:
    statement = unload_statement(
        "select a, dt from t;\n", "s3://lake/analytics/v/dt=2026-11-20/v=1/_unload/", partitioned_by=["dt"]
    )
    assert statement == (
        "UNLOAD (\nselect a, dt from t\n) TO 's3://lake/analytics/v/dt=2026-11-20/v=1/_unload/' "
        "WITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['dt'])"
    )
    assert unload_statement("select 1 as a", "s3://b/p/").endswith(
        "WITH (format = 'PARQUET', compression = 'ZSTD')"
    )
    for location in ("s3://b/no-slash", "/local/", "s3://b/it's/"):
        with pytest.raises(QueryEngineError, match="folder location"):
            unload_statement("select 1 as a", location)
    with pytest.raises(QueryEngineError, match="unsafe partition column"):
        unload_statement("select 1 as a", "s3://b/p/", partitioned_by=["dt']"])


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"Type": "decimal", "Precision": 38, "Scale": 2}, pa.decimal128(38, 2)),
        ({"Type": "decimal", "Precision": 12, "Scale": 0}, pa.decimal128(12, 0)),
        ({"Type": "date"}, pa.date32()),
        ({"Type": "timestamp", "Precision": 3}, pa.timestamp("us")),
        ({"Type": "bigint"}, pa.int64()),
        ({"Type": "integer"}, pa.int32()),
        ({"Type": "double"}, pa.float64()),
        ({"Type": "real"}, pa.float32()),
        ({"Type": "boolean"}, pa.bool_()),
        ({"Type": "varchar"}, None),
        ({"Type": "timestamp with time zone"}, None),
        ({"Type": "array"}, None),
    ],
)
def test_column_info_types(info: dict[str, Any], expected: pa.DataType | None) -> None:
    assert arrow_type_of_column({"Name": "x", **info}) == expected


class _PagesHook:
    """GetQueryResults pages as Athena returns them: strings, header row first, 1,000 rows a page."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def get_query_results_paginator(self, query_execution_id: str) -> list[dict[str, Any]]:
        return self.pages


def test_fetch_types_decimal_date_and_timestamp_from_the_result_metadata() -> None:
    info = [
        {"Name": "revenue", "Type": "decimal", "Precision": 38, "Scale": 2},
        {"Name": "day", "Type": "date", "Precision": 0, "Scale": 0},
        {"Name": "at", "Type": "timestamp", "Precision": 3, "Scale": 0},
        {"Name": "orders", "Type": "bigint", "Precision": 19, "Scale": 0},
        {"Name": "country", "Type": "varchar", "Precision": 2147483647, "Scale": 0},
    ]
    rows = [{"Data": [{"VarCharValue": c["Name"]} for c in info]}]
    for i in range(2500):
        rows.append(
            {
                "Data": [
                    {"VarCharValue": f"{i}.25"},
                    {"VarCharValue": "2026-11-20"},
                    {"VarCharValue": "2026-11-20 10:11:12.123"},
                    {"VarCharValue": str(i)},
                    {} if i % 2 else {"VarCharValue": "DE"},  # NULL: no VarCharValue
                ]
            }
        )
    pages = [
        {"ResultSet": {"Rows": rows[start : start + 1000], "ResultSetMetadata": {"ColumnInfo": info}}}
        for start in range(0, len(rows), 1000)
    ]
    engine = AthenaEngine(_PagesHook(pages), "db", output_location="s3://b/r/")  # type: ignore[arg-type]

    result = engine.fetch("q")

    assert result.schema == pa.schema(
        [
            ("revenue", pa.decimal128(38, 2)),
            ("day", pa.date32()),
            ("at", pa.timestamp("us")),
            ("orders", pa.int64()),
            ("country", pa.string()),
        ]
    )
    assert result.num_rows == 2500  # three pages, the header row left out
    assert result.slice(1, 1).to_pylist() == [
        {
            "revenue": Decimal("1.25"),
            "day": date(2026, 11, 20),
            "at": datetime(2026, 11, 20, 10, 11, 12, 123000),
            "orders": 1,
            "country": None,
        }
    ]


def test_fetch_names_a_value_that_does_not_read_as_its_type() -> None:
    info = [{"Name": "revenue", "Type": "decimal", "Precision": 5, "Scale": 2}]
    pages = [
        {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": "revenue"}]}, {"Data": [{"VarCharValue": "n/a"}]}],
                "ResultSetMetadata": {"ColumnInfo": info},
            }
        }
    ]
    engine = AthenaEngine(_PagesHook(pages), "db", output_location="s3://b/r/")  # type: ignore[arg-type]
    with pytest.raises(QueryEngineError, match="column 'revenue' of type decimal"):
        engine.fetch("q")


@pytest.fixture
def fake_athena(glue, lake, database):
    hook = FakeAthenaHook(glue, lake, database, rows_per_file=5)
    yield hook
    hook.close()


def _athena(hook: FakeAthenaHook, lake, glue, database: str) -> AthenaEngine:
    return AthenaEngine(
        hook,  # type: ignore[arg-type]
        database,
        output_location=f"s3://{lake.bucket}/athena-results/",
        glue=glue,
        s3=lake,
        sleep_time=0,
    )


@pytest.mark.usefixtures("shop")
def test_a_view_read_through_athena_results_keeps_its_types(fake_athena, lake, glue, database) -> None:
    sql = render_sql("athena/daily_sales.sql", ds=DS, params={})
    athena = _athena(fake_athena, lake, glue, database)

    result = athena.run(sql)
    local = fake_athena.engine.run(sql)

    assert result.schema == local.schema  # revenue decimal(38,2), not the strings of GetQueryResults
    assert result.schema.field("revenue").type == pa.decimal128(38, 2)
    keys = [("country", "ascending"), ("currency", "ascending")]
    assert result.sort_by(keys).to_pylist() == local.sort_by(keys).to_pylist()


@pytest.mark.usefixtures("shop")
def test_unload_writes_parquet_files_under_the_partition_folder(fake_athena, lake, glue, database) -> None:
    athena = _athena(fake_athena, lake, glue, database)
    target = f"s3://{lake.bucket}/scratch/unload/"
    select = f"select country, currency, amount, dt from orders where dt = '{DS}'"

    athena.unload(select, target, partitioned_by=["dt"], encryption={"EncryptionOption": "SSE_S3"})

    record = fake_athena.queries[athena.query_execution_id]  # kept for on_kill
    assert record["query"] == unload_statement(select, target, partitioned_by=["dt"])
    assert record["result_configuration"] == {
        "OutputLocation": f"s3://{lake.bucket}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    keys = sorted(obj.key for obj in lake.list("scratch/unload/"))
    assert keys and all(key.startswith(f"scratch/unload/dt={DS}/") for key in keys)
    assert not any(key.endswith(".parquet") for key in keys)  # Athena's names: <query id>_<uuid>
    assert athena.bytes_scanned > 0

    with pytest.raises(QueryEngineError, match="HIVE_PATH_ALREADY_EXISTS"):  # a target with data
        athena.unload(select, target, partitioned_by=["dt"])
