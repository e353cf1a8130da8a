"""Spill typed rows to local Parquet, one set of files per partition, so memory stays bounded.

Rows are buffered as Python tuples up to ``flush_rows`` in total (whatever the number of partitions),
then written as one record batch per partition to that partition's open spill file. A run touching
very many dates keeps at most ``max_open`` files open; a partition whose file was closed continues in
a new one. Every row carries ``_seq``, its position in the run's input, to break de-duplication ties.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

SEQ_COLUMN = "_seq"


def spill_schema(schema: pa.Schema) -> pa.Schema:
    """The contract's schema (every field nullable: values were checked already) plus ``_seq``."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type) for f in schema] + [pa.field(SEQ_COLUMN, pa.int64())])


class PartitionSpill:
    """Local spill files of the accepted rows of one run, per partition date."""

    def __init__(
        self, work_dir: Path, schema: pa.Schema, *, flush_rows: int = 65_536, max_open: int = 64
    ) -> None:
        self.work_dir = work_dir
        self.schema = spill_schema(schema)
        self.flush_rows = flush_rows
        self.max_open = max_open
        self.rows: dict[str, int] = {}
        self.files: dict[str, list[Path]] = {}
        self._buffer: dict[str, list[tuple[Any, ...]]] = {}
        self._buffered = 0
        self._open: dict[str, pq.ParquetWriter] = {}
        work_dir.mkdir(parents=True, exist_ok=True)

    def add(self, dt: str, values: list[Any], seq: int) -> None:
        values.append(seq)
        self._buffer.setdefault(dt, []).append(tuple(values))
        self.rows[dt] = self.rows.get(dt, 0) + 1
        self._buffered += 1
        if self._buffered >= self.flush_rows:
            self.flush()

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def flush(self) -> None:
        import pyarrow as pa

        for dt in sorted(self._buffer):
            rows = self._buffer[dt]
            columns = list(zip(*rows, strict=True))
            arrays = [
                pa.array(column, type=field.type) for column, field in zip(columns, self.schema, strict=True)
            ]
            self._writer(dt).write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._buffer.clear()
        self._buffered = 0

    def close(self) -> dict[str, list[Path]]:
        """Flush and close every file; {dt: spill files}."""
        self.flush()
        for writer in self._open.values():
            writer.close()
        self._open.clear()
        return self.files

    def _writer(self, dt: str) -> pq.ParquetWriter:
        import pyarrow.parquet as pq

        writer = self._open.get(dt)
        if writer is not None:
            return writer
        if len(self._open) >= self.max_open:
            oldest = next(iter(self._open))
            self._open.pop(oldest).close()
        files = self.files.setdefault(dt, [])
        path = self.work_dir / f"dt={dt}-{len(files):05d}.parquet"
        files.append(path)
        writer = pq.ParquetWriter(path, self.schema, compression="lz4")
        self._open[dt] = writer
        return writer
