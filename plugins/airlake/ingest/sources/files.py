"""Landing files: objects a partner drops under a landing prefix, each picked up exactly once.

Files are kept in their own format (CSV, JSON Lines, Parquet), gzip-compressed if they were not, and
counted row by row while streaming, so a multi-GB file never has to fit in memory. A file that cannot
be read at all (corrupt or mislabelled compression, not the declared format) is handed to the runner as
poison: quarantined whole, claimed, and the rest of the run goes on.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from airlake.ingest.base import IngestContext, IngestSource, PoisonInput, SourceBatch
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
        encoding: str = "utf-8",
        csv_options: Any = None,
        columns: int | None = None,
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
        self.encoding = encoding if file_format == "csv" else "utf-8"  # JSON text is UTF-8 (RFC 8259)
        self.skipped: list[dict[str, str]] = []
        self.csv_options = csv_options  # the contract's source.csv: rows are counted as curate reads them
        self.columns = columns  # the schema's column count: the field count of a CSV without a header

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
            sha256 = self._download(obj.key, local)
            if sha256 is None:
                continue
            try:
                final, suffix = self._compressed(local, obj.key)
                if self.file_format != "parquet":
                    check_text(final, encoding=self.encoding, file_format=self.file_format)
                rows = count_rows(
                    final,
                    self.file_format,
                    csv_delimiter=self.csv_delimiter,
                    header=self.csv_header,
                    csv_options=self.csv_options,
                    columns=self.columns,
                )
            except UNREADABLE as error:
                local.with_suffix(".gz").unlink(missing_ok=True)
                claimed[obj.key] = obj.etag  # claimed like any other: a corrected re-upload has a new ETag
                reason, what = poison_reason(error)
                yield SourceBatch(
                    checkpoint={"files": dict(claimed)},
                    poison=PoisonInput(
                        key=obj.key,
                        name=obj.key.removeprefix(self.landing_prefix),
                        etag=obj.etag,
                        size=obj.size,
                        sha256=sha256,
                        reason=reason,
                        message=f"s3://{self.store.bucket}/{obj.key}: {what}",
                        path=local,
                    ),
                )
                continue
            if final != local:
                local.unlink(missing_ok=True)
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

    def _download(self, key: str, local: Path) -> str | None:
        """The file's sha256, or None when it was deleted since it was listed (a later run never sees it)."""
        try:
            return self.store.download(key, local)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                reason = "deleted from landing after it was listed, before it could be read"
                log.warning("Skipping s3://%s/%s: %s", self.store.bucket, key, reason)
                self.skipped.append({"key": key, "reason": reason})
                return None
            raise LandingFileError(f"s3://{self.store.bucket}/{key}: cannot download it: {error}") from error

    def _compressed(self, local: Path, key: str) -> tuple[Path, str]:
        """Keep gzip and Parquet as they are; gzip plain text so the raw zone is always compressed.

        ``local`` is left in place (the original bytes, quarantined if the file proves unreadable).
        """
        if self.file_format == "parquet":
            return local, ".parquet"
        text_suffix = ".csv" if self.file_format == "csv" else ".jsonl"
        gzipped = is_gzip(local)
        named_gz = key.lower().endswith(".gz")
        if (self.compression == "gzip" or (self.compression == "auto" and named_gz)) and not gzipped:
            declared = "the contract declares gzip" if self.compression == "gzip" else "it is named .gz"
            raise UnreadableFile("not_gzip", f"{declared} but its bytes are not gzip ({_first_bytes(local)})")
        if gzipped if self.compression == "auto" else self.compression == "gzip":
            return local, text_suffix + ".gz"
        packed = local.with_suffix(".gz")
        with (
            local.open("rb") as plain,
            gzip.GzipFile(packed, "wb", compresslevel=RAW_GZIP_LEVEL, mtime=0) as out,
        ):
            shutil.copyfileobj(plain, out, 8 * 1024 * 1024)
        log.debug("Compressed %s for the raw zone", key)
        return packed, text_suffix + ".gz"


