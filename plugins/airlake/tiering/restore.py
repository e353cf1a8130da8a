"""Glacier restore of archived partitions.

Objects in Glacier Flexible Retrieval or Deep Archive cannot be read until restored: a restore makes a
temporary readable copy for some days (the object stays in its class). A backfill or reprocessing
run that needs archived partitions finds them (:func:`plan_restores`), requests their restore
(:func:`start_restores`), waits until :func:`check_restores` finds them all readable (:func:`wait_for_restores`
here, or the triggerer's ``GlacierRestoreTrigger``), then records what it restored (:func:`finish_restore`).
``GlacierRestoreOperator`` only configures and calls these.

The Glue partition flags that say which partitions are archived (``airlake.archived``,
``airlake.storage_class``, ``airlake.restored_until``) live in :mod:`airlake.catalog.partitions`, with
the partition reads; their names are importable from here too, for the tiering stage's importers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airlake.lake import (
    CURATED,
    RAW,
    RAW_DATE_COLUMN,
    manifest_key,
    s3_prefix,
    s3_uri,
    zone_date_column,
    zone_partition_prefix,
)
from airlake.tiering.objects import ARCHIVE_CLASSES, STANDARD, LakeObject, list_objects, partition_date

if TYPE_CHECKING:
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

RESTORE_TIERS = ("Expedited", "Standard", "Bulk")
ZONE_DATE_KEYS = {RAW: RAW_DATE_COLUMN, CURATED: zone_date_column(CURATED)}
"""The zones a restore reads, with the partition key of their object keys (curated: unless the contract
names another partition column)."""


class RestoreError(RuntimeError):
    """Archived objects could not be restored (or checked)."""


class RestoreTimeout(RestoreError):
    """Objects still not readable when the wait ran out."""


# --------------------------------------------------------------------------------------------------
# Restore of objects
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreStatus:
    """What ``head_object`` says about one object's readability."""

    key: str
    storage_class: str
    ongoing: bool = False
    expiry: datetime | None = None

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVE_CLASSES

    @property
    def readable(self) -> bool:
        """Readable now: not archived, or archived with a finished restore."""
        return not self.archived or (not self.ongoing and self.expiry is not None)


_ONGOING = re.compile(r'ongoing-request="(?P<ongoing>true|false)"')
_EXPIRY = re.compile(r'expiry-date="(?P<expiry>[^"]+)"')


def restore_status(key: str, head: Mapping[str, Any]) -> RestoreStatus:
    """
    Parse ``head_object``: ``StorageClass`` and the ``Restore`` header, which reads
    ``ongoing-request="true"`` while a restore runs and
    ``ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`` once the copy is readable.
    """
    header = str(head.get("Restore") or "")
    ongoing = _ONGOING.search(header)
    expiry = _EXPIRY.search(header)
    until = None
    if expiry:
        until = parsedate_to_datetime(expiry.group("expiry"))
        until = until.replace(tzinfo=UTC) if until.tzinfo is None else until.astimezone(UTC)
    return RestoreStatus(
        key=key,
        storage_class=head.get("StorageClass") or STANDARD,
        ongoing=bool(ongoing and ongoing.group("ongoing") == "true"),
        expiry=until,
    )


def check_restores(client: Any, bucket: str, keys: Iterable[str]) -> dict[str, RestoreStatus]:
    """
    Each object's restore status (one ``head_object`` each).

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.head_object`

    :raises RestoreError: when an object is gone (it cannot become readable).
    """
    statuses: dict[str, RestoreStatus] = {}
    for key in keys:
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise RestoreError(f"{s3_uri(bucket, key)} no longer exists: it cannot be restored") from exc
            raise RestoreError(f"head_object {s3_uri(bucket, key)} failed: {exc}") from exc
        statuses[key] = restore_status(key, head)
    return statuses


def pending(statuses: Mapping[str, RestoreStatus]) -> list[str]:
    """Keys not readable yet."""
    return sorted(key for key, status in statuses.items() if not status.readable)


