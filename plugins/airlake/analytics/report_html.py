"""Old name of :mod:`airlake.report.business_html`, the business report's page.

Kept only so that importers of ``airlake.analytics.report_html`` keep working until they import
``airlake.report.business_html``; nothing is defined here.
"""

from __future__ import annotations

from airlake.report.business_html import (
    COLUMNS,
    CURRENCY_SYMBOLS,
    DOWN,
    METRICS,
    PRODUCT_COLOR,
    REVENUE_COLOR,
    STEP_COLORS,
    UP,
    fmt_change,
    fmt_day,
    fmt_int,
    fmt_money,
    fmt_percent,
    fmt_value,
    render_page,
)

__all__ = [
    "COLUMNS",
    "CURRENCY_SYMBOLS",
    "DOWN",
    "METRICS",
    "PRODUCT_COLOR",
    "REVENUE_COLOR",
    "STEP_COLORS",
    "UP",
    "fmt_change",
    "fmt_day",
    "fmt_int",
    "fmt_money",
    "fmt_percent",
    "fmt_value",
    "render_page",
]
