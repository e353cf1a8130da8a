"""How a local curate computes: DuckDB bounded in memory, spilling to disk, in UTC, and the Parquet
layout it writes (the worker's, so the local SQL engine's files are byte-identical for the same rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from airlake.curate.merge import MAX_FILE_BYTES, ROW_GROUP_ROWS

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class LocalCompute:
    """DuckDB's memory limit (it spills beyond it) and threads (default: all cores); rows per Parquet
    row group, and the size at which a partition's file rolls to the next one."""

    memory_limit: str = "1GB"
    threads: int | None = None
    row_group_rows: int = ROW_GROUP_ROWS
    max_file_bytes: int = MAX_FILE_BYTES

    def connect(self, spill_dir: Path) -> duckdb.DuckDBPyConnection:
        """A connection spilling to ``spill_dir``, computing in UTC as Athena does."""
        import duckdb

        spill_dir.mkdir(parents=True, exist_ok=True)
        limits = {"memory_limit": self.memory_limit, "temp_directory": str(spill_dir)}
        con = duckdb.connect(config={**limits, **({"threads": self.threads} if self.threads else {})})
        con.execute("SET TimeZone = 'UTC'")
        return con
