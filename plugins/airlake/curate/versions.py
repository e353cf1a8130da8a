"""Partition versions: ids, where they live (and their files' download), and which superseded ones
maintenance may delete.

Curate never overwrites what readers may be reading: every attempt writes a new version prefix
``curated/<dataset>/<column>=<value>/v=<version>/`` (:func:`airlake.lake.curated_version_prefix`) and the catalog stage publishes it by pointing the Glue
partition at it. A version id is a UTC timestamp with microseconds (``20261125T051500123456Z``): new
for every attempt and sortable as text, so "newer" is a string comparison.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from airlake.lake import (
    DEFAULT_PARTITION_COLUMN,
    curated_dataset_prefix,
    curated_version_prefix,
    split_curated_version_key,
    split_s3_uri,
)

if TYPE_CHECKING:
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

VERSION_FORMAT = "%Y%m%dT%H%M%S%fZ"
_VERSION = re.compile(r"^\d{8}T\d{12}Z$")
_VERSION_IN_PATH = re.compile(r"/v=(?P<version>[^/]+)/?$")
_lock = threading.Lock()
_last: list[str] = [""]


def format_version(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(VERSION_FORMAT)


def parse_version(version: str) -> datetime:
    """The UTC time a version id stands for; ValueError when it is not a version id."""
    if not _VERSION.match(version):
        raise ValueError(f"not a version id (expected like 20261125T051500123456Z): {version!r}")
    return datetime.strptime(version, VERSION_FORMAT).replace(tzinfo=UTC)


def new_version_id(*, after: str | None = None, now: datetime | None = None) -> str:
    """A fresh version id: now (UTC, microseconds), strictly later than any id this process made and
    than ``after`` (the live version), so a new version always sorts after the one it replaces."""
    with _lock:
        candidate = format_version(now or datetime.now(UTC))
        floor = max(_last[0], after or "")
        if floor and candidate <= floor:
            candidate = format_version(parse_version(floor) + timedelta(microseconds=1))
        _last[0] = candidate
        return candidate


def split_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> (bucket, ``prefix/``); an empty key stays empty (the bucket's root)."""
    bucket, key = split_s3_uri(location)
    return bucket, (key.rstrip("/") + "/") if key else ""


def location_store(store: LakeStore, location: str) -> tuple[LakeStore, str]:
    """(the store of the location's bucket, with ``store``'s encryption settings; the ``prefix/``)."""
    bucket, prefix = split_location(location)
    if bucket == store.bucket:
        return store, prefix
    from airlake.store import LakeStore

    other = LakeStore(store.hook, bucket)
    other.sse = dict(store.sse)
    return other, prefix


def download_version_files(store: LakeStore, location: str, folder: Path) -> list[Path]:
    """Whole-object downloads (moto is slow at ranges) of the Parquet files directly under a partition
    version's ``location``, in key order, as ``folder/live-<n>.parquet``; [] when it holds none."""
    source, prefix = location_store(store, location)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for obj in sorted(source.list(prefix), key=lambda item: item.key):
        name = obj.key[len(prefix) :]
        if "/" in name or not name.endswith(".parquet"):
            continue
        path = folder / f"live-{len(paths):05d}.parquet"
        source.download(obj.key, path)
        paths.append(path)
    if not paths:
        log.warning("Live location %s holds no Parquet files: the partition starts empty", location)
    return paths


def version_of_location(location: str | None) -> str | None:
    """The version id in a location ``.../v=<version>/``; None when there is none."""
    if not location:
        return None
    match = _VERSION_IN_PATH.search(location)
    if match and _VERSION.match(match.group("version")):
        return match.group("version")
    return None


def list_versions(
    store: LakeStore, dataset: str, *, column: str = DEFAULT_PARTITION_COLUMN
) -> dict[str, list[str]]:
    """{partition value: [version, ...] oldest first} of every version folder under ``curated/<dataset>/``
    (``column`` is the contract's partition column)."""
    found: dict[str, set[str]] = {}
    for obj in store.list(curated_dataset_prefix(dataset)):
        parsed = split_curated_version_key(obj.key, column)
        if parsed and parsed[0] == dataset:
            found.setdefault(parsed[1], set()).add(parsed[2])
    return {dt: sorted(versions) for dt, versions in sorted(found.items())}


def versions_to_clean(
    store: LakeStore,
    dataset: str,
    live: Mapping[str, str | None],
    grace: timedelta,
    *,
    now: datetime | None = None,
    include_unpublished: bool = False,
    column: str = DEFAULT_PARTITION_COLUMN,
) -> list[str]:
    """
    Version prefixes (``curated/<dataset>/<column>=<value>/v=<version>/``) that maintenance may delete.

    A version is kept while it is live, or while readers or a running curate may still need it:

    * older than the live one: deletable once the version that superseded it (the next newer one) was
      written more than ``grace`` ago, so queries that started on it have long finished;
    * newer than the live one (an attempt that was never published, or one being published right now):
      deletable once it is itself older than ``grace``.

    Choose ``grace`` above the longest time from curate to catalog plus the longest query.

    :param store: the lake bucket.
    :param dataset: the dataset (its curated prefix is listed).
    :param live: {dt: live location} as the catalog has it (``s3://bucket/curated/.../v=<version>/``).
    :param grace: how long a superseded or unpublished version is kept.
    :param now: the current time (tests); default now.
    :param include_unpublished: also clean partitions absent from ``live`` (never published: every
        version there is an abandoned attempt). Off by default, so an incomplete ``live`` mapping can
        never delete published data.
    :param column: the contract's partition column.
    """
    moment = now or datetime.now(UTC)
    cutoff = moment - grace
    prefixes: list[str] = []
    for dt, versions in list_versions(store, dataset, column=column).items():
        if dt not in live and not include_unpublished:
            continue
        live_location = live.get(dt)
        live_version = version_of_location(live_location)
        if live_location and live_version is None:
            continue  # the catalog points somewhere we do not understand: touch nothing
        for index, version in enumerate(versions):
            if version == live_version:
                continue
            try:
                written = parse_version(version)
                superseded = parse_version(versions[index + 1]) if index + 1 < len(versions) else written
            except ValueError:
                continue  # not ours
            newer_than_live = live_version is None or version > live_version
            reference = written if newer_than_live else superseded
            if reference < cutoff:
                prefixes.append(curated_version_prefix(dataset, dt, version, column=column))
    return prefixes


ORPHAN_GRACE = timedelta(minutes=15)
"""How much older than the running attempt a version must be to count as left behind: maintenance's
compaction writes a version and publishes it moments later, and must not lose it to a curate meanwhile."""


def orphan_versions(
    store: LakeStore,
    dataset: str,
    *,
    after: str,
    before: str,
    grace: timedelta = ORPHAN_GRACE,
    column: str = DEFAULT_PARTITION_COLUMN,
) -> list[tuple[str, str]]:
    """
    ``(dt, version)`` of every version written between two curate attempts' version ids.

    Curate advances ``after`` (in ``_state/<dataset>/curate.json``) to its own version id each time it
    completes, and a dataset's runs curate one at a time, so a version after the last complete
    attempt's id and more than ``grace`` before the running attempt's id ``before`` was left by an
    attempt that was killed or failed: no complete record names it and the catalog never published it
    (the caller still skips a live one, to be safe).
    """
    cutoff = min(before, format_version(parse_version(before) - grace))
    if after >= cutoff:
        return []
    return [
        (dt, version)
        for dt, versions in list_versions(store, dataset, column=column).items()
        for version in versions
        if after < version < cutoff
    ]
