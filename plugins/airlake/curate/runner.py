"""One curate run: the raw parts of an ingest run -> typed, de-duplicated Parquet versions + quarantine.

Order of work, chosen so that nothing is lost and nothing live is ever overwritten:

1. stream every raw part (whole-object download, then line by line; big runs parse several parts at
   once in worker processes): typed rows are spilled to local Parquet per partition date, rejects go
   to a local gzip JSON Lines file;
2. upload the quarantine file; if the reject rate is above the contract's ``reject_rate_max``, write
   the manifest (status ``failed``) and raise :class:`RejectRateExceeded`, before any curated write;
3. per touched partition: download the live version's files, combine and de-duplicate with DuckDB,
   upload the result under a NEW version prefix ``curated/<ds>/dt=<dt>/v=<version>/``;
4. check the row accounting and write ``_manifests/<ds>/<run>/curate.json``. The catalog stage then
   publishes the new versions (points Glue at them); until it does, readers keep the old ones.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.merge import MAX_FILE_BYTES, ROW_GROUP_ROWS, PartitionMerger
from airlake.curate.parts import PartTask, concat_rejects, parse_parts, worker_count
from airlake.curate.readers import raw_format
from airlake.curate.versions import new_version_id, split_location, version_of_location
from airlake.lake import curated_version_prefix, manifest_key, quarantine_key, s3_uri
from airlake.manifest import COMPLETE, Manifest, read_manifest
from airlake.store import LakeStore, file_sha256

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

STAGE = "curate"
INGEST_STAGE = "ingest"
FAILED = "failed"
LiveLocation = Callable[[str], "str | None"]
"""``dt -> s3:// location`` of the partition version readers see now (the catalog's), None if none."""

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
) -> dict[str, Any]:
    """
    Curate the raw parts the ingest run ``run_id`` landed; returns the small summary for XCom.

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
    manifest = Manifest(dataset=dataset, run_id=run_id, stage=STAGE)
    manifest.source = {"ingest_manifest": ingest_key}
    manifest.interval = dict(ingest.get("interval") or {})
    manifest.extra = {
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
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(contract, store, manifest, ingest, live_location, work_dir, options)
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
    key = manifest_key(manifest.dataset, manifest.run_id, STAGE)
    store.put_json(key, manifest.as_document(status=status))
    return key


def _run(
    contract: Contract,
    store: LakeStore,
    manifest: Manifest,
    ingest: dict[str, Any],
    live_location: LiveLocation,
    work_dir: Path,
    options: CurateOptions,
) -> dict[str, Any]:
    dataset, run_id = contract.name, manifest.run_id
    timings: dict[str, float] = manifest.extra["timings"]
    parts: list[dict[str, Any]] = list(ingest.get("outputs") or [])
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
        key = _write(store, manifest, COMPLETE)
        log.info("Ingest run %s of %s landed nothing: nothing to curate", run_id, dataset)
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
    previous = {dt: live_location(dt) for dt in dts}
    live_versions = [v for v in (version_of_location(loc) for loc in previous.values()) if v]
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
                    store, merger, contract, dt, version, spill_files[dt], previous[dt], work_dir
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
    key = _write(store, manifest, COMPLETE)
    log.info(
        "Curated %s run %s: read %d, written %d, quarantined %d, duplicates dropped %d; "
        "%d partition(s) at version %s",
        dataset,
        run_id,
        rows["read"],
        rows["written"],
        rows["quarantined"],
        rows["duplicates_dropped"],
        len(dts),
        version,
    )
    return _summary(manifest, key)


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
    work_dir: Path,
) -> dict[str, Any]:
    """Merge one partition and upload it under its new version prefix; its manifest entry."""
    folder = work_dir / "partitions" / f"dt={dt}"
    existing = _download_live(store, previous, folder / "live") if previous else []
    result = merger.merge(new_files, existing, folder / "out")
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
            }
            for p in manifest.extra.get("partitions", [])
        ],
        "quarantine": quarantine["key"] if quarantine else None,
        "manifest": key,
    }
