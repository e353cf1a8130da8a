"""The lake's reports, one home for both, drawn with the same charts (:mod:`airlake.report.charts`).

- the storage and cost report (exported here): bytes and objects per zone, dataset and storage class, priced;
- the weekly business report, :mod:`airlake.report.business` (document) and
  :mod:`airlake.report.business_html` (page): the shop's answers for an ISO week from the views.

    from airlake.report import load_price_table, storage_report

    document = storage_report(store, report_date="2026-11-22", region="eu-west-1")
    # wrote reports/storage/2026-11-22/report.json and report.html (SSE), listing page by page

    from airlake.report.business import build_report, write_report

    write_report(store, build_report(engine, render, week_start="2026-11-16"))
    # wrote reports/business/week=2026-11-16/report.json and report.html (SSE)

Light to import: pyyaml and pydantic when the price table is loaded, nothing heavy.
"""

from __future__ import annotations

from airlake.report.html import bar_chart, human_bytes, render_html, usd
from airlake.report.pricing import (
    DEFAULT_PRICING_FILE,
    GIB,
    PRICING_FILE_ENV,
    REQUIRED_CLASSES,
    STORAGE_CLASSES,
    TIB,
    PriceTable,
    PricingError,
    RegionPrices,
    load_price_table,
    parse_price_table,
    pricing_file,
)
from airlake.report.storage import (
    OTHER_ZONE,
    ZONES,
    UsageScan,
    build_document,
    classify,
    iter_objects,
    report_keys,
    scan_buckets,
    storage_report,
    summary_lines,
)

__all__ = [
    "DEFAULT_PRICING_FILE",
    "GIB",
    "OTHER_ZONE",
    "PRICING_FILE_ENV",
    "REQUIRED_CLASSES",
    "STORAGE_CLASSES",
    "TIB",
    "ZONES",
    "PriceTable",
    "PricingError",
    "RegionPrices",
    "UsageScan",
    "bar_chart",
    "build_document",
    "classify",
    "human_bytes",
    "iter_objects",
    "load_price_table",
    "parse_price_table",
    "pricing_file",
    "render_html",
    "report_keys",
    "scan_buckets",
    "storage_report",
    "summary_lines",
    "usd",
]
