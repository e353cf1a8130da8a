"""What a curate run consumes, and reading it: raw parts -> typed rows spilled per partition + rejects.

A run consumes the raw parts its own ingest run landed and, with ``backlog=True`` (the DAGs' setting),
those of every other ingested raw run of the dataset not yet published
(:func:`airlake.manifest.unpublished_raw_runs` defines "published"), oldest first: raw is a log and
curate its consumer, so a run that failed after ingest never strands what it landed. Each part is
downloaded whole, checked against the sha256 its ingest manifest recorded and parsed
(:mod:`airlake.curate.parts`; big runs parse several parts at once in worker processes); its counts and
header findings go into the manifest's ``inputs`` (:class:`~airlake.curate.record.RawInput`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.parts import PartTask, concat_rejects, parse_parts, worker_count
from airlake.curate.rawfile import Arrival
from airlake.curate.record import (
    INGEST_STAGE,
    CurateManifest,
    RawInput,
    Write,
    fail_run,
    new_manifest,
    record_inputs,
)
from airlake.lake import manifest_key
from airlake.manifest import IngestRecord, RawPart, ingested_at, read_record, unpublished_raw_runs

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

BACKLOG_DAYS = 30
"""How far back the backlog looks for unpublished raw runs: older ones may be archived (Glacier) by
tiering, and a failure that old is recovered on purpose, by clearing that run (a run always curates
its own raw run)."""


def read_ingest(store: LakeStore, dataset: str, run_id: str) -> IngestRecord:
    """The complete ingest record of run ``run_id``; :class:`CurateError` when there is none."""
    ingest_key = manifest_key(dataset, run_id, INGEST_STAGE)
    ingest = read_record(store, dataset, run_id, IngestRecord)
    if ingest is None:
        raise CurateError(
            f"no ingest manifest s3://{store.bucket}/{ingest_key}: "
            f"the ingest task of run {run_id} must succeed before curate"
        )
    if not ingest.complete:
        raise CurateError(f"ingest manifest {ingest_key} has status {ingest.status!r}, not 'complete'")
    return ingest


def raw_runs_to_curate(
    store: LakeStore, dataset: str, ingest: IngestRecord, *, backlog: bool, backlog_days: int
) -> list[IngestRecord]:
    """The ingest records of the raw runs a run consumes, in log order: its own, and with ``backlog``
    every unpublished one of the last ``backlog_days`` days."""
    if not backlog:
        return [ingest]
    since = datetime.now(UTC) - timedelta(days=backlog_days)
    pending = unpublished_raw_runs(store, dataset, since=since)
    others = [r for r in pending if r.run_id != ingest.run_id]
    if others:
        log.info(
            "%s: also curating %d unpublished raw run(s) of earlier runs: %s",
            dataset,
            len(others),
            ", ".join(r.run_id for r in others),
        )
    return sorted([*others, ingest], key=ingested_at)


def ingest_date_of(ingest: IngestRecord) -> date:
    """The day a run was ingested (its quarantine partition): its interval's start, else its raw keys'."""
    if ingest.ingest_date is None:
        raise CurateError("cannot tell the ingest date of the run: pass ingest_date")
    return ingest.ingest_date


def raw_parts(raw_runs: Sequence[IngestRecord]) -> list[RawPart]:
    """Every raw part the runs landed, in order (each names its raw run and landing file)."""
    return [part for r in raw_runs for part in r.parts]


@dataclass(frozen=True)
class CurateStart:
    """One attempt as it starts: the dataset, the lake, its scratch folder, what it consumes and the
    manifest it starts (the worker and SQL runs begin the same)."""

    contract: Contract
    store: LakeStore
    work_dir: Path
    ingest: IngestRecord
    manifest: CurateManifest
    parts: list[RawPart]


@contextmanager
def curate_attempt(
    contract: Contract,
    store: LakeStore,
    run_id: str,
    work_dir: Path,
    *,
    reject_rate_max: float | None,
    backlog: bool,
    backlog_days: int,
    write: Write,
) -> Iterator[CurateStart]:
    """
    One attempt of a curate run (worker or SQL): reads the run's complete ingest record, picks the raw
    runs it consumes and starts its manifest; an error inside (but an exceeded reject budget, which
    wrote its own) is recorded as the ``failed`` manifest before it propagates.
    """
    ingest = read_ingest(store, contract.name, run_id)
    threshold = contract.quality.reject_rate_max if reject_rate_max is None else reject_rate_max
    raw_runs = raw_runs_to_curate(store, contract.name, ingest, backlog=backlog, backlog_days=backlog_days)
    manifest = new_manifest(contract, run_id, ingest, raw_runs, threshold)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield CurateStart(contract, store, work_dir, ingest, manifest, raw_parts(raw_runs))
    except RejectRateExceeded:
        raise
    except Exception as exc:
        fail_run(store, manifest, exc, write)
        raise


@dataclass
class ParsedParts:
    """What the parse of a run's raw parts left on local disk, for the merge."""

    rejects_path: Path
    workers: int
    spill_files: dict[str, list[Path]] = field(default_factory=dict)
    spill_rows: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


