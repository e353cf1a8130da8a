"""Old name of :mod:`airlake.report.business`, where the weekly business report lives beside the storage report.

Importing it gives that very module (same object, so a monkeypatch through either name is seen by both);
kept only until the last importers of ``airlake.analytics.report`` import ``airlake.report.business``.
"""

from __future__ import annotations

import sys

from airlake.report import business

sys.modules[__name__] = business
