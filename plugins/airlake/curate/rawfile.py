"""A raw part's local copy as bytes and text: its format by key, gzip or plain, decoding that keeps
invalid bytes visible, what text the warehouse cannot store, and the raw text quarantine keeps.

Shared by the structure pass (:mod:`airlake.curate.csv_split`) and the readers
(:mod:`airlake.curate.readers`), so both judge a record's bytes by the same rules.
"""

from __future__ import annotations

import codecs
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from airlake.curate.parse import BAD_ENCODING, NUL_BYTE

_GZIP_MAGIC = b"\x1f\x8b"
RAW_TEXT_MAX = 4096
"""Characters of a rejected record's raw text kept in quarantine (the rest is cut, and said so)."""
BAD_BYTES = "airlake.badbytes"
"""Decode error handler: each invalid byte becomes U+DC00 + byte (like surrogateescape, any codec)."""


def _bad_bytes(error: UnicodeError) -> tuple[str, int]:
    if isinstance(error, UnicodeDecodeError):
        bad = error.object[error.start : error.end]
        return "".join(chr(0xDC00 + byte) for byte in bad), error.end
    raise error


codecs.register_error(BAD_BYTES, _bad_bytes)


def raw_format(key: str) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from a raw part's key (``.jsonl.gz``, ``.csv.gz``, ``.parquet``)."""
    name = key.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise ValueError(f"cannot tell the format of raw part {key!r} (expected .jsonl.gz, .csv.gz or .parquet)")


class Arrival:
    """A raw part's local copy that a thread of this process is still writing (its download), so that
    the part can be cut and handed out while it arrives (:func:`open_local` follows the bytes written so
    far); ``size`` is what it will be. Its write's result (the sha256) or error: :meth:`result`."""

    _POLL_SECONDS = 0.005

    def __init__(self, path: Path, write: Callable[[Path], str], size: int) -> None:
        self.path, self.size = path, size
        self._done = threading.Event()
        self._value: str | None = None
        self._error: BaseException | None = None
        path.open("wb").close()  # followers may open it before the writer does
        _ARRIVING[path] = self
        self._thread = threading.Thread(target=self._write, args=(write,), name=f"arrival-{path.parent.name}")
        self._thread.start()

    def _write(self, write: Callable[[Path], str]) -> None:
        try:
            self._value = write(self.path)
        except BaseException as error:  # handed to whoever waits for the copy
            self._error = error
        finally:
            self._done.set()

    def wait(self, seconds: float | None = None) -> bool:
        return self._done.wait(seconds)

    def failed(self) -> BaseException | None:
        return self._error if self._done.is_set() else None

    def result(self) -> str:
        """The write's result once the copy is whole; the write's own error if it failed."""
        self._thread.join()
        _ARRIVING.pop(self.path, None)
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


_ARRIVING: dict[Path, Arrival] = {}
"""The local copies being written now in this process, by path (only the process that downloads
reads them as they arrive; a worker process is given bytes already written)."""


