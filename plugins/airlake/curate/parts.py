"""Parse a run's raw parts: each part into per-partition spill files and a rejects file, in parallel.

CSV is split and typed a block at a time with Arrow where that is provably what the strict reader gives
(:data:`ARROW_STRUCTURE`, :data:`VECTOR_TYPING`); every other record, and JSON Lines and Parquet, is
parsed in Python per value (exact decimals, one reason per reject). Parsing is CPU-bound and parts are
independent, so big runs parse several parts at once in worker processes; small runs parse in process.
Inside a daemonic process (a Celery prefork child, where the CeleryExecutor runs tasks) the standard
library refuses to start children, so the pool is billiard's (Celery's own multiprocessing fork, which
allows them). Either way the result is the same: a row's tie-break ordinal is
``part index << 40 | line number``, and rejects are concatenated in part order.
"""

from __future__ import annotations

import gzip
import json
import logging
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.csv_split import ArrowBlock
from airlake.curate.parse import Reject, RowParser
from airlake.curate.readers import CsvReader, RawReader, open_reader
from airlake.curate.spill import PartitionSpill
from airlake.curate.vector import VectorTyper, type_block, write_block

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

PART_SHIFT = 40
"""Ordinal of a row: ``part index << PART_SHIFT | line number`` (lines < 2**40)."""
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
"""Below this much compressed input (~2 s of parsing), starting worker processes costs more than it saves."""
MAX_WORKERS = 4
VECTOR_TYPING = True
"""Type CSV blocks with Arrow kernels (:mod:`airlake.curate.vector`, proven identical to the row path by
``test_vector_identity.py``). On its own (strict splitter) it was no faster than the row path
(bench/results/2026-12-03-curate.md); with :data:`ARROW_STRUCTURE` it is (2026-12-04-curate-arrow.md)."""
ARROW_STRUCTURE = True
"""With :data:`VECTOR_TYPING`: CSV chunks that are safe by construction (no quote, escape, lone \\r, NUL,
blank line or invalid byte) are split by pyarrow.csv and typed from Arrow strings, each checked
against its count of physical lines (:func:`~airlake.curate.csv_split.arrow_block`); any other chunk
goes through the strict splitter. Proven identical by ``test_arrow_structure.py`` and the corpus; on
the 1M clickstream bench curate's CPU dropped from 10.6-15.8 s to 6.6 s (2026-12-04-curate-arrow.md)."""
_QUARANTINE_GZIP_LEVEL = 6


class RejectWriter:
    """Rejects as gzip JSON Lines: source key (the raw part), the landing file it came from (None when it
    did not come from one), physical line number, reason code, field, message and the raw text of the
    record (cut at :data:`~airlake.curate.rawfile.RAW_TEXT_MAX` characters; bytes invalid in the file's
    encoding appear as U+DC00 + byte, e.g. ``\\udcff`` for 0xFF)."""

    def __init__(self, path: Path, *, landing: str | None = None) -> None:
        self.path = path
        self.landing = landing
        self.rows = 0
        self.reasons: Counter[str] = Counter()
        self._file = gzip.GzipFile(path, "wb", compresslevel=_QUARANTINE_GZIP_LEVEL, mtime=0)

    def add(self, source: str, line: int, reject: Reject, raw: str) -> None:
        record = {
            "source": source,
            "landing": self.landing,
            "line": line,
            "reason": reject.reason,
            "field": reject.field,
            "message": reject.message,
            "raw": raw,
        }
        self._file.write(json.dumps(record).encode("ascii") + b"\n")
        self.rows += 1
        self.reasons[reject.reason] += 1

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class PartTask:
    """One downloaded raw part to parse; ``path`` is deleted once parsed."""

    index: int
    key: str
    path: Path
    out_dir: Path
    contract: Contract
    flush_rows: int
    csv_delimiter: str = ","
    csv_header: bool = True
    """Used only for contracts whose source is not files; files sources read by ``source.csv``."""
    landing: str | None = None
    """The landing file the part came from (files sources), named in its rejects and header findings."""


@dataclass
class PartResult:
    index: int
    key: str
    rows_read: int = 0
    rows_by_dt: dict[str, int] = field(default_factory=dict)
    spill_files: dict[str, list[Path]] = field(default_factory=dict)
    rejects_path: Path | None = None
    rejects_rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    header: dict[str, Any] | None = None
    """What the part's header (CSV) or columns (Parquet) said against the schema (:class:`HeaderCheck`)."""


