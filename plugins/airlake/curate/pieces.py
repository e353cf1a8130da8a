"""Cut one big raw file (CSV or JSON Lines, plain or gzip) into pieces parsed at once, one per core.

A piece ends at a line end where no record can be open, and each piece knows how many physical lines
came before it (counted here, cheaply, with ``bytes.count``), so its line numbers, rejects and row
ordinals are those of the whole file. A CSV piece is read after the file's *head* (the ``skip_rows``
preamble and the header line), so it checks the same header and numbers lines the same way.

Where the cuts go:

- JSON Lines: any ``\\n`` (a record is one line, a JSON string holds no raw line break);
- CSV: a ``\\n`` after which the count of quote characters since the head is even. A quote inside an
  unquoted field, or an escape character, can fool that count, so it is checked afterwards: every
  piece but the last must end outside any record (the strict splitter says so,
  :attr:`~airlake.curate.csv_split.CsvSplitter.open_at_end`: the text ended in an open quote or
  escape). Pieces start where the whole file's parse starts a record only if the piece before ended
  outside one, so by induction all pieces parse as the whole file does; if one did not, the pieces are
  dropped and the file is parsed whole (:func:`combine` returns None).

Not cut: Parquet, CSV with a ``comment`` option, an encoding in which a line end or a quote is not one
byte of its own (only ASCII supersets below), a head with a quote or escape character in it.

A plain file is cut into byte ranges of the file itself; a gzip file is decompressed once, as a stream,
by the parent, into piece files written as they come (the workers parse the first ones meanwhile).
Either way the file may still be arriving (:class:`~airlake.curate.rawfile.Arrival`): the scan follows
its download, and a piece is handed out once its bytes are all there.
"""

from __future__ import annotations

import codecs
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from airlake.curate.rawfile import Piece, gunzip, is_gzip, open_local, raw_format

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.curate.parts import PartResult, PartTask

PIECE_MIN_BYTES = 4 * 1024 * 1024
"""No piece smaller than this (text): each costs a reader's set-up and its own spill files."""
PIECE_MAX_BYTES = 128 * 1024 * 1024
PIECES_PER_WORKER = 2
"""Pieces per worker process and file: a shared machine leaves one core busier than the other."""
GZIP_RATIO = 4
"""Text bytes per gzip byte assumed when sizing the pieces of a gzip file (its length is unknown)."""
_BLOCK = 8 * 1024 * 1024
_HEAD_MAX = 1024 * 1024
_SEARCH_STEP = 64 * 1024
"""Where a line end gives an odd quote count, the next tries skip ahead by this much (bounded work)."""
_TRIES = 64
_ASCII_SUPERSETS = frozenset(
    {"utf-8", "utf-8-sig", "ascii", "iso8859-1", "iso8859-15", "cp1252", "iso8859-2", "cp1250"}
)
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Layout:
    """How a raw file's text may be cut: CSV (\\r is a line end too, a head before every piece) or
    JSON Lines (\\n only)."""

    csv: bool
    head_lines: int = 0
    quote: bytes | None = None
    escape: bytes | None = None


def layout_of(contract: Contract, key: str) -> Layout | None:
    """How the raw part ``key`` of ``contract`` may be cut, None when it may not."""
    kind = raw_format(key)
    if kind == "jsonl":
        return Layout(csv=False)
    if kind != "csv":
        return None
    from airlake.contracts import CsvOptions

    options = contract.source.csv if contract.source.kind == "files" else CsvOptions()
    if options.comment is not None or codecs.lookup(options.encoding).name not in _ASCII_SUPERSETS:
        return None
    specials = [char for char in (options.delimiter, options.quote, options.escape) if char]
    if not all(len(char) == 1 and char.isascii() and char not in "\r\n" for char in specials):
        return None
    return Layout(
        csv=True,
        head_lines=options.skip_rows + (1 if options.header else 0),
        quote=options.quote.encode("ascii") if options.quote else None,
        escape=options.escape.encode("ascii") if options.escape else None,
    )