class _Following(io.RawIOBase):
    """A local copy read as it arrives: a read past the bytes written so far waits for more, and the
    end is the end of the whole copy (a failed write raises its error instead of ending early)."""

    def __init__(self, arrival: Arrival) -> None:
        self._arrival = arrival
        self._file = arrival.path.open("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            done = self._arrival.wait(0)
            size = self._file.readinto(buffer) or 0
            if size:
                return size
            if done:  # nothing more after the copy was whole: its end, or its writer's error
                error = self._arrival.failed()
                if error is not None:
                    raise error  # as the download raised it (a changed part fails, a dropped connection retries)
                return 0
            self._arrival.wait(Arrival._POLL_SECONDS)

    def close(self) -> None:
        self._file.close()
        super().close()


def open_local(path: Path) -> BinaryIO:
    """A raw part's local copy for reading: followed as it arrives if it is still being written."""
    arrival = _ARRIVING.get(path)
    if arrival is None:
        return path.open("rb")
    return io.BufferedReader(_Following(arrival), 1 << 20)  # type: ignore[return-value]


def local_size(path: Path) -> int:
    """The size of a raw part's local copy (what it will be, if it is still arriving)."""
    arrival = _ARRIVING.get(path)
    return arrival.size if arrival is not None else path.stat().st_size


def arrived(path: Path) -> None:
    """Wait until a raw part's local copy is whole (at once if it is not arriving); its write's error
    if it failed. For a reader in another process, which cannot follow it."""
    arrival = _ARRIVING.get(path)
    if arrival is not None:
        arrival.wait()
        error = arrival.failed()
        if error is not None:
            raise error


def gunzip(source: Path | BinaryIO) -> BinaryIO:
    """The text of a gzip file or stream, inflated by ISA-L (``isal``): 2.6x zlib's speed, measured on
    134 MB of CSV text (0.64 -> 0.25 s of CPU). Same members, checks and errors as :mod:`gzip`, except
    a corrupt deflate stream raises ``isal_zlib.error`` (``IsalError``) where zlib raises ``zlib.error``
    (:mod:`airlake.errors` knows both as bad bytes)."""
    from isal import igzip

    if isinstance(source, Path):
        return igzip.open(source, "rb")  # type: ignore[return-value]
    return igzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[return-value]


def is_gzip(path: Path) -> bool:
    """Whether a raw part's local copy is gzip by its first bytes (whatever its name says); one still
    arriving is followed (:func:`open_local`)."""
    with open_local(path) as probe:
        return probe.read(2) == _GZIP_MAGIC


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when its first bytes say gzip (whatever its name says)."""
    return gunzip(path) if is_gzip(path) else path.open("rb")


@dataclass(frozen=True)
class Piece:
    """Bytes ``[start, stop)`` of a plain local file, read as if they followed ``head`` (the CSV
    preamble and header of the file they were cut from): one of the pieces of one raw file parsed at
    once (:mod:`airlake.curate.pieces`). ``line_offset`` is added to the line numbers of the text
    ``head`` + piece, so they are the physical lines of the whole file; ``first``: the piece starts the
    file (only there is a byte order mark not part of the text)."""

    start: int
    stop: int
    line_offset: int = 0
    head: bytes = b""
    first: bool = False


class _PieceBytes(io.RawIOBase):
    """``head`` then bytes ``[start, stop)`` of a file, as one stream."""

    def __init__(self, path: Path, piece: Piece) -> None:
        self._file = path.open("rb")
        self._file.seek(piece.start)
        self._head = memoryview(piece.head)
        self._left = piece.stop - piece.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        size = self._file.readinto(view[: min(len(view), self._left)]) if self._left > 0 else 0
        self._left -= size or 0
        return size or 0

    def close(self) -> None:
        self._file.close()
        super().close()


def open_piece(path: Path, piece: Piece | None) -> BinaryIO:
    """The bytes a reader reads: the whole file (:func:`open_binary`), or one piece of a plain file."""
    if piece is None:
        return open_binary(path)
    return io.BufferedReader(_PieceBytes(path, piece), 1 << 20)  # type: ignore[return-value]


def text_codec(encoding: str) -> str:
    """utf-8 reads an optional byte order mark (utf-16/32 handle theirs)."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def text_problem(text: str) -> str | None:
    """The reason a decoded text cannot be stored (invalid bytes, NUL), None if it can."""
    if "\x00" in text:
        return NUL_BYTE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: bytes invalid in the encoding (or JSON \ud800)
            return BAD_ENCODING
    return None


PROBLEM_MESSAGES = {
    NUL_BYTE: "record holds a NUL byte (the warehouse cannot store it)",
    BAD_ENCODING: "record holds bytes that are invalid in the declared encoding",
}


def cut(text: str) -> str:
    """Raw text as kept in quarantine: at most :data:`RAW_TEXT_MAX` characters."""
    if len(text) <= RAW_TEXT_MAX:
        return text
    return f"{text[:RAW_TEXT_MAX]}... [cut: {len(text)} characters]"
