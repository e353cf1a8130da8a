"""Every contract test starts and ends with an empty contract cache."""

from __future__ import annotations

import pytest

from airlake.contracts import clear_cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()
