"""Landing files: objects a partner drops under a landing prefix, each picked up exactly once.

Files are kept in their own format (CSV, JSON Lines, Parquet), gzip-compressed if they were not, and
counted row by row while streaming, so a multi-GB file never has to fit in memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from airlake.ingest.base import IngestContext, IngestSource, SourceBatch
from airlake.ingest.raw_writer import RAW_GZIP_LEVEL
from airlake.store import LakeStore

log = logging.getLogger(__name__)

_SUFFIXES = {
    "csv": (".csv", ".csv.gz"),
    "jsonl": (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz"),
    "parquet": (".parquet",),
}


class LandingFilesSource(IngestSource):
    """New objects under ``landing_prefix``; the checkpoint remembers each claimed key and its ETag."""

    kind: ClassVar[str] = "files"

    def __init__(
        self,
        *,
        store: LakeStore,
        landing_prefix: str,
        file_format: str,
        compression: str = "auto",
        csv_delimiter: str = ",",
        csv_header: bool = True,
    ) -> None:
        if file_format not in _SUFFIXES:
            raise ValueError(
                f"unsupported landing file format {file_format!r}; expected one of {list(_SUFFIXES)}"
            )
        self.store = store
        self.landing_prefix = landing_prefix
        self.file_format = file_format
        self.compression = compression
        self.csv_delimiter = csv_delimiter
        self.csv_header = csv_header
        self.skipped: list[dict[str, str]] = []

    def skipped_inputs(self) -> list[dict[str, Any]]:
        return list(self.skipped)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "landing_prefix": self.landing_prefix, "format": self.file_format}

    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        claimed: dict[str, str] = dict((checkpoint or {}).get("files", {}))
        for obj in self.store.list(self.landing_prefix):
            if obj.key.endswith("/") or claimed.get(obj.key) == obj.etag:
                continue
            if not obj.key.lower().endswith(_SUFFIXES[self.file_format]):
                reason = f"not a {self.file_format} file (expected suffix {', '.join(_SUFFIXES[self.file_format])})"
                log.warning("Skipping s3://%s/%s: %s", self.store.bucket, obj.key, reason)
                self.skipped.append({"key": obj.key, "reason": reason})
                continue
            local = ctx.work_dir / f"landing-{len(claimed):06d}"
            sha256 = self.store.download(obj.key, local)
            final, suffix = self._compressed(local, obj.key)
            rows = count_rows(
                final, self.file_format, csv_delimiter=self.csv_delimiter, header=self.csv_header
            )
            claimed[obj.key] = obj.etag
            yield SourceBatch(
                checkpoint={"files": dict(claimed)},
                inputs=[
                    {"key": obj.key, "etag": obj.etag, "bytes": obj.size, "sha256": sha256, "rows": rows}
                ],
                file=final,
                suffix=suffix,
                rows=rows,
            )

    def _compressed(self, local: Path, key: str) -> tuple[Path, str]:
        """Keep gzip and Parquet as they are; gzip plain text so the raw zone is always compressed."""
        if self.file_format == "parquet":
            return local, ".parquet"
        text_suffix = ".csv" if self.file_format == "csv" else ".jsonl"
        if is_gzip(local) if self.compression == "auto" else self.compression == "gzip":
            return local, text_suffix + ".gz"
        packed = local.with_suffix(".gz")
        with (
            local.open("rb") as plain,
            gzip.GzipFile(packed, "wb", compresslevel=RAW_GZIP_LEVEL, mtime=0) as out,
        ):
            shutil.copyfileobj(plain, out, 8 * 1024 * 1024)
        local.unlink()
        log.debug("Compressed %s for the raw zone", key)
        return packed, text_suffix + ".gz"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def count_rows(path: Path, file_format: str, *, csv_delimiter: str = ",", header: bool = True) -> int:
    """Records in a landed file, read as a stream (quoted CSV newlines count once)."""
    if file_format == "parquet":
        import pyarrow.parquet as pq  # heavy: only when a Parquet file arrives

        return pq.ParquetFile(path).metadata.num_rows
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        if file_format == "csv":
            records = sum(1 for _ in csv.reader(text, delimiter=csv_delimiter))
            return max(records - 1, 0) if header else records
        return sum(1 for line in text if line.strip())