def _days(start: date, end: date) -> Iterator[date]:
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def partition_days(start: date, end: date) -> list[str]:
    """``YYYY-MM-DD`` of every day from ``start`` to ``end`` (inclusive)."""
    return [day.isoformat() for day in _days(start, end)]


def plan_restores(
    client: Any,
    bucket: str,
    dataset: str,
    zone: str,
    start: date,
    end: date,
    *,
    live: Mapping[str, str | None] | None = None,
    date_key: str | None = None,
    glue: Any = None,
    database: str | None = None,
) -> list[LakeObject]:
    """
    The archived objects of a dataset's partitions from ``start`` to ``end`` (inclusive).

    Raw partitions are ``ingest_date=`` days; curated partitions ``dt=`` days (or the contract's
    partition column), and with ``live`` (``{dt: live location}``, or read from the Glue table
    ``database.dataset`` with ``glue``) only the live version of each is restored, never superseded ones.

    :param client: a boto3 S3 client.
    :param bucket: the lake bucket.
    :param dataset: the dataset.
    :param zone: ``raw`` or ``curated``.
    :param start: first partition date.
    :param end: last partition date.
    :param live: live location per dt (curated); partitions without one are left out.
    :param date_key: the partition key of the zone's keys (curated: the contract's partition column);
        default :data:`ZONE_DATE_KEYS`.
    :param glue: a boto3 Glue client to read ``live`` from (curated, when ``live`` is not given).
    :param database: the Glue database (with ``glue``).
    """
    if zone not in ZONE_DATE_KEYS:
        raise ValueError(f"zone must be one of {', '.join(ZONE_DATE_KEYS)}, got {zone!r}")
    if zone == CURATED and live is None and glue is not None:
        from airlake.catalog import get_partitions, partition_locations

        live = partition_locations(get_partitions(glue, database, dataset, partition_days(start, end)))
    column = date_key or ZONE_DATE_KEYS[zone]
    found: list[LakeObject] = []
    for day in _days(start, end):
        prefix = zone_partition_prefix(zone, dataset, day.isoformat(), column)
        if zone == CURATED and live is not None:
            location = live.get(day.isoformat())
            if not location:
                continue
            live_bucket, prefix = s3_prefix(location)
            if live_bucket != bucket:
                log.warning(
                    "Partition %s dt=%s lives in another bucket (%s): skipped", dataset, day, location
                )
                continue
        found.extend(
            obj for obj in list_objects(client, bucket, prefix) if obj.storage_class in ARCHIVE_CLASSES
        )
    log.info("%d archived object(s) of %s/%s from %s to %s", len(found), zone, dataset, start, end)
    return found


