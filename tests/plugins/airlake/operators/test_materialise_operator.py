"""MaterialiseOperator against the session's moto server: funnel_daily rendered, run on DuckDB, published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlake.engines import ScanBudgetExceeded
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.lake import manifest_key
from airlake.operators.materialise import MaterialiseOperator
from airlake.pipeline import ATHENA_OUTPUT, ATHENA_WORKGROUP, QUERY_ENGINE
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.conftest import curated
from tests.plugins.airlake.engines.test_engine_duckdb import DS, shop

__all__ = ["curated", "shop"]  # fixtures of the engine tests, reused

RUN_ID = "scheduled__2026-11-21T00:00:00+00:00"


def _context(ds: str = DS) -> dict[str, Any]:
    start = datetime.fromisoformat(ds).replace(tzinfo=UTC)
    return {
        "run_id": RUN_ID,
        "ds": ds,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1),
        "params": {},
    }


def test_template_fields_are_the_arguments() -> None:
    operator = MaterialiseOperator(task_id="m", view="funnel_daily", bucket="b", database="d")
    assert set(operator.template_fields) >= {"view", "bucket", "database", "engine", "scan_limit_bytes"}
    assert {"aws_conn_id", "region_name"} <= set(operator.template_fields)
    for name in operator.template_fields:
        assert hasattr(operator, name), name
    assert operator.engine == QUERY_ENGINE  # rendered at run time
    assert (operator.athena_output_location, operator.workgroup) == (ATHENA_OUTPUT, ATHENA_WORKGROUP)


@pytest.mark.parametrize("view", ["Funnel", "funnel-daily", "../daily_sales", "no_such_view"])
def test_view_is_validated(view: str) -> None:
    with pytest.raises(ValueError, match="view"):
        MaterialiseOperator(task_id="m", view=view, bucket="b", database="d")


@pytest.mark.parametrize("ds", ["2026-11-31", "2026-11-20' or 1=1 --", "{{ ds }}", ""])
def test_a_day_that_is_not_a_date_is_refused_before_any_query(ds: str) -> None:
    operator = MaterialiseOperator(task_id="m", view="funnel_daily", ds=ds, bucket="b", database="d")
    with pytest.raises(ValueError, match="ds must be a date YYYY-MM-DD"):
        operator.execute(_context())  # type: ignore[arg-type]


def test_athena_needs_output_location_and_workgroup(lake, glue, database) -> None:
    operator = MaterialiseOperator(
        task_id="m",
        view="funnel_daily",
        ds=DS,
        bucket=lake.bucket,
        database=database,
        engine="athena",
        athena_output_location=None,  # as when the Variables of the defaults are not set
        workgroup=None,
    )
    with pytest.raises(ValueError, match="athena_output_location and workgroup"):
        operator.execute(_context())  # type: ignore[arg-type]


def test_unknown_engine_is_refused(lake, database) -> None:
    operator = MaterialiseOperator(
        task_id="m", view="funnel_daily", ds=DS, bucket=lake.bucket, database=database, engine="spark"
    )
    with pytest.raises(ValueError, match="engine must be one of"):
        operator.execute(_context())  # type: ignore[arg-type]


def test_execute_materialises_funnel_daily(shop, glue, lake, database) -> None:
    operator = MaterialiseOperator(
        task_id="materialise_funnel_daily",
        view="funnel_daily",
        ds=DS,
        bucket=lake.bucket,
        database=database,
        engine="duckdb",
        scan_limit_bytes=10**9,
    )
    result = operator.execute(_context())  # type: ignore[arg-type]

    assert result["view"] == "funnel_daily"
    assert result["dt"] == DS
    assert result["rows"] == 1
    assert result["bytes_scanned"] > 0
    assert result["location"].startswith(f"s3://{lake.bucket}/analytics/funnel_daily/dt={DS}/v=")
    partition = glue.get_partition(DatabaseName=database, TableName="funnel_daily", PartitionValues=[DS])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == result["location"]
    assert (
        lake.get_json(manifest_key("analytics_funnel_daily", RUN_ID, "materialise"))["status"] == "complete"
    )

    with DuckDBEngine(glue, lake, database) as reader:
        expected = reader.run(render_sql("athena/funnel_daily.sql", ds=DS)).to_pylist()
        back = reader.run(f"select * from funnel_daily where dt = '{DS}'").to_pylist()
    assert back == expected


def test_scan_budget_fails_the_task(shop, glue, lake, database) -> None:
    operator = MaterialiseOperator(
        task_id="m",
        view="funnel_daily",
        ds=DS,
        bucket=lake.bucket,
        database=database,
        engine="duckdb",
        scan_limit_bytes=1,
    )
    with pytest.raises(ScanBudgetExceeded, match="above the limit of 1 bytes"):
        operator.execute(_context())  # type: ignore[arg-type]


def test_on_kill_stops_the_athena_query() -> None:
    class FakeAthena:
        killed = False

        def on_kill(self) -> None:
            self.killed = True

    operator = MaterialiseOperator(task_id="m", view="funnel_daily", bucket="b", database="d")
    operator.on_kill()  # nothing running: nothing to do
    engine = FakeAthena()
    operator._query_engine = engine  # type: ignore[assignment]
    operator.on_kill()
    assert engine.killed