class UnreadableFile(ValueError):
    """A landing file that cannot be read at all; ``reason`` is the code its quarantine record keeps."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LandingFileError(Exception):
    """A landing file could not be fetched; names it (the cause says whether a retry may help)."""


UNREADABLE: tuple[type[BaseException], ...] = (
    ValueError,  # UnreadableFile, UnicodeDecodeError, pyarrow's ArrowInvalid ("not a parquet file")
    EOFError,  # a truncated gzip stream
    zlib.error,
    gzip.BadGzipFile,
    csv.Error,  # e.g. a field over the field size limit
)
"""What reading a landing file raises when its bytes are the problem: the file is quarantined whole.

Anything else (a full disk, a bug) is not the file's fault and fails the task instead."""

# Signatures of formats that are never CSV or JSON Lines text.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a zip archive (or an xlsx workbook)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE document (e.g. an xls workbook)"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "gzip data inside the file (compressed twice, or declared uncompressed)"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"ORC", "an ORC file"),
    (b"Obj\x01", "an Avro file"),
)
TEXT_SAMPLE_BYTES = 64 * 1024
MAX_BAD_TEXT_SHARE = 0.2
"""Above this share of undecodable or control characters in the sample, the file is not text at all;
below it, a bad byte is a problem of its row (the curate reader quarantines that row)."""
_CONTROL = frozenset(map(chr, [*range(32), *range(0x7F, 0xA0)])) - {"\t", "\n", "\r", "\x0b", "\x0c"}
"""C0 and C1 control characters but the blanks: text files hardly hold them, binary data is full of them."""


def check_text(path: Path, *, encoding: str, file_format: str) -> None:
    """Raise :class:`UnreadableFile` when a (gzip) text file is plainly not text in ``encoding``.

    Looks at the first 64 KiB only: binary formats announce themselves there, and a file that is text
    but has a few bad bytes is read row by row, its bad rows quarantined with their line.
    """
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as handle:
        sample = handle.read(TEXT_SAMPLE_BYTES)
    label = "CSV" if file_format == "csv" else "JSON Lines"
    bom_free = sample.removeprefix(b"\xef\xbb\xbf")
    for signature, what in _SIGNATURES:
        if bom_free.startswith(signature) and not (signature == b"BZh" and bom_free[3:4] not in b"123456789"):
            raise UnreadableFile("not_declared_format", f"declared {label} but it is {what}")
    if not sample:
        return
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    bad = sum(1 for char in text if char == "\ufffd" or char in _CONTROL)
    if text and bad / len(text) > MAX_BAD_TEXT_SHARE:
        raise UnreadableFile(
            "undecodable",
            f"declared {label} in {encoding} but {bad / len(text):.0%} of the first {len(sample)} bytes "
            f"are not {encoding} text (binary data, or another encoding)",
        )


def poison_reason(error: BaseException) -> tuple[str, str]:
    """``(reason code, what is wrong)`` for an error of :data:`UNREADABLE`."""
    if isinstance(error, UnreadableFile):
        return error.reason, str(error)
    if isinstance(error, EOFError | zlib.error | gzip.BadGzipFile):
        return "corrupt_compression", f"the gzip stream is truncated or corrupt ({error})"
    if isinstance(error, csv.Error):
        if "field larger than field limit" in str(error):
            return "field_too_large", f"a field is larger than the reader accepts ({error})"
        return "malformed", f"cannot be read as CSV ({error})"
    if isinstance(error, UnicodeDecodeError):
        return "undecodable", f"not valid {error.encoding} text ({error})"
    if type(error).__module__.startswith("pyarrow"):
        return "not_declared_format", f"declared Parquet but it cannot be read as Parquet ({error})"
    return "unreadable", f"cannot be read ({type(error).__name__}: {error})"


def _first_bytes(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    return f"starts with {head!r}" if head else "empty"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def count_rows(
    path: Path,
    file_format: str,
    *,
    csv_delimiter: str = ",",
    header: bool = True,
    csv_options: Any = None,
    columns: int | None = None,
) -> int:
    """Physical records in a landed file, counted exactly as curate's readers will count them, so
    ingest's ``rows`` and curate's ``read`` agree (:func:`airlake.curate.readers.count_records`)."""
    from airlake.curate.readers import count_records

    if file_format == "csv" and csv_options is None:
        from airlake.contracts import CsvOptions

        csv_options = CsvOptions(delimiter=csv_delimiter, header=header)
    return count_records(path, file_format, csv_options, columns=columns)
