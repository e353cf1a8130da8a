"""Clickstream sessions as Kinesis records in arrival order (late, duplicate and malformed ones)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from include.demo.shop.common import _at, _digest, _insert_after, _iso, _rng, _uuid
from include.demo.shop.products import Product, _catalog
from include.demo.shop.records import (
    CUSTOMER_IDS,
    DEFAULT_SEED,
    DUPLICATE,
    LATE,
    MALFORMED,
    PLATFORMS,
    SCHEMA_CHANGE_DATE,
    Record,
    as_date,
)

_MOBILE_OFFSETS = tuple(timezone(timedelta(hours=h)) for h in (1, 0, 2, -5, -8, 1, 0))
_APP_VERSIONS = {"ios": ("5.3.0", "5.3.1", "5.4.0"), "android": ("5.3.0", "5.4.0", "5.4.1")}


def _iter_sessions(seed: int, day: date, catalog: Sequence[Product]) -> Iterator[list[tuple[datetime, dict]]]:
    """Sessions starting on ``day``: lists of (UTC event time, event without event_time)."""
    rng = _rng(seed, "clickstream", day)
    with_app_version = day >= SCHEMA_CHANGE_DATE
    for _ in range(rng.randint(650, 750) + (100 if day.weekday() >= 5 else 0)):
        session_id = _uuid(rng)
        platform = rng.choices(PLATFORMS, weights=(55, 25, 20))[0]
        user_id = None if rng.random() < 0.35 else rng.randint(*CUSTOMER_IDS)
        app_version = rng.choice(_APP_VERSIONS[platform]) if platform != "web" else None
        moment = _at(day, rng.randint(0, 23 * 3_600_000))
        steps: list[tuple[str, str | None]] = [("page_view", None)] * rng.randint(1, 4)
        if rng.random() < 0.7:
            viewed = [rng.choice(catalog).product_id for _ in range(rng.randint(1, 4))]
            steps += [("product_view", p) for p in viewed]
            if rng.random() < 0.3:
                cart = rng.choice(viewed)
                steps.append(("add_to_cart", cart))
                if rng.random() < 0.5:
                    steps.append(("checkout", cart))
                    if rng.random() < 0.7:
                        steps.append(("purchase", cart))
        session = []
        for event_type, product_id in steps:
            event: dict[str, Any] = {
                "event_id": _uuid(rng),
                "session_id": session_id,
                "user_id": user_id,
                "event_type": event_type,
                "product_id": product_id,
                "platform": platform,
            }
            if with_app_version and app_version is not None:
                event["app_version"] = app_version
            session.append((moment, event))
            moment += timedelta(milliseconds=rng.randint(3_000, 90_000))
        yield session


def _event(event: dict[str, Any], moment: datetime, tz: timezone) -> dict[str, Any]:
    out = {k: v for k, v in event.items() if k != "app_version"}
    out["event_time"] = _iso(moment, tz)
    if "app_version" in event:
        out["app_version"] = event["app_version"]
    return out


def clickstream_records(day: date, seed: int = DEFAULT_SEED) -> list[Record]:
    """The Kinesis records of ``day`` in arrival order, flaws included."""
    day = as_date(day)
    rng = _rng(seed, "clickstream-flaws", day)
    sessions = list(_iter_sessions(seed, day, _catalog(seed, day)))
    total = sum(len(s) for s in sessions)

    late: dict[int, int] = {}  # session index -> days late
    late_events, target = 0, round(0.02 * total)
    for index in rng.sample(range(len(sessions)), len(sessions)):
        if late_events >= target:
            break
        late[index] = rng.randint(1, 3)
        late_events += len(sessions[index])

    arriving: list[tuple[datetime, int, Record]] = []
    for index, session in enumerate(sessions):
        platform = session[0][1]["platform"]
        tz = UTC if platform == "web" else _MOBILE_OFFSETS[_digest(seed, session[0][1]["session_id"]) % 7]
        shift = timedelta(days=late.get(index, 0))
        flaws = frozenset({LATE}) if index in late else frozenset()
        for moment, event in session:
            arrival = moment + timedelta(milliseconds=rng.randint(100, 5_000))
            record = Record(_event(event, moment - shift, tz), event["session_id"], flaws)
            arriving.append((arrival, len(arriving), record))
    arriving.sort(key=lambda t: (t[0], t[1]))
    records = [r for _, _, r in arriving]

    for original in sorted(rng.sample(range(len(records)), round(0.01 * total)), reverse=True):
        dup = records[original]
        _insert_after(rng, records, original, Record(dup.value, dup.key, dup.flaws | {DUPLICATE}))

    kinds = ["not_json", "bad_event_time", "missing_event_id"]
    kinds += rng.choices(kinds, k=rng.randint(0, 3))
    for kind in kinds:
        source = rng.choice(records[: len(records) // 2 or 1]).value
        assert isinstance(source, dict)
        event = {**source, "event_id": _uuid(rng)}  # an extra event that got corrupted, not a lost one
        value: dict[str, Any] | str
        if kind == "not_json":
            text = json.dumps(event, separators=(",", ":"))
            value = text[: rng.randint(10, len(text) - 10)]
        elif kind == "bad_event_time":
            value = {**event, "event_time": "not-a-date"}
        else:
            value = {k: v for k, v in event.items() if k != "event_id"}
        records.insert(
            rng.randint(0, len(records)), Record(value, event["session_id"], frozenset({MALFORMED}), kind)
        )
    return records
