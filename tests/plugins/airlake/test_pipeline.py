"""The DAGs' shared settings: trigger-form params (JSON Schema), run plans, pools, assets, alerts."""

from __future__ import annotations

import asyncio
import importlib
import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset
from airflow.sdk.definitions.param import ParamsDict

from airlake.assets import curated_asset, days_of_events, view_asset
from airlake.contracts import get_contract
from airlake.intervals import IntervalParamError
from airlake.pipeline import interval_params, plan_run

TODAY = date(2026, 11, 25)


def _validate(params: dict, values: dict) -> dict:
    resolved = ParamsDict(params)
    for key, value in values.items():
        resolved[key] = value
    return resolved.validate()


def test_the_form_accepts_a_date_range_and_flags() -> None:
    values = {"start_date": "2026-11-16", "end_date": "2026-11-18", "full_refresh": True, "dry_run": False}
    assert _validate(interval_params(), values) == values


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"start_date": "20-11-2026"}, id="not-iso"),
        pytest.param({"start_date": "2026-02-30"}, id="no-such-day"),
        pytest.param({"dry_run": "yes"}, id="flag-not-boolean"),
    ],
)
def test_the_form_refuses_bad_values_before_a_run_exists(values: dict) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        _validate(interval_params(), values)


def test_the_reprocess_form_offers_exactly_the_contracts_and_needs_a_first_day() -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = importlib.import_module("airlake_reprocess").airlake_reprocess
    assert dag.params.get_param("dataset").schema["enum"] == [
        "clickstream",
        "fx_rates",
        "orders",
        "payments",
        "products",
    ]
    with pytest.raises(ParamValidationError):
        _validate(dict(dag.params.items()), {"dataset": "customers", "start_date": "2026-11-20"})
    with pytest.raises(ParamValidationError):
        _validate(dict(dag.params.items()), {"dataset": "orders"})


def test_plan_refuses_a_full_refresh_of_a_stream() -> None:
    with pytest.raises(IntervalParamError, match="full_refresh: clickstream has a kinesis source"):
        plan_run(
            get_contract("clickstream"),
            {"start_date": "2026-11-20", "full_refresh": True},
            None,
            None,
            today=TODAY,
        )


def test_plan_refuses_a_range_of_an_http_source_asked_one_day_per_run() -> None:
    with pytest.raises(IntervalParamError, match="fx_rates's HTTP source is asked for one interval per run"):
        plan_run(
            get_contract("fx_rates"),
            {"start_date": "2026-11-16", "end_date": "2026-11-17"},
            None,
            None,
            today=TODAY,
        )
    assert plan_run(get_contract("fx_rates"), {"start_date": "2026-11-16"}, None, None, today=TODAY)[
        "days"
    ] == ["2026-11-16"]


def test_plan_of_a_range() -> None:
    planned = plan_run(
        get_contract("orders"),
        {"start_date": "2026-11-16", "end_date": "2026-11-18", "full_refresh": True},
        None,
        None,
        today=TODAY,
    )
    assert planned["days"] == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert planned["mode"] == "full_refresh"
    assert planned["end"] == datetime(2026, 11, 19, tzinfo=UTC).isoformat()


def test_asset_events_give_the_days_to_rebuild() -> None:
    orders, rates = curated_asset("orders"), curated_asset("fx_rates")
    events = {
        orders: [SimpleNamespace(extra={"dataset": "orders", "partitions": ["2026-11-20", "2026-11-19"]})],
        rates: [
            SimpleNamespace(extra={"dataset": "fx_rates", "partitions": ["2026-11-20"]}),
            SimpleNamespace(extra={}),
        ],
    }
    assert days_of_events(events) == ["2026-11-19", "2026-11-20"]
    assert isinstance(view_asset("daily_sales"), Asset)


def test_a_dataset_whose_day_is_a_date_column_gives_the_days_that_column_holds() -> None:
    correction = {  # published on 11-24 (partition 11-24): a new rate for 11-24 and a corrected one for 11-21
        "dataset": "fx_rates",
        "partitions": ["2026-11-24"],
        "dates": {"rate_date": [["2026-11-21", "2026-11-21"], ["2026-11-24", "2026-11-24"]]},
    }
    orders = {
        "dataset": "orders",
        "partitions": ["2026-11-22"],
        "dates": {"rate_date": [["2026-01-01", "2026-01-01"]]},
    }
    events = [SimpleNamespace(extra=correction), {"extra": orders}]
    day_columns = {"orders": "dt", "fx_rates": "rate_date"}

    assert days_of_events(events, day_columns) == ["2026-11-21", "2026-11-22", "2026-11-24"]
    assert days_of_events(events) == ["2026-11-22", "2026-11-24"]  # by partition
    spanning = {**correction, "dates": {"rate_date": [["2026-11-28", "2026-12-02"]]}}
    assert days_of_events([SimpleNamespace(extra=spanning)], day_columns) == [
        "2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"
    ]  # fmt: skip
    older = {"dataset": "fx_rates", "partitions": ["2026-11-24"]}  # an event without ranges: its partitions
    assert days_of_events([SimpleNamespace(extra=older)], day_columns) == ["2026-11-24"]


