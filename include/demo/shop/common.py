"""Deterministic randomness (one independent stream per purpose) and the helpers every generator uses."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from include.demo.shop.records import Record

_CENT = Decimal("0.01")


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _rng(*parts: object) -> random.Random:
    """An independent random stream for one purpose (Random(int) is stable across Python versions)."""
    return random.Random(_digest(*parts))  # noqa: S311 - demo data, not security


def _unit(*parts: object) -> float:
    return _digest(*parts) / 2**64


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _at(day: date, ms: int) -> datetime:
    return datetime.combine(day, time(), UTC) + timedelta(milliseconds=ms)


def _iso(moment: datetime, tz: timezone = UTC) -> str:
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def _insert_after(rng: random.Random, items: list[Record], index: int, record: Record) -> None:
    items.insert(rng.randint(index + 1, len(items)), record)
