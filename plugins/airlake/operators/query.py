"""QueryOperator: the stages that query the lake's tables (materialised views, the business report)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airlake.operators.base import LakeOperator, argument
from airlake.pipeline import ATHENA_OUTPUT, ATHENA_WORKGROUP, QUERY_ENGINE

if TYPE_CHECKING:
    from airlake.engines import QueryEngine
    from airlake.store import LakeStore


class QueryOperator(LakeOperator):
    """
    A stage that runs SQL on DuckDB over the Glue catalog (local) or on Athena (AWS); killing the task
    stops the running Athena query. The hook stays the subclass's choice (a view's Glue, curate's S3).

    :param engine: ``duckdb`` or ``athena`` (default: Variable ``airlake_query_engine``, else duckdb).
    :param athena_output_location: ``s3://...`` for Athena's result files (required with athena);
        default Variable ``airlake_athena_output``.
    :param workgroup: the Athena workgroup; default Variable ``airlake_athena_workgroup``, else primary.
    """

    template_fields: Sequence[str] = (
        *LakeOperator.template_fields,
        "engine",
        "athena_output_location",
        "workgroup",
    )
    _query_engine: QueryEngine | None = None

    engine: str = argument(QUERY_ENGINE)
    athena_output_location: str | None = argument(ATHENA_OUTPUT)
    workgroup: str | None = argument(ATHENA_WORKGROUP)

    @property
    def engine_name(self) -> str:
        """``engine`` as rendered, checked: ``duckdb`` or ``athena``; ValueError for anything else."""
        from airlake.engines.factory import ENGINES

        name = str(self.engine).strip().lower()
        if name not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        return name

    def build_engine(
        self, glue: Any, store: LakeStore, *, engine: str | None = None, memory_limit: str | None = "1GB"
    ) -> QueryEngine:
        """``engine`` (default the task's) on the task's connection and Athena settings
        (:func:`airlake.engines.factory.build_query_engine`)."""
        from airlake.engines.factory import build_query_engine

        return build_query_engine(
            engine or self.engine,
            glue=glue,
            store=store,
            database=self.database,
            hook_parameters=self._hook_parameters,
            athena_output_location=self.athena_output_location,
            workgroup=self.workgroup,
            memory_limit=memory_limit,
        )

    @contextmanager
    def query_engine(
        self, glue: Any, store: LakeStore, *, memory_limit: str | None = "1GB"
    ) -> Iterator[QueryEngine]:
        """The task's engine (:meth:`build_engine`), stopped by :meth:`on_kill`, closed on exit."""
        self._query_engine = self.build_engine(glue, store, memory_limit=memory_limit)
        try:
            yield self._query_engine
        finally:
            close = getattr(self._query_engine, "close", None)
            if close is not None:
                close()

    def on_kill(self) -> None:
        """Stop the running Athena query, if any."""
        engine = self._query_engine
        if engine is not None and hasattr(engine, "on_kill"):
            engine.on_kill()