def parse_raw_parts(
    contract: Contract,
    store: LakeStore,
    manifest: CurateManifest,
    parts: list[RawPart],
    work_dir: Path,
    *,
    flush_rows: int,
    workers: int | None,
) -> ParsedParts:
    """Download and parse every part: typed rows spilled per partition date, rejects into one local gzip
    JSON Lines file; counts (``read``, ``quarantined``, ``accepted``), inputs and warnings recorded."""
    rows = manifest.rows
    count = worker_count(workers, [{"bytes": part.bytes} for part in parts])
    downloads = _Downloads(contract, store, work_dir, flush_rows, follow=count > 1)
    results = parse_parts(downloads.tasks(parts), count)
    parsed = ParsedParts(rejects_path=work_dir / "rejects.jsonl.gz", workers=count)
    concat_rejects(results, parsed.rejects_path)
    record_inputs(
        manifest,
        [
            RawInput(
                part,
                *downloads.checked[result.index],
                rows=result.rows_read,
                landing=part.landing,
                header=result.header,
            )
            for part, result in zip(parts, results, strict=True)
        ],
    )
    for result in results:
        rows["quarantined"] += result.rejects_rows
        parsed.reasons.update(result.reasons)
        parsed.spill_rows.update(result.rows_by_dt)
        for dt, files in result.spill_files.items():
            parsed.spill_files.setdefault(dt, []).extend(files)
    rows["accepted"] = sum(parsed.spill_rows.values())
    return parsed


class _Downloads:
    """Each raw part downloaded whole (moto is slow at ranged reads) as the parse asks for it, checked
    against its ingest record; ``checked`` keeps what each download found (bytes, sha256) by index.

    With ``follow`` (a parse in worker processes) a part of known size is handed to the parse as soon as
    its download starts, in a thread (:class:`~airlake.curate.rawfile.Arrival`): the parse cuts it and
    the workers parse its first pieces while the rest arrives (measured: the download of a 428 MB part
    was 1.7 s with both cores idle). Its sha256 is checked once it is whole, before the next part and
    before any result of the parse is used: a changed part still fails the run, and nothing is written.
    """

    def __init__(
        self, contract: Contract, store: LakeStore, work_dir: Path, flush_rows: int, *, follow: bool = False
    ) -> None:
        self.contract, self.store, self.work_dir, self.flush_rows = contract, store, work_dir, flush_rows
        self.follow = follow
        self.checked: dict[int, tuple[int, str]] = {}

    def tasks(self, parts: Sequence[RawPart]) -> Iterator[PartTask]:
        contract, store = self.contract, self.store
        csv_delimiter, csv_header = ",", True
        if contract.source.kind == "files":
            csv_delimiter, csv_header = contract.source.csv.delimiter, contract.source.csv.header
        for index, part in enumerate(parts):
            folder = self.work_dir / "parts" / f"{index:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            local = folder / "raw"
            arrival = None
            if self.follow and part.bytes:
                arrival = Arrival(local, partial(download_checked, store, part), part.bytes)
            else:
                sha256 = download_checked(store, part, local)
                self.checked[index] = (local.stat().st_size, sha256)
            task = PartTask(
                index=index,
                key=part.key,
                path=local,
                out_dir=folder,
                contract=contract,
                flush_rows=self.flush_rows,
                csv_delimiter=csv_delimiter,
                csv_header=csv_header,
                landing=part.landing,
            )
            if arrival is None:
                yield task
                continue
            try:
                yield task
            except GeneratorExit:  # the parse stopped: let the copy end before its folder is removed
                arrival.wait()
                raise
            self.checked[index] = (local.stat().st_size, arrival.result())


def download_checked(store: LakeStore, part: RawPart, local: Path) -> str:
    """Download a raw part whole; its sha256, :class:`CurateError` when it is not the one ingested."""
    sha256 = store.download(part.key, local)
    if part.sha256 and part.sha256 != sha256:
        raise CurateError(
            f"raw part s3://{store.bucket}/{part.key} changed since it was ingested "
            f"(sha256 {sha256}, ingest manifest says {part.sha256}): raw data is immutable"
        )
    return sha256
