"""DuckDBEngine over the session's moto server: the sql/athena views against pandas, live versions only,
and the scan budget."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from airlake.engines import ScanBudgetExceeded, check_scan_budget, referenced_tables
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.sql_text import render_sql

DS = "2026-11-20"  # a Friday: its ISO week runs from Monday 2026-11-16 to Sunday 2026-11-22
DAYS = [(date(2026, 11, 14) + timedelta(days=i)).isoformat() for i in range(10)]  # 11-14 .. 11-23
PRODUCTS = [f"SKU-{i}" for i in range(1, 7)]  # SKU-6 is not in the catalogue


def _at(dt: str, seconds: int) -> datetime:
    return datetime.fromisoformat(dt).replace(tzinfo=UTC) + timedelta(seconds=seconds)


def make_orders(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    partitions: dict[str, list[dict[str, Any]]] = {}
    order_id = 0
    for dt in DAYS[4:8]:  # 11-18 .. 11-21
        rows = []
        for _ in range(40):
            order_id += 1
            at = _at(dt, rng.randrange(86_400))
            rows.append(
                {
                    "order_id": order_id,
                    "customer_id": rng.randrange(1, 20),
                    "product_id": rng.choice(PRODUCTS),
                    "quantity": rng.randrange(1, 5),
                    "amount": Decimal(rng.randrange(100, 50_000)) / 100,
                    "currency": rng.choice(["EUR", "USD", "GBP"]),
                    "country": rng.choice(["DE", "FR", "US"]),
                    "status": rng.choice(["placed", "paid", "shipped", "cancelled"]),
                    "ordered_at": at,
                    "updated_at": at,
                }
            )
        partitions[dt] = rows
    return partitions


def make_fx_rates() -> dict[str, list[dict[str, Any]]]:
    def rate(day: str, quote: str, value: str, published: datetime) -> dict[str, Any]:
        return {
            "rate_date": date.fromisoformat(day),
            "base_currency": "EUR",
            "quote_currency": quote,
            "rate": Decimal(value),
            "published_at": published,
        }

    return {
        "2026-11-19": [
            rate("2026-11-19", "USD", "1.05000000", _at("2026-11-19", 3600)),
            rate("2026-11-19", "GBP", "0.84000000", _at("2026-11-19", 3600)),
        ],
        "2026-11-20": [
            rate(DS, "USD", "1.10000000", _at(DS, 3600)),
            rate(DS, "GBP", "0.85000000", _at(DS, 3600)),
        ],
        # a correction of the 11-20 USD rate, published the next day: it wins
        "2026-11-21": [
            rate(DS, "USD", "1.08000000", _at("2026-11-21", 600)),
            rate("2026-11-21", "USD", "1.20000000", _at("2026-11-21", 3600)),
        ],
    }


def make_clickstream(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    steps = ["product_view", "add_to_cart", "checkout", "purchase"]
    partitions: dict[str, list[dict[str, Any]]] = {}
    event = 0
    for dt in DAYS:
        rows = []
        for session in range(25):
            session_id = f"{dt}-s{session}"
            depth = rng.randrange(0, 5)  # 0: page views only
            events = ["page_view"] * rng.randrange(1, 3)
            for step in steps[:depth]:
                events += [step] * rng.randrange(1, 3)
            if rng.random() < 0.1:  # a purchase without a product view (e.g. a re-order link)
                events = ["page_view", "purchase"]
            product = rng.choice(PRODUCTS)
            for kind in events:
                event += 1
                rows.append(
                    {
                        "event_id": f"e{event}",
                        "session_id": session_id,
                        "user_id": None,
                        "event_type": kind,
                        "product_id": None if kind == "page_view" else product,
                        "platform": rng.choice(["web", "ios", "android"]),
                        "event_time": _at(dt, rng.randrange(86_400)),
                    }
                )
        partitions[dt] = rows
    return partitions


def make_products() -> dict[str, list[dict[str, Any]]]:
    def product(sku: str, name: str, category: str, dt: str) -> dict[str, Any]:
        return {
            "product_id": sku,
            "name": name,
            "category": category,
            "price": Decimal("9.99"),
            "currency": "EUR",
            "updated_at": _at(dt, 60),
        }

    return {
        "2026-11-14": [
            product(f"SKU-{i}", f"Product {i}", f"cat-{i % 2}", "2026-11-14") for i in range(1, 6)
        ],
        "2026-11-19": [product("SKU-2", "Product 2 (renamed)", "cat-9", "2026-11-19")],
    }


def frame(partitions: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    return pd.DataFrame([{**row, "dt": dt} for dt, rows in partitions.items() for row in rows])


@pytest.fixture
def shop(curated) -> dict[str, pd.DataFrame]:
    """Live orders, fx_rates, clickstream, products in the lake and Glue; a stale v0 of orders below."""
    rng = random.Random(20261120)  # noqa: S311 - seeded test data
    data = {
        "orders": make_orders(rng),
        "fx_rates": make_fx_rates(),
        "clickstream": make_clickstream(rng),
        "products": make_products(),
    }
    stale = {DS: [{**row, "order_id": 9000 + i} for i, row in enumerate(data["orders"][DS][:5])]}
    curated.publish("orders", stale, "v0")  # published first, then superseded by v1
    for dataset, partitions in data.items():
        curated.publish(dataset, partitions, "v1")
    return {dataset: frame(partitions) for dataset, partitions in data.items()}


@pytest.fixture
def engine(lake, glue, database):
    with DuckDBEngine(glue, lake, database) as engine:
        yield engine


def run_view(engine: DuckDBEngine, name: str) -> pd.DataFrame:
    return engine.run(render_sql(f"athena/{name}.sql", ds=DS, params={"dataset": "orders"})).to_pandas()


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    actual = actual[list(expected.columns)].sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    assert len(actual) > 0
    for column in expected.columns:
        if expected[column].dtype == object and isinstance(expected[column].iloc[0], Decimal):
            expected[column] = expected[column].astype(float)
            actual[column] = actual[column].astype(float)
        elif not pd.api.types.is_numeric_dtype(expected[column]):  # strings, dates: nulls alike
            expected[column] = expected[column].astype(object).where(expected[column].notna(), None)
            actual[column] = actual[column].astype(object).where(actual[column].notna(), None)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, atol=1e-9)


def test_daily_sales_matches_pandas(engine, shop) -> None:
    orders = shop["orders"]
    fx = shop["fx_rates"]
    fx = fx[(fx.base_currency == "EUR") & (fx.rate_date == date.fromisoformat(DS))]
    fx = fx.sort_values("published_at").groupby("quote_currency").tail(1)
    rates = {**dict(zip(fx.quote_currency, fx.rate.astype(float), strict=True)), "EUR": 1.0}
    assert rates["USD"] == 1.08  # the correction
    day = orders[orders.dt == DS].copy()
    day["live"] = day.status != "cancelled"
    day["eur"] = day.amount.astype(float) / day.currency.map(rates)
    expected = (
        day.groupby(["dt", "country", "currency"])
        .apply(
            lambda g: pd.Series(
                {
                    "orders": int(g.live.sum()),
                    "cancelled_orders": int((~g.live).sum()),
                    "revenue": float(g.amount[g.live].astype(float).sum()),
                    "revenue_eur": round(float(g.eur[g.live].sum()), 2),
                }
            ),
            include_groups=False,
        )
        .reset_index()
    )

    actual = run_view(engine, "daily_sales")

    actual["revenue"] = actual.revenue.astype(float)
    assert_same(actual, expected, ["country", "currency"])
    assert engine.bytes_scanned and engine.bytes_scanned > 0


def test_funnel_daily_matches_pandas(engine, shop) -> None:
    events = shop["clickstream"]
    day = events[events.dt == DS]
    steps = day.groupby("session_id").event_type.agg(set)

    def sessions_with(kind: str) -> int:
        return int(steps.map(lambda kinds: kind in kinds).sum())

    views = sessions_with("product_view")
    expected = pd.DataFrame(
        [
            {
                "dt": DS,
                "sessions": len(steps),
                "product_view_sessions": views,
                "add_to_cart_sessions": sessions_with("add_to_cart"),
                "checkout_sessions": sessions_with("checkout"),
                "purchase_sessions": sessions_with("purchase"),
                "conversion_rate": sessions_with("purchase") / views,
            }
        ]
    )

    assert_same(run_view(engine, "funnel_daily"), expected, ["dt"])


def test_product_popularity_weekly_matches_pandas(engine, shop) -> None:
    events = shop["clickstream"]
    week_start = date(2026, 11, 16)
    in_week = events.dt.map(lambda dt: week_start <= date.fromisoformat(dt) < week_start + timedelta(days=7))
    week = events[in_week & events.product_id.notna()]
    counts = (
        pd.crosstab(week.product_id, week.event_type)
        .reindex(columns=["product_view", "add_to_cart", "purchase"], fill_value=0)
        .rename(columns={"product_view": "product_views", "purchase": "purchases"})
        .reset_index()
    )
    counts = counts[counts[["product_views", "add_to_cart", "purchases"]].sum(axis=1) > 0]
    products = shop["products"].sort_values("updated_at").groupby("product_id").tail(1)
    expected = counts.merge(products[["product_id", "name", "category"]], on="product_id", how="left")
    expected = expected.rename(columns={"name": "product_name"})
    expected["week_start"] = week_start
    expected["iso_year"], expected["iso_week"] = week_start.isocalendar()[:2]
    expected = expected[
        [
            "product_id",
            "product_name",
            "category",
            "week_start",
            "iso_year",
            "iso_week",
            "product_views",
            "add_to_cart",
            "purchases",
        ]
    ]

    actual = run_view(engine, "product_popularity_weekly")

    assert_same(actual, expected, ["product_id"])
    assert set(actual.product_id) == set(PRODUCTS)
    renamed = actual[actual.product_id == "SKU-2"].iloc[0]
    assert (renamed.product_name, renamed.category) == ("Product 2 (renamed)", "cat-9")
    assert actual[actual.product_id == "SKU-6"].product_name.isna().all()


def test_reads_only_the_live_version(engine, shop, lake) -> None:
    stale_keys = [obj.key for obj in lake.list("curated/orders/") if "/v=v0/" in obj.key]
    assert stale_keys  # the superseded version is still in the lake

    result = engine.run(
        f"select dt, count(*) as n, max(order_id) as top from {engine.database}.orders group by dt"
    ).to_pandas()

    expected = shop["orders"].groupby("dt").agg(n=("order_id", "size"), top=("order_id", "max"))
    assert dict(zip(result.dt, result.n, strict=True)) == expected.n.to_dict()
    assert result.top.max() < 9000  # no row of v0


def test_bare_and_qualified_names_and_ctes_are_resolved(engine, shop) -> None:
    sql = "with o as (select * from orders) select count(*) as n from o join awsdatacatalog_x.t on true"
    assert referenced_tables(sql, "db") == ["awsdatacatalog_x.t", "db.orders"]
    qualified = engine.run(f"select count(*) as n from {engine.database}.orders").column("n")[0].as_py()
    bare = engine.run("select count(*) as n from orders").column("n")[0].as_py()
    assert qualified == bare == len(shop["orders"])


def test_scan_budget_refuses_a_query_over_too_small_a_limit(engine, shop, lake) -> None:
    sql = render_sql("athena/daily_sales.sql", ds=DS, params={})
    live = {  # v0 of orders is not live; orders is read for dt = DS only, fx_rates from the day before on
        "orders": sum(obj.size for obj in lake.list(f"curated/orders/dt={DS}/") if "/v=v1/" in obj.key),
        "fx_rates": sum(
            obj.size
            for obj in lake.list("curated/fx_rates/")
            if "/v=v1/" in obj.key and obj.key.split("dt=")[1][:10] >= "2026-11-19"
        ),
    }
    assert len({obj.key.split("dt=")[1][:10] for obj in lake.list("curated/fx_rates/")}) == 3  # all read

    estimates = check_scan_budget(engine, sql, limit_bytes=10_000_000)
    assert estimates == {f"{engine.database}.{name}": size for name, size in live.items()}

    with pytest.raises(ScanBudgetExceeded) as refused:
        check_scan_budget(engine, sql, limit_bytes=100)
    message = str(refused.value)
    assert f"{engine.database}.orders {live['orders']:,} bytes" in message
    assert f"{engine.database}.fx_rates" in message
    assert "above the limit of 100 bytes" in message


def test_a_table_without_partitions_is_an_empty_view(engine, curated) -> None:
    curated.publish("payments", {}, "v1")
    result = engine.run("select * from payments")
    assert result.num_rows == 0
    assert "dt" in result.column_names


def test_an_unknown_table_is_a_clear_error(engine, curated) -> None:
    from airlake.engines import QueryEngineError

    with pytest.raises(QueryEngineError, match=r"Glue table .*\.nope cannot be read"):
        engine.run("select * from nope")


def test_files_are_downloaded_once_and_a_moved_pointer_is_followed(engine, curated, lake) -> None:
    row = make_orders(random.Random(1))["2026-11-18"][0]  # noqa: S311 - seeded test data
    curated.publish("orders", {DS: [row]}, "v1")
    assert engine.run("select order_id from orders").column("order_id").to_pylist() == [row["order_id"]]
    cached = sorted(engine.cache_dir.rglob("*.parquet"))

    engine.run("select count(*) from orders")
    assert sorted(engine.cache_dir.rglob("*.parquet")) == cached  # nothing new fetched

    curated.publish("orders", {DS: [{**row, "order_id": 77}]}, "v2")
    assert engine.run("select order_id from orders").column("order_id").to_pylist() == [77]


def test_archived_partitions_are_left_out_like_athena_and_named(
    engine, curated, lake, glue, database
) -> None:
    from airlake.catalog import mark_archived, mark_restored

    rows = make_orders(random.Random(2))  # noqa: S311 - seeded test data
    days = sorted(rows)[:2]
    curated.publish("orders", {day: rows[day] for day in days}, "v1")
    mark_archived(glue, database, "orders", [days[0]])

    counts = engine.run("select dt, count(*) as n from orders group by dt").to_pylist()
    assert counts == [{"dt": days[1], "n": len(rows[days[1]])}]
    assert engine.archived_partitions[f"{database}.orders"] == [days[0]]
    assert engine.estimate_scan_bytes([f"{database}.orders"])[f"{database}.orders"] == sum(
        obj.size for obj in lake.list(f"curated/orders/dt={days[1]}/")
    )

    mark_restored(glue, database, "orders", {days[0]: datetime(2099, 1, 1, tzinfo=UTC)})
    assert engine.run("select count(*) as n from orders").column("n")[0].as_py() == sum(
        len(rows[d]) for d in days
    )


def test_the_database_opened_meanwhile_is_the_engines_and_its_error_is_raised_at_first_use(
    lake, glue, database
) -> None:
    import duckdb

    from airlake.engines import QueryEngineError

    with DuckDBEngine(glue, lake, database, memory_limit="1GB") as engine:
        settings = dict(
            engine.connection.execute(
                "select name, value from duckdb_settings() where name in ('TimeZone', 'integer_division')"
            ).fetchall()
        )
        assert engine.run("select 7 / 2 as q").to_pylist() == [{"q": 3}]  # Trino's integer division
    assert settings == {"TimeZone": "UTC", "integer_division": "true"}
    with pytest.raises(QueryEngineError, match="closed"):
        engine.run("select 1 as one")

    broken = DuckDBEngine(glue, lake, database, memory_limit="lots")
    with pytest.raises(duckdb.Error, match="Memory"):
        broken.run("select 1 as one")
    broken.close()  # nothing was opened: nothing to close, and no second error
