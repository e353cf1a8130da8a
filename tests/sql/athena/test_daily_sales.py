"""sql/athena/daily_sales.sql and its rates: a day's FX rate missing gives revenue_eur unknown (null),
never 0, and the day converts once its rate is published (the rebuild its fx_rates asset event
triggers); a day reads the rates published from the day before on, not the whole history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from airlake.analytics import materialise_view
from airlake.engines import check_scan_budget
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.conftest import curated

__all__ = ["curated"]

DS = "2026-11-18"
NOON = datetime(2026, 11, 18, 12, tzinfo=UTC)


def _order(order_id: int, amount: str, currency: str, country: str, status: str = "paid") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": 7,
        "product_id": "SKU-1",
        "quantity": 1,
        "amount": Decimal(amount),
        "currency": currency,
        "country": country,
        "status": status,
        "ordered_at": NOON,
        "updated_at": NOON,
    }


def _rate(quote: str, rate: str) -> dict[str, Any]:
    return {
        "rate_date": date.fromisoformat(DS),
        "base_currency": "EUR",
        "quote_currency": quote,
        "rate": Decimal(rate),
        "published_at": datetime(2026, 11, 18, 15, tzinfo=UTC),
    }


ORDERS = [
    _order(1, "100.00", "EUR", "DE"),
    _order(2, "50.00", "EUR", "DE", "cancelled"),
    _order(3, "110.00", "USD", "US"),
    _order(4, "55.00", "USD", "US"),
    _order(5, "85.00", "GBP", "GB"),
    _order(6, "42.00", "GBP", "GB"),
    _order(7, "30.00", "CHF", "CH", "cancelled"),  # only cancelled: nothing to convert
]


def _daily_sales(engine: DuckDBEngine) -> dict[str, tuple[Any, ...]]:
    rows = engine.run(render_sql("athena/daily_sales.sql", ds=DS, params={})).to_pylist()
    return {r["country"]: (r["orders"], r["cancelled_orders"], r["revenue"], r["revenue_eur"]) for r in rows}


def test_a_currency_without_a_rate_that_day_has_no_eur_revenue_until_its_rate_arrives(
    lake, glue, database, curated
) -> None:
    curated.publish("orders", {DS: ORDERS}, "v1")
    curated.publish("fx_rates", {DS: [_rate("USD", "1.10000000")]}, "v1")  # GBP's rate is not published yet

    with DuckDBEngine(glue, lake, database) as engine:
        before = _daily_sales(engine)
        assert before == {
            "DE": (1, 1, Decimal("100.00"), 100.0),
            "US": (2, 0, Decimal("165.00"), 150.0),
            "GB": (2, 0, Decimal("127.00"), None),  # unknown, not 0
            "CH": (0, 1, Decimal("0.00"), 0.0),  # no live order: nothing to convert
        }
        built = materialise_view(
            engine, glue, lake, database=database, view="daily_sales",
            sql=render_sql("athena/daily_sales.sql", ds=DS, params={}), ds=DS,
        )  # fmt: skip
        assert built["rows"] == 4
        stored = engine.run(f"select country, revenue_eur from daily_sales where dt = '{DS}'").to_pylist()
        assert {r["country"]: r["revenue_eur"] for r in stored}["GB"] is None

    curated.publish("fx_rates", {DS: [_rate("USD", "1.10000000"), _rate("GBP", "0.84666667")]}, "v2")
    with DuckDBEngine(glue, lake, database) as engine:
        after = _daily_sales(engine)
    assert after["GB"] == (2, 0, Decimal("127.00"), round(85 / 0.84666667 + 42 / 0.84666667, 2))
    assert {country: row for country, row in after.items() if country != "GB"} == {
        country: row for country, row in before.items() if country != "GB"
    }


def test_a_day_reads_the_rates_published_from_the_day_before_on_not_the_whole_history(
    lake, glue, database, curated
) -> None:
    day = date.fromisoformat(DS)

    def published(rate_date: date, on: date, quote: str, rate: str) -> dict[str, Any]:
        return {
            **_rate(quote, rate),
            "rate_date": rate_date,
            "published_at": datetime.combine(on, NOON.time(), UTC),
        }

    history = {  # 30 days of earlier rates, which this day's view has no reason to read
        (day - timedelta(days=back)).isoformat(): [
            published(day - timedelta(days=back), day - timedelta(days=back), "USD", "1.30000000")
        ]
        for back in range(2, 32)
    }
    history[(day - timedelta(days=1)).isoformat()] = [
        published(day, day - timedelta(days=1), "GBP", "0.80000000")
    ]
    history[DS] = [published(day, day, "USD", "1.10000000")]
    history[(day + timedelta(days=3)).isoformat()] = [
        published(day, day + timedelta(days=3), "USD", "1.00000000")
    ]
    curated.publish("orders", {DS: ORDERS}, "v1")
    curated.publish("fx_rates", history, "v1")

    with DuckDBEngine(glue, lake, database) as engine:
        sales = _daily_sales(engine)
        estimates = check_scan_budget(
            engine, render_sql("athena/daily_sales.sql", ds=DS, params={}), limit_bytes=10**9
        )
    read = [dt for dt in history if dt >= (day - timedelta(days=1)).isoformat()]
    assert estimates[f"{database}.fx_rates"] == sum(
        obj.size for dt in read for obj in lake.list(f"curated/fx_rates/dt={dt}/")
    )
    assert len(read) == 3 < len(history)
    assert sales["US"][3] == 165.0  # the correction published three days later wins
    assert sales["GB"][3] == round(127 / 0.8, 2)  # published the day before the day it is for
