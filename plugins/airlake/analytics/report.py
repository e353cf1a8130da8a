"""Old name of :mod:`airlake.report.business`, where the weekly business report lives with the storage report.

Kept only so that importers of ``airlake.analytics.report`` keep working until they import
``airlake.report.business``; nothing is defined here.
"""

from __future__ import annotations

from airlake.report.business import (
    CURRENCY,
    FUNNEL_STEPS,
    PREVIOUS_SOURCE,
    REPORT_QUERIES,
    SECTIONS,
    SUMMARY_METRICS,
    Render,
    build_report,
    compare,
    compare_weeks,
    previous_week_start,
    read_report,
    render_html,
    report_prefix,
    summarise,
    write_report,
)

__all__ = [
    "CURRENCY",
    "FUNNEL_STEPS",
    "PREVIOUS_SOURCE",
    "REPORT_QUERIES",
    "SECTIONS",
    "SUMMARY_METRICS",
    "Render",
    "build_report",
    "compare",
    "compare_weeks",
    "previous_week_start",
    "read_report",
    "render_html",
    "report_prefix",
    "summarise",
    "write_report",
]
