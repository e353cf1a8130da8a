"""Helpers of the curate tests: land raw parts as an ingest run would, a dict-backed catalog, readers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from airlake.contracts import Contract
from airlake.lake import manifest_key, raw_run_prefix
from airlake.store import LakeStore

INGEST_DATE = date(2026, 11, 20)


def json_line(record: dict[str, Any]) -> str:
    """One JSON line; a Decimal value is written as a JSON number with exactly its digits."""
    numbers = {f"@@{i}@@": str(v) for i, v in enumerate(record.values()) if isinstance(v, Decimal)}
    tokens = iter(numbers)
    plain = {k: (next(tokens) if isinstance(v, Decimal) else v) for k, v in record.items()}
    line = json.dumps(plain)
    for token, text in numbers.items():
        line = line.replace(f'"{token}"', text)
    return line


def jsonl(records: Iterable[dict[str, Any] | str]) -> bytes:
    """gzip JSON Lines; a str is written as the line itself (to make bad lines)."""
    lines = [r if isinstance(r, str) else json_line(r) for r in records]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def csv_gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def land_run(
    store: LakeStore,
    dataset: str,
    run_id: str,
    parts: list[tuple[str, bytes]],
    *,
    ingest_date: date = INGEST_DATE,
) -> list[str]:
    """Put raw parts (suffix, body) and a complete ingest manifest, as IngestOperator leaves them."""
    prefix = raw_run_prefix(dataset, ingest_date, run_id)
    outputs = []
    for index, (suffix, body) in enumerate(parts):
        key = f"{prefix}part-{index:05d}{suffix}"
        store.put_bytes(key, body)
        rows = _count(suffix, body)
        outputs.append(
            {"key": key, "bytes": len(body), "rows": rows, "sha256": hashlib.sha256(body).hexdigest()}
        )
    store.put_json(
        manifest_key(dataset, run_id, "ingest"),
        {
            "dataset": dataset,
            "run_id": run_id,
            "stage": "ingest",
            "status": "complete",
            "interval": {"start": f"{ingest_date.isoformat()}T00:00:00+00:00", "end": ""},
            "outputs": outputs,
            "rows": {"read": sum(o["rows"] for o in outputs), "landed": sum(o["rows"] for o in outputs)},
        },
    )
    return [o["key"] for o in outputs]


def _count(suffix: str, body: bytes) -> int:
    if suffix.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
    text = gzip.decompress(body).decode()
    if ".csv" in suffix:
        import csv

        return max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
    return sum(1 for line in text.splitlines() if line.strip())


@dataclass
class Catalog:
    """A dict-backed stand-in of the Glue catalog: dt -> live location."""

    live: dict[str, str] = field(default_factory=dict)

    def lookup(self, dt: str) -> str | None:
        return self.live.get(dt)

    def publish(self, summary: dict[str, Any]) -> None:
        for partition in summary["partitions"]:
            self.live[partition["dt"]] = partition["location"]


def read_bytes(store: LakeStore, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def read_partition(store: LakeStore, partition: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one partition version of a curate manifest, in file order."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for key in partition["files"]:
        rows.extend(pq.read_table(io.BytesIO(read_bytes(store, key))).to_pylist())
    return rows


def read_rejects(store: LakeStore, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(read_bytes(store, key)).splitlines() if line]


def make_contract(**changes: Any) -> Contract:
    """A small contract with one column of every type; ``changes`` replace top-level sections."""
    document: dict[str, Any] = {
        "name": "widgets",
        "description": "Every type once, for the curate tests.",
        "owner": "tests",
        "source": {"kind": "sqs", "queue_name": "widgets"},
        "schema": [
            {"name": "widget_id", "type": "bigint", "nullable": False},
            {"name": "name", "type": "string", "nullable": False},
            {"name": "active", "type": "boolean"},
            {"name": "rank", "type": "int"},
            {"name": "weight", "type": "double"},
            {"name": "price", "type": "decimal(6,2)", "nullable": False},
            {"name": "made_on", "type": "date"},
            {"name": "local_time", "type": "timestamp"},
            {"name": "event_time", "type": "timestamptz", "nullable": False},
            {"name": "color", "type": "string"},
        ],
        "primary_key": ["widget_id"],
        "event_time": "event_time",
        "dedup": {"keep": "latest", "order_by": "event_time"},
        "quality": {
            "reject_rate_max": 1.0,
            "checks": [
                {"kind": "range", "column": "rank", "min": 1, "max": 10},
                {"kind": "accepted_values", "column": "color", "values": ["red", "blue"]},
            ],
        },
    }
    document.update(changes)
    return Contract.model_validate(document)
