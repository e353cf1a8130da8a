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
        # scratch read once by the merge: plain pages write 3x faster than lz4 with dictionaries and
        # statistics, and DuckDB reads them 2x faster (measured at 1M rows: 0.28 s vs 0.87 s to write)
        writer = pq.ParquetWriter(
            path, self.schema, compression="none", use_dictionary=False, write_statistics=False
        )
        self._open[dt] = writer
        return writer


LEGACY_SCRATCH_MAX_AGE = 24 * 3600
"""Seconds after which a scratch folder without an owner pid (older code) counts as abandoned."""


def _process_alive(pid: int, since: float) -> bool:
    """Whether process ``pid`` runs and started before ``since`` (a reused pid is a different owner)."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    started = _process_start(pid)
    return started is None or started <= since + 2


def _process_start(pid: int) -> float | None:
    """Epoch seconds process ``pid`` started at (Linux ``/proc``), None when unknown."""
    import os

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22, starttime
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def remove_stale_scratch(base: Path, *, now: float | None = None, stage: str = "curate") -> list[Path]:
    """
    Delete the ``airlake-<stage>-*`` folders under ``base`` whose run died without cleaning up (a
    SIGKILL or OOM skips every ``finally``): the owner pid in the name is gone, or, for a folder
    without one, it is older than :data:`LEGACY_SCRATCH_MAX_AGE`. Returns what it removed.
    """
    import os
    import re
    import shutil
    import time

    moment = time.time() if now is None else now
    removed: list[Path] = []
    for folder in sorted(base.glob(f"airlake-{stage}-*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            created = folder.stat().st_mtime
        except OSError:
            continue
        match = re.search(r"-p(\d+)-", folder.name)
        if match:
            pid = int(match.group(1))
            stale = pid != os.getpid() and not _process_alive(pid, created)
        else:
            stale = moment - created > LEGACY_SCRATCH_MAX_AGE
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def scratch_dir(dataset: str, base: Path | None = None, *, stage: str = "curate") -> Any:
    """A context manager: a fresh local scratch folder ``airlake-<stage>-<dataset>-p<pid>-*`` removed on
    any exit; the stale folders of dead runs are removed first, so a killed run's spill never piles up."""
    import tempfile

    root = Path(base or tempfile.gettempdir())
    removed = remove_stale_scratch(root, stage=stage)
    if removed:
        import logging

        logging.getLogger(__name__).warning(
            "Removed %d scratch folder(s) of dead %s runs: %s", len(removed), stage, [p.name for p in removed]
        )
    import os

    return tempfile.TemporaryDirectory(prefix=f"airlake-{stage}-{dataset}-p{os.getpid()}-", dir=root)
