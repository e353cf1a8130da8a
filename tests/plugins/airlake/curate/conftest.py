"""Fixtures of the curate tests."""

from __future__ import annotations

import pytest

from tests.plugins.airlake.curate.curate_helpers import Catalog


@pytest.fixture
def catalog() -> Catalog:
    """A dict-backed catalog: dt -> live location."""
    return Catalog()


@pytest.fixture(params=["rows", "arrow"])
def curate_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Curate CSV by the row path (flags off), or by the Arrow structure pass and the vector typing with
    chunks of a few lines, so small files cross many chunk boundaries and take the fast path."""
    from airlake.curate import csv_split, parts

    if request.param == "arrow":
        monkeypatch.setattr(parts, "VECTOR_TYPING", True)
        monkeypatch.setattr(parts, "ARROW_STRUCTURE", True)
        monkeypatch.setattr(csv_split, "FIRST_CHARS", 8)
        monkeypatch.setattr(csv_split, "ARROW_CHARS", 48)
    else:
        monkeypatch.setattr(parts, "VECTOR_TYPING", False)
        monkeypatch.setattr(parts, "ARROW_STRUCTURE", False)
    return str(request.param)
