"""
### Materialised views, scheduled by data

One DAG per daily view of `sql/athena/` (Athena SQL; DuckDB over the Glue catalog locally). A view's
DAG is scheduled on the **assets** of the curated datasets it reads, not on a clock: when a dataset
run publishes partitions, its catalog task updates the asset `curated.<dataset>` with the days it
changed (for fx_rates also the rate dates they hold: a correction published a day later rebuilds the
day it corrects), and the view is rebuilt for exactly those days (one mapped task per day), each as a new
Parquet version under `analytics/<view>/dt=<day>/` published in Glue. Trigger one from the UI with
**First day / Last day** to rebuild a range by hand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Airflow modules this file's operators and tasks build on, named here so that the DAG processor imports
# them once, in its manager, before it forks a parser for the file ([dag_processor]
# parsing_pre_import_modules): boto3 and the providers are then not imported again by every parse.
# tests/dags/test_dag_integrity.py checks that nothing from Airflow is left to import at parse time.
import airflow.providers.amazon.aws.hooks.glue_catalog
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.amazon.aws.operators.base_aws
import airflow.providers.standard.operators.empty
import airflow.sdk.bases.sensor
import airflow.sdk.definitions.decorators  # noqa: F401 - named for the pre-import (the comment above)
from airflow.sdk import DAG, AssetAny, task

from airlake.assets import curated_asset, view_asset
from airlake.operators.materialise import MaterialiseOperator
from airlake.pipeline import check_params_once, interval_params, lake_dag_args, query_task_args

DAILY_VIEWS: dict[str, dict[str, str]] = {
    "daily_sales": {"orders": "dt", "fx_rates": "rate_date"},
    "funnel_daily": {"clickstream": "dt"},
}
"""Each daily view, the datasets its SQL reads and, per dataset, the column that is the view's day (a
test checks both against the SQL): ``dt``, the partition, or a date column such as fx_rates' ``rate_date``
(a rate corrected a day later is published in the later partition but changes the earlier day)."""


@task
def days_to_build(day_columns: dict[str, str], **context: Any) -> list[str]:
    """The days to rebuild: the params' range, else the days the triggering asset events changed."""
    from airlake.assets import days_of_events
    from airlake.intervals import interval_dates, interval_of

    params = context.get("params") or {}
    if params.get("start_date"):
        interval = interval_of(context)
        return interval_dates(interval.start, interval.end)
    return days_of_events(context.get("triggering_asset_events") or {}, day_columns)


def view_dag(view: str, day_columns: dict[str, str]) -> DAG:
    datasets = tuple(day_columns)
    with DAG(
        dag_id=f"view_{view}",
        description=f"Materialise the {view} view when {', '.join(datasets)} publish new partitions",
        schedule=AssetAny(*(curated_asset(name) for name in datasets)),
        tags=["airlake", "analytics", "view"],
        params={key: value for key, value in interval_params().items() if key in ("start_date", "end_date")},
        doc_md=__doc__,
        **lake_dag_args("analytics-team", deadline=timedelta(hours=1)),
    ) as dag:
        MaterialiseOperator.partial(
            task_id="materialise",
            view=view,
            outlets=[view_asset(view)],
            **query_task_args(),
        ).expand(ds=days_to_build(day_columns))
    return check_params_once(dag)


for _view, _day_columns in DAILY_VIEWS.items():
    globals()[f"view_{_view}"] = view_dag(_view, _day_columns)
