"""Run manifests: what one stage of one run read and wrote, with row accounting and checksums."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import airlake
from airlake.lake import manifest_key
from airlake.store import LakeStore

COMPLETE = "complete"


def code_version() -> str:
    """Package version plus the deployment's revision when the environment provides one."""
    revision = os.environ.get("AIRLAKE_CODE_REVISION")
    return f"{airlake.__version__}+{revision}" if revision else airlake.__version__


@dataclass
class Manifest:
    dataset: str
    run_id: str
    stage: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: dict[str, Any] = field(default_factory=dict)
    interval: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_document(self, status: str = COMPLETE) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": status,
            "code_version": code_version(),
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(),
            "source": self.source,
            "interval": self.interval,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "rows": self.rows,
            "bytes_written": sum(int(item.get("bytes", 0)) for item in self.outputs),
            **self.extra,
        }

    def write(self, store: LakeStore) -> str:
        key = manifest_key(self.dataset, self.run_id, self.stage)
        store.put_json(key, self.as_document())
        return key


def read_manifest(store: LakeStore, dataset: str, run_id: str, stage: str) -> dict[str, Any] | None:
    return store.get_json(manifest_key(dataset, run_id, stage))
