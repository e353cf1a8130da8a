"""EngineCurateOperator: the dataset DAGs' curate task, in the worker or as SQL on the query engine, by the
contract's ``curate.engine`` or the run's choice in the trigger form."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.base import argument
from airlake.operators.curate import CurateInputs, CurateOperator
from airlake.operators.query import QueryOperator
from airlake.pipeline import CURATE_ENGINE, CURATE_ENGINES

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.curate.record import CurateResult
    from airlake.curate.sqlrun import SqlCurateEngine
    from airlake.store import LakeStore


class EngineCurateOperator(CurateOperator, QueryOperator):
    """
    :class:`~airlake.operators.curate.CurateOperator` in this worker (``worker``) or as the same curate
    in SQL on the query engine (``athena``: :mod:`airlake.curate.sqlrun`; Athena on AWS, DuckDB over the
    same SQL locally). The engine's arguments are :class:`~airlake.operators.query.QueryOperator`'s
    (``athena_output_location`` also holds the scratch files); killing the task stops the running query.

    :param curate_engine: ``contract`` (its ``curate.engine``), ``worker`` or ``athena``; default: the
        run's trigger-form param ``curate_engine`` (:func:`airlake.pipeline.curate_engine_param`), else
        ``contract``.
    """

    template_fields: Sequence[str] = tuple(
        dict.fromkeys((*CurateOperator.template_fields, *QueryOperator.template_fields, "curate_engine"))
    )
    ui_color = "#d6ecf5"
    _sql_engine: SqlCurateEngine | None = None

    curate_engine: str = argument(CURATE_ENGINE)

    def curate(self, contract: Contract, store: LakeStore, inputs: CurateInputs) -> CurateResult:
        """The run's curate in this worker, or as SQL on the engine (:func:`airlake.curate.sqlrun.run_curate_sql`)."""
        from airlake.curate.sqlrun import run_curate_sql

        if self.engine_of(contract) == "worker":
            return super().curate(contract, store, inputs)
        self._sql_engine = self.sql_engine(store, inputs["work_dir"])
        try:
            return run_curate_sql(contract, store, engine=self._sql_engine, **inputs)
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

        if self.engine_name == "duckdb":
            return LocalSqlCurate(work_dir, memory_limit=self.memory_limit)
        athena = self.build_engine(self.glue_client(), store, engine="athena")
        return AthenaSqlCurate(athena, self.database)  # type: ignore[arg-type]

    def on_kill(self) -> None:
        """Stop the running Athena query, if any."""
        if self._sql_engine is not None:
            self._sql_engine.on_kill()