def request_restores(
    client: Any, bucket: str, keys: Iterable[str], *, days: int = 7, tier: str = "Standard"
) -> dict[str, str]:
    """
    Ask S3 to restore each archived object for ``days`` days. Safe to repeat: a restore in progress
    is left alone, a finished one is extended to ``days`` from now.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.restore_object`

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param keys: archived objects.
    :param days: how long the restored copy stays readable.
    :param tier: ``Expedited`` (minutes, not for Deep Archive), ``Standard`` (hours) or ``Bulk``.
    :return: ``{key: "requested" | "in_progress" | "restored" | "not_archived"}``.
    """
    if tier not in RESTORE_TIERS:
        raise ValueError(f"restore tier must be one of {', '.join(RESTORE_TIERS)}, got {tier!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"restore days must be a whole number >= 1, got {days!r}")
    outcome: dict[str, str] = {}
    for key in keys:
        try:
            response = client.restore_object(
                Bucket=bucket,
                Key=key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "RestoreAlreadyInProgress":
                outcome[key] = "in_progress"
                continue
            if code == "InvalidObjectState":  # no longer archived (promoted back): readable as it is
                outcome[key] = "not_archived"
                continue
            raise RestoreError(f"restore_object {s3_uri(bucket, key)} failed: {exc}") from exc
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        outcome[key] = "restored" if status == 200 else "requested"
    counts: dict[str, int] = {}
    for value in outcome.values():
        counts[value] = counts.get(value, 0) + 1
    log.info("Restore of %d object(s) in s3://%s (%s, %d days): %s", len(outcome), bucket, tier, days, counts)
    return outcome


# --------------------------------------------------------------------------------------------------
# One restore of a dataset's date range: plan, request, wait, finish
# --------------------------------------------------------------------------------------------------


def start_restores(
    client: Any, bucket: str, keys: list[str], *, days: int = 7, tier: str = "Standard"
) -> list[str]:
    """Request the restore of ``keys`` (:func:`request_restores`); the keys not readable yet."""
    if not keys:
        return []
    request_restores(client, bucket, keys, days=days, tier=tier)
    return pending(check_restores(client, bucket, keys))


def wait_for_restores(
    client: Any,
    bucket: str,
    waiting: list[str],
    *,
    poke_interval: float,
    max_wait: timedelta,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """
    Check the ``waiting`` keys every ``poke_interval`` seconds until all are readable (only those still
    pending are checked again): the wait of a worker that does not defer to the triggerer.

    :raises RestoreTimeout: some are still not readable after ``max_wait``.
    """
    total = len(waiting)
    deadline = clock() + max_wait.total_seconds()
    while waiting:
        if clock() >= deadline:
            raise RestoreTimeout(
                f"{len(waiting)} object(s) of s3://{bucket} still not restored after {max_wait} "
                f"(e.g. {waiting[0]})"
            )
        log.info("%d of %d object(s) still being restored", len(waiting), total)
        sleep(poke_interval)
        waiting = pending(check_restores(client, bucket, waiting))


def restored_until(statuses: Mapping[str, RestoreStatus], date_key: str) -> dict[str, datetime | None]:
    """{partition date: when its first restored copy expires} of the keys (None: nothing there expires,
    it was not archived); keys without a partition date are left out."""
    until: dict[str, datetime | None] = {}
    for key, status in statuses.items():
        day = partition_date(key, date_key)
        if day is None:
            continue
        dt = day.isoformat()
        if status.expiry is not None:
            current = until.get(dt)
            until[dt] = status.expiry if current is None else min(current, status.expiry)
        else:
            until.setdefault(dt, None)
    return until


def restore_record_key(dataset: str, run_id: str, zone: str) -> str:
    """``_manifests/<dataset>/<run>/restore-<zone>.json``: what one restore made readable."""
    return manifest_key(dataset, run_id, f"restore-{zone}")


def finish_restore(
    store: LakeStore,
    keys: list[str],
    *,
    dataset: str,
    zone: str,
    first_day: str,
    last_day: str,
    run_id: str,
    date_key: str,
    tier: str,
    days: int | str,
    glue: Any = None,
    database: str | None = None,
    mark_catalog: bool = True,
) -> dict[str, Any]:
    """
    Every object readable: flag curated partitions restored in Glue (``mark_catalog``), record what was
    restored (:func:`restore_record_key`, when anything was) and return the summary.

    :raises RestoreError: an object is not readable (yet) after all.
    """
    statuses = check_restores(store.client, store.bucket, keys)
    still = pending(statuses)
    if still:
        raise RestoreError(f"{len(still)} object(s) not readable after the restore finished: {still[:5]}")
    until = restored_until(statuses, date_key)
    cleared: list[str] = []
    if zone == CURATED and mark_catalog and until:
        from airlake.catalog import mark_restored

        cleared = mark_restored(glue, database, dataset, until)
    expiries = [moment for moment in until.values() if moment is not None]
    summary: dict[str, Any] = {
        "dataset": dataset,
        "zone": zone,
        "first_day": first_day,
        "last_day": last_day,
        "objects": len(keys),
        "partitions": sorted(until),
        "restored_until": min(expiries).isoformat() if expiries else None,
        "catalog_flags_cleared": cleared,
    }
    if keys:
        record = restore_record_key(dataset, run_id, zone)
        store.put_json(record, {**summary, "keys": sorted(keys), "tier": tier, "days": days})
        summary["record"] = record
    log.info(
        "Restored %d object(s) of %s/%s in %d partition(s), readable until %s",
        len(keys),
        zone,
        dataset,
        len(until),
        summary["restored_until"],
    )
    return summary
