"""CurateOperator: a run's raw parts (and unpublished earlier ones) -> typed, de-duplicated Parquet versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from airlake.operators.base import DatasetOperator, argument

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airlake.contracts import Contract
    from airlake.curate.record import CurateResult
    from airlake.curate.runner import CurateOptions
    from airlake.store import LakeStore


class CurateInputs(TypedDict):
    """What one run's curate is given, whichever engine computes it (the keywords of
    :func:`airlake.curate.run_curate` and :func:`airlake.curate.sqlrun.run_curate_sql` alike)."""

    run_id: str
    live_location: Callable[[str], str | None]
    work_dir: Path
    reject_rate_max: float | None
    backlog: bool
    options: CurateOptions


class CurateOperator(DatasetOperator):
    """
    Curate the run's raw parts into new curated versions, rejects and a manifest
    (:mod:`airlake.curate`); the catalog task publishes them. A reject rate above the budget fails
    the task without retry (a retry would reject the same rows).

    :param live_locations: ``dt -> s3:// location`` of the live version (or None); default: the Glue
        partition's location in table ``<database>.<dataset>``.
    :param reject_rate_max: overrides the contract's ``quality.reject_rate_max``.
    :param memory_limit: DuckDB memory limit of the per-partition merge (it spills to disk beyond it).
    :param backlog: also curate the dataset's unpublished raw runs of earlier runs.
    """

    template_fields: Sequence[str] = (*DatasetOperator.template_fields, "memory_limit")
    ui_color = "#dff5e1"

    live_locations: Callable[[str], str | None] | None = argument(None)
    reject_rate_max: float | None = argument(None)
    memory_limit: str = argument("1GB")
    backlog: bool = argument(True)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.contracts import get_contract
        from airlake.curate import CurateOptions, RejectRateExceeded
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
            inputs = CurateInputs(
                run_id=context["run_id"],
                live_location=live_location,
                work_dir=Path(work_dir),
                reject_rate_max=self.reject_rate_max,
                backlog=self.backlog,
                options=CurateOptions(
                    ingest_date=interval.start.date(),
                    compare_location=compare_location,
                    memory_limit=self.memory_limit,
                ),
            )
            try:
                result = self.curate(contract, store, inputs)
            except RejectRateExceeded as exc:
                raise AirflowFailException(str(exc)) from exc
        self._lineage = curate_lineage(store, self.dataset, result.summary, record=result.record)
        return result.summary

    def curate(self, contract: Contract, store: LakeStore, inputs: CurateInputs) -> CurateResult:
        """The curate itself, in this worker (:func:`airlake.curate.run_curate`); a subclass computing it
        elsewhere overrides only this, the rest of the task (inputs, full refresh, lineage) is shared."""
        from airlake.curate import run_curate

        return run_curate(contract, store, **inputs)

    def _glue_live_locations(self) -> Callable[[str], str | None]:
        """The catalog's view: the location each Glue partition of the dataset's table points at."""
        from airlake.catalog import live_location_lookup

        return live_location_lookup(self.glue_client(), self.database, self.dataset)


def _no_live_version(dt: str) -> None:
    """A full refresh rebuilds its partitions from the run's rows alone."""
    return None
