"""How a local curate computes: DuckDB bounded in memory, spilling to disk, in UTC, and the Parquet
layout of every curated file (:class:`ParquetLayout`: the worker's, the local SQL engine's and
compaction's, so their files are byte-identical for the same rows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from airlake.curate.merge import MAX_FILE_BYTES, ROW_GROUP_ROWS, ParquetPartWriter

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@dataclass(frozen=True)
class ParquetLayout:
    """How a curated partition's Parquet files are cut: rows per row group, and the size at which a
    file rolls to the next one."""

    row_group_rows: int = ROW_GROUP_ROWS
    max_file_bytes: int = MAX_FILE_BYTES

    def writer(self, out_dir: Path, schema: pa.Schema) -> ParquetPartWriter:
        """A writer of ``part-*.parquet`` files in ``out_dir`` with this layout."""
        return ParquetPartWriter(
            out_dir, schema, row_group_rows=self.row_group_rows, max_file_bytes=self.max_file_bytes
        )


CURATE_LAYOUT = ParquetLayout()
"""The layout curate writes (and compaction rewrites in) unless told otherwise."""


@dataclass(frozen=True)
class LocalCompute:
    """DuckDB's memory limit (it spills beyond it) and threads (default: all cores), and the layout of
    the files it writes."""

    memory_limit: str = "1GB"
    threads: int | None = None
    layout: ParquetLayout = CURATE_LAYOUT

    def connect(self, spill_dir: Path) -> duckdb.DuckDBPyConnection:
        """A connection spilling to ``spill_dir``, computing in UTC as Athena does."""
        import duckdb

        spill_dir.mkdir(parents=True, exist_ok=True)
        limits = {"memory_limit": self.memory_limit, "temp_directory": str(spill_dir)}
        con = duckdb.connect(config={**limits, **({"threads": self.threads} if self.threads else {})})
        con.execute("SET TimeZone = 'UTC'")
        return con
