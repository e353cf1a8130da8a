"""Storage classes and the lake's objects as tiering sees them: key, size, storage class, partition date."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from airlake.lake import partition_value

STANDARD = "STANDARD"
STANDARD_IA = "STANDARD_IA"
GLACIER_IR = "GLACIER_IR"
GLACIER = "GLACIER"
DEEP_ARCHIVE = "DEEP_ARCHIVE"

ARCHIVE_CLASSES: frozenset[str] = frozenset({GLACIER, DEEP_ARCHIVE})
"""Classes whose objects cannot be read until restored (Glacier Instant Retrieval reads directly)."""

ARCHIVE_TARGETS: tuple[str, ...] = (GLACIER_IR, GLACIER, DEEP_ARCHIVE)
"""Classes a policy may archive to."""

MIN_STORAGE_DAYS: dict[str, int] = {STANDARD_IA: 30, GLACIER_IR: 90, GLACIER: 90, DEEP_ARCHIVE: 180}
"""Minimum storage duration S3 bills per class: deleting or moving earlier is charged as if kept."""

_COLDNESS: dict[str, int] = {
    STANDARD: 0,
    "REDUCED_REDUNDANCY": 0,
    STANDARD_IA: 1,
    "ONEZONE_IA": 1,
    GLACIER_IR: 2,
    GLACIER: 3,
    DEEP_ARCHIVE: 4,
}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def coldness(storage_class: str) -> int | None:
    """Rank of a class from hot (0) to cold; None for classes tiering leaves alone (Intelligent-Tiering,
    Outposts, Express): those manage themselves."""
    return _COLDNESS.get(storage_class)


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    etag: str
    storage_class: str


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[LakeObject]:
    """Every object under ``prefix`` with its storage class (``LakeStore.list`` has no class), page by page.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.list_objects_v2`
    """
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield LakeObject(
                key=item["Key"],
                size=int(item["Size"]),
                etag=str(item.get("ETag", "")).strip('"'),
                storage_class=item.get("StorageClass") or STANDARD,
            )


def partition_date(key: str, date_key: str) -> date | None:
    """The date of the Hive partition ``<date_key>=YYYY-MM-DD`` in an object key; None when there is none."""
    value = partition_value(key, date_key)
    if value is None or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def to_date(value: date | str) -> date:
    """A date from a ``date`` or a ``YYYY-MM-DD`` string (templated operator arguments arrive as text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def to_timedelta(value: timedelta | float | str, unit: str = "seconds") -> timedelta:
    """A duration from a ``timedelta`` or a number of ``unit`` (``seconds``, ``hours``, ...; templated
    operator arguments arrive as text)."""
    return value if isinstance(value, timedelta) else timedelta(**{unit: float(value)})
