"""One tiering run over the lake bucket: lifecycle rules, moves by partition date, catalog flags,
superseded versions, and the run's record. Plain function, tested without Airflow."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airlake.catalog import (
    PARAM_ARCHIVED,
    PARAM_STORAGE_CLASS,
    clear_archived,
    is_archived,
    mark_archived,
    partition_locations,
    table_partitions,
)
from airlake.lake import DEFAULT_PARTITION_COLUMN, manifest_key
from airlake.manifest import Manifest
from airlake.tiering.lifecycle import LifecycleDiff, apply_lifecycle, lifecycle_rules
from airlake.tiering.moves import (
    DEFAULT_PART_SIZE,
    MAX_COPY_SIZE,
    MoveError,
    MovePlan,
    apply_moves,
    plan_moves,
)
from airlake.tiering.objects import ARCHIVE_CLASSES
from airlake.tiering.superseded import plan_superseded, tag_objects

if TYPE_CHECKING:
    from airlake.store import LakeStore
    from airlake.tiering.policy import RuleSet

log = logging.getLogger(__name__)

RECORD_DATASET = "_tiering"
"""Tiering records live under ``_manifests/_tiering/<run_id>/`` (no dataset is named so: names start
with a letter)."""


def record_key(run_id: str) -> str:
    """``_manifests/_tiering/<run_id>/tiering.json``: what one tiering run changed."""
    return manifest_key(RECORD_DATASET, run_id, "tiering")


def _flag_changes(
    plan: MovePlan,
    dataset: str,
    partitions: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> tuple[dict[str, list[str]], list[str]]:
    """Which partitions to flag archived (by archive class) and which flags to remove."""
    archived = plan.archived("curated", dataset)
    newly = {
        m.dt
        for m in plan.moves
        if m.zone == "curated" and m.dataset == dataset and m.to_class in ARCHIVE_CLASSES
    }
    to_set: dict[str, list[str]] = {}
    to_clear: list[str] = []
    for dt, partition in sorted(partitions.items()):
        params = partition.get("Parameters") or {}
        if dt in archived:
            # restored copies keep the partition readable until they expire, unless more objects archive now
            readable = params.get(PARAM_ARCHIVED) == "false" and not is_archived(params, now)
            if dt in newly or not readable:
                flagged = (
                    params.get(PARAM_ARCHIVED) == "true" and params.get(PARAM_STORAGE_CLASS) == archived[dt]
                )
                if not flagged:
                    to_set.setdefault(archived[dt], []).append(dt)
        elif PARAM_ARCHIVED in params or PARAM_STORAGE_CLASS in params:
            to_clear.append(dt)
    return to_set, to_clear


def run_tiering(
    store: LakeStore,
    rule_set: RuleSet,
    *,
    glue: Any,
    database: str,
    now: datetime,
    run_id: str,
    dry_run: bool = False,
    apply_lifecycle_rules: bool = True,
    move_by_partition_date: bool = True,
    tag_superseded: bool = True,
    superseded_grace: timedelta = timedelta(days=2),
    multipart_threshold: int = MAX_COPY_SIZE,
    part_size: int = DEFAULT_PART_SIZE,
    max_workers: int = 4,
) -> dict[str, Any]:
    """
    Bring the bucket in line with the policies, in an order that keeps every query safe:

    1. lifecycle configuration: the owned rules as the policies say, foreign rules kept (diff logged);
    2. plan the moves by partition date (raw: every object; curated: the live version, as Glue says);
    3. flag curated partitions about to be archived in Glue, *then* move the objects, then remove the
       flags of partitions no longer archived;
    4. tag superseded curated versions past ``superseded_grace`` for the lifecycle expiry;
    5. write the record ``_manifests/_tiering/<run_id>/tiering.json`` (a rerun of the same run adds to it).

    With ``dry_run`` nothing is written anywhere; the return value says what would be done.

    :param store: the lake bucket.
    :param rule_set: the validated policies (:func:`airlake.tiering.build_rule_set`).
    :param glue: a boto3 Glue client (which curated version is live; partition flags).
    :param database: the Glue database with one table per dataset.
    :param now: the run's time (data interval end): objects are aged against its date, never the clock.
    :param run_id: the Airflow run id (names the record).
    :return: a small summary for XCom; the record has every moved object.
    """
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    today = now.astimezone(UTC).date()
    client, bucket = store.client, store.bucket

    diff = LifecycleDiff()
    if apply_lifecycle_rules:
        diff = apply_lifecycle(client, bucket, lifecycle_rules(rule_set), dry_run=dry_run)

    curated = sorted({p.dataset for p in rule_set.for_zone("curated") if p.dataset})
    partitions = {dataset: table_partitions(glue, database, dataset) for dataset in curated}
    live = {dataset: partition_locations(parts) for dataset, parts in partitions.items()}

    plan = MovePlan(today=today)
    flags: dict[str, tuple[dict[str, list[str]], list[str]]] = {}
    if move_by_partition_date:
        plan = plan_moves(client, bucket, rule_set.policies, today, live=live)
        flags = {dataset: _flag_changes(plan, dataset, partitions[dataset], now) for dataset in curated}

    superseded: dict[str, list[str]] = {}
    if tag_superseded and any(p.name == "curated-superseded" for p in rule_set.policies):
        columns = {p.dataset: p.date_key for p in rule_set.for_zone("curated") if p.dataset and p.date_key}
        superseded = {
            dataset: plan_superseded(
                store,
                dataset,
                live[dataset],
                grace=superseded_grace,
                now=now,
                column=columns.get(dataset, DEFAULT_PARTITION_COLUMN),
            )
            for dataset in curated
        }

    flagged: dict[str, list[str]] = {}
    cleared: dict[str, list[str]] = {}
    results: list[dict[str, Any]] = []
    tagged: dict[str, dict[str, int]] = {}
    status, failure = "complete", None
    if not dry_run:
        for dataset, (to_set, _) in flags.items():
            for storage_class, dts in to_set.items():
                flagged.setdefault(dataset, []).extend(
                    mark_archived(glue, database, dataset, dts, storage_class=storage_class)
                )
        try:
            results = apply_moves(
                client,
                bucket,
                plan.moves,
                default_sse=store.sse,
                multipart_threshold=multipart_threshold,
                part_size=part_size,
                max_workers=max_workers,
            )
        except MoveError as exc:
            results, status, failure = exc.results, "failed", exc
        if failure is None:
            for dataset, (_, to_clear) in flags.items():
                if to_clear:
                    cleared[dataset] = clear_archived(glue, database, dataset, to_clear)
            for dataset, keys in superseded.items():
                if keys:
                    tagged[dataset] = tag_objects(client, bucket, keys)
    else:
        flagged = {d: sorted(dt for dts in s.values() for dt in dts) for d, (s, _) in flags.items() if s}
        cleared = {d: c for d, (_, c) in flags.items() if c}

    record = None
    if not dry_run:
        record = _write_record(
            store,
            run_id,
            status,
            plan,
            results,
            {
                "bucket": bucket,
                "today": today.isoformat(),
                "lifecycle": diff.as_dict(),
                "catalog": {"database": database, "flagged_archived": flagged, "flags_cleared": cleared},
                "superseded": {d: {"objects": len(k), **tagged.get(d, {})} for d, k in superseded.items()},
            },
        )
    if failure is not None:
        raise failure
    moved = [r for r in results if r.get("method") in ("copy", "multipart")]
    return {
        "bucket": bucket,
        "today": today.isoformat(),
        "dry_run": dry_run,
        "record": record,
        "lifecycle": {
            "added": list(diff.added),
            "changed": list(diff.changed),
            "removed": list(diff.removed),
            "unchanged": len(diff.unchanged),
            "foreign": len(diff.foreign),
        },
        "moves": {
            **plan.summary(),
            "moved": len(moved),
            "multipart": sum(1 for r in moved if r["method"] == "multipart"),
        },
        "catalog": {"flagged_archived": flagged, "flags_cleared": cleared},
        "superseded": {d: len(k) for d, k in superseded.items() if k},
    }


def _write_record(
    store: LakeStore,
    run_id: str,
    status: str,
    plan: MovePlan,
    results: list[dict[str, Any]],
    extra: dict[str, Any],
) -> str:
    """Write (or add to) the run's record: every object moved, with its partition and classes."""
    key = record_key(run_id)
    by_key = {m.key: m for m in plan.moves}
    outputs = [
        {**by_key[r["key"]].as_dict(), **r} if r["key"] in by_key else dict(r)
        for r in results
        if r.get("method") in ("copy", "multipart") or "error" in r
    ]
    previous = store.get_json(key) or {}
    seen = {item["key"] for item in outputs}
    kept = [item for item in previous.get("outputs") or [] if item.get("key") not in seen]
    manifest = Manifest(dataset=RECORD_DATASET, run_id=run_id, stage="tiering")
    manifest.outputs = kept + outputs
    manifest.extra = {**extra, "attempts": int(previous.get("attempts", 0)) + 1, "plan": plan.summary()}
    store.put_json(key, manifest.as_document(status=status))
    log.info("Tiering record s3://%s/%s: %d object(s) moved in this attempt", store.bucket, key, len(outputs))
    return key
