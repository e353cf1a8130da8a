"""Old name of :mod:`airlake.report.business_html`, the business report's page.

Importing it gives that very module (same object); kept only until the last importers of
``airlake.analytics.report_html`` import ``airlake.report.business_html``.
"""

from __future__ import annotations

import sys

from airlake.report import business_html

sys.modules[__name__] = business_html
