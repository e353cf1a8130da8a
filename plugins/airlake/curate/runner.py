"""One curate run: the raw parts of an ingest run -> typed, de-duplicated Parquet versions + quarantine.

What a run consumes: the raw parts its own ingest run landed and, with ``backlog=True`` (the DAGs'
setting), those of every other ingested raw run of the dataset not yet published
(:func:`airlake.manifest.unpublished_raw_runs` defines "published"), oldest first: raw is a log and
curate its consumer, so a run that failed after ingest never strands what it landed.

Order of work, chosen so that nothing is lost and nothing live is ever overwritten:

1. stream every raw part (whole-object download, then line by line; big runs parse several parts at
   once in worker processes): typed rows are spilled to local Parquet per partition date, rejects go
   to a local gzip JSON Lines file;
2. upload the quarantine file; if the reject rate is above the contract's ``reject_rate_max``, write
   the manifest (status ``failed``) and raise :class:`RejectRateExceeded`, before any curated write;
3. per touched partition: download the live version's files, combine and de-duplicate with DuckDB,
   upload the result under a NEW version prefix ``curated/<ds>/dt=<dt>/v=<version>/``, unless it is
   byte for byte the live version: then nothing is uploaded and the partition is reported
   ``unchanged`` at its live location (a rerun with the same inputs and code writes no version);
4. delete the versions that attempts killed or failed since the dataset's last complete curate left
   behind (never live, never named by a complete record), check the row accounting and write the
   manifest ``_manifests/<ds>/<run>/curate.json`` (and ``curate/attempt=<n>.json``). The catalog stage
   then publishes the new versions (points Glue at them); until it does, readers keep the old ones.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.merge import MAX_FILE_BYTES, ROW_GROUP_ROWS, PartitionMerger
from airlake.curate.parts import PartTask, concat_rejects, parse_parts, worker_count
from airlake.curate.readers import raw_format
from airlake.curate.versions import (
    ORPHAN_GRACE,
    new_version_id,
    orphan_versions,
    split_location,
    version_of_location,
)
from airlake.errors import is_transient
from airlake.lake import curated_version_prefix, manifest_key, quarantine_key, s3_uri, state_key
from airlake.manifest import COMPLETE, Manifest, mark_consumed, read_manifest, unpublished_raw_runs
from airlake.store import LakeStore, file_sha256

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

STAGE = "curate"
INGEST_STAGE = "ingest"
FAILED = "failed"
LiveLocation = Callable[[str], "str | None"]
"""``dt -> s3:// location`` of the partition version readers see now (the catalog's), None if none."""
BACKLOG_DAYS = 30
"""How far back the backlog looks for unpublished raw runs: older ones may be archived (Glacier) by
tiering, and a failure that old is recovered on purpose, by clearing that run (a run always curates
its own raw run)."""
LOOKUP_ATTEMPTS = 5
"""Tries of one live-location lookup on a transient error: the parse before it is too dear to lose."""

_INGEST_DATE_IN_KEY = re.compile(r"/ingest_date=(\d{4}-\d{2}-\d{2})/")


class CurateError(RuntimeError):
    """A curate run could not complete (missing input, changed raw data, unbalanced accounting)."""


class RejectRateExceeded(CurateError):
    """More rows were rejected than the contract allows; quarantine and manifest are already written."""

    def __init__(
        self,
        dataset: str,
        run_id: str,
        rejected: int,
        read: int,
        threshold: float,
        quarantine: str,
        manifest: str,
    ) -> None:
        self.dataset, self.run_id = dataset, run_id
        self.rejected, self.read, self.threshold = rejected, read, threshold
        self.rate = rejected / read if read else 0.0
        self.quarantine, self.manifest = quarantine, manifest
        super().__init__(
            f"{dataset}: reject rate {self.rate:.2%} ({rejected} of {read} rows) is above the threshold "
            f"{threshold:.2%} (quality.reject_rate_max) in run {run_id}; nothing was curated. "
            f"Rejects with reasons: {quarantine}; manifest: {manifest}"
        )


