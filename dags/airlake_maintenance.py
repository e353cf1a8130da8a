"""
### Weekly lake maintenance: tiering, cleanup, compaction, storage and cost report

Sundays at 03:00 UTC, when the daily dataset runs are idle:

1. **cleanup**: deletes curated versions superseded for longer than the grace period (never the
   version a Glue partition points at, re-checked just before deleting);
2. **compact**: rewrites partitions made of many small files as one new version and publishes it in
   Glue, like curate (rows unchanged, atomic);
3. **tiering**: writes the bucket's lifecycle rules from the contracts' tiering policies (merged with
   rules Airlake does not own, diff logged) and moves partitions whose *partition date* is past the
   policy to Standard-IA or Glacier itself, so backfilled old data does not stay hot; archived curated
   partitions are flagged in Glue;
4. **storage_report**: bytes and objects per zone, dataset and storage class with the monthly cost
   estimate (prices in `include/pricing/`) and the views' Athena scans, as
   `reports/storage/<date>/report.json` and `report.html`.

Trigger it with **Dry run** to see what each step would do without changing anything.
"""

from __future__ import annotations

from datetime import timedelta

# Airflow modules this file's operators and tasks build on, named here so that the DAG processor imports
# them once, in its manager, before it forks a parser for the file ([dag_processor]
# parsing_pre_import_modules): boto3 and the providers are then not imported again by every parse.
# tests/dags/test_dag_integrity.py checks that nothing from Airflow is left to import at parse time.
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.amazon.aws.operators.base_aws  # noqa: F401 - named for the pre-import (the comment above)
from airflow.sdk import DAG, CronDataIntervalTimetable

from airlake.operators.maintenance import (
    CleanupVersionsOperator,
    CompactPartitionsOperator,
    StorageReportOperator,
)
from airlake.operators.tiering import TieringOperator
from airlake.pipeline import check_params_once, dry_run_param, lake_dag_args

DRY_RUN = "{{ params.dry_run }}"

with DAG(
    dag_id="lake_maintenance_weekly",
    description="Tiering, cleanup of old versions, compaction and the storage & cost report",
    schedule=CronDataIntervalTimetable("0 3 * * 0", timezone="UTC"),
    tags=["airlake", "ops", "maintenance", "weekly"],
    params={"dry_run": dry_run_param("Plan only; change nothing.")},
    doc_md=__doc__,
    **lake_dag_args("airlake", deadline=timedelta(hours=6)),
) as lake_maintenance_weekly:
    cleanup = CleanupVersionsOperator(task_id="cleanup", grace_hours=72, dry_run=DRY_RUN)
    compact = CompactPartitionsOperator(task_id="compact", dry_run=DRY_RUN)
    tiering = TieringOperator(
        task_id="tiering",
        tag_superseded=False,  # cleanup deletes superseded versions itself, with the Glue re-check
        dry_run=DRY_RUN,
    )
    report = StorageReportOperator(task_id="storage_report", report_date="{{ ds }}")
    cleanup >> compact >> tiering >> report
check_params_once(lake_maintenance_weekly)
