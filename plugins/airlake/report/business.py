"""The weekly business report: the shop's answers for one ISO week, from the materialised views.

Runs the queries of ``sql/athena/reports/`` (Athena SQL over the view tables, DuckDB locally) for the
week starting ``week_start`` and for the week before, and writes
``reports/business/week=<week_start>/report.json`` and ``report.html`` (self-contained, see
:mod:`airlake.report.business_html`) into the lake.

The week before is read from the same views, not from its old ``report.json``: the views are the lake's
truth (a late day or a reprocess rebuilds them), a report is a snapshot of what they said on its Monday,
and the first report of a lake has no predecessor at all. The document keeps the three query sections
as they came (``top_countries``, ``funnel``, ``top_products``) and adds ``summary`` (the week's totals),
``previous_week`` (the same sections and totals of the week before) and ``change`` (this week against it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlake.engines import QueryEngine
    from airlake.store import LakeStore

REPORT_QUERIES = ("weekly_top_countries", "weekly_funnel", "weekly_top_products")
SECTIONS = {
    "weekly_top_countries": "top_countries",
    "weekly_funnel": "funnel",
    "weekly_top_products": "top_products",
}
"""Query file -> key of its rows in the report document."""
CURRENCY = "EUR"
"""Revenue is converted to EUR by the daily_sales view (fx_rates of the day)."""
PREVIOUS_SOURCE = "views"
FUNNEL_STEPS = ("sessions", "product_view_sessions", "add_to_cart_sessions", "purchase_sessions")
SUMMARY_METRICS = ("revenue_eur", "orders", "sessions", "purchase_sessions", "conversion_rate")
"""The totals compared with the week before, in the order the page shows them."""

Render = Callable[[str, str], str]
"""``(relative_sql_path, ds) -> SQL``: the caller renders the template with ``ds``."""


def report_prefix(week_start: str) -> str:
    return f"reports/business/week={week_start}/"


def _plain(value: Any) -> Any:
    """JSON-ready values: whole decimals (SQL sums of counts) as int, others as float; dates as ISO text."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _check_monday(week_start: str) -> None:
    if date.fromisoformat(week_start).weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday (reports cover ISO weeks)")


def previous_week_start(week_start: str) -> str:
    return (date.fromisoformat(week_start) - timedelta(days=7)).isoformat()


def _run_sections(engine: QueryEngine, render: Render, ds: str) -> tuple[dict[str, list[dict]], int]:
    sections: dict[str, list[dict[str, Any]]] = {}
    scanned = 0
    for name in REPORT_QUERIES:
        rows = engine.run(render(f"athena/reports/{name}.sql", ds)).to_pylist()
        sections[SECTIONS[name]] = [{key: _plain(value) for key, value in row.items()} for row in rows]
        scanned += engine.bytes_scanned or 0
    return sections, scanned


def _number(value: Any) -> float:
    return 0 if value is None else value


def unconverted_orders(country: Mapping[str, Any]) -> int:
    """A country row's orders whose revenue is not in its ``revenue_eur`` (no FX rate on their day)."""
    if country.get("revenue_eur") is None:
        return int(_number(country.get("orders")))
    return int(_number(country.get("orders_without_fx_rate")))


def summarise(sections: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any] | None:
    """
    The week's totals from its sections; None when the views hold nothing for the week.

    Conversion is purchase sessions over product-view sessions, as ``funnel_daily`` defines it per day.
    Revenue leaves out the orders that had no FX rate on their day (a country's ``orders_without_fx_rate``,
    or all of its orders when its ``revenue_eur`` is null) and says how many orders and countries that was.
    """
    countries, funnel = sections.get("top_countries") or [], sections.get("funnel") or []
    if not countries and not funnel:
        return None
    totals: dict[str, Any] = {
        "revenue_eur": round(sum(_number(r.get("revenue_eur")) for r in countries), 2),
        "orders": int(sum(_number(r.get("orders")) for r in countries)),
        "countries": len(countries),
        "countries_without_fx_rate": sum(1 for r in countries if unconverted_orders(r)),
        "orders_without_fx_rate": int(sum(unconverted_orders(r) for r in countries)),
        "days": len(funnel),
    }
    for step in FUNNEL_STEPS:
        totals[step] = int(sum(_number(r.get(step)) for r in funnel))
    viewed = totals["product_view_sessions"]
    totals["conversion_rate"] = totals["purchase_sessions"] / viewed if viewed else None
    return totals


