"""Parse a run's raw parts: each part into per-partition spill files and a rejects file, in parallel.

CSV and JSON Lines are split and typed a block at a time with Arrow where that is provably what the
strict reader gives (:data:`ARROW_STRUCTURE`, :data:`VECTOR_TYPING`, :mod:`airlake.curate.json_vector`);
every other record, and Parquet, is parsed in Python per value (exact decimals, one reason per reject). Parsing is CPU-bound and parts are
independent, so big runs parse several parts at once in worker processes; small runs parse in process.
Inside a daemonic process (a Celery prefork child, where the CeleryExecutor runs tasks) the standard
library refuses to start children, so the pool is billiard's (Celery's own multiprocessing fork, which
allows them). Either way the result is the same: a row's tie-break ordinal is
``part index << 40 | line number``, and rejects are concatenated in part order.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate import pieces
from airlake.curate.blocks import BlockTyping, parse_csv_blocks, parse_json_blocks
from airlake.curate.json_vector import json_schema
from airlake.curate.parse import Reject, RowParser
from airlake.curate.rawfile import Piece, arrived, is_gzip, local_size, raw_format
from airlake.curate.readers import CsvReader, JsonLinesReader, open_reader
from airlake.curate.spill import PartitionSpill
from airlake.curate.vector import VectorTyper

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

PART_SHIFT = 40
"""Ordinal of a row: ``part index << PART_SHIFT | line number`` (lines < 2**40)."""
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
"""Below this much compressed input (~2 s of parsing), starting worker processes costs more than it saves."""
MAX_WORKERS = 4
VECTOR_TYPING = True
"""Type CSV and JSON Lines blocks with Arrow kernels (:mod:`airlake.curate.vector`, proven identical to the row path by
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
        self._gzip = gzip.GzipFile(path, "wb", compresslevel=_QUARANTINE_GZIP_LEVEL, mtime=0)
        # one compress call per 64 KiB, not per reject (a write each cost ~50 us of CPU)
        self._file = io.BufferedWriter(self._gzip, 1 << 16)  # type: ignore[arg-type]

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
        self._file.close()  # flushes into the gzip file and closes it


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
    piece: Piece | None = None
    """Parse only this piece of the (plain) file at ``path`` (:mod:`airlake.curate.pieces`)."""
    owns_path: bool = True
    """Delete ``path`` once parsed (not when other pieces of the same file still read it)."""


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
    open_at_end: bool = False
    """The text ended inside a record: a piece not cut at a record boundary (its file is parsed whole)."""


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
        piece=task.piece,
    )
    key, base, read = task.key, task.index << PART_SHIFT, 0
    parse, partition_of, spill_add, reject = parser.parse, parser.partition_of, spill.add, rejects.add
    vector = VECTOR_TYPING and isinstance(reader, CsvReader | JsonLinesReader)
    typer = VectorTyper(contract) if vector else None
    fields = json_schema(contract, reader) if typer and isinstance(reader, JsonLinesReader) else None
    try:
        if typer is not None and typer.exact and (fields is not None or isinstance(reader, CsvReader)):
            typing = BlockTyping(reader, parser, typer, spill, rejects, key, base)
            if fields is not None:
                read = parse_json_blocks(typing, fields)
            else:
                read = parse_csv_blocks(typing, task.flush_rows, arrow_structure=ARROW_STRUCTURE)
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
    if task.owns_path:
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
        open_at_end=reader.open_at_end,
    )


def worker_count(requested: int | None, parts: Sequence[Any]) -> int:
    """Processes to parse with: ``requested``, else by input size and cores (daemonic parents too).

    ``parts``: mappings or objects with ``bytes`` (and ``key``: without one, a part is taken as one
    that may be cut). A big CSV or JSON Lines part is cut into pieces (:mod:`airlake.curate.pieces`),
    so that one part alone keeps every worker busy."""
    cuttable = any(_cuttable_part(part) for part in parts)
    if requested is not None:
        return max(1, requested if cuttable else min(requested, len(parts)))
    total = sum(_size(part) for part in parts)
    if total < PARALLEL_MIN_BYTES or (len(parts) < 2 and not cuttable):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS if cuttable else min(len(parts), MAX_WORKERS)))


def _field(part: Any, name: str) -> Any:
    return part.get(name) if isinstance(part, Mapping) else getattr(part, name, None)


def _size(part: Any) -> int:
    return int(_field(part, "bytes") or 0)


def _cuttable_part(part: Any) -> bool:
    key = _field(part, "key")
    try:
        kind = raw_format(str(key)) if key is not None else "csv"
    except ValueError:
        return False
    return kind != "parquet" and _size(part) >= PARALLEL_MIN_BYTES


def _cut(task: PartTask) -> bool:
    """Whether ``task``'s file is parsed in pieces: big enough and of a layout that may be cut."""
    return (
        task.piece is None
        and local_size(task.path) >= PARALLEL_MIN_BYTES
        and pieces.layout_of(task.contract, task.key) is not None
    )


def parse_cut(task: PartTask, target: int) -> PartResult:
    """``task`` parsed piece by piece in this process (pieces of about ``target`` bytes of text): the
    same result as :func:`parse_part` gives, which is what the tests compare."""
    return _combined(task, [parse_part(piece) for piece in pieces.split_task(task, target)])


