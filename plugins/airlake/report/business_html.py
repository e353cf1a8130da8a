"""The business report as a page people read: headline numbers with the change against last week,
SVG charts (revenue by country, the funnel per day, the most popular products) and formatted tables.

Self-contained like the storage report (inline CSS and SVG from :mod:`airlake.report.charts`, no script,
no font, no network), every value escaped. Numbers are formatted by kind: counts as integers with
thousands separators, money with its currency, rates as percentages (changes of rates in percentage
points). Cells carry ``data-section``/``data-key`` attributes so a test (or a scraper) can find each
number; the page shows nothing the report JSON does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from airlake.report.business import unconverted_orders
from airlake.report.charts import bar_chart, column_chart, esc

CURRENCY_SYMBOLS = {"EUR": "\u20ac", "USD": "$", "GBP": "\u00a3"}
STEP_COLORS = ("#9fbfe0", "#5b93cc", "#2f6fb0", "#1b4b80")
REVENUE_COLOR = "#2f6fb0"
PRODUCT_COLOR = "#3c9a5f"
UP, DOWN = "\u25b2", "\u25bc"

COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "top_countries": {
        "country": ("Country", "text"),
        "orders": ("Orders", "int"),
        "revenue_eur": ("Revenue", "money"),
    },
    "funnel": {
        "dt": ("Day", "date"),
        "sessions": ("Sessions", "int"),
        "product_view_sessions": ("Viewed a product", "int"),
        "add_to_cart_sessions": ("Added to cart", "int"),
        "purchase_sessions": ("Purchased", "int"),
        "conversion_rate": ("Conversion", "percent"),
    },
    "top_products": {
        "product_name": ("Product", "text"),
        "category": ("Category", "text"),
        "product_views": ("Views", "int"),
        "add_to_cart": ("Added to cart", "int"),
        "purchases": ("Purchases", "int"),
        "product_id": ("Product ID", "code"),
    },
}
"""Per section, the columns shown: key -> (title, kind). Kinds: text, code, date, int, money, percent."""
METRICS = {
    "revenue_eur": ("Revenue", "money"),
    "orders": ("Orders", "int"),
    "sessions": ("Sessions", "int"),
    "purchase_sessions": ("Purchasing sessions", "int"),
    "conversion_rate": ("Conversion", "percent"),
}

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f9;color:#1d2430}
main{max-width:1040px;margin:0 auto;padding:2rem 1.5rem 3rem}
header h1{font-size:1.7rem;margin:0}header p{margin:.3rem 0 0;color:#5a6577}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:.8rem;margin:1.5rem 0}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:10px;padding:.9rem 1rem}
.card .label{color:#5a6577;font-size:.85rem}
.card .value{display:block;font-size:1.5rem;font-weight:650;margin:.2rem 0;font-variant-numeric:tabular-nums}
.up{color:#1e7b45}.down{color:#b23b2e}.flat,.none{color:#5a6577}
.change{font-size:.85rem}
section{background:#fff;border:1px solid #dfe3ea;border-radius:10px;padding:1.1rem 1.3rem;margin:1rem 0}
section h2{font-size:1.2rem;margin:0 0 .2rem}section h3{font-size:.95rem;color:#3a4556;margin:1rem 0 .2rem}
.meta{color:#5a6577;font-size:.85rem;margin:.2rem 0}
.warn{background:#fff6e0;border:1px solid #e8c66a;border-radius:8px;color:#6b4a00;padding:.6rem .9rem;margin:.8rem 0}
table{border-collapse:collapse;font-size:.9rem;margin:.8rem 0 .2rem;width:100%}
th{font-weight:600;color:#3a4556;border-bottom:2px solid #dfe3ea}
th,td{padding:.35rem .6rem;text-align:left;border-bottom:1px solid #eef0f4}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;color:#5a6577}
tbody tr:hover{background:#f7f9fc}
svg{display:block;max-width:100%;height:auto;margin:.4rem 0}svg text{font-size:12px;fill:#1d2430}
svg text.axis{fill:#7a8596;font-size:11px}svg text.note{font-weight:600;fill:#1b4b80}
footer{color:#7a8596;font-size:.8rem;margin-top:1.5rem}
"""


# -- numbers ----------------------------------------------------------------------------------------


def fmt_int(value: Any) -> str:
    return "\u2013" if value is None else f"{round(float(value)):,}"


def fmt_money(value: Any, currency: str = "EUR") -> str:
    if value is None:
        return "\u2013"
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{abs(float(value)):,.2f}"
    sign = "-" if float(value) < 0 else ""
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def fmt_percent(value: Any) -> str:
    return "\u2013" if value is None else f"{float(value) * 100:.1f}%"