def compare(current: float | None, previous: float | None) -> dict[str, Any]:
    """``current`` against ``previous``: the difference and the relative change (None when undefined)."""
    delta = None if current is None or previous is None else current - previous
    ratio = None if delta is None or not previous else delta / previous
    if delta is not None and isinstance(current, float):
        delta = round(delta, 10)
    return {"current": current, "previous": previous, "delta": delta, "ratio": ratio}


def compare_weeks(
    current: Mapping[str, Any], previous: Mapping[str, Any], summary: Mapping[str, Any] | None
) -> dict[str, Any]:
    """This week against the week before: the totals, each country's revenue, each product's rank.

    A week before with data on fewer days than this week (the lake's first days, a gap) is not compared:
    its totals would show a first partial week as a jump of thousands of percent.
    """
    before = previous.get("summary") or {}
    if before and before.get("days", 0) < (summary or {}).get("days", 0):
        previous = {"summary": None}
        before = {}
    revenue_before = {r["country"]: r.get("revenue_eur") for r in previous.get("top_countries") or []}
    rank_before = {r["product_id"]: rank for rank, r in enumerate(previous.get("top_products") or [], 1)}
    return {
        "summary": {
            metric: compare((summary or {}).get(metric), before.get(metric)) for metric in SUMMARY_METRICS
        },
        "countries": [
            {"country": r["country"], **compare(r.get("revenue_eur"), revenue_before.get(r["country"]))}
            for r in current.get("top_countries") or []
        ],
        "products": [
            {"product_id": r["product_id"], "rank": rank, "previous_rank": rank_before.get(r["product_id"])}
            for rank, r in enumerate(current.get("top_products") or [], 1)
        ],
    }


def build_report(engine: QueryEngine, render: Render, *, week_start: str) -> dict[str, Any]:
    """
    Run the report queries for the week and the week before; return the report document.

    :param engine: the query engine (Athena, or DuckDB over the Glue catalog).
    :param render: ``(relative_sql_path, ds) -> SQL`` (the caller renders the templates).
    :param week_start: the Monday, ``YYYY-MM-DD``.
    """
    _check_monday(week_start)
    sections, scanned = _run_sections(engine, render, week_start)
    before = previous_week_start(week_start)
    previous, scanned_before = _run_sections(engine, render, before)
    summary = summarise(sections)
    previous_week = {
        "week_start": before,
        "source": PREVIOUS_SOURCE,
        "summary": summarise(previous),
        **previous,
    }
    before_days, days = (previous_week["summary"] or {}).get("days", 0), (summary or {}).get("days", 0)
    previous_week["comparable"] = bool(previous_week["summary"]) and before_days >= days
    if previous_week["summary"] and not previous_week["comparable"]:
        previous_week["note"] = f"data on {before_days} of this week's {days} days: not compared"
    return {
        "week_start": week_start,
        "week_end": (date.fromisoformat(week_start) + timedelta(days=6)).isoformat(),
        "currency": CURRENCY,
        **sections,
        "summary": summary,
        "previous_week": previous_week,
        "change": compare_weeks(sections, previous_week, summary),
        "bytes_scanned": scanned + scanned_before,
    }


def render_html(report: Mapping[str, Any]) -> str:
    """The report's self-contained HTML page (see :mod:`airlake.report.business_html`)."""
    from airlake.report.business_html import render_page

    return render_page(report)


def write_report(store: LakeStore, report: dict[str, Any]) -> dict[str, str]:
    """Write the JSON and HTML (SSE); their keys."""
    prefix = report_prefix(report["week_start"])
    store.put_json(prefix + "report.json", report)
    store.put_bytes(
        prefix + "report.html", render_html(report).encode(), content_type="text/html; charset=utf-8"
    )
    return {"json": prefix + "report.json", "html": prefix + "report.html"}


def read_report(store: LakeStore, week_start: str) -> dict[str, Any] | None:
    """The stored report of a week, None when there is none."""
    return store.get_json(report_prefix(week_start) + "report.json")
