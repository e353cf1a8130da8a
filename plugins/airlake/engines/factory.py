"""Which query engine a task uses: DuckDB over the Glue catalog (local) or Athena (AWS), built in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlake.engines import QueryEngine
    from airlake.store import LakeStore

ENGINES = ("duckdb", "athena")


def build_query_engine(
    engine_name: str,
    *,
    glue: Any,
    store: LakeStore,
    database: str,
    hook_parameters: dict[str, Any],
    athena_output_location: str | None = None,
    workgroup: str | None = None,
    memory_limit: str | None = "1GB",
) -> QueryEngine:
    """The engine a task queries with: DuckDB over the Glue catalog (local) or Athena (AWS, every query's
    files encrypted as the lake's writes are: :func:`~airlake.engines.athena.lake_encryption`)."""
    engine_name = str(engine_name).strip().lower()
    if engine_name not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine_name!r}")
    if engine_name == "duckdb":
        from airlake.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(glue, store, database, memory_limit=memory_limit or None)
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from airlake.aws import configure
    from airlake.engines.athena import AthenaEngine, lake_encryption

    if not athena_output_location or not workgroup:
        raise ValueError("engine 'athena' needs athena_output_location and workgroup")
    return AthenaEngine(
        configure(AthenaHook(**hook_parameters)),
        database,
        output_location=athena_output_location,
        workgroup=workgroup,
        glue=glue,
        s3=store,
        encryption=lake_encryption(store),
    )