def head_length(data: bytes, layout: Layout) -> int | None:
    """Bytes of the head (``head_lines`` lines) at the start of ``data``; None if it is not all there
    or holds a quote or escape character (a header that might span lines is never cut after)."""
    end = 0
    for _ in range(layout.head_lines):
        found = _LINE_END.search(data, end)
        if found is None:
            return None
        if found.group() == b"\r" and found.end() == len(data):
            return None  # maybe the \r of a \r\n cut off at the end of data
        end = found.end()
    head = data[:end]
    if any(char is not None and char in head for char in (layout.quote, layout.escape)):
        return None
    return end


class _Text:
    """Line ends and quote parity of consecutive blocks of text (after the head)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.lines = 0
        self.odd = False
        self.cr = False  # the previous block ended with \r

    def lines_in(self, data: bytes | memoryview, stop: int) -> int:
        """Physical line ends in ``data[:stop]`` (after the blocks already added)."""
        if not isinstance(data, bytes):
            data = bytes(data[:stop])
        count = data.count(b"\n", 0, stop)
        if self.layout.csv:
            returns = data.count(b"\r", 0, stop)  # most files have none: no \r\n pass then
            count += returns - data.count(b"\r\n", 0, stop) if returns else 0
            if self.cr and data[:1] == b"\n":
                count -= 1  # the \n of a \r\n split between blocks
        return count

    def add(self, data: bytes) -> None:
        self.lines += self.lines_in(data, len(data))
        if self.layout.quote is not None and data.count(self.layout.quote) % 2:
            self.odd = not self.odd
        self.cr = data.endswith(b"\r")


def _cut_in(data: bytes, text: _Text, want: int) -> int | None:
    """The first safe cut at or after ``want`` in ``data`` (just after a \\n, an even quote count since
    the head), None if there is none in ``data`` (or none within a bounded search)."""
    quote = text.layout.quote
    want, counted, odd = max(0, want), 0, text.odd
    for attempt in range(_TRIES):
        end = data.find(b"\n", want)
        if end < 0:
            return None
        cut = end + 1
        if quote is None:
            return cut
        if data.count(quote, counted, cut) % 2:
            odd = not odd
        counted = cut
        if not odd:
            return cut
        want = cut if attempt < _TRIES // 2 else cut + _SEARCH_STEP
    return None


@dataclass(frozen=True)
class _Cut:
    offset: int
    """Byte offset in the text (the decompressed text of a gzip file)."""
    lines: int
    """Physical line ends between the end of the head and ``offset``."""


def scan(stream: BinaryIO, layout: Layout, target: int) -> Iterator[bytes | _Cut]:
    """The text of ``stream`` in blocks, with a :class:`_Cut` between them wherever a piece of about
    ``target`` bytes ends; the first item is the head (bytes, possibly empty). Nothing is cut (the text
    comes in blocks only) when the head cannot be found."""
    first = stream.read(max(_BLOCK, _HEAD_MAX))
    head = head_length(first, layout) if layout.head_lines else 0
    if head is None:
        yield b""
        while first:
            yield first
            first = stream.read(_BLOCK)
        return
    yield first[:head]
    text, position, start = _Text(layout), head, head  # start: where the current piece's text starts
    data = first[head:]
    while data:
        cut = _cut_in(data, text, start + target - position)
        if cut is not None:
            yield data[:cut]
            text.add(data[:cut])
            position += cut
            yield _Cut(position, text.lines)
            start, data = position, data[cut:]
            continue
        yield data
        text.add(data)
        position += len(data)
        data = stream.read(_BLOCK)


def piece_bytes(size: int, workers: int, *, gzipped: bool) -> int:
    """Target text bytes of each piece of a file of ``size`` bytes (on disk) parsed by ``workers``."""
    text = size * (GZIP_RATIO if gzipped else 1)
    share = -(-text // max(1, workers * PIECES_PER_WORKER))
    return max(PIECE_MIN_BYTES, min(PIECE_MAX_BYTES, share))


def split_task(task: PartTask, target: int) -> Iterator[PartTask]:
    """The pieces of ``task``'s file as tasks (lazily: a gzip file is decompressed as they are asked
    for), in file order; a file that may not be cut comes as one piece, the whole file."""
    layout = layout_of(task.contract, task.key)
    if layout is None:
        yield _piece_task(task, 0, Piece(0, -1, first=True), task.path, owns=False)
        return
    if is_gzip(task.path):
        yield from _gzip_pieces(task, layout, target)
        return
    with open_local(task.path) as stream:
        items = scan(stream, layout, target)
        head = next(items)
        assert isinstance(head, bytes)
        start, lines, index = 0, 0, 0
        for item in items:
            if isinstance(item, _Cut):
                piece = Piece(start, item.offset, lines, b"" if index == 0 else head, first=index == 0)
                yield _piece_task(task, index, piece, task.path, owns=False)
                start, lines, index = item.offset, item.lines, index + 1
        size = task.path.stat().st_size
        if start < size or index == 0:
            piece = Piece(start, size, lines, b"" if index == 0 else head, first=index == 0)
            yield _piece_task(task, index, piece, task.path, owns=False)


def _gzip_pieces(task: PartTask, layout: Layout, target: int) -> Iterator[PartTask]:
    """Pieces of a gzip file: its text decompressed once, written piece by piece to local files."""
    with open_local(task.path) as raw, gunzip(raw) as stream:
        items = scan(stream, layout, target)  # type: ignore[arg-type]
        head = next(items)
        assert isinstance(head, bytes)
        index, lines = 0, 0
        path = task.out_dir / f"piece-{index:05d}.text"
        out = path.open("wb")
        out.write(head)
        written = len(head)
        try:
            for item in items:
                if isinstance(item, _Cut):
                    out.close()
                    piece = Piece(0, written, lines, b"" if index == 0 else head, first=index == 0)
                    yield _piece_task(task, index, piece, path, owns=True)
                    index, lines = index + 1, item.lines
                    path = task.out_dir / f"piece-{index:05d}.text"
                    out, written = path.open("wb"), 0
                    continue
                out.write(item)
                written += len(item)
        finally:
            out.close()
        if written or index == 0:
            piece = Piece(0, written, lines, b"" if index == 0 else head, first=index == 0)
            yield _piece_task(task, index, piece, path, owns=True)
        else:
            path.unlink(missing_ok=True)


def _piece_task(task: PartTask, index: int, piece: Piece, path: Path, *, owns: bool) -> PartTask:
    out_dir = task.out_dir / f"piece-{index:05d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    whole = piece.stop < 0
    return replace(task, path=path, out_dir=out_dir, piece=None if whole else piece, owns_path=owns)


def combine(task: PartTask, results: list[PartResult]) -> PartResult | None:
    """One result of the pieces of ``task``, as parsing it whole gives; None when a piece but the last
    ended inside a record (a cut that was not at a record boundary: parse the file whole)."""
    from airlake.curate.parts import PartResult

    if any(result.open_at_end for result in results[:-1]):
        discard(task, results)
        return None
    combined = PartResult(index=task.index, key=task.key, header=results[0].header)
    rejects = task.out_dir / "rejects.jsonl.gz"
    with rejects.open("wb") as out:  # gzip members one after the other are one gzip file
        for result in results:
            combined.rows_read += result.rows_read
            combined.rejects_rows += result.rejects_rows
            for dt, rows in result.rows_by_dt.items():
                combined.rows_by_dt[dt] = combined.rows_by_dt.get(dt, 0) + rows
            for dt, files in result.spill_files.items():
                combined.spill_files.setdefault(dt, []).extend(files)
            for reason, count in result.reasons.items():
                combined.reasons[reason] = combined.reasons.get(reason, 0) + count
            if result.rejects_path is not None:
                if result.rejects_rows:
                    with result.rejects_path.open("rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
                result.rejects_path.unlink(missing_ok=True)
    combined.rejects_path = rejects
    combined.rows_by_dt = dict(sorted(combined.rows_by_dt.items()))
    combined.spill_files = dict(sorted(combined.spill_files.items()))
    return combined


def discard(task: PartTask, results: list[PartResult]) -> None:
    """Remove what the pieces of ``task`` left (their spill and rejects)."""
    for folder in sorted(task.out_dir.glob("piece-*")):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
    del results[:]