def parse_part(task: PartTask) -> PartResult:
    """Typed rows of one part spilled per partition date; rejects to the part's own gzip file."""
    contract = task.contract
    parser = RowParser(contract)
    spill = PartitionSpill(task.out_dir / "spill", contract.arrow_schema(), flush_rows=task.flush_rows)
    rejects = RejectWriter(task.out_dir / "rejects.jsonl.gz", landing=task.landing)
    reader = open_reader(
        task.path,
        task.key,
        contract=contract,
        csv_delimiter=task.csv_delimiter,
        csv_header=task.csv_header,
        landing=task.landing,
    )
    key, base, read = task.key, task.index << PART_SHIFT, 0
    parse, partition_of, spill_add, reject = parser.parse, parser.partition_of, spill.add, rejects.add
    typer = VectorTyper(contract) if VECTOR_TYPING and isinstance(reader, CsvReader) else None
    try:
        if typer is not None and typer.exact:
            read = _parse_vector(reader, parser, typer, spill, rejects, key, base, task.flush_rows)
            items: Iterator[Any] = iter(())
        else:
            items = reader.items()
        for line, record, raw in items:
            read += 1
            if isinstance(record, Reject):
                reject(key, line, record, reader.raw_text(raw))
                continue
            try:
                values = parse(record)
            except Reject as problem:
                reject(key, line, problem, reader.raw_text(raw))
                continue
            spill_add(partition_of(values), values, base + line)
        files = spill.close()
    finally:
        rejects.close()
    task.path.unlink(missing_ok=True)
    return PartResult(
        index=task.index,
        key=task.key,
        rows_read=read,
        rows_by_dt=dict(spill.rows),
        spill_files=files,
        rejects_path=rejects.path,
        rejects_rows=rejects.rows,
        reasons=dict(rejects.reasons),
        header=reader.header.as_dict() if reader.header is not None else None,
    )


def _parse_vector(
    reader: RawReader,
    parser: RowParser,
    typer: VectorTyper,
    spill: PartitionSpill,
    rejects: RejectWriter,
    key: str,
    base: int,
    flush_rows: int,
) -> int:
    """CSV records typed a block of ``flush_rows`` at a time (:mod:`airlake.curate.vector`); rejects
    (structural and typing) written in line order, as the row path writes them. Returns rows read.
    With :data:`ARROW_STRUCTURE`, Arrow blocks are typed whole from their string arrays."""
    assert isinstance(reader, CsvReader)
    read, size = 0, max(1024, flush_rows)
    pending: list[Any] = []
    for block in reader.field_blocks(arrow=ARROW_STRUCTURE):
        if isinstance(block, ArrowBlock):
            if pending:
                _type_records(reader, parser, typer, spill, rejects, key, base, pending)
                pending = []
            read += block.records
            _type_arrow(reader, parser, typer, spill, rejects, key, base, block)
            continue
        pending.extend(block)
        while len(pending) >= size:
            _type_records(reader, parser, typer, spill, rejects, key, base, pending[:size])
            pending = pending[size:]
        read += len(block)
    if pending:
        _type_records(reader, parser, typer, spill, rejects, key, base, pending)
    return read


def _type_records(
    reader: CsvReader,
    parser: RowParser,
    typer: VectorTyper,
    spill: PartitionSpill,
    rejects: RejectWriter,
    key: str,
    base: int,
    chunk: list[Any],
) -> None:
    """One chunk of the strict splitter's records (field lists or Rejects) typed and written."""
    schema = typer.schema
    positions = [i for i, (_, fields, _) in enumerate(chunk) if fields.__class__ is list]
    rows = [chunk[i][1] for i in positions]
    if reader.plain:  # the fields straight into columns; dicts only for the rows the parser types
        raws = _string_columns(reader, rows, schema.names)
        block = type_block(parser, typer, _Records(rows, reader.record), schema, raws)
    else:
        block = type_block(parser, typer, [reader.record(fields) for fields in rows], schema)
    failed = {positions[i]: problem for i, problem in block.rejects}
    for i, (line, record, raw) in enumerate(chunk):
        problem = record if isinstance(record, Reject) else failed.get(i)
        if problem is not None:
            rejects.add(key, line, problem, reader.raw_text(raw))
    write_block(spill, block, [base + chunk[i][0] for i in positions])


def _type_arrow(
    reader: CsvReader,
    parser: RowParser,
    typer: VectorTyper,
    spill: PartitionSpill,
    rejects: RejectWriter,
    key: str,
    base: int,
    arrow: ArrowBlock,
) -> None:
    """An Arrow block typed from its string arrays; only the rows the vector rules flag become dicts
    (for the row parser's value or reason). Its rejects, structural and typing, in line order."""
    raws = reader.string_columns(arrow)
    block = type_block(parser, typer, _ArrowRecords(reader, raws, len(arrow.lines)), typer.schema, raws)
    found: list[tuple[int, Reject, str]] = [(line, problem, raw) for line, problem, raw in arrow.rejects]  # type: ignore[misc]
    found.extend((int(arrow.lines[i]), problem, arrow.raw(i)) for i, problem in block.rejects)
    found.sort(key=lambda item: item[0])
    for line, problem, raw in found:
        rejects.add(key, line, problem, reader.raw_text(raw))
    write_block(spill, block, (arrow.lines + base).tolist())


