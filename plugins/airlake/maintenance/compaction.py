"""Compact curated partitions made of many or small Parquet files, published atomically like curate.

A partition is rewritten when its live version has more than ``max_files`` files or files smaller than
``small_file_bytes``, and only when the rewrite lowers the file count (at most one file per
``target_file_bytes``), so a second run finds nothing to do. The rewrite never touches the live
version: its files are downloaded whole, their rows streamed unchanged (same order, same values, cast
to the contract's schema; a column added later is NULL, as readers already see it) through curate's
Parquet writer into ONE new version ``curated/<dataset>/<column>=<dt>/v=<UTC ts>/``, the row count checked,
and then the Glue partition is moved to it. If a curate run published the partition in the meantime,
the new version is dropped instead: the newer data wins. Superseded versions go to cleanup. Only
partitions still in S3 Standard are compacted (see :data:`COMPACTABLE_CLASSES`).
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.duck import CURATE_LAYOUT, ParquetLayout
from airlake.curate.versions import version_of_location
from airlake.lake import (
    DEFAULT_PARTITION_COLUMN,
    curated_dataset_prefix,
    curated_version_prefix,
    s3_prefix,
    s3_uri,
    split_curated_version_key,
)
from airlake.store import LakeStore

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.contracts import Contract

log = logging.getLogger(__name__)

STAGE = "compact"
DEFAULT_MAX_FILES = 8
DEFAULT_SMALL_FILE_BYTES = 32 * 1024 * 1024
COMPACTABLE_CLASSES = frozenset({"STANDARD"})
"""Only hot partitions are compacted: Glacier files need a restore before they can be read, and
rewriting Standard-IA or Glacier IR data pays retrieval and early-deletion fees and lands it back in
Standard. Tiering moves whole partitions, so a tiered partition was compacted (or not) before."""


class CompactionError(RuntimeError):
    """A partition cannot be compacted without changing its rows."""


@dataclass(frozen=True)
class CompactionPolicy:
    """
    Which live partitions are compacted, and the layout they are rewritten in.

    :param max_files: a partition with more files than this is compacted...
    :param small_file_bytes: ...as is one with a file smaller than this...
    :param layout: ...but only when that lowers its file count: the rewrite rolls to a new file at
        ``layout.max_file_bytes``, so a partition of ``n`` files and ``b`` bytes is left alone when
        ``n <= ceil(b / layout.max_file_bytes)``; its row groups are ``layout.row_group_rows``.
    """

    max_files: int = DEFAULT_MAX_FILES
    small_file_bytes: int = DEFAULT_SMALL_FILE_BYTES
    layout: ParquetLayout = CURATE_LAYOUT

    def __post_init__(self) -> None:
        if self.max_files < 1 or self.small_file_bytes < 0 or self.layout.max_file_bytes < 1:
            raise ValueError("max_files and target_file_bytes must be >= 1, small_file_bytes >= 0")

    def thresholds(self) -> dict[str, int]:
        """The thresholds as the compaction record names them."""
        return {
            "max_files": self.max_files,
            "small_file_bytes": self.small_file_bytes,
            "target_file_bytes": self.layout.max_file_bytes,
        }


DEFAULT_POLICY = CompactionPolicy()


@dataclass(frozen=True)
class CompactionPlan:
    """One live partition version and why it should be compacted."""

    dataset: str
    dt: str
    location: str
    version: str
    files: tuple[tuple[str, int], ...]
    """(key, bytes) of its Parquet files, in key order."""
    small_files: int
    target_files: int
    reasons: tuple[str, ...]

    @property
    def bytes(self) -> int:
        return sum(size for _key, size in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dt": self.dt,
            "location": self.location,
            "version": self.version,
            "files": len(self.files),
            "small_files": self.small_files,
            "bytes": self.bytes,
            "target_files": self.target_files,
            "reasons": list(self.reasons),
        }


def _live_prefixes(
    store: LakeStore, dataset: str, live: Mapping[str, str | None], column: str
) -> dict[str, str]:
    """{version prefix: dt} of the live versions in this bucket."""
    prefixes: dict[str, str] = {}
    for dt, location in live.items():
        if not location:
            continue
        bucket, prefix = s3_prefix(location)
        version = version_of_location(location)
        expected = curated_version_prefix(dataset, dt, version, column=column) if version else None
        if bucket != store.bucket or prefix != expected:
            log.info("Not compacting %s dt=%s: its location %s is not a version here", dataset, dt, location)
            continue
        prefixes[prefix] = dt
    return prefixes


def _live_files(
    store: LakeStore, dataset: str, live: Mapping[str, str | None], column: str
) -> Iterator[tuple[str, str, list[tuple[str, int, str]]]]:
    """(dt, version, [(key, bytes, storage class)]) of each live version: ONE streamed listing of the
    dataset. The keys of a version prefix are contiguous in the listing, so only one partition's file
    list is held at a time."""
    wanted = _live_prefixes(store, dataset, live, column)
    current: tuple[str, str] | None = None
    files: list[tuple[str, int, str]] = []
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=curated_dataset_prefix(dataset)
    )
    for item in (item for page in pages for item in page.get("Contents", [])):
        parsed = split_curated_version_key(item["Key"], column)
        if parsed is None or parsed[3] not in wanted:
            continue
        _dataset, _value, version, prefix, name = parsed
        if "/" in name or not name.endswith(".parquet"):
            continue
        if current is None or prefix != current[0]:
            if current is not None:
                yield wanted[current[0]], current[1], files
            current, files = (prefix, version), []
        files.append((item["Key"], int(item["Size"]), item.get("StorageClass") or "STANDARD"))
    if current is not None:
        yield wanted[current[0]], current[1], files


def plan_compaction(
    store: LakeStore,
    dataset: str,
    live: Mapping[str, str | None],
    policy: CompactionPolicy = DEFAULT_POLICY,
    *,
    partition_column: str = DEFAULT_PARTITION_COLUMN,
) -> list[CompactionPlan]:
    """
    The live partitions worth compacting.

    :param store: the lake bucket.
    :param dataset: the dataset.
    :param live: ``{dt: live location}`` (the catalog's).
    :param policy: which partitions are worth it (:class:`CompactionPolicy`).
    :param partition_column: the contract's partition column (the ``<column>=`` folder of the keys).

    Partitions with a file outside :data:`COMPACTABLE_CLASSES` (tiered to a colder class) are skipped.
    """
    max_files, small_file_bytes = policy.max_files, policy.small_file_bytes
    plans: list[CompactionPlan] = []
    for dt, version, listed in _live_files(store, dataset, live, partition_column):
        cold = sorted({storage_class for _k, _s, storage_class in listed} - COMPACTABLE_CLASSES)
        if cold:
            log.info("Not compacting %s dt=%s: files in %s (tiered data stays as it is)", dataset, dt, cold)
            continue
        files = [(key, size) for key, size, _c in listed]
        total = sum(size for _key, size in files)
        small = sum(1 for _key, size in files if size < small_file_bytes)
        target = max(1, math.ceil(total / policy.layout.max_file_bytes))
        reasons = []
        if len(files) > max_files:
            reasons.append(f"{len(files)} files > {max_files}")
        if small:
            reasons.append(f"{small} file(s) < {small_file_bytes} bytes")
        if not reasons or len(files) <= target:
            continue
        plans.append(
            CompactionPlan(
                dataset=dataset,
                dt=dt,
                location=s3_uri(
                    store.bucket, curated_version_prefix(dataset, dt, version, column=partition_column)
                ),
                version=version,
                files=tuple(files),
                small_files=small,
                target_files=target,
                reasons=tuple(reasons),
            )
        )
    return sorted(plans, key=lambda plan: plan.dt)


def _conform(batch: pa.RecordBatch, schema: pa.Schema, file: str) -> pa.RecordBatch:
    """The batch in the contract's schema: same values, a column the file lacks as NULLs."""
    import pyarrow as pa

    extra = [name for name in batch.schema.names if name not in schema.names]
    if extra:
        raise CompactionError(
            f"{file} has column(s) {extra} the contract does not: compacting would drop them"
        )
    arrays = []
    for field in schema:
        if field.name in batch.schema.names:
            arrays.append(batch.column(field.name).cast(field.type))
        elif field.nullable:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        else:
            raise CompactionError(f"{file} has no column {field.name!r}, which the contract says is NOT NULL")
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def compact_partition(
    store: LakeStore,
    contract: Contract,
    plan: CompactionPlan,
    work_dir: Path,
    layout: ParquetLayout = CURATE_LAYOUT,
) -> dict[str, Any]:
    """
    Rewrite one partition's live files as a NEW version (not published) in ``layout``; its entry for
    the manifest and :func:`~airlake.catalog.publish_partitions`.

    :raises CompactionError: a file does not fit the contract, or the row count changed.
    """
    import pyarrow.parquet as pq

    from airlake.curate.versions import download_version_files, new_version_id

    folder = work_dir / f"{plan.dataset}-dt={plan.dt}"
    try:
        paths = download_version_files(store, plan.location, folder / "live")
        schema = contract.arrow_schema()
        writer = layout.writer(folder / "out", schema)
        inputs: list[dict[str, Any]] = []
        try:
            for (key, size), path in zip(plan.files, paths, strict=True):
                parquet = pq.ParquetFile(path)
                inputs.append({"key": key, "bytes": size, "rows": parquet.metadata.num_rows})
                for batch in parquet.iter_batches(batch_size=layout.row_group_rows):
                    writer.write(_conform(batch, schema, s3_uri(store.bucket, key)))
        finally:
            parts = writer.close()
        rows_in = sum(item["rows"] for item in inputs)
        rows_out = sum(part.rows for part in parts)
        if rows_in != rows_out:
            raise CompactionError(
                f"{plan.dataset} dt={plan.dt}: read {rows_in} rows but wrote {rows_out}: not publishing"
            )
        version = new_version_id(after=plan.version)
        prefix = curated_version_prefix(plan.dataset, plan.dt, version, column=contract.partition_column)
        outputs: list[dict[str, Any]] = []
        for part in parts:
            key = prefix + part.path.name
            store.put_file(key, part.path)
            outputs.append(
                {
                    "kind": "curated",
                    "dt": plan.dt,
                    "key": key,
                    "rows": part.rows,
                    "bytes": part.bytes,
                    "sha256": part.sha256,
                }
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "dt": plan.dt,
        "version": version,
        "location": s3_uri(store.bucket, prefix),
        "previous_location": plan.location,
        "files": [item["key"] for item in outputs],
        "rows": rows_out,
        "files_before": len(plan.files),
        "files_after": len(outputs),
        "bytes_before": plan.bytes,
        "bytes_after": sum(item["bytes"] for item in outputs),
        "_inputs": inputs,
        "_outputs": outputs,
    }


def compact_dataset(
    store: LakeStore,
    glue: Any,
    database: str,
    contract: Contract,
    work_dir: Path,
    *,
    policy: CompactionPolicy = DEFAULT_POLICY,
    dry_run: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """
    Compact the partitions of one dataset that need it and publish each in Glue.

    :param store: the lake bucket.
    :param glue: a boto3 Glue client.
    :param database: the Glue database (table ``<dataset>``).
    :param contract: the dataset's contract (the schema the files are written in).
    :param work_dir: local scratch folder (one partition's files at a time).
    :param policy: which partitions are compacted and the layout they are rewritten in
        (:class:`CompactionPolicy`; curate's layout by default).
    :param dry_run: only plan: nothing is written, published or recorded.
    :param run_id: when given (and not a dry run), ``_manifests/<dataset>/<run_id>/compact.json``.
    :return: ``{dataset, dry_run, live_partitions, planned, compacted, skipped, manifest}``.
    """
    from airlake.catalog import current_location, get_table, live_locations, publish_partitions
    from airlake.maintenance.cleanup import delete_prefix
    from airlake.maintenance.records import write_run_manifest

    dataset = contract.name
    live = live_locations(glue, database, dataset)
    plans = plan_compaction(store, dataset, live, policy, partition_column=contract.partition_column)
    result: dict[str, Any] = {
        "dataset": dataset,
        "dry_run": dry_run,
        "live_partitions": len(live),
        "planned": [plan.as_dict() for plan in plans],
        "compacted": [],
        "skipped": [],
        "manifest": None,
    }
    if dry_run:
        for plan in plans:
            log.info("Would compact %s dt=%s: %s", dataset, plan.dt, "; ".join(plan.reasons))
        return result
    template: dict[str, Any] = {}
    if plans:
        table = get_table(glue, database, dataset)
        if table is None:
            raise CompactionError(f"Glue table {database}.{dataset} vanished: nothing to publish to")
        template = table["StorageDescriptor"]
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        entry = compact_partition(store, contract, plan, work_dir, policy.layout)
        now_live = current_location(glue, database, dataset, plan.dt)
        if (now_live or "").rstrip("/") != plan.location.rstrip("/"):
            # a curate run published newer data meanwhile: keep it, drop our rewrite of the old version
            delete_prefix(store, s3_prefix(entry["location"])[1])
            log.warning(
                "%s dt=%s moved to %s while it was compacted: dropped the rewrite", dataset, plan.dt, now_live
            )
            result["skipped"].append({"dt": plan.dt, "reason": "partition moved", "location": now_live})
            continue
        publish_partitions(
            glue,
            database,
            dataset,
            [
                {
                    "dt": plan.dt,
                    "location": entry["location"],
                    "version": entry["version"],
                    "previous_location": plan.location,
                }
            ],
            template,
        )
        inputs.extend(entry.pop("_inputs"))
        outputs.extend(entry.pop("_outputs"))
        result["compacted"].append(entry)
        log.info(
            "Compacted %s dt=%s: %d file(s) -> %d, %d rows, published %s",
            dataset,
            plan.dt,
            entry["files_before"],
            entry["files_after"],
            entry["rows"],
            entry["location"],
        )
    if run_id:
        rows = sum(entry["rows"] for entry in result["compacted"])
        result["manifest"] = write_run_manifest(
            store,
            dataset,
            run_id,
            STAGE,
            inputs=inputs,
            outputs=outputs,
            rows={"read": rows, "written": rows},
            extra={
                "database": database,
                "partitions": [{k: v for k, v in e.items() if k != "files"} for e in result["compacted"]],
                "skipped": result["skipped"],
                "thresholds": policy.thresholds(),
            },
        )
    return result
