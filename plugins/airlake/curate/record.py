"""The record a curate run leaves: its manifest (started, counted, summed up), the dataset's curate state
and the consumed markers of the raw log.

The manifest ``_manifests/<ds>/<run>/curate.json`` (and ``curate/attempt=<n>.json``) is what catalog,
quality, load and lineage read; the state ``_state/<ds>/curate.json`` holds the version id of the latest
complete curate (versions after it are an attempt's, :func:`~airlake.curate.versions.orphan_versions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.lake import manifest_key, quarantine_key, s3_uri, state_key
from airlake.manifest import Manifest, mark_consumed
from airlake.store import file_sha256

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

STAGE = "curate"
INGEST_STAGE = "ingest"
FAILED = "failed"
ROW_COUNTS = (
    "read",
    "accepted",
    "quarantined",
    "written",
    "duplicates_dropped",
    "existing",
    "existing_kept",
    "existing_replaced",
    "output",
)
"""The manifest's ``rows``: balanced by :func:`check_accounting`."""


def new_manifest(
    contract: Contract, run_id: str, ingest: dict[str, Any], raw_runs: list[dict[str, Any]], threshold: float
) -> Manifest:
    """The manifest of a run that starts: what it consumes, its rules, every count at zero."""
    dataset = contract.name
    manifest = Manifest(dataset=dataset, run_id=run_id, stage=STAGE)
    manifest.source = {
        "ingest_manifest": manifest_key(dataset, run_id, INGEST_STAGE),
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
    manifest.rows = dict.fromkeys(ROW_COUNTS, 0)
    return manifest


def quarantine_rejects(
    store: LakeStore, manifest: Manifest, rejects_path: Path, reasons: Mapping[str, int], ingest_day: date
) -> bool:
    """Upload the run's rejects file (when it holds any) to quarantine and record it and the reject rate;
    True (and the manifest's ``error`` set) when the rate is above the contract's budget."""
    rows, dataset, run_id = manifest.rows, manifest.dataset, manifest.run_id
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
    if rate <= threshold:
        return False
    manifest.extra["error"] = (
        f"reject rate {rate:.2%} ({quarantined} of {rows['read']}) above threshold {threshold:.2%}"
    )
    return True


def reject_rate_exceeded(manifest: Manifest, manifest_location: str) -> RejectRateExceeded:
    """The error of a run over its reject budget, naming its quarantine and its failed manifest."""
    return RejectRateExceeded(
        manifest.dataset,
        manifest.run_id,
        manifest.rows["quarantined"],
        manifest.rows["read"],
        manifest.extra["reject_rate_max"],
        manifest.extra["quarantine"]["location"],
        manifest_location,
    )


def add_partition_counts(manifest: Manifest) -> None:
    """Sum the partitions' counts into the manifest's rows and list their files as outputs."""
    rows = manifest.rows
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
    check_accounting(rows)
    manifest.extra["accounting"] = "read = written + quarantined + duplicates_dropped"
    manifest.extra["unchanged"] = [p["dt"] for p in manifest.extra["partitions"] if p.get("unchanged")]


def mark_raw_runs_consumed(store: LakeStore, manifest: Manifest) -> None:
    """Index the log: beside each other raw run this attempt consumed, a marker naming this run."""
    for raw_run in manifest.extra["raw_runs"]:
        if raw_run != manifest.run_id:
            mark_consumed(store, manifest.dataset, raw_run, manifest.run_id)


def advance_state(store: LakeStore, dataset: str, run_id: str, version: str) -> None:
    """The version id of the dataset's latest complete curate: versions after it are an attempt's."""
    state = store.get_json(state_key(dataset, STAGE)) or {}
    store.put_json(
        state_key(dataset, STAGE),
        {"version": max(version, str(state.get("version") or "")), "run_id": run_id},
    )


def check_accounting(rows: dict[str, int]) -> None:
    """Raise :class:`CurateError` when the run's counts do not add up (a row was lost or made)."""
    problems = []
    if rows["read"] != rows["written"] + rows["quarantined"] + rows["duplicates_dropped"]:
        problems.append("read != written + quarantined + duplicates_dropped")
    if rows["read"] != rows["accepted"] + rows["quarantined"]:
        problems.append("read != accepted + quarantined")
    if rows["output"] != rows["written"] + rows["existing_kept"]:
        problems.append("output != written + existing_kept")
    if problems:
        raise CurateError(f"row accounting does not balance ({'; '.join(problems)}): {rows}")


def summary(manifest: Manifest, key: str) -> dict[str, Any]:
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
