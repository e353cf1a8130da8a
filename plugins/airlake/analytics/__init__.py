"""ANALYSE stage output: the views of sql/athena materialised as versioned Parquet tables in Glue.

from airlake.analytics import materialise_view

result = materialise_view(engine, glue, store, database="airlake", view="daily_sales", sql=sql, ds=ds)
"""

from __future__ import annotations

from airlake.analytics.materialise import (
    ANALYTICS_PREFIX,
    PARAM_VIEW,
    MaterialiseError,
    analytics_location,
    analytics_version_prefix,
    materialise_view,
    view_table_input,
)

__all__ = [
    "ANALYTICS_PREFIX",
    "PARAM_VIEW",
    "MaterialiseError",
    "analytics_location",
    "analytics_version_prefix",
    "materialise_view",
    "view_table_input",
]
