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
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.record import STAGE
from airlake.curate.versions import (
    download_version_files,
    location_store,
    orphan_versions,
    version_of_location,
)
from airlake.errors import is_transient
from airlake.lake import curated_version_prefix, s3_uri, state_key
from airlake.manifest import COMPLETE, read_manifest
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
    pending: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge one partition and upload it under its new version prefix, unless it equals the live version
    ``live`` byte for byte (then it is reported ``unchanged`` at the live location) or the version an
    earlier complete attempt of this run wrote and the catalog never published, ``pending`` (then that
    version is reused); its manifest entry."""
    folder = work_dir / "partitions" / f"dt={dt}"
    existing = download_version_files(store, previous, folder / "live") if previous else []
    result = merger.merge(new_files, existing, folder / "out")
    same = same_as_live(store, result.parts, live, existing if live == previous else None, folder / "compare")
    if same is None and pending is not None and same_as_pending(store, result.parts, pending):
        shutil.rmtree(folder, ignore_errors=True)
        for path in new_files:
            path.unlink(missing_ok=True)
        log.info(
            "dt=%s: the result equals %s, written by an earlier attempt; reused", dt, pending["location"]
        )
        return {
            **{key: pending[key] for key in ("version", "location", "files", "sha256")},
            "dt": dt,
            "previous_location": previous,
            "reused": True,
            "rows": result.rows,
            "bytes": sum(part.bytes for part in result.parts),
            "rows_new": result.rows_new,
            "rows_new_kept": result.rows_new_kept,
            "rows_existing": result.rows_existing,
            "rows_existing_kept": result.rows_existing_kept,
            "_outputs": [],
        }
    if same is not None:
        shutil.rmtree(folder, ignore_errors=True)
        for path in new_files:
            path.unlink(missing_ok=True)
        log.info("dt=%s: the result equals the live version %s; nothing uploaded", dt, live)
        return {
            "dt": dt,
            "version": version_of_location(live),
            "location": live,
            "previous_location": previous,
            "unchanged": True,
            "files": list(same),
            "rows": result.rows,
            "bytes": sum(part.bytes for part in result.parts),
            "sha256": same,
            "rows_new": result.rows_new,
            "rows_new_kept": result.rows_new_kept,
            "rows_existing": result.rows_existing,
            "rows_existing_kept": result.rows_existing_kept,
            "_outputs": [],
        }
    prefix = curated_version_prefix(contract.name, dt, version)
    files: list[str] = []
    checksums: dict[str, str] = {}
    outputs: list[dict[str, Any]] = []
    for part in result.parts:
        key = prefix + part.path.name
        store.put_file(key, part.path)
        files.append(key)
        checksums[key] = part.sha256
        outputs.append({"key": key, "rows": part.rows, "bytes": part.bytes, "sha256": part.sha256})
    shutil.rmtree(folder, ignore_errors=True)
    for path in new_files:
        path.unlink(missing_ok=True)
    return {
        "dt": dt,
        "version": version,
        "location": s3_uri(store.bucket, prefix),
        "previous_location": previous,
        "files": files,
        "rows": result.rows,
        "bytes": sum(part.bytes for part in result.parts),
        "sha256": checksums,
        "rows_new": result.rows_new,
        "rows_new_kept": result.rows_new_kept,
        "rows_existing": result.rows_existing,
        "rows_existing_kept": result.rows_existing_kept,
        "_outputs": outputs,
    }


def pending_versions(
    store: LakeStore, dataset: str, run_id: str, live: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """The partitions the run's latest complete curate attempt wrote that are not live: an attempt killed
    or failed between its manifest and the publish. A rerun with the same result reuses them instead of
    writing an identical version (reruns change nothing)."""
    earlier = read_manifest(store, dataset, run_id, STAGE, status=COMPLETE)
    if not earlier:
        return {}
    return {
        entry["dt"]: entry
        for entry in earlier.get("partitions", [])
        if not entry.get("unchanged") and entry.get("location") and entry["location"] != live.get(entry["dt"])
    }


def same_as_pending(store: LakeStore, parts: list[Any], pending: dict[str, Any]) -> bool:
    """The new files equal the pending version's (names and sha256 its manifest recorded) and its objects
    are all still there with their sizes."""
    recorded = pending.get("sha256") or {}
    if sorted(key.rsplit("/", 1)[-1] for key in recorded) != sorted(part.path.name for part in parts):
        return False
    by_name = {key.rsplit("/", 1)[-1]: digest for key, digest in recorded.items()}
    if any(by_name[part.path.name] != part.sha256 for part in parts):
        return False
    source, prefix = location_store(store, pending["location"])
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
    store: LakeStore, dataset: str, version: str, live_location: LiveLocation, grace: timedelta
) -> list[str]:
    """Delete the version prefixes attempts left behind since the last complete curate (see
    :func:`orphan_versions`); a partition the catalog points at is never touched."""
    state = store.get_json(state_key(dataset, STAGE)) or {}
    since = state.get("version")
    if not since:
        return []  # no complete curate recorded yet: leave them to maintenance
    prefixes = []
    for dt, orphan in orphan_versions(store, dataset, after=since, before=version, grace=grace):
        live = resolve_live(live_location, [dt])[dt]
        if version_of_location(live) == orphan:
            continue
        prefixes.append(curated_version_prefix(dataset, dt, orphan))
    for prefix in prefixes:
        keys = [obj.key for obj in store.list(prefix)]
        log.warning(
            "Removing %d object(s) of %s, left by a killed or failed curate attempt", len(keys), prefix
        )
        store.delete(keys)
    return prefixes
