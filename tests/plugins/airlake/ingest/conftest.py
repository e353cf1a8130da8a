from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from airlake.ingest.base import IngestContext


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., IngestContext]:
    """An IngestContext for the daily run of ``day`` (interval [day, day + 1))."""

    def build(
        day: date = date(2026, 11, 20), run_id: str | None = None, dataset: str = "demo"
    ) -> IngestContext:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=UTC)
        return IngestContext(
            dataset=dataset,
            run_id=run_id or f"scheduled__{start.isoformat()}",
            ingest_date=day,
            interval_start=start,
            interval_end=end,
            work_dir=tmp_path / "work" / (run_id or day.isoformat()),
        )

    return build
