"""Old home of the business report's tests, now tests/plugins/airlake/report/test_business.py.

Kept only for the helpers other tests import from here (``demo_report`` and the demo views) until they
import them from the new module; it holds no test of its own.
"""

from __future__ import annotations

from tests.plugins.airlake.report.test_business import (
    PREVIOUS,
    WEEK,
    ViewEngine,
    demo_report,
    demo_views,
    render_sql,
)

__all__ = ["PREVIOUS", "WEEK", "ViewEngine", "demo_report", "demo_views", "render_sql"]
