"""Deterministic clickstream events for the benchmarks: CSV, gzip CSV and JSON Lines of the same rows.

The rows follow the ``clickstream`` contract (include/contracts/clickstream.yaml): one ISO week of
events (2026-11-16 .. 2026-11-22, seven ``dt`` partitions), roughly in time order as a tracking
pipeline delivers them. To make the work realistic a small, fixed share of the lines are

- exact duplicates of a recent good event (at-least-once delivery): ``DUPLICATE_SHARE``;
- bad rows that curate must quarantine: ``BAD_SHARE``, spread over several reasons (event type not
  accepted, timestamp that is not one, missing session id; in CSV also a non-integer user id and a
  row with an extra field).

JSON Lines bad rows are all valid JSON objects with string values (pyarrow's JSON reader has no way to
skip a broken line, and the anchors must read the same file). The generator counts what it wrote, so
every engine's output can be checked against the same expectation: ``written = rows - bad -
duplicates``. Files and their counts are cached in the work folder by (rows, seed).
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import itertools
import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

COLUMNS = (
    "event_id",
    "session_id",
    "user_id",
    "event_type",
    "product_id",
    "platform",
    "event_time",
    "app_version",
)
FORMATS = ("csv", "csv.gz", "jsonl")
WEEK_START = date(2026, 11, 16)  # a Monday: the ISO week 2026-W47 holds every event
DAYS = 7
DATES = tuple((WEEK_START + timedelta(days=i)).isoformat() for i in range(DAYS))
DUPLICATE_SHARE = 0.02
BAD_SHARE = 0.005
PRODUCTS = 5_000
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
EVENT_WEIGHTS = (50, 30, 10, 6, 4)
PLATFORMS = ("web", "ios", "android")
PLATFORM_WEIGHTS = (55, 25, 20)
APP_VERSIONS = {
    "web": ("w-2026.11.2", "w-2026.11.3"),
    "ios": ("5.3.1", "5.4.0"),
    "android": ("8.1.0", "8.2.1"),
}
GZIP_LEVEL = 6  # what a partner's exporter typically writes
_CHUNK_ROWS = 50_000
_RECENT = 2_000
_CSV_BAD_KINDS = ("not_accepted", "bad_timestamp", "null_value", "wrong_type", "bad_csv_row")
_JSON_BAD_KINDS = ("not_accepted", "bad_timestamp", "null_value")
DEFAULT_SEED = 20261120


@dataclass
class Dataset:
    """Generated input files of one size, and what any correct curate must make of them."""

    rows: int
    seed: int
    folder: Path
    bad: int = 0
    duplicates: int = 0
    written: int = 0
    bad_by_kind: dict[str, int] = field(default_factory=dict)
    written_by_dt: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self, fmt: str) -> Path:
        return self.folder / f"events.{fmt}"

    def file_bytes(self, fmt: str) -> int:
        return int(self.files[fmt]["bytes"])

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["folder"] = str(self.folder)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dataset:
        return cls(**{**data, "folder": Path(data["folder"])})


def _uuid(bits: int) -> str:
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{text[16:20]}-{text[20:32]}"


class _Rows:
    """The row stream: ``(csv line, json line)`` pairs, and the counts of what was produced."""

    def __init__(self, rows: int, seed: int) -> None:
        self.total = rows
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.sessions = max(rows // 20, 1)
        self.users = max(rows // 50, 10)
        self.skus = [f"SKU-{i:05d}" for i in range(1, PRODUCTS + 1)]
        self.sku_cum = list(itertools.accumulate(1.0 / (i**0.8) for i in range(1, PRODUCTS + 1)))
        self.event_cum = list(itertools.accumulate(EVENT_WEIGHTS))
        self.platform_cum = list(itertools.accumulate(PLATFORM_WEIGHTS))
        self.recent: list[tuple[str, str]] = []
        self.bad = 0
        self.duplicates = 0
        self.bad_by_kind: dict[str, int] = {}
        self.written_by_dt: dict[str, int] = dict.fromkeys(DATES, 0)

    def _time(self, index: int) -> tuple[str, str]:
        """(ISO timestamp with milliseconds, dt): time runs through the week with +-5 minutes of jitter."""
        week_ms = DAYS * 86_400_000
        ms = int(index / self.total * week_ms) + self.rng.randrange(-300_000, 300_000)
        ms = min(max(ms, 0), week_ms - 1)
        day, rest = divmod(ms, 86_400_000)
        seconds, millis = divmod(rest, 1000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        dt = DATES[day]
        return f"{dt}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z", dt

    def _good(self, index: int) -> tuple[list[Any], str]:
        rng = self.rng
        event_type = EVENT_TYPES[bisect.bisect(self.event_cum, rng.random() * self.event_cum[-1])]
        platform = PLATFORMS[bisect.bisect(self.platform_cum, rng.random() * self.platform_cum[-1])]
        product = (
            self.skus[bisect.bisect(self.sku_cum, rng.random() * self.sku_cum[-1])]
            if event_type in ("product_view", "add_to_cart", "purchase")
            else None
        )
        user = rng.randrange(1, self.users) if rng.random() < 0.6 else None
        version = rng.choice(APP_VERSIONS[platform]) if rng.random() < 0.9 else None
        stamp, dt = self._time(index)
        values = [
            _uuid(rng.getrandbits(128)),
            f"s-{rng.randrange(self.sessions):09d}",
            user,
            event_type,
            product,
            platform,
            stamp,
            version,
        ]
        return values, dt

    def lines(self) -> Any:
        """Yield (csv line, json line) for every row."""
        rng = self.rng
        for index in range(self.total):
            draw = rng.random()
            if draw < DUPLICATE_SHARE and self.recent:
                self.duplicates += 1
                yield self.recent[rng.randrange(len(self.recent))]
                continue
            values, dt = self._good(index)
            if draw < DUPLICATE_SHARE + BAD_SHARE:
                kind = _CSV_BAD_KINDS[self.bad % len(_CSV_BAD_KINDS)]
                json_kind = _JSON_BAD_KINDS[self.bad % len(_JSON_BAD_KINDS)]
                self.bad += 1
                self.bad_by_kind[kind] = self.bad_by_kind.get(kind, 0) + 1
                yield (
                    _csv(_spoil(values, kind), extra=kind == "bad_csv_row"),
                    _json(_spoil(values, json_kind)),
                )
                continue
            pair = (_csv(values), _json(values))
            self.written_by_dt[dt] += 1
            if len(self.recent) < _RECENT:
                self.recent.append(pair)
            else:
                self.recent[rng.randrange(_RECENT)] = pair
            yield pair


def _spoil(values: list[Any], kind: str) -> list[Any]:
    bad = list(values)
    if kind == "not_accepted":
        bad[3] = "scroll"
    elif kind == "bad_timestamp":
        bad[6] = "yesterday"
    elif kind == "null_value":
        bad[1] = None
    elif kind == "wrong_type":
        bad[2] = "u-42"
    return bad


def _csv(values: list[Any], *, extra: bool = False) -> str:
    line = ",".join("" if value is None else str(value) for value in values)
    return line + ",unexpected" if extra else line


def _json(values: list[Any]) -> str:
    """One JSON object; the values are plain ASCII without quotes or backslashes, so no escaping."""
    parts = []
    for name, value in zip(COLUMNS, values, strict=True):
        if value is None:
            text = "null"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = f'"{value}"'
        parts.append(f'"{name}":{text}')
    return "{" + ",".join(parts) + "}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(path: Path) -> dict[str, Any]:
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": _sha256(path)}


def dataset(
    work_dir: Path, rows: int, formats: tuple[str, ...] = FORMATS, *, seed: int = DEFAULT_SEED
) -> Dataset:
    """The generated files of ``rows`` events (made once, then reused from ``work_dir``)."""
    folder = work_dir / "inputs" / f"events-{rows}-{seed}"
    meta_path = folder / "dataset.json"
    data = Dataset.from_dict(json.loads(meta_path.read_text())) if meta_path.exists() else None
    if data is None or not {"csv", "jsonl"} <= set(data.files):
        data = _generate(folder, rows, seed)
    if "csv.gz" in formats and "csv.gz" not in data.files:
        target = data.path("csv.gz")
        partial = target.with_suffix(".partial")
        with data.path("csv").open("rb") as plain, gzip.GzipFile(partial, "wb", GZIP_LEVEL, mtime=0) as out:
            shutil.copyfileobj(plain, out, 8 * 1024 * 1024)
        partial.replace(target)
        data.files["csv.gz"] = _describe(target)
    meta_path.write_text(json.dumps(data.as_dict(), indent=2, sort_keys=True))
    return data


def _generate(folder: Path, rows: int, seed: int) -> Dataset:
    folder.mkdir(parents=True, exist_ok=True)
    stream = _Rows(rows, seed)
    csv_path, json_path = folder / "events.csv", folder / "events.jsonl"
    with (
        csv_path.open("w", encoding="utf-8", newline="") as csv_out,
        json_path.open("w", encoding="utf-8") as js,
    ):
        csv_out.write(",".join(COLUMNS) + "\n")
        csv_chunk: list[str] = []
        json_chunk: list[str] = []
        for csv_line, json_line in stream.lines():
            csv_chunk.append(csv_line)
            json_chunk.append(json_line)
            if len(csv_chunk) >= _CHUNK_ROWS:
                csv_out.write("\n".join(csv_chunk) + "\n")
                js.write("\n".join(json_chunk) + "\n")
                csv_chunk, json_chunk = [], []
        if csv_chunk:
            csv_out.write("\n".join(csv_chunk) + "\n")
            js.write("\n".join(json_chunk) + "\n")
    data = Dataset(
        rows=rows,
        seed=seed,
        folder=folder,
        bad=stream.bad,
        duplicates=stream.duplicates,
        written=rows - stream.bad - stream.duplicates,
        bad_by_kind=dict(sorted(stream.bad_by_kind.items())),
        written_by_dt=stream.written_by_dt,
    )
    data.files = {"csv": _describe(csv_path), "jsonl": _describe(json_path)}
    return data


def products_rows(seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The product catalogue the weekly popularity view joins: one row per SKU of the events."""
    from datetime import UTC, datetime

    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data
    categories = ("shoes", "shirts", "bags", "hats", "socks", "coats")
    updated = datetime(2026, 11, 10, tzinfo=UTC)
    return [
        {
            "product_id": f"SKU-{i:05d}",
            "name": f"Product {i}",
            "category": rng.choice(categories),
            "price": f"{rng.randrange(500, 20_000) / 100:.2f}",
            "currency": "EUR",
            "updated_at": updated,
            "brand": None,
        }
        for i in range(1, PRODUCTS + 1)
    ]
