"""The Airflow Assets of the lake: a dataset's curated table and each materialised view.

Producers name them as ``outlets`` and attach the partitions they published to the asset event
(``extra={"partitions": [...]}``, with the days a date column holds in them, see :func:`days_of_events`);
consumers are scheduled on them and rebuild just those days. The URIs
use a private ``x-airlake`` scheme because the bucket is configuration (a Variable), not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from airflow.sdk import Asset

GROUP = "airlake"


def curated_asset(dataset: str) -> Asset:
    """The curated, catalogued table of a dataset (updated when its catalog task publishes)."""
    return Asset(name=f"curated.{dataset}", uri=f"x-airlake://curated/{dataset}", group=GROUP)


def view_asset(view: str) -> Asset:
    """A materialised view's table under analytics/."""
    return Asset(name=f"analytics.{view}", uri=f"x-airlake://analytics/{view}", group=GROUP)


def days_of_events(
    events: Mapping[Any, Sequence[Any]] | Iterable[Any], day_columns: Mapping[str, str] | None = None
) -> list[str]:
    """The sorted distinct days the triggering asset events say changed.

    ``events`` is the ``triggering_asset_events`` context value (asset -> events) or a plain iterable
    of events; each event's ``extra`` may hold ``partitions`` (the ``dt`` values published) and
    ``dates`` (per date column, the ``[first, last]`` days of each changed file's values). A consumer
    whose day is a date column of a dataset names it in ``day_columns`` (``{"fx_rates": "rate_date"}``):
    that dataset's events then give the days in those ranges (a correction of an earlier day's rate,
    published in a later partition, rebuilds the earlier day); without ranges, their partitions.
    """
    if isinstance(events, Mapping):
        events = [event for per_asset in events.values() for event in per_asset]
    found: set[str] = set()
    for event in events:
        extra = getattr(event, "extra", None) or (event.get("extra") if isinstance(event, Mapping) else None)
        extra = extra or {}
        column = (day_columns or {}).get(str(extra.get("dataset")))
        spans = (extra.get("dates") or {}).get(column) if column else None
        if spans is None:
            found.update(str(dt) for dt in extra.get("partitions", []))
            continue
        for first, last in spans:
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                found.add(day.isoformat())
                day += timedelta(days=1)
    return sorted(found)
