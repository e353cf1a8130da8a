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
3. per touched partition, two at a time: download the live version's files, combine and de-duplicate
   with DuckDB, upload the result under a NEW version prefix ``curated/<ds>/dt=<dt>/v=<version>/``,
   unless it is byte for byte the live version: then nothing is uploaded and the partition is reported
   ``unchanged`` at its live location (a rerun with the same inputs and code writes no version);
4. delete the versions that attempts killed or failed since the dataset's last complete curate left
   behind (never live, never named by a complete record), check the row accounting and write the
   manifest ``_manifests/<ds>/<run>/curate.json`` (and ``curate/attempt=<n>.json``). The catalog stage
   then publishes the new versions (points Glue at them); until it does, readers keep the old ones.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from airlake.curate.duck import CURATE_LAYOUT, ParquetLayout
from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.inputs import BACKLOG_DAYS, CurateStart, curate_attempt, ingest_date_of, parse_raw_parts
from airlake.curate.merge import PartitionMerger
from airlake.curate.partitions import LiveLocation, curate_partition, plan_versions, remove_orphans
from airlake.curate.record import (
    CurateResult,
    PartitionOutcome,
    add_partitions,
    check_reject_budget,
    complete_run,
    write_manifest,
)
from airlake.curate.versions import ORPHAN_GRACE
from airlake.manifest import COMPLETE
from airlake.store import LakeStore

if TYPE_CHECKING:
    from airlake.contracts import Contract


# run_curate and its options; the errors stay importable from here for their importers (alerts), and
# the statuses _write is called with (the kill-point tests stop a run there)
__all__ = ["COMPLETE", "CurateError", "CurateOptions", "RejectRateExceeded", "run_curate"]


@dataclass(frozen=True, kw_only=True)
class CurateOptions:
    """
    The choices and tuning of one run (see :func:`run_curate`); the SQL run
    (:func:`airlake.curate.sqlrun.run_curate_sql`) takes the same and uses the first three (its engine
    has its own tuning).

    :param ingest_date: the day the data was ingested (quarantine partition); default from the ingest
        manifest's interval.
    :param compare_location: where the live version is when ``live_location`` deliberately says "none"
        (a full refresh does not merge the live rows): an output identical to it is not uploaded.
    :param orphan_grace: a version left by a killed or failed attempt is deleted once it is this much
        older than this attempt (see :func:`~airlake.curate.versions.orphan_versions`).
    :param memory_limit: DuckDB memory limit of the per-partition combine (it spills beyond it).
    :param threads: DuckDB threads of the merge (default: the cores shared by the partitions merged at once).
    :param flush_rows: typed rows buffered in memory before they are spilled.
    :param layout: rows per Parquet row group and the size at which a partition's file rolls to the
        next one.
    :param workers: processes parsing raw parts at once; default: by input size and cores (1 for
        small runs).
    """

    ingest_date: date | None = None
    compare_location: LiveLocation | None = None
    orphan_grace: timedelta = ORPHAN_GRACE
    memory_limit: str = "1GB"
    threads: int | None = None
    flush_rows: int = 65_536
    layout: ParquetLayout = CURATE_LAYOUT
    workers: int | None = None


def run_curate(
    contract: Contract,
    store: LakeStore,
    *,
    run_id: str,
    live_location: LiveLocation,
    work_dir: Path,
    reject_rate_max: float | None = None,
    backlog: bool = False,
    backlog_days: int = BACKLOG_DAYS,
    options: CurateOptions = CurateOptions(),
) -> CurateResult:
    """
    Curate the raw parts the ingest run ``run_id`` landed (and with ``backlog`` every unpublished raw
    run of the dataset); returns the small summary for XCom and the record written.

    :param contract: the dataset's contract.
    :param store: the lake bucket (every write server-side encrypted).
    :param run_id: the Airflow run id (the same as the ingest run's).
    :param live_location: ``dt -> location`` of the version readers see now, or None.
    :param work_dir: local scratch folder (spill, downloads, output files before upload).
    :param reject_rate_max: overrides ``contract.quality.reject_rate_max``.
    :param backlog: also consume every other ingested raw run of the dataset that is not yet
        published (earlier failed runs), oldest first.
    :param backlog_days: only raw runs ingested in the last this many days (see :data:`BACKLOG_DAYS`).
    :param options: the run's ingest date, comparison location, orphan grace and tuning
        (:class:`CurateOptions`).
    :raises RejectRateExceeded: too many rejects (quarantine and manifest written first).
    :raises CurateError: no complete ingest manifest, a raw part changed, or accounting does not balance.
    """
    limits = {"reject_rate_max": reject_rate_max, "backlog": backlog, "backlog_days": backlog_days}
    with curate_attempt(contract, store, run_id, work_dir, **limits, write=_write) as start:
        return _run(start, live_location, options)


