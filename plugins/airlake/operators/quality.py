"""QualityCheckOperator: the contract's dataset-level checks on what a run is about to publish."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airlake.store import LakeStore


class QualityCheckOperator(DatasetOperator):
    """
    Run the contract's ``quality.checks`` (not_null, unique, accepted_values, range, row_count_min,
    freshness) with DuckDB on the partition versions the run's curate task wrote, before the catalog task
    publishes them: a failed check fails the run (no retry: the data would not change) and nothing
    reaches Athena, the warehouse or the views. Day-based checks (row count, freshness) read every
    partition the run writes plus the interval's days (the live version of those the run did not
    rewrite), and their messages name each day, its rows and why it was checked. The results go to
    ``_manifests/<dataset>/<run_id>/quality.json`` (each attempt kept) either way.

    The dataset and the lake's arguments (``database`` says which version of an untouched day is live):
    :class:`~airlake.operators.base.DatasetOperator`.
    """

    ui_color = "#e8f4ff"

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.contracts import get_contract
        from airlake.curate.spill import scratch_dir
        from airlake.intervals import interval_dates, interval_of
        from airlake.lineage import quality_lineage
        from airlake.manifest import CurateRecord, Manifest, read_record
        from airlake.quality import QualityCheckFailed, header_findings, run_checks

        contract = get_contract(self.dataset)
        interval = interval_of(context)
        store = self.lake_store()
        run_id = context["run_id"]
        curate = read_record(store, self.dataset, run_id, CurateRecord)
        if curate is None or not curate.complete:
            raise RuntimeError(f"{self.dataset} run {run_id}: no complete curate manifest to check")
        new_keys = {p.dt: list(p.files) for p in curate.partitions}
        days = interval_dates(interval.start, interval.end)
        live = self._live_keys(store, [dt for dt in days if dt not in new_keys])

        with scratch_dir(self.dataset, stage="quality") as work:
            new_files = {dt: self._download(store, keys, Path(work)) for dt, keys in new_keys.items()}
            live_files = {dt: self._download(store, keys, Path(work)) for dt, keys in live.items()}
            results = run_checks(
                contract,
                new_files,
                {dt: new_files.get(dt) or live_files.get(dt, []) for dt in days},
                interval_end=interval.end,
                as_of=interval.as_of,
            )
        manifest = Manifest(dataset=self.dataset, run_id=run_id, stage="quality")
        manifest.interval = interval.as_dict()
        manifest.inputs = [
            {"dt": dt, "keys": keys, "new": dt in new_keys} for dt, keys in {**live, **new_keys}.items()
        ]
        headers = header_findings(curate.document)
        manifest.extra = {"checks": [result.as_dict() for result in results], "headers": headers}
        failed = [result for result in results if not result.passed]
        manifest.rows = {"checks": len(results), "failed": len(failed)}
        manifest.write(store)
        for result in results:
            self.log.info("%s %s: %s", "PASS" if result.passed else "FAIL", result.check, result.detail)
        for finding in headers:
            self.log.warning(
                "header of %s: %s", finding["key"], finding.get("refused") or finding["warnings"]
            )
        self._lineage = quality_lineage(contract, self.bucket, {**live, **new_keys}, results)
        if failed:
            error = QualityCheckFailed(self.dataset, failed)
            raise AirflowFailException(str(error)) from error  # airlake.alerts recognises the cause
        return {"dataset": self.dataset, "checks": len(results), "failed": 0}

    def _live_keys(self, store: LakeStore, dts: Sequence[str]) -> dict[str, list[str]]:
        """Keys of the live version of each of ``dts`` that Glue knows, by ``dt``."""
        if not dts:
            return {}
        from airlake.catalog import live_location_lookup
        from airlake.engines.base import list_parquet_objects

        lookup = live_location_lookup(self.glue_client(), self.database, self.dataset)
        found: dict[str, list[str]] = {}
        for dt in dts:
            location = lookup(dt)
            if location:
                found[dt] = [key for _, key, _ in list_parquet_objects(store.client, location)]
        return found

    @staticmethod
    def _download(store: LakeStore, keys: Sequence[str], work: Path) -> list[str]:
        paths = []
        for key in keys:
            path = work / key.replace("/", "__")  # keys are unique, so are their local names
            store.download(key, path)
            paths.append(str(path))
        return paths
