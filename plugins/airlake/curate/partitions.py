"""One partition of a curate run: the live version's rows + the run's new rows -> a new version.

:func:`curate_partition` merges and de-duplicates (:class:`~airlake.curate.merge.PartitionMerger`) and
uploads the result under the NEW version prefix ``curated/<ds>/dt=<dt>/v=<version>/``, unless it is byte
for byte the live version (then nothing is uploaded and the partition is reported ``unchanged`` at its
live location) or the version an earlier attempt of this run wrote and the catalog never published (then
that version is reused): a rerun with the same inputs and code writes no version. Live locations are
looked up with retries (:func:`resolve_live`); versions that killed or failed attempts left behind are
removed (:func:`remove_orphans`), never a live one.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.record import STAGE, PartitionOutcome
from airlake.curate.versions import (
    download_version_files,
    location_store,
    new_version_id,
    orphan_versions,
    version_of_location,
)
from airlake.errors import is_transient
from airlake.lake import curated_version_prefix, s3_uri, state_key
from airlake.manifest import COMPLETE, CuratedPartition, CurateRecord, read_record
from airlake.store import file_sha256

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.curate.merge import PartitionMerger
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

LiveLocation = Callable[[str], "str | None"]
"""``dt -> s3:// location`` of the partition version readers see now (the catalog's), None if none."""
LOOKUP_ATTEMPTS = 5
"""Tries of one live-location lookup on a transient error: the parse before it is too dear to lose."""


def resolve_live(
    lookup: LiveLocation, dts: list[str], *, attempts: int = LOOKUP_ATTEMPTS, pause: float = 0.5
) -> dict[str, str | None]:
    """``{dt: live location}``, each lookup retried on transient errors so the parse is not lost to one."""
    found: dict[str, str | None] = {}
    for dt in dts:
        for attempt in range(1, attempts + 1):
            try:
                found[dt] = lookup(dt)
                break
            except Exception as exc:
                if attempt == attempts or not is_transient(exc):
                    raise
                log.warning("Live location of dt=%s: %s; try %d of %d", dt, exc, attempt + 1, attempts)
                time.sleep(pause * 2 ** (attempt - 1))
    return found


@dataclass(frozen=True)
class VersionPlan:
    """Where a run's partitions stand before it writes: the live location each merges (``previous``),
    the one its result is compared with (``compare``; the same unless a full refresh), the unpublished
    versions an earlier attempt wrote (``pending``) and the new version id."""

    previous: dict[str, str | None]
    compare: dict[str, str | None]
    pending: dict[str, CuratedPartition]
    version: str


def plan_versions(
    store: LakeStore,
    dataset: str,
    run_id: str,
    dts: list[str],
    live_location: LiveLocation,
    compare_location: LiveLocation | None,
) -> VersionPlan:
    """Look up the touched partitions' live versions and pick the run's new version id (after them)."""
    previous = resolve_live(live_location, dts)
    compare = resolve_live(compare_location, dts) if compare_location else previous
    pending = pending_versions(store, dataset, run_id, compare)
    live_versions = [v for v in (version_of_location(loc) for loc in compare.values()) if v]
    return VersionPlan(previous, compare, pending, new_version_id(after=max(live_versions, default=None)))


