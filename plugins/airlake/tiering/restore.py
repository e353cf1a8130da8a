"""Glacier restore of archived partitions, and the catalog flags that say which partitions are archived.

Objects in Glacier Flexible Retrieval or Deep Archive cannot be read until restored: a restore makes a
temporary readable copy for some days (the object stays in its class). A backfill or reprocessing
run that needs archived partitions requests their restore (:func:`request_restores`), waits until
:func:`check_restores` finds them all readable, then proceeds (``GlacierRestoreOperator``).

Curated partitions carry Glue partition parameters so a query engine can leave archived partitions
out instead of failing mid-way (:func:`archived_partitions`):

* ``airlake.archived`` = ``true`` when some of the live version's objects are archived and not restored
  (set by the tiering operator *before* it archives them), ``false`` while they are restored;
* ``airlake.storage_class``: the archive class;
* ``airlake.restored_until``: when the restored copies expire (UTC, ISO 8601); after it the partition
  counts as archived again, and the next tiering run sets the flag back.

Publishing a new version of a partition replaces its parameters, so a re-curated (hot) partition is
never flagged by mistake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError

from airlake.lake import curated_dataset_prefix, raw_dataset_prefix, s3_prefix
from airlake.tiering.objects import ARCHIVE_CLASSES, GLACIER, STANDARD, LakeObject, list_objects

log = logging.getLogger(__name__)

PARAM_ARCHIVED = "airlake.archived"
PARAM_STORAGE_CLASS = "airlake.storage_class"
PARAM_RESTORED_UNTIL = "airlake.restored_until"
RESTORE_TIERS = ("Expedited", "Standard", "Bulk")
ZONE_DATE_KEYS = {"raw": "ingest_date", "curated": "dt"}
_BATCH_GET = 1000
_BATCH_UPDATE = 100
_PARTITION_INPUT_KEYS = ("Values", "LastAccessTime", "StorageDescriptor", "Parameters", "LastAnalyzedTime")


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


# --------------------------------------------------------------------------------------------------
# Catalog flags
# --------------------------------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def table_partitions(glue: Any, database: str, table: str) -> dict[str, dict[str, Any]]:
    """Every partition of a table by its (single) value; empty when the table does not exist.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partitions`
    """
    found: dict[str, dict[str, Any]] = {}
    try:
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
            for partition in page.get("Partitions", []):
                found[partition["Values"][0]] = partition
    except ClientError as exc:
        if _code(exc) == "EntityNotFoundException":
            return {}
        raise RestoreError(f"get_partitions {database}.{table} failed: {exc}") from exc
    return found


def get_partitions(glue: Any, database: str, table: str, dts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The partitions among ``dts`` that exist, by value (batches of 1000).

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.batch_get_partition`
    """
    wanted = sorted(set(dts))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), _BATCH_GET):
        to_get = [{"Values": [dt]} for dt in wanted[start : start + _BATCH_GET]]
        while to_get:
            try:
                response = glue.batch_get_partition(
                    DatabaseName=database, TableName=table, PartitionsToGet=to_get
                )
            except ClientError as exc:
                if _code(exc) == "EntityNotFoundException":
                    return {}
                raise RestoreError(f"batch_get_partition {database}.{table} failed: {exc}") from exc
            for partition in response.get("Partitions", []):
                found[partition["Values"][0]] = partition
            to_get = response.get("UnprocessedKeys") or []
    return found


def live_locations(partitions: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """``{dt: location}`` of partitions as returned by Glue."""
    return {
        dt: (partition.get("StorageDescriptor") or {}).get("Location") or None
        for dt, partition in partitions.items()
    }


def update_partition_parameters(
    glue: Any, database: str, table: str, changes: Mapping[str, Mapping[str, str | None]]
) -> list[str]:
    """
    Set (or, with None, remove) parameters of existing partitions, keeping everything else.

    Each partition is read right before it is written back, because Glue updates a whole partition:
    a partition published in between would otherwise lose its new location. Partitions that do not
    exist are skipped.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.batch_update_partition`

    :return: the dts whose parameters changed.
    """
    current = get_partitions(glue, database, table, changes)
    entries: list[dict[str, Any]] = []
    for dt, partition in sorted(current.items()):
        params = dict(partition.get("Parameters") or {})
        updated = dict(params)
        for name, value in changes[dt].items():
            if value is None:
                updated.pop(name, None)
            else:
                updated[name] = value
        if updated == params:
            continue
        partition_input = {k: partition[k] for k in _PARTITION_INPUT_KEYS if k in partition}
        partition_input["Parameters"] = updated
        entries.append({"PartitionValueList": [dt], "PartitionInput": partition_input})
    for start in range(0, len(entries), _BATCH_UPDATE):
        try:
            response = glue.batch_update_partition(
                DatabaseName=database, TableName=table, Entries=entries[start : start + _BATCH_UPDATE]
            )
        except ClientError as exc:
            raise RestoreError(f"batch_update_partition {database}.{table} failed: {exc}") from exc
        if response.get("Errors"):
            raise RestoreError(f"batch_update_partition {database}.{table} refused: {response['Errors']}")
    return [entry["PartitionValueList"][0] for entry in entries]


def mark_archived(
    glue: Any, database: str, table: str, dts: Iterable[str], *, storage_class: str = GLACIER
) -> list[str]:
    """Flag partitions as archived (before their objects are archived); the dts changed."""
    changed = update_partition_parameters(
        glue,
        database,
        table,
        {
            dt: {PARAM_ARCHIVED: "true", PARAM_STORAGE_CLASS: storage_class, PARAM_RESTORED_UNTIL: None}
            for dt in dts
        },
    )
    if changed:
        log.info(
            "Flagged %d partition(s) of %s.%s archived (%s)", len(changed), database, table, storage_class
        )
    return changed


def mark_restored(glue: Any, database: str, table: str, until: Mapping[str, datetime | None]) -> list[str]:
    """Flag partitions readable until their restored copies expire; the dts changed."""
    changed = update_partition_parameters(
        glue,
        database,
        table,
        {
            dt: {
                PARAM_ARCHIVED: "false",
                PARAM_RESTORED_UNTIL: expiry.astimezone(UTC).isoformat() if expiry else None,
            }
            for dt, expiry in until.items()
        },
    )
    if changed:
        log.info("Flagged %d partition(s) of %s.%s restored", len(changed), database, table)
    return changed


def clear_archived(glue: Any, database: str, table: str, dts: Iterable[str]) -> list[str]:
    """Remove the flags of partitions that are no longer archived; the dts changed."""
    return update_partition_parameters(
        glue,
        database,
        table,
        {dt: {PARAM_ARCHIVED: None, PARAM_STORAGE_CLASS: None, PARAM_RESTORED_UNTIL: None} for dt in dts},
    )


def is_archived(parameters: Mapping[str, str] | None, at: datetime) -> bool:
    """Whether partition parameters say the partition cannot be read at ``at``."""
    params = parameters or {}
    if params.get(PARAM_ARCHIVED) == "true":
        return True
    until = params.get(PARAM_RESTORED_UNTIL)
    if params.get(PARAM_ARCHIVED) == "false" and until:
        try:
            expiry = datetime.fromisoformat(until)
        except ValueError:
            return True  # unreadable flag: assume the worst
        return (expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)) <= at
    return False


def archived_partitions(
    glue: Any, database: str, table: str, dts: Sequence[str] | None = None, *, at: datetime | None = None
) -> list[str]:
    """
    The partitions a query must leave out (or restore first): flagged archived, or restored copies
    expired by ``at``. For the query engines and DAGs to call before they read.

    :param glue: a boto3 Glue client.
    :param database: the Glue database.
    :param table: the table (dataset).
    :param dts: the partition values the query reads; None: every partition of the table.
    :param at: the time the query runs (default: now, UTC).
    :return: sorted partition values.
    """
    moment = at or datetime.now(UTC)
    partitions = (
        table_partitions(glue, database, table) if dts is None else get_partitions(glue, database, table, dts)
    )
    return sorted(
        dt for dt, partition in partitions.items() if is_archived(partition.get("Parameters"), moment)
    )
