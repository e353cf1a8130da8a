"""CurateOperator: a run's raw parts (and unpublished earlier ones) -> typed, de-duplicated Parquet versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.base import DatasetOperator

if TYPE_CHECKING:
    from datetime import date

    from airflow.sdk import Context

    from airlake.contracts import Contract
    from airlake.store import LakeStore


class CurateOperator(DatasetOperator):
    """
    Curate what the ingest task of the same run landed and, with ``backlog`` (default), every earlier
    ingested raw run of the dataset not yet published (a run that failed after its ingest): parse by
    the contract, de-duplicate, and write every touched partition as a NEW version
    ``curated/<dataset>/dt=<dt>/v=<version>/`` (existing rows + new rows), or report it ``unchanged``
    when the result equals the live version byte for byte; rejects go to
    ``quarantine/<dataset>/dt=<ds>/run=<run_id>/rejects.jsonl.gz``; the manifest
    ``_manifests/<dataset>/<run_id>/curate.json`` (each attempt kept as ``curate/attempt=<n>.json``)
    lists the partitions for the catalog task, which publishes them. Never overwrites a live version.
    Local scratch lives in ``airlake-curate-<dataset>-p<pid>-*`` under the temp dir, removed on exit;
    folders of dead runs are removed at the next start.

    Fails without retrying when the reject rate is above ``reject_rate_max`` (after quarantine and
    manifest are written): a retry would reject the same rows.

    The lake's arguments: :class:`~airlake.operators.base.LakeOperator` (``database``: its table
    ``<dataset>`` says which version of a partition is live, when ``live_locations`` is not given).

    :param live_locations: ``dt -> s3:// location`` of the live version (or None); default: the Glue
        partition's location.
    :param reject_rate_max: overrides the contract's ``quality.reject_rate_max``.
    :param memory_limit: DuckDB memory limit of the per-partition merge (it spills to disk beyond it).
    :param backlog: also curate the dataset's unpublished raw runs of earlier runs.
    """

    template_fields: Sequence[str] = (*DatasetOperator.template_fields, "memory_limit")
    ui_color = "#dff5e1"

    def __init__(
        self,
        *,
        live_locations: Callable[[str], str | None] | None = None,
        reject_rate_max: float | None = None,
        memory_limit: str = "1GB",
        backlog: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.live_locations = live_locations
        self.reject_rate_max = reject_rate_max
        self.memory_limit = memory_limit
        self.backlog = backlog

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.contracts import get_contract
        from airlake.curate import RejectRateExceeded
        from airlake.curate.spill import scratch_dir
        from airlake.intervals import interval_of
        from airlake.lineage import curate_lineage

        contract = get_contract(self.dataset)
        store = self.lake_store()
        interval = interval_of(context)
        live_location = self.live_locations or self._glue_live_locations()
        compare_location = None
        if interval.full_refresh:
            # the run re-extracted every row of its days: its partitions replace the live ones (and an
            # identical result is still not uploaded again)
            live_location, compare_location = _no_live_version, live_location
        with scratch_dir(self.dataset) as work_dir:
            try:
                summary = self.curate(
                    contract,
                    store,
                    run_id=context["run_id"],
                    live_location=live_location,
                    work_dir=Path(work_dir),
                    ingest_date=interval.start.date(),
                    compare_location=compare_location,
                )
            except RejectRateExceeded as exc:
                raise AirflowFailException(str(exc)) from exc
        self._lineage = curate_lineage(store, self.dataset, summary)
        return summary

    def curate(
        self,
        contract: Contract,
        store: LakeStore,
        *,
        run_id: str,
        live_location: Callable[[str], str | None],
        work_dir: Path,
        ingest_date: date,
        compare_location: Callable[[str], str | None] | None,
    ) -> dict[str, Any]:
        """The curate itself, in this worker (:func:`airlake.curate.run_curate`); a subclass computing it
        elsewhere overrides only this, the rest of the task (inputs, full refresh, lineage) is shared."""
        from airlake.curate import run_curate

        return run_curate(
            contract,
            store,
            run_id=run_id,
            live_location=live_location,
            work_dir=work_dir,
            ingest_date=ingest_date,
            reject_rate_max=self.reject_rate_max,
            memory_limit=self.memory_limit,
            backlog=self.backlog,
            compare_location=compare_location,
        )

    def _glue_live_locations(self) -> Callable[[str], str | None]:
        """The catalog's view: the location each Glue partition of the dataset's table points at."""
        from airlake.catalog import live_location_lookup

        return live_location_lookup(self.glue_client(), self.database, self.dataset)


def _no_live_version(dt: str) -> None:
    """A full refresh rebuilds its partitions from the run's rows alone."""
    return None
