"""Fixtures of the catalog tests: the orders table, created from its contract."""

from __future__ import annotations

from typing import Any

import pytest

from airlake.catalog import ensure_database, ensure_table
from airlake.contracts import get_contract
from tests.plugins.airlake.catalog.catalog_helpers import BUCKET, table_of


@pytest.fixture
def orders_table(glue, database) -> dict[str, Any]:
    """The orders table, created from its contract."""
    ensure_database(glue, database)
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    return table_of(glue, database, "orders")
