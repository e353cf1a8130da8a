"""SqlCurateOperator: the curate task of a contract with ``curate: {engine: athena}``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.curate import CurateOperator, _no_live_version
from airlake.operators.materialise import QUERY_ENGINE
from airlake.pipeline import ATHENA_OUTPUT, ATHENA_WORKGROUP

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airlake.curate.athena import SqlCurateEngine


class SqlCurateOperator(CurateOperator):
    """
    The same curate as :class:`~airlake.operators.curate.CurateOperator` (inputs, versions, quarantine,
    manifest, lineage: the catalog, quality and load tasks after it are unchanged), computed as SQL on
    the query engine (:func:`airlake.curate.athena.run_curate_sql`) instead of in this worker: Athena on
    AWS, DuckDB over the same SQL locally. Killing the task stops the running Athena query; the
    manifest lists every query id.

    :param engine: ``duckdb`` or ``athena`` (default: Variable ``airlake_query_engine``, else duckdb).
    :param athena_output_location: ``s3://...`` for Athena's result and scratch files (athena only;
        default: Variable ``airlake_athena_output``).
    :param workgroup: the Athena workgroup (default: Variable ``airlake_athena_workgroup``).

    The other arguments are :class:`~airlake.operators.curate.CurateOperator`'s (``memory_limit`` is
    the local DuckDB's).
    """

    template_fields: Sequence[str] = (
        *CurateOperator.template_fields,
        "engine",
        "athena_output_location",
        "workgroup",
    )
    ui_color = "#d6ecf5"
    _sql_engine: SqlCurateEngine | None = None

    def __init__(
        self,
        *,
        engine: str = QUERY_ENGINE,
        athena_output_location: str | None = ATHENA_OUTPUT,
        workgroup: str | None = ATHENA_WORKGROUP,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.athena_output_location = athena_output_location
        self.workgroup = workgroup

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.contracts import get_contract
        from airlake.curate import RejectRateExceeded
        from airlake.curate.athena import run_curate_sql
        from airlake.curate.spill import scratch_dir
        from airlake.intervals import interval_of
        from airlake.lineage import curate_lineage

        contract = get_contract(self.dataset)
        store = self.lake_store()
        interval = interval_of(context)
        live_location = self.live_locations or self._glue_live_locations()
        compare_location = None
        if interval.full_refresh:  # as CurateOperator: the run's rows replace the live partitions
            live_location, compare_location = _no_live_version, live_location
        with scratch_dir(self.dataset) as work_dir:
            self._sql_engine = self.sql_engine(store, Path(work_dir))
            try:
                summary = run_curate_sql(
                    contract,
                    store,
                    run_id=context["run_id"],
                    live_location=live_location,
                    work_dir=Path(work_dir),
                    engine=self._sql_engine,
                    ingest_date=interval.start.date(),
                    reject_rate_max=self.reject_rate_max,
                    backlog=self.backlog,
                    compare_location=compare_location,
                )
            except RejectRateExceeded as exc:
                raise AirflowFailException(str(exc)) from exc
            finally:
                self._sql_engine.close()
        self._lineage = curate_lineage(store, self.dataset, summary)
        return summary

    def sql_engine(self, store: Any, work_dir: Path) -> SqlCurateEngine:
        """Where the SQL runs: DuckDB in this process, or Athena (through the query engine factory)."""
        from airlake.curate.athena import AthenaSqlCurate, LocalSqlCurate
        from airlake.engines.factory import ENGINES, build_query_engine

        name = str(self.engine).strip().lower()
        if name not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if name == "duckdb":
            return LocalSqlCurate(work_dir, memory_limit=self.memory_limit)
        athena = build_query_engine(
            "athena",
            glue=self.glue_client(),
            store=store,
            database=self.database,
            hook_parameters=self._hook_parameters,
            athena_output_location=self.athena_output_location,
            workgroup=self.workgroup,
        )
        return AthenaSqlCurate(athena, self.database)  # type: ignore[arg-type]

    def on_kill(self) -> None:
        """Stop the running Athena query, if any."""
        if self._sql_engine is not None:
            self._sql_engine.on_kill()
