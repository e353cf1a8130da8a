"""A lake with objects in every zone and several storage classes, and materialise manifests of two views."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from airlake.lake import manifest_attempt_key
from airlake.manifest import Manifest

V1 = "20261120T050000000000Z"
EVIL = "<img src=x onerror=alert(1)>&\"'"
"""A dataset name an S3 key may hold: it must reach the HTML escaped."""

# key -> (size, storage class, zone, dataset): the expectation is written out, not derived
OBJECTS: dict[str, tuple[int, str, str, str]] = {
    "raw/orders/ingest_date=2026-11-20/run=r1/part-00000.jsonl.gz": (1000, "STANDARD", "raw", "orders"),
    "raw/orders/ingest_date=2026-11-20/run=r1/part-00001.jsonl.gz": (1500, "STANDARD", "raw", "orders"),
    "raw/orders/ingest_date=2026-06-01/run=r0/part-00000.jsonl.gz": (5000, "GLACIER", "raw", "orders"),
    "raw/payments/ingest_date=2026-09-01/run=r0/part-00000.jsonl.gz": (
        3000,
        "STANDARD_IA",
        "raw",
        "payments",
    ),
    f"curated/orders/dt=2026-11-20/v={V1}/part-00000.parquet": (2500, "STANDARD", "curated", "orders"),
    f"curated/orders/dt=2026-11-20/v={V1}/part-00001.parquet": (2600, "STANDARD", "curated", "orders"),
    f"curated/orders/dt=2026-08-01/v={V1}/part-00000.parquet": (7000, "DEEP_ARCHIVE", "curated", "orders"),
    f"curated/orders/dt=2026-09-01/v={V1}/part-00000.parquet": (1234, "GLACIER_IR", "curated", "orders"),
    f"curated/{EVIL}/dt=2026-11-20/v={V1}/part-00000.parquet": (77, "STANDARD", "curated", EVIL),
    "quarantine/orders/dt=2026-11-20/run=r1/rejects.jsonl.gz": (300, "STANDARD", "quarantine", "orders"),
    f"analytics/funnel_daily/dt=2026-11-20/v={V1}/part-00000.parquet": (
        800,
        "STANDARD",
        "analytics",
        "funnel_daily",
    ),
    "_state/orders/ingest.json": (40, "STANDARD", "_state", "orders"),
    "landing/products/2026-11-20/products-1.csv.gz": (90, "STANDARD", "landing", "products"),
    "_health/probe.txt": (21, "STANDARD", "other", "_health"),
    "README.txt": (10, "STANDARD", "other", "-"),
}

SCANS = {
    # view -> [(run id, bytes scanned)], written in this order, a second apart: the last one counts
    "funnel_daily": [
        ("scheduled__2026-11-22T00_00_00_00_00", 999_999_999),
        ("manual__2026-11-21", 123_456_789),
    ],
    "daily_sales": [("scheduled__2026-11-22T00_00_00_00_00", 1000)],
}
LAST_SCANS = {"funnel_daily": 123_456_789, "daily_sales": 1000}


@dataclass
class PopulatedLake:
    store: Any
    expected: dict[str, tuple[str, str]] = field(default_factory=dict)
    """key -> (zone, dataset) of every object the report must count."""


@pytest.fixture
def populated(lake) -> PopulatedLake:
    client = lake.client
    for key, (size, storage_class, _zone, _dataset) in OBJECTS.items():
        client.put_object(
            Bucket=lake.bucket,
            Key=key,
            Body=b"x" * size,
            StorageClass=storage_class,
            ServerSideEncryption="AES256",
        )
    result = PopulatedLake(lake, {key: (zone, dataset) for key, (_s, _c, zone, dataset) in OBJECTS.items()})
    for view, runs in SCANS.items():
        for index, (run_id, scanned) in enumerate(runs):
            if index:
                time.sleep(1.1)  # S3's LastModified has one-second resolution
            manifest = Manifest(dataset=f"analytics_{view}", run_id=run_id, stage="materialise")
            manifest.interval = {"ds": "2026-11-21"}
            manifest.extra = {"table": view, "bytes_scanned": scanned}
            key = manifest.write(lake)
            result.expected[key] = ("_manifests", f"analytics_{view}")
            attempt = manifest_attempt_key(manifest.dataset, run_id, "materialise", manifest.attempt or 1)
            result.expected[attempt] = ("_manifests", f"analytics_{view}")  # every attempt is kept
    ingest = Manifest(dataset="orders", run_id="r1", stage="ingest")
    result.expected[ingest.write(lake)] = ("_manifests", "orders")
    result.expected[manifest_attempt_key("orders", "r1", "ingest", 1)] = ("_manifests", "orders")
    return result