def _combined(task: PartTask, results: list[PartResult]) -> PartResult:
    """The pieces' results as one; the file parsed whole (here) when a cut was not at a record boundary."""
    combined = pieces.combine(task, results)
    if combined is None:
        log.warning("%s: a piece ended inside a quoted record; parsing the file whole instead", task.key)
        return parse_part(task)
    if task.owns_path:
        task.path.unlink(missing_ok=True)
    return combined


def parse_parts(tasks: Iterator[PartTask], workers: int) -> list[PartResult]:
    """Parse every task (produced lazily: each one downloads its part); results in part order.

    With several workers, every part or piece is parsed in a pool of ``workers`` processes, started (and
    their parser imported) before the first download, so that start-up overlaps it; this process only
    downloads, cuts and hands out. Big CSV and JSON Lines parts are cut into pieces, each handed out as
    soon as its cut is found (measured on 4M CSV rows when this process parsed every other piece itself:
    the worker waited ~0.2 s for each next cut), and at most ``2 * workers`` parts or pieces are waiting
    or being parsed at once (bounded local disk).
    """
    if workers <= 1:
        results = []
        for task in tasks:
            arrived(task.path)
            results.append(parse_part(task))
        return results
    pool: _Pool = _BilliardPool(workers) if multiprocessing.current_process().daemon else _StdPool(workers)
    jobs: list[Any] = []

    def submit(task: PartTask) -> Any:
        pending = [job for job in jobs if not pool.done(job)]
        while len(pending) >= 2 * workers:
            pool.wait_any(pending)
            pending = [job for job in pending if not pool.done(job)]
        job = pool.submit(task)
        jobs.append(job)
        return job

    plans: list[tuple[PartTask, list[Any], bool]] = []
    with pool:
        for task in tasks:
            if _cut(task):
                gzipped = is_gzip(task.path)
                target = pieces.piece_bytes(local_size(task.path), workers, gzipped=gzipped)
                plans.append((task, [submit(piece) for piece in pieces.split_task(task, target)], True))
            else:
                arrived(task.path)  # a worker process reads the whole file: it must all be there
                plans.append((task, [submit(task)], False))
        results, pids = [], set()
        for task, handles, cut in plans:
            done = [pool.result(job) for job in handles]
            pids.update(pid for pid, _ in done)
            parsed = [result for _, result in done]
            if cut:
                log.info("%s: parsed in %d pieces", task.key, len(parsed))
            results.append(_combined(task, parsed) if cut else parsed[0])
    log.info(
        "parsed %d parts in a pool of %d worker processes (%d of them busy; %s)",
        len(plans),
        pool.size,
        len(pids),
        pool.name,
    )
    return results


def _warm_up() -> int:
    """A worker's first task: import what parsing needs (~0.7 s of CPU), while the parent downloads."""
    import pyarrow.csv
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    return os.getpid()


def _parse_part_with_pid(task: PartTask) -> tuple[int, PartResult]:
    return os.getpid(), parse_part(task)


class _Pool:
    """Worker processes parsing tasks: submit, wait for any, collect ``(pid, result)``."""

    name = ""
    size = 0

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        raise NotImplementedError

    def submit(self, task: PartTask) -> Any:
        raise NotImplementedError

    def done(self, job: Any) -> bool:
        raise NotImplementedError

    def wait_any(self, jobs: list[Any]) -> None:
        raise NotImplementedError

    def result(self, job: Any) -> tuple[int, PartResult]:
        raise NotImplementedError


class _StdPool(_Pool):
    """The standard library's process pool, spawned (no fork of a process holding client threads)."""

    name = "standard library"

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.size = workers
        for _ in range(workers):  # one process each: the pool starts one per task it cannot give an idle one
            self._pool.submit(_warm_up)

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, task: PartTask) -> Future[tuple[int, PartResult]]:
        return self._pool.submit(_parse_part_with_pid, task)

    def done(self, job: Any) -> bool:
        return bool(job.done())

    def wait_any(self, jobs: list[Any]) -> None:
        wait(jobs, return_when=FIRST_COMPLETED)

    def result(self, job: Any) -> tuple[int, PartResult]:
        return job.result()  # type: ignore[no-any-return]


class _BilliardPool(_Pool):
    """The pool of a daemonic parent (a Celery prefork child).

    The standard library's ``Process.start`` asserts its parent is not daemonic (whatever the start
    method); billiard's does not, and a worker that dies fails its part with ``WorkerLostError`` instead
    of hanging the pool. Spawned, not forked, for the same reason as the standard pool.
    """

    name = "billiard, daemonic parent"

    def __init__(self, workers: int) -> None:
        import billiard  # a runtime requirement; imported here because only daemonic parents need it

        self._pool = billiard.get_context("spawn").Pool(processes=workers)
        self.size = len(billiard.active_children())
        for _ in range(workers):
            self._pool.apply_async(_warm_up)

    def __exit__(self, *exc: object) -> None:
        self._pool.terminate()  # what ``with Pool()`` does; every result was collected by then
        self._pool.join()

    def submit(self, task: PartTask) -> Any:
        return self._pool.apply_async(_parse_part_with_pid, (task,))

    def done(self, job: Any) -> bool:
        return bool(job.ready())

    def wait_any(self, jobs: list[Any]) -> None:
        jobs[0].wait()

    def result(self, job: Any) -> tuple[int, PartResult]:
        return job.get()  # type: ignore[no-any-return]


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