def test_views_are_scheduled_on_every_dataset_their_sql_reads() -> None:
    from airlake.engines.base import referenced_tables
    from airlake.paths import sql_dir

    views = importlib.import_module("airlake_views")
    for view, day_columns in views.DAILY_VIEWS.items():
        sql = (sql_dir() / "athena" / f"{view}.sql").read_text().replace("{{ ds }}", "2026-11-20")
        datasets = set(day_columns)
        assert {name.split(".")[-1] for name in referenced_tables(sql, "airlake")} == datasets, view
        for dataset, column in day_columns.items():  # the view's day is this column: the SQL filters on it
            assert re.search(rf"\b{column}\s*=\s*(date\s*)?'2026-11-20'", sql), (view, dataset, column)
            contract = get_contract(dataset)
            assert column == contract.partition_column or contract.column(column).type == "date"
        dag = getattr(views, f"view_{view}")
        assert {asset.name for asset in dag.timetable.asset_condition.objects} == {
            f"curated.{d}" for d in datasets
        }


def test_deadline_callback_logs_the_late_run(caplog: pytest.LogCaptureFixture) -> None:
    from airlake.alerts import deadline_missed

    run = SimpleNamespace(dag_id="dataset_orders", run_id="scheduled__2026-11-20")
    message = asyncio.run(deadline_missed({"dag_run": run}, limit="3:00:00"))
    assert (
        message
        == "Airlake deadline missed: dataset_orders run scheduled__2026-11-20 not done 3:00:00 after it was queued"
    )
    assert message in caplog.text


def test_lake_operators_take_bucket_and_database_from_default_args() -> None:
    from airflow.sdk import DAG

    from airlake.operators.catalog import CatalogOperator
    from airlake.pipeline import GLUE_DATABASE, LAKE_BUCKET, default_args

    with DAG("t", schedule=None, default_args=default_args("test")):
        given = CatalogOperator(task_id="given", dataset="orders")
        own = CatalogOperator(task_id="own", dataset="orders", bucket="other", database="db2")
    assert (given.bucket, given.database) == (LAKE_BUCKET, GLUE_DATABASE)
    assert (own.bucket, own.database) == ("other", "db2")


def _dag_with_params(params: dict, tasks: int = 4):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(
        dag_id="shared_params", schedule=None, start_date=datetime(2026, 11, 1, tzinfo=UTC), params=params
    ) as dag:
        for index in range(tasks):
            EmptyOperator(task_id=f"t{index}")
    return dag


def test_check_params_once_serialises_the_same_dag_with_one_check_per_param(monkeypatch) -> None:
    import jsonschema
    from airflow.serialization.serialized_objects import DagSerialization

    from airlake.pipeline import check_params_once
    from airlake.shared_params import SharedCheckParams

    plain = DagSerialization.to_dict(_dag_with_params(interval_params()))
    calls = []
    real = jsonschema.validate
    monkeypatch.setattr(jsonschema, "validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    dag = check_params_once(_dag_with_params(interval_params()))
    assert all(isinstance(task.params, SharedCheckParams) for task in dag.tasks)
    calls.clear()
    assert DagSerialization.to_dict(dag) == plain  # same tasks, same params, same form
    assert len(calls) == len(
        interval_params()
    )  # each Param checked once for the 4 tasks' 8 dumps, not 8 times


def test_shared_checks_dump_as_paramsdict_does_and_runs_still_validate() -> None:
    from airflow.sdk.exceptions import ParamValidationError

    from airlake.pipeline import check_params_once, form_param

    params = {
        **interval_params(start_required=True),  # start_date without a default: NOTSET, dumped as None
        "bad": form_param("not-a-day", type="string", format="date"),  # an invalid default: None
    }
    dag = check_params_once(_dag_with_params(params, tasks=2))
    first, second = (task.params for task in dag.tasks)
    expected = ParamsDict(params).dump()
    assert expected["start_date"] is None and expected["bad"] is None
    assert first.dump() == expected and second.dump() == expected and first == second
    with pytest.raises(ParamValidationError):
        first.validate()  # what a run's params go through: every Param checked, none remembered
