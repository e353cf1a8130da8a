"""Run manifests: what one stage of one run read and wrote, with row accounting and checksums.

One writer, one reader: :class:`Manifest` writes a stage's record (append-only per attempt,
:mod:`~airlake.manifest.writer`); :func:`read_record` reads it back typed, one record class per stage
(:mod:`~airlake.manifest.records`), and :func:`is_complete` is the one rule for "complete". The raw log's
"published" is defined once, in :mod:`~airlake.manifest.rawlog` (:func:`unpublished_raw_runs`).
"""

from __future__ import annotations

from airlake.manifest.rawlog import ingested_at, mark_consumed, published_by, unpublished_raw_runs
from airlake.manifest.records import (
    CATALOG,
    CURATE,
    INGEST,
    LOAD,
    QUALITY,
    CatalogRecord,
    CuratedPartition,
    CurateRecord,
    IngestRecord,
    LoadRecord,
    QualityRecord,
    Quarantine,
    RawPart,
    StageRecord,
    is_complete,
    parse_record,
    read_record,
)
from airlake.manifest.writer import (
    COMPLETE,
    FAILED,
    Manifest,
    code_version,
    manifest_attempts,
    read_manifest,
)

__all__ = [
    "CATALOG",
    "COMPLETE",
    "CURATE",
    "FAILED",
    "INGEST",
    "LOAD",
    "QUALITY",
    "CatalogRecord",
    "CurateRecord",
    "CuratedPartition",
    "IngestRecord",
    "LoadRecord",
    "Manifest",
    "QualityRecord",
    "Quarantine",
    "RawPart",
    "StageRecord",
    "code_version",
    "ingested_at",
    "is_complete",
    "manifest_attempts",
    "mark_consumed",
    "parse_record",
    "published_by",
    "read_manifest",
    "read_record",
    "unpublished_raw_runs",
]
