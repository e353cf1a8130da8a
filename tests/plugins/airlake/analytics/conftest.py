"""The engines' fixtures, reused: a fresh Glue database, curated demo tables published into moto Glue."""

from __future__ import annotations

from tests.plugins.airlake.engines.conftest import curated
from tests.plugins.airlake.engines.test_engine_duckdb import engine, shop

__all__ = ["curated", "engine", "shop"]