@dataclass(frozen=True)
class CurateOptions:
    """Tuning of one run (see :func:`run_curate`)."""

    ingest_date: date | None = None
    memory_limit: str = "1GB"
    threads: int | None = None
    flush_rows: int = 65_536
    row_group_rows: int = ROW_GROUP_ROWS
    max_file_bytes: int = MAX_FILE_BYTES
    workers: int | None = None
    compare_location: LiveLocation | None = None
    orphan_grace: timedelta = ORPHAN_GRACE


def _ingest_date(ingest: dict[str, Any]) -> date:
    start = (ingest.get("interval") or {}).get("start")
    if start:
        return date.fromisoformat(str(start)[:10])
    for item in ingest.get("outputs") or []:
        match = _INGEST_DATE_IN_KEY.search(item["key"])
        if match:
            return date.fromisoformat(match.group(1))
    raise CurateError("cannot tell the ingest date of the run: pass ingest_date")


def _store_for(store: LakeStore, bucket: str) -> LakeStore:
    if bucket == store.bucket:
        return store
    other = LakeStore(store.hook, bucket)
    other.sse = dict(store.sse)
    return other


def _download_live(store: LakeStore, location: str, folder: Path) -> list[Path]:
    """Whole-object downloads of the Parquet files of a live partition version (moto is slow at ranges)."""
    bucket, prefix = split_location(location)
    source = _store_for(store, bucket)
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


