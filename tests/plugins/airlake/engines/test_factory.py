"""build_query_engine: the engine name picks DuckDB or Athena; a wrong name or a half-configured Athena fails."""

from __future__ import annotations

import pytest

from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.engines.factory import build_query_engine


def test_duckdb_is_built_over_the_given_catalog_and_store() -> None:
    glue, store = object(), object()
    engine = build_query_engine(
        " DuckDB ", glue=glue, store=store, database="db", hook_parameters={}, memory_limit="256MB"
    )
    try:
        assert isinstance(engine, DuckDBEngine)
        assert (engine.glue, engine.database) == (glue, "db")
    finally:
        engine.close()


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine must be one of \\('duckdb', 'athena'\\), got 'spark'"):
        build_query_engine("spark", glue=None, store=None, database="db", hook_parameters={})


def test_athena_needs_output_location_and_workgroup() -> None:
    with pytest.raises(ValueError, match="athena_output_location and workgroup"):
        build_query_engine("athena", glue=None, store=None, database="db", hook_parameters={}, workgroup="wg")
