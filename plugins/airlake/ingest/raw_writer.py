"""Write micro-batches into one run's raw prefix: gzip JSON Lines parts with deterministic names."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from airlake.lake import RAW_SUFFIX, part_name
from airlake.store import LakeStore, file_sha256

# gzip -1 compresses at about twice the speed of -6 (the slowest step of the whole pipeline at -6,
# ~29 MB/s on one core); Athena and every engine here read both.
RAW_GZIP_LEVEL = 1
DEFAULT_PART_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class RawPart:
    key: str
    bytes: int
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RawWriter:
    """Rolls parts at ``max_part_bytes`` of uncompressed input; each part is uploaded as it closes.

    Part names depend only on their order in the run, so a retried task overwrites its own partial
    output and nothing else.
    """

    def __init__(
        self, store: LakeStore, prefix: str, work_dir: Path, *, max_part_bytes: int = DEFAULT_PART_BYTES
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.work_dir = work_dir
        self.max_part_bytes = max_part_bytes
        self.parts: list[RawPart] = []
        self._open: gzip.GzipFile | None = None
        self._open_path: Path | None = None
        self._open_rows = 0
        self._open_bytes = 0

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts) + self._open_rows

    def write_lines(self, lines: Iterable[bytes]) -> int:
        written = 0
        for line in lines:
            if self._open is None:
                self._start_part()
            assert self._open is not None
            self._open.write(line.rstrip(b"\r\n"))
            self._open.write(b"\n")
            self._open_rows += 1
            self._open_bytes += len(line) + 1
            written += 1
            if self._open_bytes >= self.max_part_bytes:
                self._close_part()
        return written

    def add_file(self, path: Path, *, suffix: str, rows: int) -> None:
        """Upload a whole file as the next part (sources that keep their own format)."""
        self._close_part()
        self._upload(path, suffix, rows)

    def close(self) -> list[RawPart]:
        self._close_part()
        return self.parts

    def _next_key(self, suffix: str) -> str:
        return self.prefix + part_name(len(self.parts), suffix)

    def _start_part(self) -> None:
        self._open_path = self.work_dir / part_name(len(self.parts), RAW_SUFFIX)
        self._open = gzip.GzipFile(self._open_path, "wb", compresslevel=RAW_GZIP_LEVEL, mtime=0)
        self._open_rows = 0
        self._open_bytes = 0

    def _close_part(self) -> None:
        if self._open is None or self._open_path is None:
            return
        self._open.close()
        path, rows = self._open_path, self._open_rows
        self._open, self._open_path, self._open_rows, self._open_bytes = None, None, 0, 0
        self._upload(path, RAW_SUFFIX, rows)
        path.unlink(missing_ok=True)

    def _upload(self, path: Path, suffix: str, rows: int) -> None:
        key = self._next_key(suffix)
        self.store.put_file(key, path)
        self.parts.append(RawPart(key=key, bytes=path.stat().st_size, rows=rows, sha256=file_sha256(path)))