def run_curate(
    contract: Contract,
    store: LakeStore,
    *,
    run_id: str,
    live_location: LiveLocation,
    work_dir: Path,
    ingest_date: date | None = None,
    reject_rate_max: float | None = None,
    memory_limit: str = "1GB",
    threads: int | None = None,
    flush_rows: int = 65_536,
    row_group_rows: int = ROW_GROUP_ROWS,
    max_file_bytes: int = MAX_FILE_BYTES,
    workers: int | None = None,
    backlog: bool = False,
    backlog_days: int = BACKLOG_DAYS,
    compare_location: LiveLocation | None = None,
    orphan_grace: timedelta = ORPHAN_GRACE,
) -> dict[str, Any]:
    """
    Curate the raw parts the ingest run ``run_id`` landed (and with ``backlog`` every unpublished raw
    run of the dataset); returns the small summary for XCom.

    :param contract: the dataset's contract.
    :param store: the lake bucket (every write server-side encrypted).
    :param run_id: the Airflow run id (the same as the ingest run's).
    :param live_location: ``dt -> location`` of the version readers see now, or None.
    :param work_dir: local scratch folder (spill, downloads, output files before upload).
    :param ingest_date: the day the data was ingested (quarantine partition); default from the ingest
        manifest's interval.
    :param reject_rate_max: overrides ``contract.quality.reject_rate_max``.
    :param memory_limit: DuckDB memory limit of the per-partition combine (it spills beyond it).
    :param threads: DuckDB threads (default: all cores).
    :param flush_rows: typed rows buffered in memory before they are spilled.
    :param row_group_rows: rows per Parquet row group.
    :param max_file_bytes: a partition's Parquet file rolls to the next one at about this size.
    :param workers: processes parsing raw parts at once; default: by input size and cores (1 for
        small runs).
    :param backlog: also consume every other ingested raw run of the dataset that is not yet
        published (earlier failed runs), oldest first.
    :param backlog_days: only raw runs ingested in the last this many days (see :data:`BACKLOG_DAYS`).
    :param compare_location: where the live version is when ``live_location`` deliberately says "none"
        (a full refresh does not merge the live rows): an output identical to it is not uploaded.
    :param orphan_grace: a version left by a killed or failed attempt is deleted once it is this much
        older than this attempt (see :func:`~airlake.curate.versions.orphan_versions`).
    :raises RejectRateExceeded: too many rejects (quarantine and manifest written first).
    :raises CurateError: no complete ingest manifest, a raw part changed, or accounting does not balance.
    """
    dataset = contract.name
    ingest_key = manifest_key(dataset, run_id, INGEST_STAGE)
    ingest = read_manifest(store, dataset, run_id, INGEST_STAGE)
    if ingest is None:
        raise CurateError(
            f"no ingest manifest s3://{store.bucket}/{ingest_key}: "
            f"the ingest task of run {run_id} must succeed before curate"
        )
    if ingest.get("status", COMPLETE) != COMPLETE:
        raise CurateError(f"ingest manifest {ingest_key} has status {ingest.get('status')!r}, not 'complete'")
    threshold = contract.quality.reject_rate_max if reject_rate_max is None else reject_rate_max
    raw_runs = [ingest]
    if backlog:
        since = datetime.now(UTC) - timedelta(days=backlog_days)
        pending = unpublished_raw_runs(store, dataset, since=since)
        others = [r for r in pending if r["run_id"] != ingest["run_id"]]
        if others:
            log.info(
                "%s: also curating %d unpublished raw run(s) of earlier runs: %s",
                dataset,
                len(others),
                ", ".join(r["run_id"] for r in others),
            )
        raw_runs = sorted([*others, ingest], key=_ingested_at)
    manifest = Manifest(dataset=dataset, run_id=run_id, stage=STAGE)
    manifest.source = {
        "ingest_manifest": ingest_key,
        "ingest_manifests": [manifest_key(dataset, r["run_id"], INGEST_STAGE) for r in raw_runs],
    }
    manifest.interval = dict(ingest.get("interval") or {})
    manifest.extra = {
        "raw_runs": [str(r["run_id"]) for r in raw_runs],
        "version": None,
        "partitions": [],
        "quarantine": None,
        "schema_hash": contract.schema_hash,
        "dedup": {
            "keys": list(contract.dedup.keys),
            "keep": contract.dedup.keep,
            "order_by": contract.dedup.order_by,
            "scope": "partition",
        },
        "reject_rate": 0.0,
        "reject_rate_max": threshold,
        "warnings": [],
        "unchanged": [],
        "removed_versions": [],
        "timings": {},
    }
    options = CurateOptions(
        ingest_date=ingest_date,
        memory_limit=memory_limit,
        threads=threads,
        flush_rows=flush_rows,
        row_group_rows=row_group_rows,
        max_file_bytes=max_file_bytes,
        workers=workers,
        compare_location=compare_location,
        orphan_grace=orphan_grace,
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    parts = [{**part, "raw_run": str(r["run_id"])} for r in raw_runs for part in r.get("outputs") or []]
    try:
        return _run(contract, store, manifest, ingest, parts, live_location, work_dir, options)
    except RejectRateExceeded:
        raise
    except Exception as exc:
        manifest.extra["error"] = f"{type(exc).__name__}: {exc}"
        try:
            _write(store, manifest, FAILED)
        except Exception:  # the original error matters more
            log.exception("Could not write the failed curate manifest of %s run %s", dataset, run_id)
        raise


def _write(store: LakeStore, manifest: Manifest, status: str) -> str:
    """This attempt's record (a new ``attempt=<n>.json``; earlier attempts' records stay)."""
    return manifest.write(store, status)


def _ingested_at(ingest: dict[str, Any]) -> tuple[str, str]:
    """Log order of raw runs: when their ingest finished (the run id breaks a tie)."""
    return str(ingest.get("finished_at") or ""), str(ingest["run_id"])


def _resolve_live(
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


def _run(
    contract: Contract,
    store: LakeStore,
    manifest: Manifest,
    ingest: dict[str, Any],
    parts: list[dict[str, Any]],
    live_location: LiveLocation,
    work_dir: Path,
    options: CurateOptions,
) -> dict[str, Any]:
    dataset, run_id = contract.name, manifest.run_id
    timings: dict[str, float] = manifest.extra["timings"]
    rows: dict[str, int] = dict.fromkeys(
        (
            "read",
            "accepted",
            "quarantined",
            "written",
            "duplicates_dropped",
            "existing",
            "existing_kept",
            "existing_replaced",
            "output",
        ),
        0,
    )
    manifest.rows = rows
    if not parts:
        _mark_consumed(store, manifest)
        key = _write(store, manifest, COMPLETE)
        log.info(
            "Ingest run(s) %s of %s landed nothing: nothing to curate", manifest.extra["raw_runs"], dataset
        )
        return _summary(manifest, key)

    # 1. stream raw parts -> spill + rejects ---------------------------------------------------------
    started = time.monotonic()
    workers = worker_count(options.workers, parts)
    results = parse_parts(_part_tasks(contract, store, parts, work_dir, options, manifest), workers)
    rejects_path = work_dir / "rejects.jsonl.gz"
    concat_rejects(results, rejects_path)
    spill_files: dict[str, list[Path]] = {}
    spill_rows: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for result, item in zip(results, manifest.inputs, strict=True):
        item["rows"] = result.rows_read
        ingested = parts[result.index].get("rows")
        if ingested is not None and int(ingested) != result.rows_read:
            warning = f"{result.key}: read {result.rows_read} rows, the ingest manifest counted {ingested}"
            log.warning(warning)
            manifest.extra["warnings"].append(warning)
        if result.header is not None:  # the header contract: what the file's header said (readers.py)
            item["header"] = result.header
            refused = result.header.get("refused")
            for finding in [refused["message"]] if refused else result.header.get("warnings", []):
                log.warning(finding)
                manifest.extra["warnings"].append(finding)
        rows["read"] += result.rows_read
        rows["quarantined"] += result.rejects_rows
        reasons.update(result.reasons)
        spill_rows.update(result.rows_by_dt)
        for dt, files in result.spill_files.items():
            spill_files.setdefault(dt, []).extend(files)
    rows["accepted"] = sum(spill_rows.values())
    timings["parse_seconds"] = round(time.monotonic() - started, 3)
    timings["parse_workers"] = workers

    # 2. quarantine, then the reject budget -------------------------------------------------------------
    ingest_day: date = options.ingest_date or _ingest_date(ingest)
    quarantined = rows["quarantined"]
    if quarantined:
        qkey = quarantine_key(dataset, ingest_day, run_id)
        store.put_file(qkey, rejects_path)
        manifest.outputs.append(
            {
                "kind": "quarantine",
                "key": qkey,
                "rows": quarantined,
                "bytes": rejects_path.stat().st_size,
                "sha256": file_sha256(rejects_path),
            }
        )
        manifest.extra["quarantine"] = {
            "key": qkey,
            "location": s3_uri(store.bucket, qkey),
            "rows": quarantined,
            "reasons": dict(sorted(reasons.items())),
        }
    rate = quarantined / rows["read"] if rows["read"] else 0.0
    threshold = manifest.extra["reject_rate_max"]
    manifest.extra["reject_rate"] = round(rate, 6)
    if rate > threshold:
        manifest.extra["error"] = (
            f"reject rate {rate:.2%} ({quarantined} of {rows['read']}) above threshold {threshold:.2%}"
        )
        key = _write(store, manifest, FAILED)
        raise RejectRateExceeded(
            dataset,
            run_id,
            quarantined,
            rows["read"],
            threshold,
            manifest.extra["quarantine"]["location"],
            s3_uri(store.bucket, key),
        )

    # 3. per partition: live rows + new rows -> de-duplicated new version ------------------------------
    started = time.monotonic()
    dts = sorted(spill_files)
    previous = _resolve_live(live_location, dts)
    compare = _resolve_live(options.compare_location, dts) if options.compare_location else previous
    pending = _pending_versions(store, dataset, run_id, compare)
    live_versions = [v for v in (version_of_location(loc) for loc in compare.values()) if v]
    version = new_version_id(after=max(live_versions, default=None))
    manifest.extra["version"] = version
    merger = PartitionMerger(
        contract,
        work_dir,
        memory_limit=options.memory_limit,
        threads=options.threads,
        row_group_rows=options.row_group_rows,
        max_file_bytes=options.max_file_bytes,
    )
    try:
        for dt in dts:
            manifest.extra["partitions"].append(
                _curate_partition(
                    store,
                    merger,
                    contract,
                    dt,
                    version,
                    spill_files[dt],
                    previous[dt],
                    compare[dt],
                    work_dir,
                    pending=pending.get(dt),
                )
            )
            if manifest.extra["partitions"][-1]["rows_new"] != spill_rows[dt]:
                raise CurateError(
                    f"dt={dt}: spilled {spill_rows[dt]} rows but the merge read a different count"
                )
    finally:
        merger.close()
    shutil.rmtree(work_dir / "parts", ignore_errors=True)
    timings["merge_seconds"] = round(time.monotonic() - started, 3)

    # 4. accounting, manifest ---------------------------------------------------------------------------
    for entry in manifest.extra["partitions"]:
        rows["written"] += entry["rows_new_kept"]
        rows["duplicates_dropped"] += entry["rows_new"] - entry["rows_new_kept"]
        rows["existing"] += entry["rows_existing"]
        rows["existing_kept"] += entry["rows_existing_kept"]
        rows["output"] += entry["rows"]
        manifest.outputs.extend(
            {"kind": "curated", "dt": entry["dt"], **item} for item in entry.pop("_outputs")
        )
    rows["existing_replaced"] = rows["existing"] - rows["existing_kept"]
    _check_accounting(rows)
    manifest.extra["accounting"] = "read = written + quarantined + duplicates_dropped"
    manifest.extra["unchanged"] = [p["dt"] for p in manifest.extra["partitions"] if p.get("unchanged")]
    manifest.extra["removed_versions"] = _remove_orphans(
        store, dataset, version, options.compare_location or live_location, options.orphan_grace
    )
    _mark_consumed(store, manifest)
    key = _write(store, manifest, COMPLETE)
    _advance_state(store, dataset, run_id, version)
    log.info(
        "Curated %s run %s (raw runs %s): read %d, written %d, quarantined %d, duplicates dropped %d; "
        "%d partition(s) at version %s, %d unchanged",
        dataset,
        run_id,
        ", ".join(manifest.extra["raw_runs"]),
        rows["read"],
        rows["written"],
        rows["quarantined"],
        rows["duplicates_dropped"],
        len(dts) - len(manifest.extra["unchanged"]),
        version,
        len(manifest.extra["unchanged"]),
    )
    return _summary(manifest, key)


def _mark_consumed(store: LakeStore, manifest: Manifest) -> None:
    """Index the log: beside each other raw run this attempt consumed, a marker naming this run."""
    for raw_run in manifest.extra["raw_runs"]:
        if raw_run != manifest.run_id:
            mark_consumed(store, manifest.dataset, raw_run, manifest.run_id)


def _remove_orphans(
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
        live = _resolve_live(live_location, [dt])[dt]
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


def _advance_state(store: LakeStore, dataset: str, run_id: str, version: str) -> None:
    """The version id of the dataset's latest complete curate: versions after it are an attempt's."""
    state = store.get_json(state_key(dataset, STAGE)) or {}
    store.put_json(
        state_key(dataset, STAGE),
        {"version": max(version, str(state.get("version") or "")), "run_id": run_id},
    )


def _part_tasks(
    contract: Contract,
    store: LakeStore,
    parts: list[dict[str, Any]],
    work_dir: Path,
    options: CurateOptions,
    manifest: Manifest,
) -> Iterator[PartTask]:
    """Download each raw part whole (moto is slow at ranged reads), check it, and hand it out to parse."""
    csv_delimiter, csv_header = ",", True
    if contract.source.kind == "files":
        csv_delimiter, csv_header = contract.source.csv.delimiter, contract.source.csv.header
    for index, part in enumerate(parts):
        key = part["key"]
        folder = work_dir / "parts" / f"{index:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        local = folder / "raw"
        sha256 = store.download(key, local)
        if part.get("sha256") and part["sha256"] != sha256:
            raise CurateError(
                f"raw part s3://{store.bucket}/{key} changed since it was ingested "
                f"(sha256 {sha256}, ingest manifest says {part['sha256']}): raw data is immutable"
            )
        manifest.inputs.append(
            {
                "key": key,
                "format": raw_format(key),
                "bytes": local.stat().st_size,
                "sha256": sha256,
                "rows": None,
                "rows_ingested": part.get("rows"),
            }
        )
        manifest.inputs[-1]["raw_run"] = part.get("raw_run")
        yield PartTask(
            index=index,
            key=key,
            path=local,
            out_dir=folder,
            contract=contract,
            flush_rows=options.flush_rows,
            csv_delimiter=csv_delimiter,
            csv_header=csv_header,
        )


def _curate_partition(
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
    existing = _download_live(store, previous, folder / "live") if previous else []
    result = merger.merge(new_files, existing, folder / "out")
    same = _same_as_live(
        store, result.parts, live, existing if live == previous else None, folder / "compare"
    )
    if same is None and pending is not None and _same_as_pending(store, result.parts, pending):
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


def _pending_versions(
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


def _same_as_pending(store: LakeStore, parts: list[Any], pending: dict[str, Any]) -> bool:
    """The new files equal the pending version's (names and sha256 its manifest recorded) and its objects
    are all still there with their sizes."""
    recorded = pending.get("sha256") or {}
    if sorted(key.rsplit("/", 1)[-1] for key in recorded) != sorted(part.path.name for part in parts):
        return False
    by_name = {key.rsplit("/", 1)[-1]: digest for key, digest in recorded.items()}
    if any(by_name[part.path.name] != part.sha256 for part in parts):
        return False
    bucket, prefix = split_location(pending["location"])
    sizes = {obj.key.rsplit("/", 1)[-1]: obj.size for obj in _store_for(store, bucket).list(prefix)}
    return all(sizes.get(part.path.name) == part.bytes for part in parts)


def _same_as_live(
    store: LakeStore, parts: list[Any], live: str | None, downloaded: list[Path] | None, folder: Path
) -> dict[str, str] | None:
    """``{key: sha256}`` of the live version when the new files equal it (names, count, bytes); else None.

    The content digest is the sha256 of each Parquet file: the merge writes byte-identical files for
    identical rows, so equal digests mean a rerun with unchanged inputs and code.
    """
    if not live or not parts:
        return None
    bucket, prefix = split_location(live)
    source = _store_for(store, bucket)
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


def _check_accounting(rows: dict[str, int]) -> None:
    problems = []
    if rows["read"] != rows["written"] + rows["quarantined"] + rows["duplicates_dropped"]:
        problems.append("read != written + quarantined + duplicates_dropped")
    if rows["read"] != rows["accepted"] + rows["quarantined"]:
        problems.append("read != accepted + quarantined")
    if rows["output"] != rows["written"] + rows["existing_kept"]:
        problems.append("output != written + existing_kept")
    if problems:
        raise CurateError(f"row accounting does not balance ({'; '.join(problems)}): {rows}")


def _summary(manifest: Manifest, key: str) -> dict[str, Any]:
    """The small XCom value: counts, versions and locations, never data."""
    quarantine = manifest.extra.get("quarantine")
    return {
        "dataset": manifest.dataset,
        "run_id": manifest.run_id,
        "version": manifest.extra.get("version"),
        "rows": dict(manifest.rows),
        "partitions": [
            {
                "dt": p["dt"],
                "version": p["version"],
                "location": p["location"],
                "previous_location": p["previous_location"],
                "rows": p["rows"],
                "unchanged": bool(p.get("unchanged")),
                "reused": bool(p.get("reused")),
            }
            for p in manifest.extra.get("partitions", [])
        ],
        "raw_runs": list(manifest.extra.get("raw_runs") or []),
        "quarantine": quarantine["key"] if quarantine else None,
        "manifest": key,
    }
