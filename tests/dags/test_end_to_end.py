"""The shop's pipelines end to end with dag.test(): sources -> lake -> views -> report -> warehouse.

Every expected value is computed here, independently, from the generated sources (include.demo.shop and
the FX API's rates), never from what the pipeline wrote.
"""

from __future__ import annotations

import importlib
import io
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from include.demo import fx_api, publish
from include.demo.shop import generate_day
from tests.dags.conftest import point_dags_at
from tests.dags.test_dataset_pipelines import run_dataset_dag
from tests.helpers import read_object, run_dag_test

DAY = date(2026, 11, 20)
WEEK_START = date(2026, 11, 16)
AFTER_DAY = datetime(2026, 11, 21, tzinfo=UTC)


def _utc_day(text_or_moment: Any) -> date:
    moment = datetime.fromisoformat(text_or_moment) if isinstance(text_or_moment, str) else text_or_moment
    return moment.astimezone(UTC).date()


def expected_orders(days: list[date]) -> dict[int, dict[str, Any]]:
    """The latest valid row of every order delivered on ``days`` (what the warehouse must hold)."""
    latest: dict[int, dict[str, Any]] = {}
    for day in days:
        for record in generate_day(day).orders:
            if record.has("out_of_range"):
                continue
            row = record.value
            if row["order_id"] not in latest or row["updated_at"] >= latest[row["order_id"]]["updated_at"]:
                latest[row["order_id"]] = row
    return latest


def expected_daily_sales(day: date) -> list[tuple[Any, ...]]:
    rates = {r["quote_currency"]: float(r["rate"]) for r in fx_api.rates_for(day)}
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "cancelled": 0, "revenue": Decimal(0), "eur": 0.0}
    )
    for order in expected_orders([day]).values():
        if _utc_day(order["ordered_at"]) != day:
            continue
        group = groups[(order["country"], order["currency"])]
        if order["status"] == "cancelled":
            group["cancelled"] += 1
            continue
        group["orders"] += 1
        group["revenue"] += order["amount"]
        group["eur"] += float(order["amount"]) / (
            1.0 if order["currency"] == "EUR" else rates[order["currency"]]
        )
    return sorted(
        (country, currency, g["orders"], g["cancelled"], g["revenue"], round(g["eur"], 2))
        for (country, currency), g in groups.items()
    )


def valid_events(day: date) -> list[dict[str, Any]]:
    """The day's delivered clickstream events, parseable and de-duplicated by event_id."""
    seen: dict[str, dict[str, Any]] = {}
    for record in generate_day(day).clickstream:
        if not record.has("malformed"):
            seen.setdefault(record.value["event_id"], record.value)
    return list(seen.values())


def expected_funnel(day: date) -> tuple[int, int, int]:
    """(sessions, product-view sessions, purchase sessions) of the events whose UTC date is ``day``."""
    steps: dict[str, set[str]] = defaultdict(set)
    for event in valid_events(day):
        if _utc_day(event["event_time"]) == day:
            steps[event["session_id"]].add(event["event_type"])
    return (
        len(steps),
        sum("product_view" in s for s in steps.values()),
        sum("purchase" in s for s in steps.values()),
    )