def curate_partition(
    store: LakeStore,
    merger: PartitionMerger,
    contract: Contract,
    dt: str,
    version: str,
    new_files: list[Path],
    previous: str | None,
    live: str | None,
    work_dir: Path,
    *,
    pending: CuratedPartition | None = None,
) -> PartitionOutcome:
    """Merge one partition and settle it (:func:`settle_partition`) under its new version prefix."""
    folder = work_dir / "partitions" / f"dt={dt}"
    existing = download_version_files(store, previous, folder / "live") if previous else []
    result = merger.merge(new_files, existing, folder / "out")
    counted = CuratedPartition(
        dt=dt,
        location="",
        previous_location=previous,
        rows=result.rows,
        bytes=sum(part.bytes for part in result.parts),
        rows_new=result.rows_new,
        rows_new_kept=result.rows_new_kept,
        rows_existing=result.rows_existing,
        rows_existing_kept=result.rows_existing_kept,
    )
    try:
        return settle_partition(
            store,
            contract,
            counted,
            result.parts,
            version=version,
            live=live,
            pending=pending,
            downloaded=existing if live == previous else None,
            scratch=folder / "compare",
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for path in new_files:
            path.unlink(missing_ok=True)


def settle_partition(
    store: LakeStore,
    contract: Contract,
    counted: CuratedPartition,
    parts: list[Any],
    *,
    version: str,
    live: str | None,
    pending: CuratedPartition | None,
    downloaded: list[Path] | None,
    scratch: Path,
) -> PartitionOutcome:
    """
    Where a partition's new local files (``parts``: path, bytes, rows, sha256) go, with its counts
    (``counted``): equal to the live version ``live`` byte for byte, it is ``unchanged`` at the live
    location; equal to the version an earlier complete attempt of this run wrote and the catalog never
    published (``pending``), that version is ``reused``; else they are uploaded under the new version
    prefix. ``downloaded``: the live files when they are already local.
    """
    dt = counted.dt
    same = same_as_live(store, parts, live, downloaded, scratch)
    if same is None and pending is not None and same_as_pending(store, parts, pending):
        log.info("dt=%s: the result equals %s, written by an earlier attempt; reused", dt, pending.location)
        reused = replace(
            counted,
            version=pending.version,
            location=pending.location,
            files=pending.files,
            sha256=pending.sha256,
            reused=True,
        )
        return PartitionOutcome(reused)
    if same is not None:
        log.info("dt=%s: the result equals the live version %s; nothing uploaded", dt, live)
        unchanged = replace(
            counted,
            version=version_of_location(live),
            location=str(live),
            files=tuple(same),
            sha256=same,
            unchanged=True,
        )
        return PartitionOutcome(unchanged)
    prefix = curated_version_prefix(contract.name, dt, version, column=contract.partition_column)
    uploaded = []
    for part in parts:
        key = prefix + part.path.name
        store.put_file(key, part.path)
        uploaded.append({"key": key, "rows": part.rows, "bytes": part.bytes, "sha256": part.sha256})
    written = replace(
        counted,
        version=version,
        location=s3_uri(store.bucket, prefix),
        files=tuple(item["key"] for item in uploaded),
        sha256={item["key"]: item["sha256"] for item in uploaded},
    )
    return PartitionOutcome(written, tuple(uploaded))


def pending_versions(
    store: LakeStore, dataset: str, run_id: str, live: dict[str, str | None]
) -> dict[str, CuratedPartition]:
    """The partitions the run's latest complete curate attempt wrote that are not live: an attempt killed
    or failed between its manifest and the publish. A rerun with the same result reuses them instead of
    writing an identical version (reruns change nothing)."""
    earlier = read_record(store, dataset, run_id, CurateRecord, status=COMPLETE)
    if earlier is None:
        return {}
    return {
        entry.dt: entry
        for entry in earlier.partitions
        if not entry.unchanged and entry.location and entry.location != live.get(entry.dt)
    }


def same_as_pending(store: LakeStore, parts: list[Any], pending: CuratedPartition) -> bool:
    """The new files equal the pending version's (names and sha256 its manifest recorded) and its objects
    are all still there with their sizes."""
    recorded = pending.sha256
    if sorted(key.rsplit("/", 1)[-1] for key in recorded) != sorted(part.path.name for part in parts):
        return False
    by_name = {key.rsplit("/", 1)[-1]: digest for key, digest in recorded.items()}
    if any(by_name[part.path.name] != part.sha256 for part in parts):
        return False
    source, prefix = location_store(store, pending.location)
    sizes = {obj.key.rsplit("/", 1)[-1]: obj.size for obj in source.list(prefix)}
    return all(sizes.get(part.path.name) == part.bytes for part in parts)


def same_as_live(
    store: LakeStore, parts: list[Any], live: str | None, downloaded: list[Path] | None, folder: Path
) -> dict[str, str] | None:
    """``{key: sha256}`` of the live version when the new files equal it (names, count, bytes); else None.

    The content digest is the sha256 of each Parquet file: the merge writes byte-identical files for
    identical rows, so equal digests mean a rerun with unchanged inputs and code.
    """
    if not live or not parts:
        return None
    source, prefix = location_store(store, live)
    objects = sorted(
        (
            obj
            for obj in source.list(prefix)
            if "/" not in obj.key[len(prefix) :] and obj.key.endswith(".parquet")
        ),
        key=lambda obj: obj.key,
    )
    names = [obj.key[len(prefix) :] for obj in objects]
    if names != [part.path.name for part in parts] or [o.size for o in objects] != [p.bytes for p in parts]:
        return None
    if downloaded is None:  # not merged in (full refresh): fetch the live files to compare
        folder.mkdir(parents=True, exist_ok=True)
        digests = [
            source.download(obj.key, folder / f"live-{i:05d}.parquet") for i, obj in enumerate(objects)
        ]
    else:
        digests = [file_sha256(path) for path in downloaded]
    if digests != [part.sha256 for part in parts]:
        return None
    return {obj.key: digest for obj, digest in zip(objects, digests, strict=True)}


def remove_orphans(
    store: LakeStore, contract: Contract, version: str, live_location: LiveLocation, grace: timedelta
) -> list[str]:
    """Delete the version prefixes attempts left behind since the last complete curate (see
    :func:`orphan_versions`), in the contract's partition folders; a partition the catalog points at
    is never touched."""
    dataset, column = contract.name, contract.partition_column
    state = store.get_json(state_key(dataset, STAGE)) or {}
    since = state.get("version")
    if not since:
        return []  # no complete curate recorded yet: leave them to maintenance
    prefixes = []
    for dt, orphan in orphan_versions(
        store, dataset, after=since, before=version, grace=grace, column=column
    ):
        live = resolve_live(live_location, [dt])[dt]
        if version_of_location(live) == orphan:
            continue
        prefixes.append(curated_version_prefix(dataset, dt, orphan, column=column))
    for prefix in prefixes:
        keys = [obj.key for obj in store.list(prefix)]
        log.warning(
            "Removing %d object(s) of %s, left by a killed or failed curate attempt", len(keys), prefix
        )
        store.delete(keys)
    return prefixes
