"""Delete expired curated partition versions: superseded (or abandoned) ones past the grace period.

Which versions expire is :func:`airlake.curate.versions.versions_to_clean`'s decision, from the
catalog's live locations; the live version of a partition is never deleted. Just before a version is
deleted, its partition is looked up in Glue again: if a publish moved the partition onto it since the
catalog was read, it is skipped. Objects are listed and deleted one page (at most 1000 keys) at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airlake.curate.versions import version_of_location, versions_to_clean
from airlake.lake import DEFAULT_PARTITION_COLUMN, is_version_prefix, parse_curated_version_prefix
from airlake.store import LakeStore

log = logging.getLogger(__name__)

STAGE = "cleanup"
DELETE_BATCH = 1000
"""Most keys one DeleteObjects call accepts."""


@dataclass(frozen=True)
class ExpiredVersion:
    """One version prefix that was (or, in a dry run, would be) deleted."""

    dataset: str
    dt: str
    version: str
    prefix: str
    objects: int
    bytes: int


def delete_prefix(store: LakeStore, prefix: str, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete every object under a version folder ``prefix`` (or only count them); (objects, bytes).

    Anything wider than a version folder is refused: a bug upstream must not empty a dataset."""
    if not is_version_prefix(prefix):
        raise ValueError(f"refusing to delete under {prefix!r}: not a version folder (.../v=<version>/)")
    objects = size = 0
    batch: list[str] = []
    for obj in store.list(prefix):
        objects += 1
        size += obj.size
        batch.append(obj.key)
        if len(batch) >= DELETE_BATCH:
            if not dry_run:
                store.delete(batch)
            batch = []
    if batch and not dry_run:
        store.delete(batch)
    return objects, size


def clean_dataset(
    store: LakeStore,
    dataset: str,
    live: Mapping[str, str | None],
    *,
    grace: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
    include_unpublished: bool = False,
    current_location: Callable[[str], str | None] | None = None,
    column: str = DEFAULT_PARTITION_COLUMN,
) -> dict[str, Any]:
    """
    Delete the expired versions of one dataset.

    :param store: the lake bucket.
    :param dataset: the dataset (``curated/<dataset>/``).
    :param live: ``{dt: live location}`` as the catalog has it (see :func:`versions_to_clean`).
    :param grace: how long superseded and unpublished versions are kept.
    :param now: the current time (tests).
    :param dry_run: only list and count what would be deleted.
    :param include_unpublished: also clean partitions the catalog does not know.
    :param current_location: ``dt -> location now`` asked again just before deleting (Glue); a version
        that became live in the meantime is skipped.
    :param column: the dataset's partition column (the ``<column>=`` folder of its keys).
    :return: ``{dataset, deleted: [ExpiredVersion as dict], skipped: [...], versions, objects, bytes}``.
    """
    moment = now or datetime.now(UTC)
    expired = versions_to_clean(
        store, dataset, live, grace, now=moment, include_unpublished=include_unpublished, column=column
    )
    deleted: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for prefix in expired:
        _dataset, dt, version = parse_curated_version_prefix(prefix, column)
        if not dry_run and current_location is not None:
            now_live = current_location(dt)
            if version_of_location(now_live) == version:
                log.warning("Not deleting %s: the partition was moved onto it (%s)", prefix, now_live)
                skipped.append({"dt": dt, "version": version, "prefix": prefix, "reason": "live now"})
                continue
        objects, size = delete_prefix(store, prefix, dry_run=dry_run)
        deleted.append(asdict(ExpiredVersion(dataset, dt, version, prefix, objects, size)))
        log.info(
            "%s %s: %d object(s), %d bytes", "Would delete" if dry_run else "Deleted", prefix, objects, size
        )
    return {
        "dataset": dataset,
        "deleted": deleted,
        "skipped": skipped,
        "versions": len(deleted),
        "objects": sum(item["objects"] for item in deleted),
        "bytes": sum(item["bytes"] for item in deleted),
    }


def _deleted_output(item: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest output entry (``bytes_deleted``, so the manifest's ``bytes_written`` stays 0)."""
    return {
        "kind": "deleted",
        "prefix": item["prefix"],
        "dt": item["dt"],
        "version": item["version"],
        "objects": item["objects"],
        "bytes_deleted": item["bytes"],
    }


def cleanup_expired_versions(
    store: LakeStore,
    glue: Any,
    database: str,
    datasets: Iterable[str],
    *,
    grace: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
    include_unpublished: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """
    Delete the expired curated versions of each dataset, the live ones read from Glue.

    :param store: the lake bucket.
    :param glue: a boto3 Glue client.
    :param database: the Glue database whose table ``<dataset>`` says which version is live.
    :param datasets: the datasets to clean.
    :param grace: how long superseded and unpublished versions are kept.
    :param now: the current time (tests).
    :param dry_run: list and count only; nothing is deleted and no manifest is written.
    :param include_unpublished: also clean partitions absent from the catalog (abandoned attempts).
    :param run_id: when given (and not a dry run), ``_manifests/<dataset>/<run_id>/cleanup.json`` lists
        what was deleted.
    :return: ``{dry_run, grace_hours, versions, objects, bytes, datasets: {dataset: ...}, manifests}``.
    """
    from airlake.catalog import current_location, get_table, live_locations, partition_key_of
    from airlake.maintenance.records import write_run_manifest

    moment = now or datetime.now(UTC)
    results: dict[str, dict[str, Any]] = {}
    manifests: list[str] = []
    for dataset in dict.fromkeys(datasets):
        live = live_locations(glue, database, dataset)
        result = clean_dataset(
            store,
            dataset,
            live,
            grace=grace,
            now=moment,
            dry_run=dry_run,
            include_unpublished=include_unpublished,
            current_location=lambda dt, ds=dataset: current_location(glue, database, ds, dt),
            column=partition_key_of(get_table(glue, database, dataset)) or DEFAULT_PARTITION_COLUMN,
        )
        results[dataset] = result
        if run_id and not dry_run:
            manifests.append(
                write_run_manifest(
                    store,
                    dataset,
                    run_id,
                    STAGE,
                    outputs=[_deleted_output(item) for item in result["deleted"]],
                    rows={},
                    extra={
                        "database": database,
                        "grace_hours": grace.total_seconds() / 3600,
                        "now": moment.isoformat(),
                        "include_unpublished": include_unpublished,
                        "live_partitions": len(live),
                        "skipped": result["skipped"],
                    },
                )
            )
    summary = {
        "dry_run": dry_run,
        "grace_hours": grace.total_seconds() / 3600,
        "versions": sum(r["versions"] for r in results.values()),
        "objects": sum(r["objects"] for r in results.values()),
        "bytes": sum(r["bytes"] for r in results.values()),
        "datasets": results,
        "manifests": manifests,
    }
    log.info(
        "%s %d expired version(s) of %d dataset(s): %d object(s), %d bytes",
        "Would delete" if dry_run else "Deleted",
        summary["versions"],
        len(results),
        summary["objects"],
        summary["bytes"],
    )
    return summary