def fmt_day(value: Any) -> str:
    """``2026-11-16`` -> ``Mon 16 Nov``."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day:%a} {day.day} {day:%b}"


def fmt_value(value: Any, kind: str, currency: str = "EUR") -> str:
    """One value formatted by its kind (see :data:`COLUMNS`)."""
    if kind == "int":
        return fmt_int(value)
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "percent":
        return fmt_percent(value)
    if kind == "date":
        return fmt_day(value)
    return "" if value is None else str(value)


def fmt_change(change: Mapping[str, Any] | None, kind: str) -> tuple[str, str]:
    """(text, css class) of a change: relative for counts and money, percentage points for rates."""
    if not change or change.get("current") is None:
        return "\u2013", "none"
    if change.get("delta") is None:
        return "no data for the week before", "none"
    delta = change["delta"]
    if kind == "percent":
        points = delta * 100
        shown = f"{abs(points):.1f} pp"
        moved = round(points, 1)
    elif change.get("ratio") is None:
        return "new", "none"
    else:
        shown = f"{abs(change['ratio']) * 100:.1f}%"
        moved = round(change["ratio"] * 100, 1)
    if moved > 0:
        return f"{UP} {shown}", "up"
    if moved < 0:
        return f"{DOWN} {shown}", "down"
    return "\u00b10.0" + (" pp" if kind == "percent" else "%"), "flat"


# -- page parts -------------------------------------------------------------------------------------


def _cell(key: str, value: Any, kind: str, currency: str) -> str:
    numeric = kind in ("int", "money", "percent")
    css = ' class="n"' if numeric else (' class="code"' if kind == "code" else "")
    return f'<td{css} data-key="{esc(key)}">{esc(fmt_value(value, kind, currency))}</td>'


def _table(
    section: str,
    rows: Sequence[Mapping[str, Any]],
    currency: str,
    extra: Sequence[tuple[str, str, Sequence[tuple[str, str]]]] = (),
) -> str:
    """A section's rows with human titles; ``extra`` adds columns (title, key, (text, css) per row)."""
    if not rows:
        return '<p class="meta">No rows for this week.</p>'
    columns = COLUMNS[section]
    keys = [key for key in columns if key in rows[0]]
    numeric = {"int", "money", "percent"}
    head = "".join(
        f"<th{' class=n' if columns[k][1] in numeric else ''}>{esc(columns[k][0])}</th>" for k in keys
    ) + "".join(f'<th class="n">{esc(title)}</th>' for title, _key, _cells in extra)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(_cell(k, row.get(k), columns[k][1], currency) for k in keys)
        for _title, key, extra_cells in extra:
            text, css = extra_cells[index]
            cells += f'<td class="n {esc(css)}" data-key="{esc(key)}">{esc(text)}</td>'
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div data-section="{esc(section)}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _card(metric: str, value: Any, change: Mapping[str, Any] | None, currency: str) -> str:
    title, kind = METRICS[metric]
    text, css = fmt_change(change, kind)
    return (
        f'<div class="card" data-metric="{esc(metric)}"><span class="label">{esc(title)}</span>'
        f'<span class="value" data-key="current">{esc(fmt_value(value, kind, currency))}</span>'
        f'<span class="change {esc(css)}" data-key="change" title="against the week before">'
        f"{esc(text)}</span></div>"
    )


def _week_label(week_start: str, week_end: str) -> str:
    first, last = date.fromisoformat(week_start), date.fromisoformat(week_end)
    iso_year, iso_week, _ = first.isocalendar()
    span = (
        f"{first.day}\u2013{last.day} {last:%B %Y}"
        if first.month == last.month
        else f"{first.day} {first:%b} \u2013 {last.day} {last:%b %Y}"
    )
    return f"Week {iso_week} of {iso_year} \u00b7 Monday {span}"


def _countries(report: Mapping[str, Any], currency: str) -> str:
    rows = report["top_countries"]
    changes = report.get("change", {}).get("countries") or [{} for _ in rows]
    chart = bar_chart(
        f"Revenue ({currency})",
        [(str(r["country"]), _num(r.get("revenue_eur")), None) for r in rows],
        fmt=lambda v: fmt_money(v, currency),
        color=REVENUE_COLOR,
        label_width=70,
        bar_width=560,
    )
    previous = [(fmt_money(c.get("previous"), currency), "") for c in changes]
    moved = [fmt_change(c, "money") for c in changes]
    table = _table(
        "top_countries",
        rows,
        currency,
        extra=[("Week before", "previous_revenue_eur", previous), ("Change", "revenue_change", moved)],
    )
    return (
        '<section id="countries"><h2>Revenue by country</h2>'
        f'<p class="meta">Orders that were not cancelled, by shipping country, converted to {esc(currency)} '
        "at the day's rate.</p>" + chart + table + "</section>"
    )


