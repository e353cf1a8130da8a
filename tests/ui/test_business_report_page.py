"""Issue 16: the business report as people see it, in Debian's headless Chromium (no Airflow needed).

The demo-like report (the real report code over demo-like views, see tests/plugins/airlake/analytics/
test_report.py) is written as the static page the lake holds and opened from ``file://``. The test checks
that the page renders with no network at all, that a screenshot of the revenue chart shows its bars as
the DOM draws them, and that every number on the page equals the report JSON once formatted.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airlake.report.business import render_html
from airlake.report.business_html import DOWN, REVENUE_COLOR, UP
from tests.plugins.airlake.report.test_business import demo_report

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser]

_COUNT_PIXELS = """
async ({url, rgb}) => {
  const img = new Image(); img.src = url; await img.decode();
  const canvas = document.createElement('canvas'); canvas.width = img.width; canvas.height = img.height;
  const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, img.width, img.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if ([0, 1, 2].every((c) => Math.abs(d[i + c] - rgb[c]) < 10)) n++;
  }
  return {width: img.width, height: img.height, pixels: n};
}
"""
"""Pixels of the colour ``rgb`` in the PNG at ``url``, counted by the browser's own canvas."""


def number(text: str) -> float:
    """A shown number back as a float: ``€26,762.14`` -> 26762.14, ``12.5%`` -> 12.5, ``▼ 3.0%`` -> -3.0."""
    sign = -1 if text.strip().startswith(DOWN) else 1
    digits = re.sub(r"[^\d.\-]", "", text)
    assert digits, f"no number in {text!r}"
    return sign * float(digits)


def shown(value: Any, kind: str) -> float:
    """What the page must show for a JSON value, at the precision it shows it."""
    if kind == "int":
        return float(round(value))
    if kind == "money":
        return round(value, 2)
    if kind == "percent":
        return round(value * 100, 1)
    raise AssertionError(kind)


def _cells(page: Page, section: str, key: str) -> list[str]:
    return page.locator(f'[data-section="{section}"] td[data-key="{key}"]').all_inner_texts()


@pytest.fixture
def report_page(page: Page, tmp_path: Path) -> tuple[Page, dict[str, Any], list[str]]:
    """The demo-like report written like the lake holds it and opened from disk; the requests it made."""
    report = demo_report()
    (tmp_path / "report.json").write_text(json.dumps(report))
    html = tmp_path / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page, json.loads((tmp_path / "report.json").read_text()), requests


def test_the_report_renders_offline_and_its_chart_draws_what_the_dom_says(
    report_page, tmp_path: Path
) -> None:
    page, report, requests = report_page

    assert requests == [page.url]  # the page itself, nothing fetched
    assert page.title() == f"Airlake business report, week of {report['week_start']}"
    assert page.locator("svg").count() == 4
    for section in ("countries", "funnel", "products"):
        box = page.locator(f"section#{section}").bounding_box()
        assert box is not None and box["height"] > 200, section
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000

    # the revenue chart: one bar per country, lengths proportional to revenue, and drawn on screen
    chart = page.locator("section#countries svg")
    bars = chart.locator("rect")
    widths = [float(w) for w in bars.evaluate_all("rects => rects.map(r => r.getAttribute('width'))")]
    revenue = [row["revenue_eur"] for row in report["top_countries"]]
    assert len(widths) == len(revenue)
    assert [w / widths[0] for w in widths] == pytest.approx([r / revenue[0] for r in revenue], abs=0.01)
    assert chart.locator("text").all_text_contents()[1::2] == [f"\u20ac{r:,.2f}" for r in revenue]
    shot = "data:image/png;base64," + base64.b64encode(chart.screenshot()).decode()
    rgb = [int(REVENUE_COLOR[i : i + 2], 16) for i in (1, 3, 5)]
    drawn = page.evaluate(_COUNT_PIXELS, {"url": shot, "rgb": rgb})
    areas = bars.evaluate_all(
        "rects => rects.map(r => r.getBoundingClientRect()).reduce((s, b) => s + b.width * b.height, 0)"
    )
    assert drawn["pixels"] == pytest.approx(areas, rel=0.05), drawn


def test_every_number_on_the_page_equals_the_report_json(report_page) -> None:
    page, report, _requests = report_page
    summary, changes = report["summary"], report["change"]

    kinds = {
        "revenue_eur": "money",
        "orders": "int",
        "sessions": "int",
        "purchase_sessions": "int",
        "conversion_rate": "percent",
    }
    for metric, kind in kinds.items():
        card = page.locator(f'[data-metric="{metric}"]')
        assert number(card.locator('[data-key="current"]').inner_text()) == shown(summary[metric], kind)
        change = changes["summary"][metric]
        expected = change["delta"] * 100 if kind == "percent" else change["ratio"] * 100
        assert number(card.locator('[data-key="change"]').inner_text()) == round(expected, 1)
    assert page.locator('[data-metric="revenue_eur"] [data-key="current"]').inner_text().startswith("\u20ac")
    assert page.locator('[data-metric="conversion_rate"] [data-key="current"]').inner_text().endswith("%")

    countries = report["top_countries"]
    assert _cells(page, "top_countries", "country") == [r["country"] for r in countries]
    assert [number(t) for t in _cells(page, "top_countries", "orders")] == [r["orders"] for r in countries]
    assert [number(t) for t in _cells(page, "top_countries", "revenue_eur")] == [
        shown(r["revenue_eur"], "money") for r in countries
    ]
    assert [number(t) for t in _cells(page, "top_countries", "previous_revenue_eur")] == [
        shown(c["previous"], "money") for c in changes["countries"]
    ]
    assert [number(t) for t in _cells(page, "top_countries", "revenue_change")] == [
        round(c["ratio"] * 100, 1) for c in changes["countries"]
    ]

    funnel = report["funnel"]
    for key in ("sessions", "product_view_sessions", "add_to_cart_sessions", "purchase_sessions"):
        assert [number(t) for t in _cells(page, "funnel", key)] == [r[key] for r in funnel], key
    assert [number(t) for t in _cells(page, "funnel", "conversion_rate")] == [
        shown(r["conversion_rate"], "percent") for r in funnel
    ]
    assert all(re.fullmatch(r"\d[\d,]*", t) for t in _cells(page, "funnel", "sessions"))  # no decimals

    products = report["top_products"]
    assert _cells(page, "top_products", "product_name") == [r["product_name"] for r in products]
    for key in ("product_views", "add_to_cart", "purchases"):
        assert [number(t) for t in _cells(page, "top_products", key)] == [r[key] for r in products], key
    ranks = [(p["rank"], p["previous_rank"]) for p in changes["products"]]
    for text, (rank, before) in zip(_cells(page, "top_products", "rank_change"), ranks, strict=True):
        if before is None:
            assert text == "new"
        elif before == rank:
            assert text == "same"
        else:
            arrow = UP if before > rank else DOWN
            assert text == f"{arrow} from #{before}"
