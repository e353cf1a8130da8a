"""The Airflow Assets of the lake: a dataset's curated table and each materialised view.

Producers name them as ``outlets`` and attach the partitions they published to the asset event
(``extra={"partitions": [...]}``); consumers are scheduled on them and rebuild just those days. The URIs
use a private ``x-airlake`` scheme because the bucket is configuration (a Variable), not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import Asset

GROUP = "airlake"


def curated_asset(dataset: str) -> Asset:
    """The curated, catalogued table of a dataset (updated when its catalog task publishes)."""
    return Asset(name=f"curated.{dataset}", uri=f"x-airlake://curated/{dataset}", group=GROUP)


def view_asset(view: str) -> Asset:
    """A materialised view's table under analytics/."""
    return Asset(name=f"analytics.{view}", uri=f"x-airlake://analytics/{view}", group=GROUP)


def partitions_of_events(events: Mapping[Any, Sequence[Any]] | Iterable[Any]) -> list[str]:
    """The sorted distinct ``dt`` values the triggering asset events say were published.

    ``events`` is the ``triggering_asset_events`` context value (asset -> events) or a plain iterable
    of events; each event's ``extra`` may hold ``partitions``.
    """
    if isinstance(events, Mapping):
        events = [event for per_asset in events.values() for event in per_asset]
    found: set[str] = set()
    for event in events:
        extra = getattr(event, "extra", None) or (event.get("extra") if isinstance(event, Mapping) else None)
        found.update(str(dt) for dt in (extra or {}).get("partitions", []))
    return sorted(found)
