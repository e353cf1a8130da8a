"""Reading run manifests typed: one record class per stage, parsed once by :func:`read_record`.

The documents keep the JSON shape :class:`~airlake.manifest.writer.Manifest` writes (existing runs read
as before); what stages read of them is a typed field here, in one place, instead of ``.get`` chains in
every reader. Whether a record is **complete** has one rule, :func:`is_complete`: its status is
``complete``. Every record the lake writes carries a status, so a record without one is not complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from airlake.lake import RAW_DATE_COLUMN, partition_value
from airlake.manifest.writer import COMPLETE, read_manifest

if TYPE_CHECKING:
    from airlake.store import LakeStore

INGEST, CURATE, CATALOG, QUALITY, LOAD = "ingest", "curate", "catalog", "quality", "load"
_R = TypeVar("_R", bound="StageRecord")


def is_complete(record: StageRecord | Mapping[str, Any] | None) -> bool:
    """The one rule: a record is complete when its status says ``complete`` (a missing one does not)."""
    if record is None:
        return False
    status = record.status if isinstance(record, StageRecord) else record.get("status")
    return status == COMPLETE


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class StageRecord:
    """What every stage's record holds; ``document`` is the record as stored, for what no field names."""

    document: Mapping[str, Any] = field(repr=False, compare=False)
    dataset: str = ""
    run_id: str = ""
    stage: str = ""
    status: str | None = None
    attempt: int | None = None
    started_at: str = ""
    finished_at: str = ""
    """ISO-8601 text as written ("" when absent); text order is time order (all UTC)."""
    interval: Mapping[str, str] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[Mapping[str, Any], ...] = ()
    outputs: tuple[Mapping[str, Any], ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    STAGE: ClassVar[str] = ""
    """The stage whose records the class reads (its ``<stage>.json``)."""

    @property
    def complete(self) -> bool:
        return is_complete(self)

    @classmethod
    def parse(cls: type[_R], document: Mapping[str, Any]) -> _R:
        """The record of a stored document (its stage's own fields by :meth:`_stage_fields`)."""
        common = {
            "document": document,
            "dataset": str(document.get("dataset") or ""),
            "run_id": str(document.get("run_id") or ""),
            "stage": str(document.get("stage") or ""),
            "status": _text(document.get("status")),
            "attempt": _count(document.get("attempt")),
            "started_at": str(document.get("started_at") or ""),
            "finished_at": str(document.get("finished_at") or ""),
            "interval": dict(document.get("interval") or {}),
            "source": dict(document.get("source") or {}),
            "inputs": tuple(document.get("inputs") or ()),
            "outputs": tuple(document.get("outputs") or ()),
            "rows": {str(k): int(v) for k, v in (document.get("rows") or {}).items()},
            "error": _text(document.get("error")),
        }
        return cls(**common, **cls._stage_fields(document, common))

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def row(self, name: str) -> int:
        """One of the record's row counts, 0 when it has none."""
        return int(self.rows.get(name, 0))


# -- ingest -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawPart:
    """One raw part an ingest run landed, with the run and the landing file it came from."""

    key: str
    raw_run: str
    bytes: int | None = None
    rows: int | None = None
    sha256: str | None = None
    landing: str | None = None
    """The landing file the part is (a files source lands each file it reads as one whole part)."""


@dataclass(frozen=True)
class IngestRecord(StageRecord):
    STAGE: ClassVar[str] = INGEST
    parts: tuple[RawPart, ...] = ()
    poison_files: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        outputs, inputs = common["outputs"], common["inputs"]
        # a files source lands each file it reads as one whole part, in order: inputs and parts pair up
        paired = common["source"].get("kind") == "files" and len(inputs) == len(outputs)
        parts = tuple(
            RawPart(
                key=str(item["key"]),
                raw_run=common["run_id"],
                bytes=_count(item.get("bytes")),
                rows=_count(item.get("rows")),
                sha256=_text(item.get("sha256")),
                landing=_text(inputs[index].get("key")) if paired else None,
            )
            for index, item in enumerate(outputs)
        )
        return {"parts": parts, "poison_files": tuple(document.get("poison_files") or ())}

    @property
    def ingest_date(self) -> date | None:
        """The day the run was ingested (its quarantine partition): its interval's start, else its raw
        keys'; None when neither tells."""
        start = self.interval.get("start")
        if start:
            return date.fromisoformat(str(start)[:10])
        for part in self.parts:
            day = partition_value(part.key, RAW_DATE_COLUMN)
            if day:
                try:
                    return date.fromisoformat(day)
                except ValueError:
                    continue
        return None


# -- curate -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratedPartition:
    """One partition a curate run wrote (or found unchanged, or reused): its ``partitions`` entry."""

    dt: str
    location: str
    version: str | None = None
    previous_location: str | None = None
    files: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)
    rows: int = 0
    bytes: int = 0
    rows_new: int = 0
    rows_new_kept: int = 0
    rows_existing: int = 0
    rows_existing_kept: int = 0
    unchanged: bool = False
    """The result equals the live version: nothing uploaded, ``location`` is the live one."""
    reused: bool = False
    """The result equals a version an earlier attempt of the run wrote and nobody published."""

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> CuratedPartition:
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in entry.items() if name in known and value is not None}
        values["dt"], values["location"] = str(entry["dt"]), str(entry.get("location") or "")
        values["files"] = tuple(str(key) for key in entry.get("files") or ())
        values["sha256"] = dict(entry.get("sha256") or {})
        return cls(**values)

    def as_entry(self) -> dict[str, Any]:
        """The entry as the manifest stores it (``unchanged``/``reused`` only when set)."""
        entry: dict[str, Any] = {
            "dt": self.dt,
            "version": self.version,
            "location": self.location,
            "previous_location": self.previous_location,
            "files": list(self.files),
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": dict(self.sha256),
            "rows_new": self.rows_new,
            "rows_new_kept": self.rows_new_kept,
            "rows_existing": self.rows_existing,
            "rows_existing_kept": self.rows_existing_kept,
        }
        if self.unchanged:
            entry["unchanged"] = True
        if self.reused:
            entry["reused"] = True
        return entry


