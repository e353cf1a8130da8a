"""The engines' fixtures, reused: a fresh Glue database, curated demo tables published into moto Glue,
a table partitioned by ``day``."""

from __future__ import annotations

from tests.plugins.airlake.engines.conftest import curated
from tests.plugins.airlake.engines.test_engine_duckdb import engine, shop
from tests.plugins.airlake.engines.test_pruning import by_day

__all__ = ["by_day", "curated", "engine", "shop"]