PARTITIONS_AT_ONCE = 2
"""Partitions merged at once, each in a thread with its share of the cores for DuckDB: one's Parquet
encoding (one core) overlaps the other's download, sort and upload. Measured on 2 cores, 16M CSV rows:
merge 33 s with DuckDB on both cores per partition, 25 s with one each, and peak memory 615 -> 583 MB
(flat from 1M: 495 MB)."""

_write = write_manifest
"""How this run writes its record (a name of its own: the kill-point tests stop a run there)."""


def _run(start: CurateStart, live_location: LiveLocation, options: CurateOptions) -> CurateResult:
    contract, store, work_dir = start.contract, start.store, start.work_dir
    manifest, ingest, parts = start.manifest, start.ingest, start.parts
    dataset, run_id = contract.name, manifest.run_id
    details = manifest.details
    timings = details.timings
    if not parts:
        return complete_run(store, manifest, _write)

    # 1. stream raw parts -> spill + rejects ---------------------------------------------------------
    started = time.monotonic()
    parsed = parse_raw_parts(
        contract, store, manifest, parts, work_dir, flush_rows=options.flush_rows, workers=options.workers
    )
    spill_files, spill_rows = parsed.spill_files, parsed.spill_rows
    timings["parse_seconds"] = round(time.monotonic() - started, 3)
    timings["parse_workers"] = parsed.workers

    # 2. quarantine, then the reject budget -------------------------------------------------------------
    ingest_day: date = options.ingest_date or ingest_date_of(ingest)
    check_reject_budget(store, manifest, parsed.rejects_path, parsed.reasons, ingest_day, _write)

    # 3. per partition: live rows + new rows -> de-duplicated new version ------------------------------
    started = time.monotonic()
    dts = sorted(spill_files)
    plan = plan_versions(store, dataset, run_id, dts, live_location, options.compare_location)
    details.version = plan.version
    merger = PartitionMerger(
        contract,
        work_dir,
        memory_limit=options.memory_limit,
        threads=options.threads or max(1, (os.cpu_count() or 1) // PARTITIONS_AT_ONCE),
        row_group_rows=options.layout.row_group_rows,
        max_file_bytes=options.layout.max_file_bytes,
    )

    def merge(dt: str) -> PartitionOutcome:
        outcome = curate_partition(
            store,
            merger,
            contract,
            dt,
            plan.version,
            spill_files[dt],
            plan.previous[dt],
            plan.compare[dt],
            work_dir,
            pending=plan.pending.get(dt),
        )
        if outcome.partition.rows_new != spill_rows[dt]:
            raise CurateError(f"dt={dt}: spilled {spill_rows[dt]} rows but the merge read a different count")
        return outcome

    pool = ThreadPoolExecutor(PARTITIONS_AT_ONCE, thread_name_prefix="curate-merge")
    try:
        outcomes = [job.result() for job in [pool.submit(merge, dt) for dt in dts]]
    finally:
        pool.shutdown(cancel_futures=True)
        merger.close()
    shutil.rmtree(work_dir / "parts", ignore_errors=True)
    timings["merge_seconds"] = round(time.monotonic() - started, 3)

    # 4. accounting, manifest ---------------------------------------------------------------------------
    add_partitions(manifest, outcomes)
    live = options.compare_location or live_location
    details.removed_versions = remove_orphans(store, contract, plan.version, live, options.orphan_grace)
    return complete_run(store, manifest, _write)
