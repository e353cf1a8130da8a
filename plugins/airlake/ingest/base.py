"""The one interface every source kind implements, and the batches it hands to the raw writer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from airlake.lake import RAW_SUFFIX


@dataclass(frozen=True)
class IngestContext:
    """What one ingest run is about: the dataset, the Airflow run and its data interval."""

    dataset: str
    run_id: str
    ingest_date: date
    interval_start: datetime
    interval_end: datetime
    work_dir: Path
    full_refresh: bool = False
    """Re-extract the interval's rows by event time (database sources); other sources refuse it."""


@dataclass(frozen=True)
class PoisonInput:
    """An input that cannot be read at all (corrupt compression, not the declared format, ...).

    The runner sets it aside whole under ``quarantine/<dataset>/files/`` with this record beside it;
    the source still moves its checkpoint past it, so later runs do not stop on it again (a corrected
    re-upload is a new input).
    """

    key: str
    """Where it came from (e.g. the landing key)."""
    name: str
    """Its name under the quarantine prefix (the key below the landing prefix)."""
    etag: str
    size: int
    sha256: str
    reason: str
    """A short code: ``corrupt_compression``, ``not_gzip``, ``not_declared_format``, ``undecodable``, ..."""
    message: str
    """What is wrong, for people: names the input and the problem."""
    path: Path
    """The original bytes, downloaded, to be copied to quarantine."""

    def record(self) -> dict[str, Any]:
        """The reason record (JSON): everything but the local path."""
        return {
            "source_key": self.key,
            "etag": self.etag,
            "size": self.size,
            "sha256": self.sha256,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class SourceBatch:
    """A micro-batch read from a source.

    Either ``lines`` (one record per line, written as gzip JSON Lines) or ``file`` (a whole file kept in
    its own format, already compressed, named with ``suffix``) or ``poison`` (an input set aside whole,
    nothing lands). ``checkpoint`` is the source position after this batch; it is saved only once the
    whole run is safely in S3.
    """

    checkpoint: dict[str, Any]
    inputs: list[dict[str, Any]] = field(default_factory=list)
    lines: Iterable[bytes] | None = None
    file: Path | None = None
    suffix: str = RAW_SUFFIX
    rows: int = 0
    poison: PoisonInput | None = None


class IngestSource(ABC):
    """A source kind (files, http, database, kinesis, sqs) behind one interface."""

    kind: ClassVar[str]

    @abstractmethod
    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        """Read what is new since ``checkpoint`` in bounded micro-batches."""

    def acknowledge(self) -> None:  # noqa: B027 - most sources have nothing to acknowledge
        """Called after the run's files and manifest are in S3 (e.g. delete SQS messages)."""

    def release(self) -> None:  # noqa: B027 - most sources hold nothing between reads
        """Called when the run fails before acknowledging: hand back what was taken (SQS visibility)."""

    def skipped_inputs(self) -> list[dict[str, Any]]:
        """Inputs seen but not taken, each with the reason (kept in the manifest, never silently lost)."""
        return []

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the source (never credentials)."""
        return {"kind": self.kind}
