"""Maintenance operators of the weekly DAG: storage & cost report, cleanup of expired versions, compaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airlake.intervals import as_bool
from airlake.operators.base import LakeOperator, SweepOperator, argument, dataset_names, split_names

if TYPE_CHECKING:
    from airflow.sdk import Context


DEFAULT_GRACE_HOURS = 72.0
"""Superseded versions are kept three days: far above curate-to-catalog time plus the longest query."""
DEFAULT_REGION = "us-east-1"


class StorageReportOperator(LakeOperator):
    """
    The lake's storage and cost report, ``reports/storage/<report_date>/report.json`` and ``report.html``
    (:mod:`airlake.report`): bytes and objects per zone, dataset and storage class, priced, and the bytes
    the views last scanned. The bucket is listed page by page.

    :param report_date: the report's day (default the run's ``ds``); a rerun replaces that day's report.
    :param pricing_region: region of the price table; default the connection's region, else us-east-1.
    :param pricing_file: price table YAML; default ``$AIRLAKE_PRICING_FILE`` or include/pricing.
    :param extra_buckets: further buckets to list when zones live in buckets of their own.
    :param athena_runs_per_month: view runs per month, to turn the last run's scan into a monthly cost.
    :return: ``{date, json_key, html_key, objects, bytes, monthly_cost_usd, storage_monthly_cost_usd,
        athena_monthly_cost_usd, region, warnings}``.
    """

    template_fields: Sequence[str] = (
        *LakeOperator.template_fields,
        "report_date",
        "pricing_region",
        "pricing_file",
        "extra_buckets",
    )
    ui_color = "#e3f0ff"

    report_date: str = argument("{{ ds }}")
    pricing_region: str | None = argument(None)
    pricing_file: str | None = argument(None)
    extra_buckets: Sequence[str] = argument(())
    athena_runs_per_month: int = argument(30)

    def execute(self, context: Context) -> dict[str, Any]:
        from airlake.lineage import storage_report_lineage
        from airlake.report import load_price_table, storage_report, summary_lines

        prices = load_price_table(self.pricing_file or None)
        region = self.pricing_region or self.region_name or self.hook.conn_region_name or DEFAULT_REGION
        document = storage_report(
            self.lake_store(),
            report_date=str(self.report_date),
            region=str(region),
            price_table=prices,
            buckets=[self.bucket, *split_names(self.extra_buckets)],
            runs_per_month=int(self.athena_runs_per_month),
        )
        for line in summary_lines(document):
            self.log.info("%s", line)
        self._lineage = storage_report_lineage(self.bucket, [document["json_key"], document["html_key"]])
        totals = document["totals"]
        return {
            "date": document["date"],
            "region": document["pricing"]["region"],
            "json_key": document["json_key"],
            "html_key": document["html_key"],
            "objects": totals["objects"],
            "bytes": totals["bytes"],
            "storage_monthly_cost_usd": round(totals["storage_monthly_cost_usd"], 6),
            "athena_monthly_cost_usd": round(totals["athena_monthly_cost_usd"], 6),
            "monthly_cost_usd": round(totals["monthly_cost_usd"], 6),
            "warnings": len(document["warnings"]),
        }


class CleanupVersionsOperator(SweepOperator):
    """
    Delete curated versions superseded more than ``grace_hours`` before the run's data interval end,
    and unpublished attempts as old (:func:`airlake.maintenance.cleanup_expired_versions`); never the
    live version. A dry run only counts.

    :param grace_hours: how long superseded and unpublished versions are kept.
    :param include_unpublished: also clean partitions the catalog does not know at all.
    :return: ``{dry_run, grace_hours, versions, objects, bytes, datasets: {dataset: {versions, objects,
        bytes, skipped}}}``.
    """

    template_fields: Sequence[str] = (*SweepOperator.template_fields, "grace_hours")
    ui_color = "#fde8e8"

    grace_hours: float = argument(DEFAULT_GRACE_HOURS)
    include_unpublished: bool = argument(False)

    def execute(self, context: Context) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        from airlake.lineage import cleanup_lineage
        from airlake.maintenance import cleanup_expired_versions

        grace = float(self.grace_hours)
        if grace < 0:
            raise ValueError(f"grace_hours must be >= 0, got {self.grace_hours!r}")
        # the run's time, as tiering uses it: a rerun of an old run never deletes more than it did then
        now = datetime.now(UTC)
        interval_end = context.get("data_interval_end")
        if interval_end is not None:
            now = min(now, interval_end)
        result = cleanup_expired_versions(
            self.lake_store(),
            self.glue_client(),
            self.database,
            dataset_names(self.datasets),
            grace=timedelta(hours=grace),
            now=now,
            dry_run=self.is_dry_run,
            include_unpublished=as_bool(self.include_unpublished),
            run_id=context["run_id"],
        )
        self._lineage = cleanup_lineage(self.bucket, result["datasets"], dry_run=result["dry_run"])
        return {
            "dry_run": result["dry_run"],
            "grace_hours": result["grace_hours"],
            "versions": result["versions"],
            "objects": result["objects"],
            "bytes": result["bytes"],
            "datasets": {
                name: {
                    "versions": r["versions"],
                    "objects": r["objects"],
                    "bytes": r["bytes"],
                    "skipped": len(r["skipped"]),
                }
                for name, r in result["datasets"].items()
            },
        }


class CompactPartitionsOperator(SweepOperator):
    """
    Rewrite partitions of too many or too small files as one new version and publish it
    (:func:`airlake.maintenance.compact_dataset`); a partition a curate run moved meanwhile is left
    alone. A dry run only plans.

    :param max_files: more files than this in a partition calls for compaction.
    :param small_file_bytes: a file smaller than this calls for compaction.
    :param target_file_bytes: a rewritten partition rolls to its next file at this size.
    :return: ``{dry_run, planned, compacted, skipped, files_before, files_after, datasets: {dataset:
        {planned, compacted, skipped}}}``.
    """

    template_fields: Sequence[str] = (
        *SweepOperator.template_fields,
        "max_files",
        "small_file_bytes",
        "target_file_bytes",
    )
    ui_color = "#efe6ff"

    max_files: int = argument(8)
    small_file_bytes: int = argument(32 * 1024 * 1024)
    target_file_bytes: int = argument(256 * 1024 * 1024)

    def execute(self, context: Context) -> dict[str, Any]:
        import tempfile
        from pathlib import Path

        from airlake.contracts import get_contract
        from airlake.curate.duck import ParquetLayout
        from airlake.lineage import compaction_lineage, region_of
        from airlake.maintenance import CompactionPolicy, compact_dataset

        store = self.lake_store()
        glue = self.glue_client()
        dry_run = self.is_dry_run
        policy = CompactionPolicy(
            max_files=int(self.max_files),
            small_file_bytes=int(self.small_file_bytes),
            layout=ParquetLayout(max_file_bytes=int(self.target_file_bytes)),
        )
        results: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="airlake-compact-") as work_dir:
            for name in dataset_names(self.datasets):
                results[name] = compact_dataset(
                    store,
                    glue,
                    self.database,
                    get_contract(name),
                    Path(work_dir),
                    policy=policy,
                    dry_run=dry_run,
                    run_id=context["run_id"],
                )
        self._lineage = compaction_lineage(
            self.bucket, self.database, results, dry_run=dry_run, region=region_of(self.hook)
        )
        compacted = [entry for r in results.values() for entry in r["compacted"]]
        summary = {
            "dry_run": dry_run,
            "planned": sum(len(r["planned"]) for r in results.values()),
            "compacted": len(compacted),
            "skipped": sum(len(r["skipped"]) for r in results.values()),
            "files_before": sum(e["files_before"] for e in compacted),
            "files_after": sum(e["files_after"] for e in compacted),
            "datasets": {
                name: {
                    "planned": len(r["planned"]),
                    "compacted": len(r["compacted"]),
                    "skipped": len(r["skipped"]),
                }
                for name, r in results.items()
            },
        }
        self.log.info(
            "%s %d partition(s): %d file(s) -> %d; %d skipped (moved meanwhile)",
            "Would compact" if dry_run else "Compacted",
            summary["planned"] if dry_run else summary["compacted"],
            summary["files_before"],
            summary["files_after"],
            summary["skipped"],
        )
        return summary
