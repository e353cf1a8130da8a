"""What a curate run consumes, and reading it: raw parts -> typed rows spilled per partition + rejects.

A run consumes the raw parts its own ingest run landed and, with ``backlog=True`` (the DAGs' setting),
those of every other ingested raw run of the dataset not yet published
(:func:`airlake.manifest.unpublished_raw_runs` defines "published"), oldest first: raw is a log and
curate its consumer, so a run that failed after ingest never strands what it landed. Each part is
downloaded whole, checked against the sha256 its ingest manifest recorded and parsed
(:mod:`airlake.curate.parts`; big runs parse several parts at once in worker processes); its counts and
header findings go into the manifest's ``inputs``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError
from airlake.curate.parts import PartTask, concat_rejects, parse_parts, worker_count
from airlake.curate.rawfile import raw_format
from airlake.curate.record import INGEST_STAGE
from airlake.lake import manifest_key
from airlake.manifest import COMPLETE, Manifest, read_manifest, unpublished_raw_runs

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

BACKLOG_DAYS = 30
"""How far back the backlog looks for unpublished raw runs: older ones may be archived (Glacier) by
tiering, and a failure that old is recovered on purpose, by clearing that run (a run always curates
its own raw run)."""

_INGEST_DATE_IN_KEY = re.compile(r"/ingest_date=(\d{4}-\d{2}-\d{2})/")


def read_ingest(store: LakeStore, dataset: str, run_id: str) -> dict[str, Any]:
    """The complete ingest manifest of run ``run_id``; :class:`CurateError` when there is none."""
    ingest_key = manifest_key(dataset, run_id, INGEST_STAGE)
    ingest = read_manifest(store, dataset, run_id, INGEST_STAGE)
    if ingest is None:
        raise CurateError(
            f"no ingest manifest s3://{store.bucket}/{ingest_key}: "
            f"the ingest task of run {run_id} must succeed before curate"
        )
    if ingest.get("status", COMPLETE) != COMPLETE:
        raise CurateError(f"ingest manifest {ingest_key} has status {ingest.get('status')!r}, not 'complete'")
    return ingest


def raw_runs_to_curate(
    store: LakeStore, dataset: str, ingest: dict[str, Any], *, backlog: bool, backlog_days: int
) -> list[dict[str, Any]]:
    """The ingest manifests of the raw runs a run consumes, in log order: its own, and with ``backlog``
    every unpublished one of the last ``backlog_days`` days."""
    if not backlog:
        return [ingest]
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
    return sorted([*others, ingest], key=ingested_at)


def ingested_at(ingest: dict[str, Any]) -> tuple[str, str]:
    """Log order of raw runs: when their ingest finished (the run id breaks a tie)."""
    return str(ingest.get("finished_at") or ""), str(ingest["run_id"])


def ingest_date_of(ingest: dict[str, Any]) -> date:
    """The day a run was ingested (its quarantine partition): its interval's start, else its raw keys'."""
    start = (ingest.get("interval") or {}).get("start")
    if start:
        return date.fromisoformat(str(start)[:10])
    for item in ingest.get("outputs") or []:
        match = _INGEST_DATE_IN_KEY.search(item["key"])
        if match:
            return date.fromisoformat(match.group(1))
    raise CurateError("cannot tell the ingest date of the run: pass ingest_date")


def raw_parts(raw_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every raw part the runs landed, in order, each with the ``raw_run`` it belongs to and the
    ``landing`` file it came from (None when it did not come from one)."""
    return [
        {**part, "raw_run": str(r["run_id"]), "landing": landing}
        for r in raw_runs
        for part, landing in zip(r.get("outputs") or [], landing_files(r), strict=True)
    ]


def landing_files(ingest: dict[str, Any]) -> list[str | None]:
    """The landing file of each raw part of an ingest run: a part's own ``source_key`` when it records
    one, else, for a files source, the input at its position (a files source lands each file it reads as
    one whole part, in order, so inputs and parts pair up); None elsewhere."""
    outputs = ingest.get("outputs") or []
    inputs = ingest.get("inputs") or []
    paired: list[str | None] = [None] * len(outputs)
    if (ingest.get("source") or {}).get("kind") == "files" and len(inputs) == len(outputs):
        paired = [item.get("key") for item in inputs]
    return [part.get("source_key") or landing for part, landing in zip(outputs, paired, strict=True)]


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
    manifest: Manifest,
    parts: list[dict[str, Any]],
    work_dir: Path,
    *,
    flush_rows: int,
    workers: int | None,
) -> ParsedParts:
    """Download and parse every part: typed rows spilled per partition date, rejects into one local gzip
    JSON Lines file; counts (``read``, ``quarantined``, ``accepted``), inputs and warnings recorded."""
    rows = manifest.rows
    count = worker_count(workers, parts)
    results = parse_parts(_part_tasks(contract, store, parts, work_dir, flush_rows, manifest), count)
    parsed = ParsedParts(rejects_path=work_dir / "rejects.jsonl.gz", workers=count)
    concat_rejects(results, parsed.rejects_path)
    for result, item in zip(results, manifest.inputs, strict=True):
        item["rows"] = result.rows_read
        ingested = parts[result.index].get("rows")
        if ingested is not None and int(ingested) != result.rows_read:
            warning = f"{result.key}: read {result.rows_read} rows, the ingest manifest counted {ingested}"
            log.warning(warning)
            manifest.extra["warnings"].append(warning)
        if result.header is not None:  # the header contract: what the file's header said (header.py)
            item["header"] = result.header
            refused = result.header.get("refused")
            for finding in [refused["message"]] if refused else result.header.get("warnings", []):
                log.warning(finding)
                manifest.extra["warnings"].append(finding)
        rows["read"] += result.rows_read
        rows["quarantined"] += result.rejects_rows
        parsed.reasons.update(result.reasons)
        parsed.spill_rows.update(result.rows_by_dt)
        for dt, files in result.spill_files.items():
            parsed.spill_files.setdefault(dt, []).extend(files)
    rows["accepted"] = sum(parsed.spill_rows.values())
    return parsed


def _part_tasks(
    contract: Contract,
    store: LakeStore,
    parts: list[dict[str, Any]],
    work_dir: Path,
    flush_rows: int,
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
        if part.get("landing"):
            manifest.inputs[-1]["landing"] = part["landing"]
        yield PartTask(
            index=index,
            key=key,
            path=local,
            out_dir=folder,
            contract=contract,
            flush_rows=flush_rows,
            csv_delimiter=csv_delimiter,
            csv_header=csv_header,
            landing=part.get("landing"),
        )
