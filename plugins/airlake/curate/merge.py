"""Combine one partition's new rows with its live rows, de-duplicate, and write the new version's Parquet.

DuckDB does the combine (out of core under ``memory_limit``, spilling to the work folder): it reads the
local spill files of the run and the downloaded files of the live version, keeps one row per key by the
contract's rule and returns them sorted by key. pyarrow writes the result as zstd Parquet in row groups
of exactly ``row_group_rows`` rows (the last one shorter), rolling to a new file at ``max_file_bytes``:
the same input always gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.spill import SEQ_COLUMN
from airlake.sql_text import quote_identifier
from airlake.store import file_sha256

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airlake.contracts import Contract

ROW_GROUP_ROWS = 128 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024
SOURCE_COLUMN = "_src"
_EXISTING_FILE_STRIDE = 1 << 40  # orders rows of several existing files: file index, then row number


@dataclass(frozen=True)
class LocalPart:
    """One written Parquet file of a partition version."""

    path: Path
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class MergeResult:
    parts: list[LocalPart]
    rows_new: int
    rows_new_kept: int
    rows_existing: int
    rows_existing_kept: int

    @property
    def rows(self) -> int:
        return self.rows_new_kept + self.rows_existing_kept


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dedup_order(contract: Contract, *, source: str, ordinal: str) -> str:
    """The window ORDER BY that puts the winning row of a key first.

    latest: greatest ``order_by`` first; on a tie the newer input (this run over the live rows, a later
    line over an earlier one). first: smallest ``order_by`` first; on a tie the older input. NULL
    ``order_by`` never wins over a value.
    """
    direction = "DESC" if contract.dedup.keep == "latest" else "ASC"
    terms = []
    if contract.dedup.order_by:
        terms.append(f"{quote_identifier(contract.dedup.order_by)} {direction} NULLS LAST")
    terms += [f"{source} {direction}", f"{ordinal} {direction}"]
    return ", ".join(terms)


class PartitionMerger:
    """One DuckDB connection for a run's partitions, bounded by ``memory_limit``."""

    def __init__(
        self,
        contract: Contract,
        work_dir: Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        import duckdb

        self.contract = contract
        self.schema = contract.arrow_schema()
        self.row_group_rows = row_group_rows
        self.max_file_bytes = max_file_bytes
        spill_dir = work_dir / "duckdb-tmp"
        spill_dir.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit, "temp_directory": str(spill_dir)}
        if threads:
            config["threads"] = threads
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(config=config)
        self.con.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        self.con.close()

    def merge(self, new_files: list[Path], existing_files: list[Path], out_dir: Path) -> MergeResult:
        """De-duplicated rows of ``new_files`` (spill) and ``existing_files`` (live version) -> Parquet."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        rows_new = sum(pq.ParquetFile(path).metadata.num_rows for path in new_files)
        rows_existing = sum(pq.ParquetFile(path).metadata.num_rows for path in existing_files)
        sql = self.merge_sql(new_files, existing_files)
        reader = self.con.sql(sql).to_arrow_reader(self.row_group_rows)
        writer = ParquetPartWriter(
            out_dir, self.schema, row_group_rows=self.row_group_rows, max_file_bytes=self.max_file_bytes
        )
        new_kept = 0
        try:
            for batch in reader:
                new_kept += pc.sum(batch.column(SOURCE_COLUMN)).as_py() or 0
                writer.write(batch.select(self.schema.names).cast(self.schema))
        finally:
            parts = writer.close()
        total = sum(part.rows for part in parts)
        return MergeResult(
            parts=parts,
            rows_new=rows_new,
            rows_new_kept=new_kept,
            rows_existing=rows_existing,
            rows_existing_kept=total - new_kept,
        )

    def merge_sql(self, new_files: list[Path], existing_files: list[Path]) -> str:
        contract = self.contract
        typed = {c.name: contract.duckdb_type(c) for c in contract.columns}
        selects = []
        if new_files:
            columns = ", ".join(
                f"CAST({quote_identifier(name)} AS {kind}) AS {quote_identifier(name)}"
                for name, kind in typed.items()
            )
            files = ", ".join(_literal(str(path)) for path in new_files)
            selects.append(
                f"SELECT {columns}, 1 AS {SOURCE_COLUMN}, {SEQ_COLUMN} AS _ord FROM read_parquet([{files}])"
            )
        for index, path in enumerate(existing_files):
            present = set(_parquet_columns(path))
            columns = ", ".join(
                f"CAST({quote_identifier(name) if name in present else 'NULL'} AS {kind}) AS {quote_identifier(name)}"
                for name, kind in typed.items()
            )
            selects.append(
                f"SELECT {columns}, 0 AS {SOURCE_COLUMN}, "
                f"{index * _EXISTING_FILE_STRIDE} + file_row_number AS _ord "
                f"FROM read_parquet({_literal(str(path))}, file_row_number = true)"
            )
        keys = ", ".join(quote_identifier(key) for key in contract.dedup.keys)
        names = ", ".join(quote_identifier(name) for name in typed)
        union = "\nUNION ALL\n".join(selects)
        order = dedup_order(contract, source=SOURCE_COLUMN, ordinal="_ord")
        return (
            f"SELECT {names}, {SOURCE_COLUMN}\nFROM (\n{union}\n) AS incoming\n"
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}) = 1\n"
            f"ORDER BY {keys}"
        )


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


class ParquetPartWriter:
    """zstd Parquet files ``part-00000.parquet``, ... with fixed-size row groups, rolled by size."""

    def __init__(self, out_dir: Path, schema: pa.Schema, *, row_group_rows: int, max_file_bytes: int) -> None:
        self.out_dir = out_dir
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_file_bytes = max_file_bytes
        self.parts: list[LocalPart] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        self._path: Path | None = None
        self._rows = 0
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self.row_group_rows:
            self._write_group(self.row_group_rows)

    def close(self) -> list[LocalPart]:
        if self._pending_rows:
            self._write_group(self._pending_rows)
        self._close_file()
        return self.parts

    def _write_group(self, rows: int) -> None:
        import pyarrow as pa

        table = pa.Table.from_batches(self._pending, schema=self.schema)
        group, rest = table.slice(0, rows), table.slice(rows)
        writer = self._open()
        writer.write_table(group, row_group_size=rows)
        self._rows += rows
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        if self._sink.tell() >= self.max_file_bytes:
            self._close_file()

    def _open(self) -> pq.ParquetWriter:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            self._path = self.out_dir / f"part-{len(self.parts):05d}.parquet"
            self._sink = pa.OSFile(str(self._path), "wb")
            self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")
        return self._writer

    def _close_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        self._writer.close()
        self._sink.close()
        path = self._path
        self.parts.append(LocalPart(path, self._rows, path.stat().st_size, file_sha256(path)))
        self._writer, self._sink, self._path, self._rows = None, None, None, 0
