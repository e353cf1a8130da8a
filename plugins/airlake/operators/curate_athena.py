"""EngineCurateOperator: the dataset DAGs' curate task, in the worker or as SQL on the query engine, by the
contract's ``curate.engine`` or the run's choice in the trigger form."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.curate import CurateOperator
from airlake.operators.query import QueryOperator
from airlake.pipeline import ATHENA_OUTPUT, ATHENA_WORKGROUP, CURATE_ENGINE, CURATE_ENGINES

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from airlake.contracts import Contract
    from airlake.curate.sqlrun import SqlCurateEngine
    from airlake.store import LakeStore


class EngineCurateOperator(CurateOperator, QueryOperator):
    """
    :class:`~airlake.operators.curate.CurateOperator` with a choice of engine: ``worker`` curates in
    this worker, as CurateOperator does; ``athena`` computes the same curate (inputs, versions,
    quarantine, manifest, lineage: the catalog, quality and load tasks after it are unchanged) as SQL
    on the query engine (:func:`airlake.curate.sqlrun.run_curate_sql`): Athena on AWS, DuckDB over the
    same SQL locally. Killing the task stops the running Athena query; the manifest lists every query
    id.

    :param curate_engine: ``contract`` (its ``curate.engine``), ``worker`` or ``athena``; default: the
        run's trigger-form param ``curate_engine`` (:func:`airlake.pipeline.curate_engine_param`), else
        ``contract``.

    The engine's arguments are :class:`~airlake.operators.query.QueryOperator`'s
    (``athena_output_location`` also holds the scratch files; it defaults to Variable
    ``airlake_athena_output``, ``workgroup`` to Variable ``airlake_athena_workgroup``).

    The other arguments are :class:`~airlake.operators.curate.CurateOperator`'s (``memory_limit`` is
    the local DuckDB's).
    """

    template_fields: Sequence[str] = (
        *CurateOperator.template_fields,
        "curate_engine",
        "engine",
        "athena_output_location",
        "workgroup",
    )
    ui_color = "#d6ecf5"
    _sql_engine: SqlCurateEngine | None = None

    def __init__(
        self,
        *,
        curate_engine: str = CURATE_ENGINE,
        athena_output_location: str | None = ATHENA_OUTPUT,
        workgroup: str | None = ATHENA_WORKGROUP,
        **kwargs: Any,
    ) -> None:
        super().__init__(athena_output_location=athena_output_location, workgroup=workgroup, **kwargs)
        self.curate_engine = curate_engine

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
        """The run's curate in this worker, or as SQL on the engine (:func:`airlake.curate.sqlrun.run_curate_sql`)."""
        from airlake.curate.sqlrun import run_curate_sql

        if self.engine_of(contract) == "worker":
            return super().curate(
                contract,
                store,
                run_id=run_id,
                live_location=live_location,
                work_dir=work_dir,
                ingest_date=ingest_date,
                compare_location=compare_location,
            )

        self._sql_engine = self.sql_engine(store, work_dir)
        try:
            return run_curate_sql(
                contract,
                store,
                run_id=run_id,
                live_location=live_location,
                work_dir=work_dir,
                engine=self._sql_engine,
                ingest_date=ingest_date,
                reject_rate_max=self.reject_rate_max,
                backlog=self.backlog,
                compare_location=compare_location,
            )
        finally:
            self._sql_engine.close()

    def engine_of(self, contract: Contract) -> str:
        """``worker`` or ``athena``: the run's choice, else the contract's ``curate.engine``."""
        choice = str(self.curate_engine or "contract").strip().lower()
        if choice not in ("contract", *CURATE_ENGINES):
            raise ValueError(f"curate_engine must be contract, worker or athena, got {self.curate_engine!r}")
        return str(contract.curate.engine) if choice == "contract" else choice

    def sql_engine(self, store: Any, work_dir: Path) -> SqlCurateEngine:
        """Where the SQL runs: DuckDB in this process, or Athena (through the query engine factory)."""
        from airlake.curate.sqlrun import AthenaSqlCurate, LocalSqlCurate
        from airlake.engines.factory import ENGINES

        name = str(self.engine).strip().lower()
        if name not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if name == "duckdb":
            return LocalSqlCurate(work_dir, memory_limit=self.memory_limit)
        athena = self.build_engine(self.glue_client(), store, engine="athena")
        return AthenaSqlCurate(athena, self.database)  # type: ignore[arg-type]

    def on_kill(self) -> None:
        """Stop the running Athena query, if any."""
        if self._sql_engine is not None:
            self._sql_engine.on_kill()