def _fx_warning(report: Mapping[str, Any]) -> str:
    """Says which countries' revenue leaves out orders without an FX rate (empty when none did)."""
    missing = [(str(r["country"]), unconverted_orders(r)) for r in report["top_countries"]]
    missing = [(country, count) for country, count in missing if count]
    if not missing:
        return ""
    total = sum(count for _, count in missing)
    who = ", ".join(f"{country} {fmt_int(count)}" for country, count in missing)
    return (
        f'<p class="warn" data-key="orders_without_fx_rate">Revenue is incomplete: {fmt_int(total)} '
        f"order{'s' if total != 1 else ''} had no FX rate on their day and are counted in Orders but not in "
        f"Revenue ({esc(who)}). A day is rebuilt when its rate is published.</p>"
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _funnel(report: Mapping[str, Any], currency: str) -> str:
    rows, summary = report["funnel"], report.get("summary") or {}
    steps = [(key, COLUMNS["funnel"][key][0]) for key in COLUMNS["funnel"] if key.endswith("sessions")]
    parts = ['<section id="funnel"><h2>Shopping funnel</h2>']
    parts.append(
        '<p class="meta">Sessions reaching each step; conversion = sessions with a purchase \u00f7 sessions '
        "that viewed a product.</p>"
    )
    total = summary.get("sessions") or 0
    if total:
        parts.append(
            bar_chart(
                "The week",
                [
                    (title, float(summary.get(key) or 0), STEP_COLORS[i])
                    for i, (key, title) in enumerate(steps)
                ],
                fmt=lambda v: f"{fmt_int(v)} ({v / total:.0%} of sessions)",
                label_width=140,
                bar_width=440,
            )
        )
    parts.append(
        column_chart(
            "Per day",
            [fmt_day(r["dt"]) for r in rows],
            [
                (title, [_num(r.get(key)) for r in rows], STEP_COLORS[i])
                for i, (key, title) in enumerate(steps)
            ],
            fmt=fmt_int,
            notes=[fmt_percent(r.get("conversion_rate")) for r in rows],
        )
    )
    parts.append(_table("funnel", rows, currency))
    parts.append("</section>")
    return "".join(parts)


def _products(report: Mapping[str, Any], currency: str) -> str:
    rows = report["top_products"]
    ranks = report.get("change", {}).get("products") or [{} for _ in rows]
    chart = bar_chart(
        "Purchases",
        [(str(r.get("product_name") or r["product_id"]), _num(r.get("purchases")), None) for r in rows],
        fmt=fmt_int,
        color=PRODUCT_COLOR,
        label_width=220,
        bar_width=440,
        label_chars=30,
    )
    moved = []
    for rank in ranks:
        before = rank.get("previous_rank")
        if before is None:
            moved.append(("new", "none"))
        elif before > rank["rank"]:
            moved.append((f"{UP} from #{before}", "up"))
        elif before < rank["rank"]:
            moved.append((f"{DOWN} from #{before}", "down"))
        else:
            moved.append(("same", "flat"))
    table = _table("top_products", rows, currency, extra=[("Last week", "rank_change", moved)])
    return (
        '<section id="products"><h2>Most popular products</h2>'
        '<p class="meta">Ranked by purchases, then product views.</p>' + chart + table + "</section>"
    )


def render_page(report: Mapping[str, Any]) -> str:
    """The whole page for a report document (see :func:`airlake.report.business.build_report`)."""
    currency = str(report.get("currency") or "EUR")
    week_start = str(report["week_start"])
    week_end = str(report.get("week_end") or week_start)
    summary = report.get("summary") or {}
    changes = (report.get("change") or {}).get("summary") or {}
    previous = report.get("previous_week") or {}
    compared = (
        f"Changes against the week of {fmt_day(previous['week_start'])}"
        + (
            f" ({previous['note']})"
            if previous.get("note")
            else ("" if previous.get("summary") else " (no data in the views for that week)")
        )
        if previous.get("week_start")
        else ""
    )
    cards = "".join(_card(metric, summary.get(metric), changes.get(metric), currency) for metric in METRICS)
    scanned = report.get("bytes_scanned")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Airlake business report, week of {esc(week_start)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<header><h1>Business report</h1><p>{esc(_week_label(week_start, week_end))}</p>",
        f'<p class="meta">{esc(compared)}</p></header>' if compared else "</header>",
        f'<div class="cards">{cards}</div>' if summary else '<p class="meta">No data for this week.</p>',
        _fx_warning(report),
        _countries(report, currency),
        _funnel(report, currency),
        _products(report, currency),
        "<footer>From the lake's views daily_sales, funnel_daily and product_popularity_weekly "
        f"(reports/business/week={esc(week_start)}/report.json holds every number of this page)"
        + (f"; {scanned:,} bytes scanned" if isinstance(scanned, int) else "")
        + ".</footer>",
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"
