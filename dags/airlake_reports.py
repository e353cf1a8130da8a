"""
### Weekly business report

Every Monday at 06:00 UTC, for the ISO week that just ended (the run's data interval starts on that
week's Monday): materialise the `product_popularity_weekly` view, then write the week's answers
(revenue by country in EUR, the funnel per day, the most popular products) as
`reports/business/week=<monday>/report.json` and `report.html` in the lake. The six hours after
midnight leave the daily dataset runs and the views they trigger time to publish Sunday.

**Trigger it by hand** with **Week** set to any day of the week you want (YYYY-MM-DD): the run reports
that ISO week, whatever day it runs. Left empty, a manual run reports the last complete week before the
moment it was triggered (Airflow's data interval of a manual run). A week that has not ended yet is refused.
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
import airflow.sdk.definitions.decorators  # noqa: F401 - named for the pre-import (the comment above)
from airflow.sdk import DAG, CronDataIntervalTimetable, task

from airlake.assets import view_asset
from airlake.operators.business_report import BusinessReportOperator
from airlake.operators.materialise import MaterialiseOperator
from airlake.pipeline import check_params_once, form_param, lake_dag_args, query_task_args

WEEK_START = "{{ ti.xcom_pull(task_ids='plan_week') }}"


@task
def plan_week(**context: Any) -> str:
    """The Monday of the week to report: the param ``week`` when given, else the run's data interval."""
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException

    from airlake.intervals import IntervalParamError, resolve_week

    try:
        week = resolve_week(
            context.get("params"), context.get("data_interval_start"), today=datetime.now(UTC).date()
        )
    except IntervalParamError as exc:
        raise AirflowFailException(str(exc)) from exc
    return week.isoformat()


with DAG(
    dag_id="business_weekly_report",
    description="The week's revenue, funnel and popular products, as a report in the lake",
    schedule=CronDataIntervalTimetable("0 6 * * 1", timezone="UTC"),
    tags=["airlake", "analytics", "report", "weekly"],
    params={
        "week": form_param(
            None,
            type=["null", "string"],
            format="date",
            title="Week",
            description="Any day of the ISO week to report (YYYY-MM-DD). Empty: the last complete week "
            "before the run.",
        )
    },
    doc_md=__doc__,
    **lake_dag_args("analytics-team", deadline=timedelta(hours=4)),
) as business_weekly_report:
    popularity = MaterialiseOperator(
        task_id="materialise_product_popularity",
        view="product_popularity_weekly",
        ds=WEEK_START,
        outlets=[view_asset("product_popularity_weekly")],
        **query_task_args(),
    )
    report = BusinessReportOperator(
        task_id="report",
        week_start=WEEK_START,
        **query_task_args(),
    )
    plan_week() >> popularity >> report
check_params_once(business_weekly_report)
