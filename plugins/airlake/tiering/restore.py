"""Glacier restore of archived partitions.

Objects in Glacier Flexible Retrieval or Deep Archive cannot be read until restored: a restore makes a
temporary readable copy for some days (the object stays in its class). A backfill or reprocessing
run that needs archived partitions requests their restore (:func:`request_restores`), waits until
:func:`check_restores` finds them all readable, then proceeds (``GlacierRestoreOperator``).

The Glue partition flags that say which partitions are archived (``airlake.archived``,
``airlake.storage_class``, ``airlake.restored_until``) live in :mod:`airlake.catalog.partitions`, with
the partition reads; their names are importable from here too, for the tiering stage's importers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError

from airlake.lake import curated_dataset_prefix, raw_dataset_prefix, s3_prefix
from airlake.tiering.objects import ARCHIVE_CLASSES, STANDARD, LakeObject, list_objects

log = logging.getLogger(__name__)

RESTORE_TIERS = ("Expedited", "Standard", "Bulk")
ZONE_DATE_KEYS = {"raw": "ingest_date", "curated": "dt"}


class RestoreError(RuntimeError):
    """Archived objects could not be restored (or checked)."""


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
                raise RestoreError(f"s3://{bucket}/{key} no longer exists: it cannot be restored") from exc
            raise RestoreError(f"head_object s3://{bucket}/{key} failed: {exc}") from exc
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
) -> list[LakeObject]:
    """
    The archived objects of a dataset's partitions from ``start`` to ``end`` (inclusive).

    Raw partitions are ``ingest_date=`` days; curated partitions ``dt=`` days, and with ``live``
    (``{dt: live location}``) only the live version of each is restored, never superseded ones.

    :param client: a boto3 S3 client.
    :param bucket: the lake bucket.
    :param dataset: the dataset.
    :param zone: ``raw`` or ``curated``.
    :param start: first partition date.
    :param end: last partition date.
    :param live: live location per dt (curated); partitions without one are left out.
    :param date_key: the partition key of the zone's keys (curated: the contract's partition column);
        default :data:`ZONE_DATE_KEYS`.
    """
    if zone not in ZONE_DATE_KEYS:
        raise ValueError(f"zone must be one of {', '.join(ZONE_DATE_KEYS)}, got {zone!r}")
    base = raw_dataset_prefix(dataset) if zone == "raw" else curated_dataset_prefix(dataset)
    found: list[LakeObject] = []
    for day in _days(start, end):
        prefix = f"{base}{date_key or ZONE_DATE_KEYS[zone]}={day.isoformat()}/"
        if zone == "curated" and live is not None:
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
            raise RestoreError(f"restore_object s3://{bucket}/{key} failed: {exc}") from exc
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        outcome[key] = "restored" if status == 200 else "requested"
    counts: dict[str, int] = {}
    for value in outcome.values():
        counts[value] = counts.get(value, 0) + 1
    log.info("Restore of %d object(s) in s3://%s (%s, %d days): %s", len(outcome), bucket, tier, days, counts)
    return outcome