def expected_top_products(day: date, week_start: date) -> list[tuple[str, int, int, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for event in valid_events(day):
        in_week = week_start <= _utc_day(event["event_time"]) < week_start + timedelta(days=7)
        if (
            in_week
            and event.get("product_id")
            and event["event_type"] in ("product_view", "add_to_cart", "purchase")
        ):
            counts[event["product_id"]][event["event_type"]] += 1
    rows = [(p, c["product_view"], c["add_to_cart"], c["purchase"]) for p, c in counts.items()]
    return sorted(rows, key=lambda r: (-r[3], -r[1], r[0]))[:10]


def _dag(module: str, dag_id: str) -> Any:
    return getattr(importlib.import_module(module), dag_id)


def _live_rows(env: dict[str, Any], glue_database: str, lake: Any, table: str) -> dict[str, list[tuple]]:
    """dt -> sorted rows of the live version Glue points at."""
    glue = env["clients"]["glue"]
    found = {}
    for partition in glue.get_partitions(DatabaseName=glue_database, TableName=table)["Partitions"]:
        location = partition["StorageDescriptor"]["Location"]
        prefix = location.split("/", 3)[3]
        rows: list[tuple] = []
        for obj in lake.list(prefix):
            if obj.key.endswith(".parquet"):
                table_data = pq.read_table(io.BytesIO(read_object(lake, obj.key)))
                rows.extend(tuple(row.values()) for row in table_data.to_pylist())
        found[partition["Values"][0]] = sorted(rows, key=repr)
    return found


def _warehouse_orders(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select order_id, customer_id, product_id, quantity, amount, currency, country, status, "
            "ordered_at, updated_at, coupon_code from orders order by order_id"
        ).fetchall()


def test_shop_day_end_to_end(pipeline_env) -> None:
    """A day of the shop through every dataset DAG, both daily views and the weekly report."""
    env, lake = pipeline_env, pipeline_env["lake"]
    publish.publish_orders(DAY, env["shop_dsn"])
    publish.publish_clickstream(DAY, env["clients"]["kinesis"])
    publish.publish_products(DAY, env["clients"]["s3"], lake.bucket)
    for dataset in ("orders", "fx_rates", "clickstream", "products"):
        assert run_dataset_dag(dataset).state == "success", dataset

    # the warehouse holds exactly the latest valid row of every delivered order
    orders = expected_orders([DAY])
    with psycopg.connect(env["warehouse_dsn"]) as conn:
        loaded = {
            row[0]: (row[1], row[2])
            for row in conn.execute("select order_id, status, amount from orders").fetchall()
        }
    assert loaded == {oid: (o["status"], o["amount"]) for oid, o in orders.items()}

    # the catalog task told the views which days changed, through the curated asset
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    def extras_of(uri: str) -> list[dict[str, Any]]:
        with create_session() as session:
            return session.scalars(
                select(AssetEvent.extra)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.uri == uri)
            ).all()

    assert any(
        DAY.isoformat() in (extra or {}).get("partitions", [])
        for extra in extras_of("x-airlake://curated/orders")
    )
    # fx_rates' events also say which rate dates changed (daily_sales' day is rate_date)
    assert any(
        [DAY.isoformat(), DAY.isoformat()] in (extra or {}).get("dates", {}).get("rate_date", [])
        for extra in extras_of("x-airlake://curated/fx_rates")
    )

    for view in ("daily_sales", "funnel_daily"):
        run = run_dag_test(
            _dag("airlake_views", f"view_{view}"),
            logical_date=AFTER_DAY,
            run_after=AFTER_DAY,
            run_conf={"start_date": str(DAY)},
        )
        assert run.state == "success", view

    from airlake.engines.duckdb_engine import DuckDBEngine

    with DuckDBEngine(env["clients"]["glue"], lake, env["glue_database"]) as engine:
        sales = engine.run(
            "select country, currency, orders, cancelled_orders, revenue, revenue_eur "
            f"from daily_sales where dt = '{DAY}'"
        ).to_pylist()
        funnel = engine.run(
            "select sessions, product_view_sessions, purchase_sessions, conversion_rate "
            f"from funnel_daily where dt = '{DAY}'"
        ).to_pylist()
    assert sorted(tuple(row.values()) for row in sales) == expected_daily_sales(DAY)
    sessions, viewed, purchased = expected_funnel(DAY)
    [row] = funnel
    assert (row["sessions"], row["product_view_sessions"], row["purchase_sessions"]) == (
        sessions,
        viewed,
        purchased,
    )
    assert row["conversion_rate"] == pytest.approx(purchased / viewed)

    # the weekly report of the week holding DAY (its run of Monday 06:00 covers the week before)
    monday_run = datetime(2026, 11, 23, 6, tzinfo=UTC)
    report_run = run_dag_test(
        _dag("airlake_reports", "business_weekly_report"), logical_date=monday_run, run_after=monday_run
    )
    assert report_run.state == "success"
    report = lake.get_json(f"reports/business/week={WEEK_START}/report.json")
    assert "<table>" in read_object(lake, f"reports/business/week={WEEK_START}/report.html").decode()
    by_country: dict[str, float] = defaultdict(float)
    for country, _currency, *_counts, revenue_eur in expected_daily_sales(DAY):
        by_country[country] += revenue_eur
    assert {r["country"]: r["revenue_eur"] for r in report["top_countries"]} == pytest.approx(by_country)
    assert [r["dt"] for r in report["funnel"]] == [str(DAY)]
    assert [
        (r["product_id"], r["product_views"], r["add_to_cart"], r["purchases"])
        for r in report["top_products"]
    ] == expected_top_products(DAY, WEEK_START)


def test_a_range_run_equals_the_daily_runs_and_a_rerun_changes_nothing(
    pipeline_env, local_services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three daily runs and one run for the three days give the same lake and warehouse; rerunning a
    day leaves both as they were."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import LakeStore

    env, daily_lake = pipeline_env, pipeline_env["lake"]
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    for day in days:
        publish.publish_orders(day, env["shop_dsn"])
        assert (
            run_dataset_dag(
                "orders", datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            ).state
            == "success"
        )
    daily_rows = _live_rows(env, env["glue_database"], daily_lake, "orders")
    daily_warehouse = _warehouse_orders(env["warehouse_dsn"])
    assert set(daily_rows) >= {str(day) for day in days}
    assert [row[0] for row in daily_warehouse] == sorted(expected_orders(days))

    # the same three days in one run, into a second lake and warehouse
    range_lake = LakeStore(S3Hook(aws_conn_id="aws_default"), f"airlake-test-{uuid.uuid4().hex[:12]}")
    range_lake.ensure_bucket()
    range_warehouse = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{range_warehouse}"')
    range_dsn = local_services.pg_database_dsn(range_warehouse)
    range_database = point_dags_at(monkeypatch, range_lake.bucket, range_dsn)
    run = run_dataset_dag(
        "orders",
        datetime(2026, 11, 21, 12, tzinfo=UTC),
        run_conf={"start_date": str(days[0]), "end_date": str(days[-1])},
    )
    assert run.state == "success"
    assert _live_rows(env, range_database, range_lake, "orders") == daily_rows
    assert _warehouse_orders(range_dsn) == daily_warehouse

    # rerunning the last day in the daily lake changes neither the lake's rows nor the warehouse
    point_dags_at(monkeypatch, daily_lake.bucket, env["warehouse_dsn"])
    assert run_dataset_dag("orders", AFTER_DAY).state == "success"
    assert _live_rows(env, env["glue_database"], daily_lake, "orders") == daily_rows
    assert _warehouse_orders(env["warehouse_dsn"]) == daily_warehouse
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{range_warehouse}" with (force)')
