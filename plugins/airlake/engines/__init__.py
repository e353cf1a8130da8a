"""Query engines of the analyse stage: Athena on AWS, DuckDB over the same Parquet locally."""

from __future__ import annotations

from airlake.engines.base import (
    LivePartition,
    QueryEngine,
    QueryEngineError,
    ScanBudgetExceeded,
    check_scan_budget,
    estimate_live_bytes,
    live_partitions,
    referenced_tables,
)

__all__ = [
    "LivePartition",
    "QueryEngine",
    "QueryEngineError",
    "ScanBudgetExceeded",
    "check_scan_budget",
    "estimate_live_bytes",
    "live_partitions",
    "referenced_tables",
]