@dataclass(frozen=True)
class Quarantine:
    """Where a curate run's rejects went and why they were rejected."""

    key: str
    location: str
    rows: int
    reasons: Mapping[str, int]


@dataclass(frozen=True)
class CurateRecord(StageRecord):
    STAGE: ClassVar[str] = CURATE
    raw_runs: tuple[str, ...] = ()
    """The raw (ingest) runs the attempt consumed; a record older than the field consumed its own."""
    version: str | None = None
    partitions: tuple[CuratedPartition, ...] = ()
    quarantine: Quarantine | None = None
    reject_rate: float | None = None

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        quarantine = document.get("quarantine")
        rate = document.get("reject_rate")
        return {
            "raw_runs": tuple(str(r) for r in document.get("raw_runs") or [common["run_id"]]),
            "version": _text(document.get("version")),
            "partitions": tuple(CuratedPartition.parse(p) for p in document.get("partitions") or ()),
            "quarantine": Quarantine(
                key=str(quarantine["key"]),
                location=str(quarantine.get("location") or ""),
                rows=int(quarantine.get("rows") or 0),
                reasons={str(k): int(v) for k, v in (quarantine.get("reasons") or {}).items()},
            )
            if quarantine
            else None,
            "reject_rate": None if rate is None else float(rate),
        }

    @property
    def files(self) -> list[str]:
        """Every file the run's partitions consist of, in partition order."""
        return [key for partition in self.partitions for key in partition.files]

    def curated_outputs(self) -> list[Mapping[str, Any]]:
        """The curated objects this attempt uploaded (``outputs`` of kind ``curated``)."""
        return [item for item in self.outputs if item.get("kind") == "curated"]

    def quarantine_outputs(self) -> list[Mapping[str, Any]]:
        """The rejects file this attempt uploaded (``outputs`` of kind ``quarantine``)."""
        return [item for item in self.outputs if item.get("kind") == "quarantine"]


# -- catalog, quality, load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogRecord(StageRecord):
    STAGE: ClassVar[str] = CATALOG
    database: str | None = None
    table: str | None = None
    published: Mapping[str, Any] = field(default_factory=dict)
    """``created`` / ``updated`` / ``unchanged`` partitions of the Glue table."""

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "database": _text(document.get("database")),
            "table": _text(document.get("table")),
            "published": dict(document.get("partitions") or {}),
        }


@dataclass(frozen=True)
class QualityRecord(StageRecord):
    STAGE: ClassVar[str] = QUALITY
    checks: tuple[Mapping[str, Any], ...] = ()
    headers: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "checks": tuple(document.get("checks") or ()),
            "headers": tuple(document.get("headers") or ()),
        }


@dataclass(frozen=True)
class LoadRecord(StageRecord):
    STAGE: ClassVar[str] = LOAD
    table: str | None = None
    files: tuple[str, ...] = ()

    @classmethod
    def _stage_fields(cls, document: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "table": _text(document.get("table")),
            "files": tuple(str(item["key"]) for item in common["inputs"]),
        }


RECORD_TYPES: dict[str, type[StageRecord]] = {
    INGEST: IngestRecord,
    CURATE: CurateRecord,
    CATALOG: CatalogRecord,
    QUALITY: QualityRecord,
    LOAD: LoadRecord,
}
"""The record class of each stage; any other stage (maintenance, materialise...) reads as a StageRecord."""


def parse_record(document: Mapping[str, Any], stage: str) -> StageRecord:
    """The typed record of a stored document of ``stage`` (its class in :data:`RECORD_TYPES`)."""
    return RECORD_TYPES.get(stage, StageRecord).parse(document)


@overload
def read_record(
    store: LakeStore, dataset: str, run_id: str, stage: type[_R], *, status: str | None = None
) -> _R | None: ...
@overload
def read_record(
    store: LakeStore, dataset: str, run_id: str, stage: str, *, status: str | None = None
) -> StageRecord | None: ...
def read_record(
    store: LakeStore, dataset: str, run_id: str, stage: type[StageRecord] | str, *, status: str | None = None
) -> StageRecord | None:
    """
    The latest record of a stage of a run (with ``status``: the latest attempt with it), typed; None
    when the run has none. ``stage``: a record class (``read_record(store, ds, run, CurateRecord)``), or a
    stage's name (its class from :data:`RECORD_TYPES`, else a plain :class:`StageRecord`).
    """
    kind = stage if isinstance(stage, type) else RECORD_TYPES.get(stage, StageRecord)
    name = stage if isinstance(stage, str) else stage.STAGE
    document = read_manifest(store, dataset, run_id, name, status=status)
    return None if document is None else kind.parse(document)
