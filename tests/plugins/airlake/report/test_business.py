"""The weekly business report: the real report SQL over demo-like view tables, its document and its page.

The views are small in-memory DuckDB tables filled from a seeded, demo-like generator (the demo shop's
countries and weights, a funnel per day, ten products), so the queries run exactly as the report runs
them (Athena SQL transpiled to DuckDB) without a lake; every expected number is computed here from the
generated rows, never from the report.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Any, ClassVar

import pytest

from airlake.paths import sql_dir
from airlake.report.business import (
    build_report,
    compare,
    read_report,
    render_html,
    summarise,
    write_report,
)
from airlake.report.business_html import fmt_change, fmt_money, fmt_percent, fmt_value

WEEK = "2026-11-16"
PREVIOUS = "2026-11-09"
COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "AT", "BE", "PL")
WEIGHTS = (30, 14, 14, 12, 7, 7, 7, 4, 3, 2)
CURRENCY = {"GB": "GBP", "US": "USD"}
PRODUCTS = (
    ("p-0007", "Nordic Lamp", "home"),
    ("p-0012", "Smart Headphones", "electronics"),
    ("p-0031", "Eco Yoga Mat", "sports"),
    ("p-0044", "Classic Novel", "books"),
    ("p-0058", "Urban Sneakers", "fashion"),
    ("p-0063", "Deluxe Board Game", "toys"),
    ("p-0077", "Compact Speaker", "electronics"),
    ("p-0081", "Vintage Clock", "home"),
    ("p-0095", "Pro Racket", "sports"),
    ("p-0102", "Mini Planter", "garden"),
    ("p-0110", "Eco Soap", "beauty"),
)


def demo_views(weeks: tuple[str, ...] = (PREVIOUS, WEEK), seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Rows of the three view tables for the given weeks, demo-like and deterministic."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data
    sales, funnel, popularity = [], [], []
    for scale, monday in zip((0.9, 1.0), weeks, strict=False):
        first = date.fromisoformat(monday)
        for offset in range(7):
            dt = (first + timedelta(days=offset)).isoformat()
            for country, weight in zip(COUNTRIES, WEIGHTS, strict=True):
                orders = max(0, round(weight * scale * 1.6 + rng.randint(-3, 3)))
                revenue_eur = round(sum(rng.uniform(18, 140) for _ in range(orders)), 2)
                sales.append(
                    {
                        "dt": dt,
                        "country": country,
                        "currency": CURRENCY.get(country, "EUR"),
                        "orders": orders,
                        "cancelled_orders": rng.randint(0, 2),
                        "revenue": revenue_eur,
                        "revenue_eur": revenue_eur,
                    }
                )
            sessions = round(420 * scale) + rng.randint(-40, 40)
            viewed = round(sessions * rng.uniform(0.62, 0.74))
            added = round(viewed * rng.uniform(0.3, 0.4))
            purchased = round(added * rng.uniform(0.28, 0.4))
            funnel.append(
                {
                    "dt": dt,
                    "sessions": sessions,
                    "product_view_sessions": viewed,
                    "add_to_cart_sessions": added,
                    "checkout_sessions": round(added * 0.7),
                    "purchase_sessions": purchased,
                    "conversion_rate": purchased / viewed,
                }
            )
        for product_id, name, category in PRODUCTS:
            views = rng.randint(60, 400)
            carts = round(views * rng.uniform(0.1, 0.3))
            popularity.append(
                {
                    "dt": monday,
                    "product_id": product_id,
                    "product_name": name,
                    "category": category,
                    "product_views": views,
                    "add_to_cart": carts,
                    "purchases": round(carts * rng.uniform(0.2, 0.6)),
                }
            )
    return {"daily_sales": sales, "funnel_daily": funnel, "product_popularity_weekly": popularity}


class ViewEngine:
    """The report's queries on an in-memory DuckDB holding the view tables (the engine's interface)."""

    SCHEMAS: ClassVar[dict[str, str]] = {
        "daily_sales": "dt VARCHAR, country VARCHAR, currency VARCHAR, orders BIGINT, "
        "cancelled_orders BIGINT, revenue DECIMAL(18,2), revenue_eur DECIMAL(18,2)",
        "funnel_daily": "dt VARCHAR, sessions BIGINT, product_view_sessions BIGINT, add_to_cart_sessions BIGINT, "
        "checkout_sessions BIGINT, purchase_sessions BIGINT, conversion_rate DOUBLE",
        "product_popularity_weekly": "dt VARCHAR, product_id VARCHAR, product_name VARCHAR, category VARCHAR, "
        "product_views BIGINT, add_to_cart BIGINT, purchases BIGINT",
    }

    def __init__(self, views: dict[str, list[dict[str, Any]]]) -> None:
        import duckdb

        self.connection = duckdb.connect()
        self.bytes_scanned: int | None = None
        self.queries: list[str] = []
        for table, schema in self.SCHEMAS.items():
            self.connection.execute(f"create table {table} ({schema})")
            columns = [part.split()[0] for part in schema.split(", ")]
            for row in views.get(table, []):
                self.connection.execute(
                    f"insert into {table} values ({', '.join('?' for _ in columns)})",
                    [row[c] for c in columns],
                )

    def run(self, sql: str) -> Any:
        from airlake.engines.duckdb_engine import to_duckdb_sql

        self.queries.append(sql)
        self.bytes_scanned = 1000
        return self.connection.sql(to_duckdb_sql(sql)).to_arrow_table()


def render_sql(relative_path: str, ds: str) -> str:
    return (sql_dir() / relative_path).read_text().replace("{{ ds }}", ds)


def demo_report(weeks: tuple[str, ...] = (PREVIOUS, WEEK)) -> dict[str, Any]:
    """The report of WEEK built by the real code over demo-like views (also used by the browser test)."""
    return build_report(ViewEngine(demo_views(weeks)), render_sql, week_start=WEEK)


def _in_week(dt: str, monday: str) -> bool:
    first = date.fromisoformat(monday)
    return first <= date.fromisoformat(dt) < first + timedelta(days=7)


def _expected_countries(views: dict[str, list[dict[str, Any]]], monday: str) -> dict[str, tuple[int, float]]:
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for row in views["daily_sales"]:
        if _in_week(row["dt"], monday):
            totals[row["country"]][0] += row["orders"]
            totals[row["country"]][1] += row["revenue_eur"]
    return {country: (int(o), round(r, 2)) for country, (o, r) in totals.items()}


def test_the_report_holds_the_weeks_answers_totals_and_the_change_against_the_week_before() -> None:
    views = demo_views()
    engine = ViewEngine(views)
    report = build_report(engine, render_sql, week_start=WEEK)

    # the keys the report always had, with the queries' rows
    assert {"week_start", "top_countries", "funnel", "top_products", "bytes_scanned"} <= set(report)
    expected = _expected_countries(views, WEEK)
    assert {r["country"]: (r["orders"], r["revenue_eur"]) for r in report["top_countries"]} == expected
    assert [r["revenue_eur"] for r in report["top_countries"]] == sorted(
        (r for _o, r in expected.values()), reverse=True
    )
    assert all(type(r["orders"]) is int for r in report["top_countries"])  # SQL sums: not 316.0
    assert [r["dt"] for r in report["funnel"]] == [f"2026-11-{d}" for d in range(16, 23)]
    week_products = [r for r in views["product_popularity_weekly"] if r["dt"] == WEEK]
    ranked = sorted(week_products, key=lambda r: (-r["purchases"], -r["product_views"], r["product_id"]))
    assert [r["product_id"] for r in report["top_products"]] == [r["product_id"] for r in ranked[:10]]

    # the totals and the week before, from the same views
    funnel = [r for r in views["funnel_daily"] if _in_week(r["dt"], WEEK)]
    summary = report["summary"]
    assert summary["orders"] == sum(o for o, _r in expected.values())
    assert summary["revenue_eur"] == pytest.approx(sum(r for _o, r in expected.values()))
    assert summary["sessions"] == sum(r["sessions"] for r in funnel)
    assert summary["conversion_rate"] == pytest.approx(
        sum(r["purchase_sessions"] for r in funnel) / sum(r["product_view_sessions"] for r in funnel)
    )
    previous = report["previous_week"]
    assert (previous["week_start"], previous["source"]) == (PREVIOUS, "views")
    before = _expected_countries(views, PREVIOUS)
    assert previous["summary"]["orders"] == sum(o for o, _r in before.values())
    orders = report["change"]["summary"]["orders"]
    assert orders["previous"] == previous["summary"]["orders"]
    assert orders["delta"] == summary["orders"] - previous["summary"]["orders"]
    assert orders["ratio"] == pytest.approx(orders["delta"] / orders["previous"])
    de = next(c for c in report["change"]["countries"] if c["country"] == "DE")
    assert (de["current"], de["previous"]) == pytest.approx((expected["DE"][1], before["DE"][1]))
    previous_ranks = {r["product_id"]: i for i, r in enumerate(previous["top_products"], 1)}
    assert [(p["rank"], p["previous_rank"]) for p in report["change"]["products"]] == [
        (i, previous_ranks.get(r["product_id"])) for i, r in enumerate(report["top_products"], 1)
    ]
    # six queries: the week's three and the week before's three, each scanning its share
    assert len(engine.queries) == 6 and sum(PREVIOUS in q for q in engine.queries) == 3
    assert report["bytes_scanned"] == 6000


def test_a_first_week_has_nothing_to_compare_with() -> None:
    report = build_report(ViewEngine(demo_views((WEEK,))), render_sql, week_start=WEEK)

    assert report["previous_week"]["summary"] is None
    assert report["previous_week"]["top_countries"] == []
    assert all(c["previous"] is None and c["ratio"] is None for c in report["change"]["summary"].values())
    page = render_html(report)
    assert "no data for the week before" in page
    assert "(no data in the views for that week)" in page


def test_a_week_without_data_says_so_instead_of_zeros() -> None:
    report = build_report(ViewEngine({}), render_sql, week_start=WEEK)

    assert report["summary"] is None
    assert report["top_countries"] == report["funnel"] == report["top_products"] == []
    page = render_html(report)
    assert "No data for this week." in page and "No rows for this week." in page


def test_a_week_must_start_on_monday() -> None:
    with pytest.raises(ValueError, match="2026-11-17 is not a Monday"):
        build_report(ViewEngine({}), render_sql, week_start="2026-11-17")


def test_summarise_leaves_out_countries_without_an_fx_rate_and_counts_them() -> None:
    summary = summarise(
        {
            "top_countries": [
                {"country": "DE", "orders": 3, "revenue_eur": 10.5},
                {"country": "CH", "orders": 2, "revenue_eur": None},
            ],
            "funnel": [{"sessions": 10, "product_view_sessions": 0, "purchase_sessions": 0}],
        }
    )
    assert summary is not None
    assert (summary["revenue_eur"], summary["orders"], summary["countries_without_fx_rate"]) == (10.5, 5, 1)
    assert summary["orders_without_fx_rate"] == 2  # a null revenue_eur: all of the country's orders
    assert summary["conversion_rate"] is None  # no product views: undefined, not 0


def test_orders_without_an_fx_rate_are_left_out_of_revenue_counted_and_named_on_the_page() -> None:
    views = demo_views((WEEK,))
    unconverted = {"GB": 0, "CH": 0}
    for row in views["daily_sales"]:
        if row["country"] == "GB" and row["dt"] in ("2026-11-18", "2026-11-20"):
            row["revenue_eur"] = None  # the view's value when GBP had no rate that day
            unconverted["GB"] += row["orders"]
    views["daily_sales"] += [
        {"dt": dt, "country": "CH", "currency": "CHF", "orders": 2, "cancelled_orders": 0,
         "revenue": 40, "revenue_eur": None}
        for dt in ("2026-11-16", "2026-11-17")
    ]  # fmt: skip
    unconverted["CH"] = 4
    converted = {c: r for c, (_o, r) in _expected_countries(
        {"daily_sales": [r for r in views["daily_sales"] if r["revenue_eur"] is not None]}, WEEK
    ).items()}  # fmt: skip

    report = build_report(ViewEngine(views), render_sql, week_start=WEEK)

    rows = {r["country"]: r for r in report["top_countries"]}
    assert rows["GB"]["revenue_eur"] == pytest.approx(converted["GB"])  # the converted days only
    assert rows["GB"]["orders_without_fx_rate"] == unconverted["GB"] > 0
    swiss = rows["CH"]
    assert (swiss["orders"], swiss["revenue_eur"], swiss["orders_without_fx_rate"]) == (4, None, 4)
    assert report["top_countries"][-1]["country"] == "CH"  # unknown revenue sorts last, not first
    assert all(r["orders_without_fx_rate"] == 0 for c, r in rows.items() if c not in unconverted)
    summary = report["summary"]
    assert summary["revenue_eur"] == pytest.approx(sum(converted.values()))
    assert (summary["orders_without_fx_rate"], summary["countries_without_fx_rate"]) == (
        unconverted["GB"] + 4,
        2,
    )
    page = render_html(report)
    warning = re.search(r'<p class="warn" data-key="orders_without_fx_rate">(.*?)</p>', page)
    assert warning is not None
    assert f"{unconverted['GB'] + 4} orders had no FX rate" in warning.group(1)
    assert f"GB {unconverted['GB']}, CH 4" in warning.group(1)
    assert 'class="warn"' not in render_html(demo_report())  # every rate there: no warning


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        pytest.param(110, 100, {"delta": 10, "ratio": 0.1}, id="growth"),
        pytest.param(5, 0, {"delta": 5, "ratio": None}, id="from-zero"),
        pytest.param(5, None, {"delta": None, "ratio": None}, id="no-previous"),
    ],
)
def test_compare(current: float, previous: float | None, expected: dict[str, Any]) -> None:
    result = compare(current, previous)
    assert {k: result[k] for k in expected} == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        pytest.param(316.0, "int", "316", id="count-without-decimals"),
        pytest.param(12345, "int", "12,345", id="count-thousands"),
        pytest.param(1234.5, "money", "\u20ac1,234.50", id="money"),
        pytest.param(0.1019, "percent", "10.2%", id="rate"),
        pytest.param("2026-11-16", "date", "Mon 16 Nov", id="day"),
        pytest.param(None, "money", "\u2013", id="missing"),
    ],
)
def test_values_are_formatted_by_kind(value: Any, kind: str, shown: str) -> None:
    assert fmt_value(value, kind) == shown


def test_changes_are_relative_for_amounts_and_in_points_for_rates() -> None:
    assert fmt_change(compare(110.0, 100.0), "money") == ("\u25b2 10.0%", "up")
    assert fmt_change(compare(90, 100), "int") == ("\u25bc 10.0%", "down")
    assert fmt_change(compare(0.12, 0.10), "percent") == ("\u25b2 2.0 pp", "up")
    assert fmt_change(compare(3, 0), "int") == ("new", "none")
    assert fmt_change(compare(None, 5), "money") == ("\u2013", "none")  # no FX rate this week
    assert fmt_change(compare(5, None), "money") == ("no data for the week before", "none")
    assert fmt_money(-3.5, "CHF") == "-3.50 CHF"
    assert fmt_percent(None) == "\u2013"


def test_the_page_is_self_contained_formatted_titled_and_escaped() -> None:
    report = demo_report()
    report["top_products"][0]["product_name"] = '<script>alert("x")</script> & Co'
    page = render_html(report)

    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    assert not re.search(r"(src|href)=|url\(|@import|https?://", page)  # nothing fetched
    assert page.count("<svg") == 4  # countries, the week's funnel, the funnel per day, products
    for title in ("Country", "Revenue", "Viewed a product", "Added to cart", "Conversion", "Purchases"):
        assert f">{title}</th>" in page
    assert "revenue_eur</th>" not in page and "product_view_sessions</th>" not in page
    assert "<table>" in page  # tests/dags/test_end_to_end.py looks for the tables
    de = next(r for r in report["top_countries"] if r["country"] == "DE")
    assert f"\u20ac{de['revenue_eur']:,.2f}" in page
    assert not re.search(r">\d[\d,]*\.0+<", page)  # no count shown with decimals


def test_write_and_read_the_report(lake: Any) -> None:
    report = demo_report()
    keys = write_report(lake, report)

    assert keys == {
        "json": f"reports/business/week={WEEK}/report.json",
        "html": f"reports/business/week={WEEK}/report.html",
    }
    assert read_report(lake, WEEK) == report
    head = lake.head(keys["html"])
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head.get("ServerSideEncryption")
    body = lake.client.get_object(Bucket=lake.bucket, Key=keys["html"])["Body"].read().decode()
    assert body == render_html(report)
    assert read_report(lake, PREVIOUS) is None


def test_a_partial_week_before_is_not_compared() -> None:
    """The lake's first days (as in the demo): a week before with data on 2 days is no baseline."""
    views = demo_views()
    kept = {f"2026-11-{d:02d}" for d in (14, 15)}  # the Saturday and Sunday of the week before
    partial = {
        name: [r for r in rows if _in_week(r["dt"], WEEK) or r["dt"] in kept] for name, rows in views.items()
    }
    report = build_report(ViewEngine(partial), render_sql, week_start=WEEK)

    previous = report["previous_week"]
    assert previous["summary"]["days"] == 2 and report["summary"]["days"] == 7
    assert (
        previous["comparable"] is False
        and previous["note"] == "data on 2 of this week's 7 days: not compared"
    )
    assert all(c["previous"] is None and c["ratio"] is None for c in report["change"]["summary"].values())
    assert all(c["previous"] is None for c in report["change"]["countries"])
    assert "(data on 2 of this week&#x27;s 7 days: not compared)" in render_html(report)  # escaped
    assert build_report(ViewEngine(views), render_sql, week_start=WEEK)["previous_week"]["comparable"] is True
