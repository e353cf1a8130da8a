"""Fixtures of the curate tests."""

from __future__ import annotations

import pytest

from tests.plugins.airlake.curate.curate_helpers import Catalog


@pytest.fixture
def catalog() -> Catalog:
    """A dict-backed catalog: dt -> live location."""
    return Catalog()
