"""Writing run manifests (:class:`Manifest`), and their documents as stored, attempt by attempt.

Records are append-only per attempt: every write of a stage's record is a new
``_manifests/<dataset>/<run>/<stage>/attempt=<n>.json`` (``n`` = 1, 2, ...), and
``<stage>.json`` beside it is a copy of the latest attempt, for readers that want "the run's record".
A retry, a clear or a rerun of a finished run adds an attempt; what an earlier attempt recorded stays.
Stages read records typed, through :func:`airlake.manifest.records.read_record`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import airlake
from airlake.lake import manifest_attempt_key, manifest_attempts_prefix, manifest_key
from airlake.store import LakeStore

log = logging.getLogger(__name__)

COMPLETE = "complete"
"""The status of a stage's record that finished; any other status, or none, is not complete."""
FAILED = "failed"
_ATTEMPT = re.compile(r"/attempt=(\d+)\.json$")


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
    attempt: int | None = None
    """The attempt number this record was written as (set by the first :meth:`write`)."""
    written: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)
    """The document the last :meth:`write` stored (a stage hands it on without reading it back)."""

    def as_document(self, status: str = COMPLETE) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": status,
            "attempt": self.attempt,
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

    def write(self, store: LakeStore, status: str = COMPLETE) -> str:
        """Record this attempt as a new ``attempt=<n>.json`` and as the run's latest ``<stage>.json``.

        The first write of a :class:`Manifest` takes the next attempt number; writing the same object
        again (a stage that records "running", then its outcome) rewrites only its own attempt.
        :return: the key of ``<stage>.json``.
        """
        if self.attempt is None:
            self.attempt = _next_attempt(store, self.dataset, self.run_id, self.stage)
        document = self.as_document(status=status)
        store.put_json(manifest_attempt_key(self.dataset, self.run_id, self.stage, self.attempt), document)
        key = manifest_key(self.dataset, self.run_id, self.stage)
        store.put_json(key, document)
        self.written = document
        return key


def _attempt_numbers(store: LakeStore, dataset: str, run_id: str, stage: str) -> list[int]:
    found = []
    for obj in store.list(manifest_attempts_prefix(dataset, run_id, stage)):
        match = _ATTEMPT.search(obj.key)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def _next_attempt(store: LakeStore, dataset: str, run_id: str, stage: str) -> int:
    numbers = _attempt_numbers(store, dataset, run_id, stage)
    if numbers:
        return numbers[-1] + 1
    legacy = store.get_json(manifest_key(dataset, run_id, stage))
    if legacy is None:
        return 1
    # a record written before attempts were kept: keep it as attempt 1 before adding ours
    store.put_json(manifest_attempt_key(dataset, run_id, stage, 1), {**legacy, "attempt": 1})
    return 2


def manifest_attempts(store: LakeStore, dataset: str, run_id: str, stage: str) -> list[dict[str, Any]]:
    """Every attempt's record of a stage of a run, oldest first (a legacy ``<stage>.json`` alone as one)."""
    numbers = _attempt_numbers(store, dataset, run_id, stage)
    if not numbers:
        legacy = store.get_json(manifest_key(dataset, run_id, stage))
        return [legacy] if legacy is not None else []
    records = [store.get_json(manifest_attempt_key(dataset, run_id, stage, n)) for n in numbers]
    return [record for record in records if record is not None]


def read_manifest(
    store: LakeStore, dataset: str, run_id: str, stage: str, *, status: str | None = None
) -> dict[str, Any] | None:
    """The latest document of a stage of a run, or with ``status`` the latest attempt with that status
    (stages read it typed: :func:`airlake.manifest.records.read_record`)."""
    latest = store.get_json(manifest_key(dataset, run_id, stage))
    if latest is None or status is None or latest.get("status") == status:
        return latest
    for record in reversed(manifest_attempts(store, dataset, run_id, stage)):
        if record.get("status") == status:
            return record
    return None
