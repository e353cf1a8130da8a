"""Glue partitions: the one place that reads, pages, publishes and flags them.

Each partition points at exactly one version ``.../dt=<dt>/v=<version>/``. Moving the pointer
(:func:`publish_partitions`) is the atomic publish of a new version; readers see the old or the new one,
never half of one. Publishing is idempotent, also when a reply was lost after Glue applied it.

Reads: every partition of a table (:func:`table_partitions`, all pages, optionally a Glue Expression),
given ones (:func:`get_partitions`, batched), one at a time (:func:`live_location_lookup`). A missing
database or table reads as no partitions; other failures are a :class:`CatalogError`.

Archive flags (partition parameters, set by tiering) let a query engine leave archived partitions out
instead of failing mid-way (:func:`is_archived`, :func:`archived_partitions`):

* ``airlake.archived`` = ``true`` when some of the live version's objects are archived and not restored
  (set *before* they are archived), ``false`` while they are restored;
* ``airlake.storage_class``: the archive class;
* ``airlake.restored_until``: when the restored copies expire (UTC, ISO 8601); after it the partition
  counts as archived again, and the next tiering run sets the flag back.

Publishing a new version of a partition replaces its parameters, so a re-curated (hot) partition is
never flagged by mistake.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from airlake.catalog.errors import CatalogError, PartitionPublishError, error_code, glue_call
from airlake.catalog.tables import PARAM_VERSION

log = logging.getLogger(__name__)

BATCH_SIZE = 100
"""Most partitions one batch_create_partition / batch_update_partition call accepts."""
BATCH_GET_SIZE = 1000
"""Most partitions one batch_get_partition call accepts."""

PARAM_ARCHIVED = "airlake.archived"
PARAM_STORAGE_CLASS = "airlake.storage_class"
PARAM_RESTORED_UNTIL = "airlake.restored_until"
_PARTITION_INPUT_KEYS = ("Values", "LastAccessTime", "StorageDescriptor", "Parameters", "LastAnalyzedTime")


def _normalize_location(location: str) -> str:
    if not location.startswith("s3://"):
        raise ValueError(f"partition location must be an s3:// URI, got {location!r}")
    return location.rstrip("/") + "/"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------------


def partition_location(partition: Mapping[str, Any]) -> str | None:
    """The location a Glue partition points at (its live version); None when it has none."""
    return (partition.get("StorageDescriptor") or {}).get("Location") or None


def partition_locations(partitions: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """``{dt: location}`` of partitions as :func:`table_partitions` or :func:`get_partitions` return them."""
    return {dt: partition_location(partition) for dt, partition in partitions.items()}


def table_partitions(
    glue: Any, database: str, table: str, *, expression: str | None = None
) -> dict[str, dict[str, Any]]:
    """
    Every partition of a table by its (single) value: get_partitions, all pages. ``{}`` when the database
    or the table does not exist (nothing was ever published).

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partitions`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table, partitioned by one key.
    :param expression: a Glue partition Expression; only the partitions it selects (None: every one).
    """
    arguments: dict[str, Any] = {"DatabaseName": database, "TableName": table}
    if expression:
        arguments["Expression"] = expression
    found: dict[str, dict[str, Any]] = {}
    try:
        for page in glue.get_paginator("get_partitions").paginate(**arguments):
            for partition in page.get("Partitions", []):
                found[str(partition["Values"][0])] = partition
    except ClientError as exc:
        if error_code(exc) == "EntityNotFoundException":
            return {}
        raise CatalogError(f"get_partitions {database}.{table} failed: {exc}") from exc
    return found


def get_partitions(glue: Any, database: str, table: str, dts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """
    The partitions among ``dts`` that exist, by value (batch_get_partition, 1000 a call, unprocessed keys
    asked again). ``{}`` when the database or the table does not exist.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.batch_get_partition`
    """
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(dts)), BATCH_GET_SIZE):
        to_get = [{"Values": [dt]} for dt in chunk]
        while to_get:
            try:
                response = glue.batch_get_partition(
                    DatabaseName=database, TableName=table, PartitionsToGet=to_get
                )
            except ClientError as exc:
                if error_code(exc) == "EntityNotFoundException":
                    return {}
                raise CatalogError(f"batch_get_partition {database}.{table} failed: {exc}") from exc
            for partition in response.get("Partitions", []):
                found[str(partition["Values"][0])] = partition
            to_get = response.get("UnprocessedKeys") or []
    return found


def live_locations(glue: Any, database: str, table: str) -> dict[str, str]:
    """
    ``{dt: location}`` of every partition of the table that points somewhere, by ``dt``; ``{}`` when the
    database or the table does not exist (nothing was ever published, so nothing is live).

    :param glue: a boto3 Glue client.
    :param database: the Glue database.
    :param table: the table (the dataset).
    """
    located = partition_locations(table_partitions(glue, database, table))
    return {dt: location for dt, location in sorted(located.items()) if location}


def _current_locations(glue: Any, database: str, table: str, dts: Sequence[str]) -> dict[str, str]:
    """{dt: location} of the partitions among ``dts`` that exist (``""``: one without a location)."""
    return {
        dt: partition_location(partition) or ""
        for dt, partition in get_partitions(glue, database, table, dts).items()
    }


# --------------------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------------------


def _batch_errors(errors: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for error in errors:
        values = tuple(error.get("PartitionValues") or error.get("PartitionValueList") or ())
        detail = error.get("ErrorDetail") or {}
        out[values] = f"{detail.get('ErrorCode', '?')}: {detail.get('ErrorMessage', '')}".strip()
    return out


def _check_already_created(
    glue: Any,
    database: str,
    table: str,
    wanted: Mapping[str, Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
) -> None:
    """
    Accept the ``AlreadyExistsException`` of a partition that already points at the wanted location (the
    resend of a batch whose first reply was lost after Glue applied it, or a concurrent publish of the
    same version); raise :class:`PartitionPublishError` for every other refusal, and for a partition
    that exists at another location (naming the wanted and the found location).
    """
    refused = _batch_errors(errors)
    existing = [
        values[0] for values, reason in refused.items() if reason.startswith("AlreadyExistsException")
    ]
    found = _current_locations(glue, database, table, existing) if existing else {}
    problems: dict[tuple[str, ...], str] = {}
    for values, reason in refused.items():
        dt = values[0] if values else ""
        if dt not in existing:
            problems[values] = reason
            continue
        location = found.get(dt)
        if location is None:
            problems[values] = f"{reason}, yet no partition dt={dt} is there"
        elif dt not in wanted or _normalize_location(location) != wanted[dt]["location"]:
            wanted_location = wanted[dt]["location"] if dt in wanted else "(not asked for)"
            problems[values] = f"exists at another location: wanted {wanted_location}, found {location}"
    if problems:
        raise PartitionPublishError(database, table, "creation", problems)
    if existing:
        log.info(
            "Partitions %s of %s.%s already pointed at the wanted versions (a lost reply): created",
            ", ".join(sorted(existing)),
            database,
            table,
        )


def _partition_input(
    dt: str, location: str, template: Mapping[str, Any], version: str | None
) -> dict[str, Any]:
    storage = copy.deepcopy(dict(template))
    storage["Location"] = location
    partition: dict[str, Any] = {"Values": [dt], "StorageDescriptor": storage}
    if version:
        partition["Parameters"] = {PARAM_VERSION: str(version)}
    return partition


def _batch_update(glue: Any, database: str, table: str, entries: Sequence[Mapping[str, Any]]) -> None:
    """batch_update_partition, :data:`BATCH_SIZE` entries a call; refused entries raise
    :class:`PartitionPublishError`."""
    for chunk in _chunks(entries, BATCH_SIZE):
        with glue_call(f"batch_update_partition {database}.{table}"):
            response = glue.batch_update_partition(
                DatabaseName=database, TableName=table, Entries=list(chunk)
            )
        if response.get("Errors"):
            raise PartitionPublishError(database, table, "update", _batch_errors(response["Errors"]))


def publish_partitions(
    glue: Any,
    database: str,
    table: str,
    partitions: Iterable[Mapping[str, Any]],
    storage_descriptor_template: Mapping[str, Any],
    *,
    current_locations: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """
    Point each partition at its new version: create the missing ones, move the others. Idempotent.

    A partition already at the given location is left alone, so publishing the same run twice
    changes nothing. Creating and moving are batched (100 per call); moving a partition's location
    is atomic in Glue, so readers see the old or the new version.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.batch_get_partition`
        - :external+boto3:py:meth:`Glue.Client.batch_create_partition`
        - :external+boto3:py:meth:`Glue.Client.batch_update_partition`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table (partitioned by one string key).
    :param partitions: entries with ``dt`` (the partition value) and ``location`` (``s3://...`` prefix of
        the version), optionally ``version`` (kept as partition parameter ``airlake.version``) and
        ``previous_location`` (the live location the producer saw; a mismatch is logged). The
        ``partitions`` list of a curate manifest fits as it is.
    :param storage_descriptor_template: the table's ``StorageDescriptor``; each partition gets a copy
        with its own ``Location``.
    :param current_locations: what the caller read of these partitions just before (``{dt: live
        location}``, ``""``: one without a location, None: no such partition), so Glue is not asked
        the same again; the partitions not in it are read (batch_get_partition). A partition created
        or moved since is still not overwritten unseen: creating an existing one fails
        (AlreadyExistsException, accepted only at the wanted location), updating a vanished one fails.
    :return: ``{"created": [dt, ...], "updated": [{"dt", "previous_location", "location"}, ...],
        "unchanged": [dt, ...]}``.
    :raises PartitionPublishError: when Glue refuses partitions of a batch (their values and reasons).
    """
    wanted: dict[str, dict[str, Any]] = {}
    for entry in partitions:
        dt = str(entry.get("dt") or "")
        if not dt:
            raise ValueError(f"partition entry without a 'dt' value: {dict(entry)!r}")
        location = _normalize_location(str(entry.get("location") or ""))
        seen = wanted.get(dt)
        if seen is not None and seen["location"] != location:
            raise ValueError(
                f"partition dt={dt} given twice with different locations: {seen['location']}, {location}"
            )
        wanted[dt] = {**entry, "dt": dt, "location": location}

    dts = sorted(wanted)
    known = {dt: location for dt, location in (current_locations or {}).items() if dt in wanted}
    unread = [dt for dt in dts if dt not in known]
    current = _current_locations(glue, database, table, unread) if unread else {}
    current.update({dt: location for dt, location in known.items() if location is not None})
    to_create: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    report: dict[str, Any] = {"created": [], "updated": [], "unchanged": []}
    for dt in dts:
        entry = wanted[dt]
        partition = _partition_input(dt, entry["location"], storage_descriptor_template, entry.get("version"))
        if dt not in current:
            to_create.append(partition)
            report["created"].append(dt)
            continue
        live = current[dt]
        if live and _normalize_location(live) == entry["location"]:
            report["unchanged"].append(dt)
            continue
        expected = entry.get("previous_location")
        if expected and live and _normalize_location(expected) != _normalize_location(live):
            log.warning(
                "Partition %s.%s dt=%s moved since it was curated (expected %s, found %s): publishing %s",
                database,
                table,
                dt,
                expected,
                live,
                entry["location"],
            )
        to_update.append({"PartitionValueList": [dt], "PartitionInput": partition})
        report["updated"].append({"dt": dt, "previous_location": live or None, "location": entry["location"]})

    for chunk in _chunks(to_create, BATCH_SIZE):
        with glue_call(f"batch_create_partition {database}.{table}"):
            response = glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=list(chunk)
            )
        if response.get("Errors"):
            _check_already_created(glue, database, table, wanted, response["Errors"])
    _batch_update(glue, database, table, to_update)
    log.info(
        "Published partitions of %s.%s: %d created, %d updated, %d unchanged",
        database,
        table,
        len(report["created"]),
        len(report["updated"]),
        len(report["unchanged"]),
    )
    return report


# --------------------------------------------------------------------------------------------------
# Archive flags
# --------------------------------------------------------------------------------------------------


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
    _batch_update(glue, database, table, entries)
    return [entry["PartitionValueList"][0] for entry in entries]


def mark_archived(
    glue: Any, database: str, table: str, dts: Iterable[str], *, storage_class: str = "GLACIER"
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


# --------------------------------------------------------------------------------------------------
# One partition at a time
# --------------------------------------------------------------------------------------------------


def live_location_lookup(glue: Any, database: str, table: str) -> Callable[[str], str | None]:
    """
    A function ``dt -> location of the live partition version`` (None when there is none).

    One ``get_partition`` call per distinct ``dt``, remembered: a run asks about the few days it
    touches. A missing database, table or partition all mean "no live version".

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partition`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table (the dataset).
    """
    cache: dict[str, str | None] = {}

    def lookup(dt: str) -> str | None:
        if dt not in cache:
            try:
                partition = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[dt])
            except ClientError as exc:
                if error_code(exc) != "EntityNotFoundException":
                    raise CatalogError(f"get_partition {database}.{table} dt={dt} failed: {exc}") from exc
                cache[dt] = None
            else:
                cache[dt] = (partition["Partition"].get("StorageDescriptor") or {}).get("Location") or None
        return cache[dt]

    return lookup


def current_location(glue: Any, database: str, table: str, dt: str) -> str | None:
    """The partition's location right now (no cache): checked again just before deleting or publishing."""
    return live_location_lookup(glue, database, table)(dt)
