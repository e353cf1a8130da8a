"""Manifests of maintenance runs: what a run deleted or rewrote, kept across retries of the run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airlake.manifest import Manifest, read_record
from airlake.store import LakeStore


def _identity(entry: Mapping[str, Any]) -> str:
    return str(entry.get("prefix") or entry.get("key") or entry.get("dt") or entry)


def write_run_manifest(
    store: LakeStore,
    dataset: str,
    run_id: str,
    stage: str,
    *,
    inputs: Iterable[Mapping[str, Any]] = (),
    outputs: Iterable[Mapping[str, Any]] = (),
    rows: Mapping[str, int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """
    Write ``_manifests/<dataset>/<run_id>/<stage>.json``; what an earlier attempt of the same run
    recorded is kept, so a retry that has less left to do does not erase what the first attempt did.
    """
    manifest = Manifest(dataset=dataset, run_id=run_id, stage=stage)
    manifest.inputs = [dict(item) for item in inputs]
    manifest.outputs = [dict(item) for item in outputs]
    manifest.rows = dict(rows or {})
    previous = read_record(store, dataset, run_id, stage)
    if previous is not None:
        manifest.started_at = previous.started_at or manifest.started_at
        for earlier, new in ((previous.inputs, manifest.inputs), (previous.outputs, manifest.outputs)):
            seen = {_identity(item) for item in new}
            new[:0] = [dict(item) for item in earlier if _identity(item) not in seen]
        for name, count in previous.rows.items():
            manifest.rows[name] = manifest.rows.get(name, 0) + count
    manifest.extra = dict(extra or {})
    return manifest.write(store)
