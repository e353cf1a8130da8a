"""The local SQL curate engine: DuckDB on the transpiled curate SQL over the raw parts (:mod:`airlake.curate.sqlrun`)."""

from __future__ import annotations

import codecs
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.duck import LocalCompute
from airlake.curate.inputs import download_checked
from airlake.curate.parts import PART_SHIFT, RejectWriter
from airlake.curate.rawfile import open_binary
from airlake.curate.record import RawInput
from airlake.curate.sql import to_duckdb
from airlake.curate.versions import (
    download_version_files,
)
from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    import duckdb

    from airlake.contracts import Contract
    from airlake.manifest import RawPart
    from airlake.store import LakeStore

from airlake.curate.sqlrun.run import _BATCH_LINES, LIVE_ROWS, PartitionOutput, SqlCurateEngine, _reject

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Local: DuckDB on the transpiled SQL
# --------------------------------------------------------------------------------------------------


def _sql_type(contract: Contract, name: str) -> str:
    """DuckDB type of a column as the curate SQL produces it (timestamps without a zone, in UTC)."""
    column = contract.column(name)
    if column.column_type.base in ("timestamp", "timestamptz"):
        return "TIMESTAMP"
    return contract.duckdb_type(column)


class LocalSqlCurate(SqlCurateEngine):
    """
    The local stand-in of Athena: the curate SQL transpiled to DuckDB (:func:`to_duckdb`) over the raw
    parts and live files downloaded from S3 (whole-object GETs, as everywhere locally).

    :param work_dir: scratch for downloads, DuckDB's spill and the output files.
    :param memory_limit: DuckDB memory limit (it spills beyond it); shorthand for ``compute``'s.
    :param compute: DuckDB's limits and the Parquet layout (default: the worker's,
        :class:`~airlake.curate.duck.LocalCompute`).
    """

    name = "duckdb"

    def __init__(
        self, work_dir: Path, *, memory_limit: str = "1GB", compute: LocalCompute | None = None
    ) -> None:
        self.work_dir = Path(work_dir) / "sql"
        compute = compute or LocalCompute(memory_limit=memory_limit)
        self.con: duckdb.DuckDBPyConnection = compute.connect(self.work_dir / "duckdb-tmp")
        self.layout = compute.layout
        self.query_ids = []

    def load_raw(self, store: LakeStore, parts: list[RawPart]) -> list[RawInput]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [("line", pa.string()), ("seq", pa.int64()), ("source", pa.string()), ("line_number", pa.int64())]
        )
        folder = self.work_dir / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        lines_path = folder / "raw_lines.parquet"
        read: list[RawInput] = []
        with pq.ParquetWriter(lines_path, schema, compression="zstd") as out:
            for index, part in enumerate(parts):
                local = folder / f"part-{index:05d}"
                sha256 = download_checked(store, part, local)
                size = local.stat().st_size
                read.append(
                    RawInput(part, size, sha256, rows=self._lines(local, index, part.key, schema, out))
                )
                local.unlink()
        self.con.execute(
            f"CREATE OR REPLACE VIEW {self.raw_relation} AS SELECT * FROM read_parquet({_literal(str(lines_path))})"
        )
        return read

    @staticmethod
    def _lines(path: Path, index: int, key: str, schema: Any, out: Any) -> int:
        """Write a part's records (non-blank lines, the worker's rule) to the raw lines file; their count.

        Text as Athena's TEXTFILE reader gives it: UTF-8, an invalid byte as U+FFFD, no line end."""
        import pyarrow as pa

        base, count = index << PART_SHIFT, 0
        batch: dict[str, list[Any]] = {"line": [], "seq": [], "source": [], "line_number": []}

        def flush() -> None:
            if batch["line"]:
                out.write_table(pa.table(batch, schema=schema))
                for values in batch.values():
                    values.clear()

        with open_binary(path) as handle:
            first = handle.read(3)
            head = b"" if first == codecs.BOM_UTF8 else first
            for number, line in enumerate(_prefixed(head, handle), start=1):
                if not line.strip():
                    continue
                batch["line"].append(line.decode("utf-8", errors="replace").rstrip("\r\n"))
                batch["seq"].append(base + number)
                batch["source"].append(key)
                batch["line_number"].append(number)
                count += 1
                if len(batch["line"]) >= _BATCH_LINES:
                    flush()
        flush()
        return count

    def load_live(self, store: LakeStore, contract: Contract, locations: dict[str, str]) -> str | None:
        import pyarrow.parquet as pq

        selects = []
        part = quote_identifier(contract.partition_column)
        for dt, location in sorted(locations.items()):
            for path in download_version_files(store, location, self.work_dir / "live" / f"dt={dt}"):
                present = set(pq.read_schema(path).names)
                columns = ", ".join(
                    f"CAST({quote_identifier(c) if c in present else 'NULL'} AS {_sql_type(contract, c)}) "
                    f"AS {quote_identifier(c)}"
                    for c in contract.column_names
                )
                selects.append(
                    f"SELECT {columns}, {_literal(dt)} AS {part} FROM read_parquet({_literal(str(path))})"
                )
        if not selects:
            return None
        self.con.execute(f"CREATE OR REPLACE VIEW {LIVE_ROWS} AS " + "\nUNION ALL\n".join(selects))
        return LIVE_ROWS

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.sql(to_duckdb(sql)).fetchall()

    def write_rejects(self, sql: str, writer: RejectWriter) -> None:
        cursor = self.con.execute(to_duckdb(sql))
        names = [column[0] for column in cursor.description or ()]
        while batch := cursor.fetchmany(_BATCH_LINES):
            for values in batch:
                writer.add(*_reject(dict(zip(names, values, strict=True))))

    def write_partitions(
        self, store: LakeStore, contract: Contract, sql: str, dts: list[str], version: str, work_dir: Path
    ) -> list[PartitionOutput]:
        import pyarrow.compute as pc

        schema = contract.arrow_schema()
        part = quote_identifier(contract.partition_column)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE curated AS {to_duckdb(sql)}")
        outputs = []
        for dt in dts:
            keys = ", ".join(quote_identifier(k) for k in contract.dedup.keys)
            reader = self.con.sql(
                f"SELECT * FROM curated WHERE {part} = {_literal(dt)} ORDER BY {keys}"
            ).to_arrow_reader(self.layout.row_group_rows)
            writer = self.layout.writer(self.work_dir / "out" / f"dt={dt}", schema)
            new_kept = total = 0
            try:
                for batch in reader:
                    new_kept += pc.sum(batch.column("_src")).as_py() or 0
                    total += batch.num_rows
                    writer.write(batch.select(schema.names).cast(schema))
            finally:
                parts = writer.close()
            outputs.append(PartitionOutput(dt, new_kept, total - new_kept, local_parts=parts))
        self.con.execute("DROP TABLE curated")
        return outputs

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _prefixed(head: bytes, handle: Any) -> Any:
    """Lines of ``handle`` with ``head`` (bytes already read) in front of the first one."""
    first = head + handle.readline() if head and not head.endswith(b"\n") else head
    if first:
        yield first
    yield from handle


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
