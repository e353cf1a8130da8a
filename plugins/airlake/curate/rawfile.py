"""A raw part's local copy as bytes and text: its format by key, gzip or plain, decoding that keeps
invalid bytes visible, what text the warehouse cannot store, and the raw text quarantine keeps.

Shared by the structure pass (:mod:`airlake.curate.csv_split`) and the readers
(:mod:`airlake.curate.readers`), so both judge a record's bytes by the same rules.
"""

from __future__ import annotations

import codecs
import gzip
import io
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


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when its first bytes say gzip (whatever its name says)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


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
