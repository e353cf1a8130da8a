"""The weekly business report: the shop's answers for one ISO week, from the materialised views.

Runs the queries of ``sql/athena/reports/`` (Athena SQL over the view tables, DuckDB locally) for the
week starting ``week_start`` and writes ``reports/business/week=<week_start>/report.json`` and
``report.html`` (self-contained, every value escaped) into the lake.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlake.engines import QueryEngine
    from airlake.store import LakeStore

REPORT_QUERIES = ("weekly_top_countries", "weekly_funnel", "weekly_top_products")


def report_prefix(week_start: str) -> str:
    return f"reports/business/week={week_start}/"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _check_monday(week_start: str) -> None:
    if date.fromisoformat(week_start).weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday (reports cover ISO weeks)")


def build_report(engine: QueryEngine, render: Any, *, week_start: str) -> dict[str, Any]:
    """
    Run the report queries for the week and return the report document.

    :param engine: the query engine (Athena, or DuckDB over the Glue catalog).
    :param render: ``relative_sql_path -> SQL`` (the caller renders templates with ``ds=week_start``).
    :param week_start: the Monday, ``YYYY-MM-DD``.
    """
    _check_monday(week_start)
    sections: dict[str, list[dict[str, Any]]] = {}
    scanned = 0
    for name in REPORT_QUERIES:
        rows = engine.run(render(f"athena/reports/{name}.sql")).to_pylist()
        sections[name] = [{key: _plain(value) for key, value in row.items()} for row in rows]
        scanned += engine.bytes_scanned or 0
    return {
        "week_start": week_start,
        "top_countries": sections["weekly_top_countries"],
        "funnel": sections["weekly_funnel"],
        "top_products": sections["weekly_top_products"],
        "bytes_scanned": scanned,
    }


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>No rows.</p>"
    head = "".join(f"<th>{html.escape(str(key))}</th>" for key in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_show(value))}</td>" for value in row.values()) + "</tr>"
        for row in rows
    )
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page of the report (no scripts, no external assets)."""
    week = html.escape(report["week_start"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Airlake business report, week of {week}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>Business report, week of {week}</h1>"
        + _table("Revenue by country (EUR)", report["top_countries"])
        + _table("Funnel per day", report["funnel"])
        + _table("Most popular products", report["top_products"])
        + "</body></html>"
    )


def write_report(store: LakeStore, report: dict[str, Any]) -> dict[str, str]:
    """Write the JSON and HTML (SSE); their keys."""
    prefix = report_prefix(report["week_start"])
    store.put_json(prefix + "report.json", report)
    store.put_bytes(prefix + "report.html", render_html(report).encode(), content_type="text/html")
    return {"json": prefix + "report.json", "html": prefix + "report.html"}


def read_report(store: LakeStore, week_start: str) -> dict[str, Any] | None:
    """The stored report of a week, None when there is none."""
    return store.get_json(report_prefix(week_start) + "report.json")
