"""Combine one partition's new rows with its live rows, de-duplicate, and write the new version's Parquet.

DuckDB does the combine (out of core under ``memory_limit``, spilling to the work folder): it reads the
local spill files of the run and the downloaded files of the live version and sorts them by key, then by
the contract's rule, so the winning row of each key comes first among its copies; the first row of each
key is kept with Arrow kernels (one sort instead of a window and a sort: measured 0.32 s instead of 0.60 s
on a 568k-row partition). :meth:`PartitionMerger.merge_sql` is the same merge as one SQL query. pyarrow
writes the result as zstd Parquet in row groups of exactly ``row_group_rows`` rows (the last one shorter),
rolling to a new file at ``max_file_bytes``: the same input always gives byte-identical files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
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
BUCKET_ROWS = 150_000
"""A partition of more rows (new + existing) is de-duplicated in key ranges of about this many rows, one
after the other, so the merge's memory does not grow with the partition (issue 14: x2.3 from 1M to 16M
rows in one window); the output is the same rows in the same order, byte for byte. About a day of the
1M-row bench week (140k rows), so a bigger week sorts ranges no bigger than that; with range files
(:data:`RANGE_FILES_MIN_RANGES`) more ranges cost little: on a 2.27M-row partition 150k-row ranges
took 7.04-7.44 s of CPU and 313-326 MB, 250k-row ranges 7.04-7.22 s and 344-349 MB."""
RANGE_FILES_MIN_RANGES = 6
"""From this many key ranges on, the partition's rows are first written once into a local file per range
(one read of the inputs), and each range reads only its own file, instead of every range reading all the
inputs again. Measured on one partition: each extra range read costs ~0.03-0.07 s of CPU at 568k rows and
~0.4 s at 2.27M rows (16M rows in a week, 150k-row ranges: 15 ranges, 14 extra reads per partition);
the pass costs about three reads (568k rows in 4 ranges: 1.14 s with range files, 1.02 s without)."""
_RANGE_COLUMN = "_range"
_SAMPLE_ROWS = 20_000
_READ_BATCH_ROWS = 32 * 1024
"""Rows per batch read from DuckDB (the writer gathers them into row groups): smaller batches, less
memory in flight per partition merged at once."""
MAX_FILE_BYTES = 256 * 1024 * 1024
DICTIONARY_PAGE_BYTES = 64 * 1024
"""A column chunk whose dictionary outgrows this is written plain instead (Arrow's fallback, decided by
the data, so the same rows still give the same bytes). Arrow's default, 1 MB, hashes ~28k values of a
unique 36-character key per row group before giving up: measured on a 557k-row clickstream partition,
the zstd write took 0.40-0.58 s of CPU and 19.9 MB by default, 0.30-0.42 s and 17.9 MB with 64 kB (ids,
times and user ids turn plain after their first 64 kB; event types, platforms, app versions and the ~5k
products per row group stay dictionaries)."""
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
    """One DuckDB database for a run's partitions, bounded by ``memory_limit``; :meth:`merge` may be called
    from several threads at once (each call queries through a cursor of its own)."""

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
        self.bucket_rows = BUCKET_ROWS
        self.work_dir = work_dir
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
        union = self.union_sql(new_files, existing_files)
        con = self.con.cursor()
        con.execute("SET TimeZone = 'UTC'")
        writer = ParquetPartWriter(
            out_dir, self.schema, row_group_rows=self.row_group_rows, max_file_bytes=self.max_file_bytes
        )
        new_kept = 0
        firsts = _FirstOfEachKey(self.contract.dedup.keys)
        scratch = Path(tempfile.mkdtemp(prefix="ranges-", dir=self.work_dir))
        try:
            for rows, params in self._ranges(con, union, rows_new + rows_existing, scratch):
                query = con.sql(self._sorted_sql(rows), params=params)
                for batch in query.to_arrow_reader(_READ_BATCH_ROWS):
                    batch = firsts.keep(batch)
                    new_kept += pc.sum(batch.column(SOURCE_COLUMN)).as_py() or 0
                    writer.write(batch.select(self.schema.names).cast(self.schema))
        finally:
            parts = writer.close()
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
        total = sum(part.rows for part in parts)
        return MergeResult(
            parts=parts,
            rows_new=rows_new,
            rows_new_kept=new_kept,
            rows_existing=rows_existing,
            rows_existing_kept=total - new_kept,
        )

    def key_cuts(self, union: str, rows: int, con: duckdb.DuckDBPyConnection | None = None) -> list[Any]:
        """Cuts of the first key column into ranges of about :attr:`bucket_rows` rows (none when the
        partition is smaller), at quantiles of a sample of it.

        Every copy of a key is in one range, and the ranges one after the other, each ``ORDER BY`` the
        keys, are the whole partition in key order (NULL first keys last, as ``ORDER BY`` puts them):
        where the cuts fall only changes the size of the ranges, never the output.
        """
        count = -(-rows // max(1, self.bucket_rows))
        if count <= 1:
            return []
        first = quote_identifier(self.contract.dedup.keys[0])
        fractions = ", ".join(str(i / count) for i in range(1, count))
        return [
            row[0]
            for row in (con or self.con)
            .sql(
                f"SELECT DISTINCT unnest(quantile_disc(k, [{fractions}])) AS cut FROM ("
                f"SELECT {first} AS k FROM ({union}) AS incoming WHERE {first} IS NOT NULL"
                f") AS keys USING SAMPLE reservoir({_SAMPLE_ROWS} ROWS) ORDER BY cut"
            )
            .fetchall()
        ]

    def _ranges(
        self, con: duckdb.DuckDBPyConnection, union: str, rows: int, scratch: Path
    ) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """The incoming rows as one query, or, for a big partition, one query per key range
        (:meth:`key_cuts`), each with its parameters: a few ranges each read the partition's files
        again; from :data:`RANGE_FILES_MIN_RANGES` on, each reads its own file of :meth:`range_files`
        (measured: DuckDB's ``PARTITION_BY`` copy by range took more memory than this streamed pass)."""
        cuts = self.key_cuts(union, rows, con)
        if not cuts:
            yield union, None
            return
        if len(cuts) + 1 >= RANGE_FILES_MIN_RANGES:
            for path in self.range_files(con, union, cuts, scratch):
                yield f"SELECT * EXCLUDE ({_RANGE_COLUMN}) FROM read_parquet({_literal(str(path))})", None
            return
        first = quote_identifier(self.contract.dedup.keys[0])
        where = [f"{first} < $hi"] + [f"{first} >= $lo AND {first} < $hi"] * (len(cuts) - 1)
        where.append(f"({first} >= $lo OR {first} IS NULL)")
        bounds = [None, *cuts, None]
        for index, condition in enumerate(where):
            params = {"lo": bounds[index], "hi": bounds[index + 1]}
            yield (
                f"SELECT * FROM ({union}) AS incoming WHERE {condition}",
                {name: value for name, value in params.items() if value is not None},
            )

    def range_files(
        self, con: duckdb.DuckDBPyConnection, union: str, cuts: list[Any], folder: Path
    ) -> list[Path]:
        """The incoming rows written once, streamed, into a local file per key range (the ranges of
        :meth:`_ranges`: below the first cut, between two cuts, from the last cut on or a NULL first
        key), in range order; ranges with no rows have no file."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        first = quote_identifier(self.contract.dedup.keys[0])
        above = " + ".join(f"({first} >= $c{index})::INTEGER" for index in range(len(cuts)))
        query = (
            f"SELECT *, CASE WHEN {first} IS NULL THEN {len(cuts)} ELSE {above} END AS {_RANGE_COLUMN}\n"
            f"FROM ({union}) AS incoming"
        )
        params = {f"c{index}": cut for index, cut in enumerate(cuts)}
        writers: dict[int, pq.ParquetWriter] = {}
        try:
            for batch in con.sql(query, params=params).to_arrow_reader(_READ_BATCH_ROWS):
                ranges = batch.column(_RANGE_COLUMN).to_numpy()
                counts = np.bincount(ranges, minlength=len(cuts) + 1)
                grouped = batch.take(pa.array(np.argsort(ranges, kind="stable")))
                start = 0
                for index in np.flatnonzero(counts).tolist():
                    writer = writers.get(index)
                    if writer is None:  # scratch read once: plain pages, as the spill
                        path = folder / f"range-{index:05d}.parquet"
                        writer = pq.ParquetWriter(
                            path,
                            grouped.schema,
                            compression="none",
                            use_dictionary=False,
                            write_statistics=False,
                        )
                        writers[index] = writer
                    writer.write_batch(grouped.slice(start, int(counts[index])))
                    start += int(counts[index])
        finally:
            for writer in writers.values():
                writer.close()
        return [folder / f"range-{index:05d}.parquet" for index in sorted(writers)]

    def merge_sql(self, new_files: list[Path], existing_files: list[Path]) -> str:
        """The whole merge as one query: what :meth:`merge` computes, written as a window (the reference
        its tests compare with)."""
        keys = ", ".join(quote_identifier(key) for key in self.contract.dedup.keys)
        order = dedup_order(self.contract, source=SOURCE_COLUMN, ordinal="_ord")
        return (
            f"SELECT {self._names()}, {SOURCE_COLUMN}\n"
            f"FROM (\n{self.union_sql(new_files, existing_files)}\n) AS incoming\n"
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}) = 1\n"
            f"ORDER BY {keys}"
        )

    def _sorted_sql(self, union: str) -> str:
        """Every incoming row, by key and then the winner first (NULL keys last, as ``ORDER BY`` puts them)."""
        keys = ", ".join(f"{quote_identifier(key)} ASC NULLS LAST" for key in self.contract.dedup.keys)
        order = dedup_order(self.contract, source=SOURCE_COLUMN, ordinal="_ord")
        return f"SELECT {self._names()}, {SOURCE_COLUMN}\nFROM (\n{union}\n) AS incoming\nORDER BY {keys}, {order}"

    def _names(self) -> str:
        return ", ".join(quote_identifier(c.name) for c in self.contract.columns)

    def union_sql(self, new_files: list[Path], existing_files: list[Path]) -> str:
        """Every incoming row, typed: the new spill rows (``_src`` 1, ordinal ``_seq``) and the live
        version's (``_src`` 0, ordinal by file and row)."""
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
        return "\nUNION ALL\n".join(selects)


class _FirstOfEachKey:
    """Keeps the first row of each key of batches sorted by key, the previous batch's last key carried
    over. Keys compare as ``PARTITION BY`` groups them: NULL with NULL, NaN with NaN."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._last: pa.RecordBatch | None = None

    def keep(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = batch.num_rows
        if rows == 0:
            return batch
        first = self._last is None or any(
            _differs(self._last.column(key), batch.column(key).slice(0, 1))[0].as_py() for key in self.keys
        )
        mask = pa.array([first])
        if rows > 1:
            differs = [
                _differs(batch.column(key).slice(0, rows - 1), batch.column(key).slice(1))
                for key in self.keys
            ]
            inner = differs[0]
            for more in differs[1:]:
                inner = pc.or_(inner, more)
            mask = pa.concat_arrays([mask, inner])
        self._last = batch.slice(rows - 1)
        return batch.filter(mask)


def _differs(before: pa.Array, after: pa.Array) -> pa.Array:
    """Element-wise: do two arrays of one type hold different keys (NULLs equal, NaNs equal)?"""
    import pyarrow as pa
    import pyarrow.compute as pc

    differs = pc.not_equal(before, after)
    if before.null_count or after.null_count:
        differs = pc.if_else(pc.is_null(before), pc.is_valid(after), pc.fill_null(differs, True))
    if pa.types.is_floating(before.type):
        both_nan = pc.fill_null(pc.and_(pc.is_nan(before), pc.is_nan(after)), False)
        differs = pc.and_(differs, pc.invert(both_nan))
    return differs


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
        # one chunk per column: the bytes Parquet writes depend on how a group's rows are chunked, and
        # must depend on the rows only (whatever batches came in)
        group, rest = table.slice(0, rows).combine_chunks(), table.slice(rows)
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
            self._writer = pq.ParquetWriter(
                self._sink,
                self.schema,
                compression="zstd",
                dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES,
            )
        return self._writer

    def _close_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        self._writer.close()
        self._sink.close()
        path = self._path
        self.parts.append(LocalPart(path, self._rows, path.stat().st_size, file_sha256(path)))
        self._writer, self._sink, self._path, self._rows = None, None, None, 0
