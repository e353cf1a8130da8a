"""CURATE stage: raw parts of a run -> typed, de-duplicated, Hive-partitioned Parquet + quarantine.

    from airlake.curate import run_curate

    result = run_curate(contract, store, run_id=run_id, live_location=lookup, work_dir=tmp)
    # result.summary: the XCom value; result.record: the CurateRecord as written
    # writes curated/<ds>/dt=<dt>/v=<new version>/part-*.parquet for every touched partition,
    # quarantine/<ds>/dt=<ingest date>/run=<run>/rejects.jsonl.gz and _manifests/<ds>/<run>/curate.json

Curate never overwrites a live version: the catalog stage publishes the new versions by pointing the
Glue partitions at them (``manifest["partitions"]``); :func:`versions_to_clean` lists the superseded
ones for maintenance. :func:`curate_sql` is the same transformation as Athena SQL for big inputs.

Light to import: pyarrow and duckdb are imported when a run starts.
"""

from __future__ import annotations

from airlake.curate.errors import CurateError, RejectRateExceeded
from airlake.curate.parse import REASONS, Reject, RowParser
from airlake.curate.partitions import LiveLocation
from airlake.curate.record import STAGE
from airlake.curate.runner import CurateOptions, run_curate
from airlake.curate.sql import curate_sql, to_duckdb
from airlake.curate.versions import (
    list_versions,
    new_version_id,
    parse_version,
    version_of_location,
    versions_to_clean,
)

__all__ = [
    "REASONS",
    "STAGE",
    "CurateError",
    "CurateOptions",
    "LiveLocation",
    "Reject",
    "RejectRateExceeded",
    "RowParser",
    "curate_sql",
    "list_versions",
    "new_version_id",
    "parse_version",
    "run_curate",
    "to_duckdb",
    "version_of_location",
    "versions_to_clean",
]