class _ArrowRecords:
    """Records of an Arrow block's string arrays, each made when the row parser asks for it."""

    def __init__(self, reader: CsvReader, raws: list[Any], count: int) -> None:
        self.reader, self.raws, self.count = reader, raws, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.reader.arrow_record(self.raws, index)


class _Records:
    """Records of field lists, each made when the row parser asks for it."""

    def __init__(self, rows: list[list[str]], record: Any) -> None:
        self.rows, self.record = rows, record

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.record(self.rows[index])


def _string_columns(reader: CsvReader, rows: list[list[str]], names: list[str]) -> list[Any]:
    """One string array per contract column of ``rows`` (a plain reader: the empty field is NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = list(zip(*rows, strict=True)) if rows else []  # one width: the splitter checked it
    empty = pa.scalar(None, pa.string())
    out = []
    for name in names:
        index = reader.positions.get(name)
        if index is None or not rows:  # no rows: no field lists to take a column from
            out.append(pa.nulls(len(rows), pa.string()))
            continue
        array = pa.array(fields[index], pa.string())
        out.append(pc.if_else(pc.equal(array, ""), empty, array))
    return out


def worker_count(requested: int | None, parts: list[dict[str, Any]]) -> int:
    """Processes to parse with: ``requested``, else by input size and cores (daemonic parents too)."""
    if requested is not None:
        return max(1, min(requested, len(parts)))
    total = sum(int(part.get("bytes") or 0) for part in parts)
    if len(parts) < 2 or total < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, len(parts), MAX_WORKERS))


def parse_parts(tasks: Iterator[PartTask], workers: int) -> list[PartResult]:
    """Parse every task (produced lazily: each one downloads its part); results in part order.

    With several workers at most ``2 * workers`` parts are on local disk at once.
    """
    if workers <= 1:
        return [parse_part(task) for task in tasks]
    if multiprocessing.current_process().daemon:
        return _parse_parts_daemonic(tasks, workers)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding client threads
    futures: list[Future[PartResult]] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for task in tasks:
            futures.append(pool.submit(parse_part, task))
            pending = [future for future in futures if not future.done()]
            while len(pending) >= 2 * workers:
                wait(pending, return_when=FIRST_COMPLETED)
                pending = [future for future in futures if not future.done()]
        return [future.result() for future in futures]


def _parse_part_with_pid(task: PartTask) -> tuple[int, PartResult]:
    return os.getpid(), parse_part(task)


def _parse_parts_daemonic(tasks: Iterator[PartTask], workers: int) -> list[PartResult]:
    """:func:`parse_parts` from a daemonic process: the same bounded submission, on a billiard pool.

    The standard library's ``Process.start`` asserts its parent is not daemonic (whatever the start
    method); billiard's does not, and a worker that dies fails its part with ``WorkerLostError`` instead
    of hanging the pool. Spawned, not forked, for the same reason as the standard path.
    """
    import billiard  # a runtime requirement; imported here because only daemonic parents need it

    jobs: list[Any] = []
    with billiard.get_context("spawn").Pool(processes=workers) as pool:
        started = len(billiard.active_children())
        for task in tasks:
            jobs.append(pool.apply_async(_parse_part_with_pid, (task,)))
            pending = [job for job in jobs if not job.ready()]
            while len(pending) >= 2 * workers:
                pending[0].wait()
                pending = [job for job in jobs if not job.ready()]
        done = [job.get() for job in jobs]
    busy = len({pid for pid, _ in done} - {os.getpid()})
    log.info(
        "parsed %d parts in a pool of %d worker processes (%d of them busy; billiard, daemonic parent)",
        len(done),
        started,
        busy,
    )
    return [result for _, result in done]


def concat_rejects(results: list[PartResult], target: Path) -> None:
    """The parts' rejects, in part order, as one gzip file."""
    with gzip.GzipFile(target, "wb", compresslevel=_QUARANTINE_GZIP_LEVEL, mtime=0) as out:
        for result in results:
            if result.rejects_path is None:
                continue
            if result.rejects_rows:
                with gzip.open(result.rejects_path, "rb") as part:
                    shutil.copyfileobj(part, out, 1024 * 1024)
            result.rejects_path.unlink(missing_ok=True)
