"""The storage report against moto: its numbers equal a direct listing, its costs bytes x price."""

from __future__ import annotations

import json
import math
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from airlake.report import (
    GIB,
    TIB,
    UsageScan,
    build_document,
    classify,
    load_price_table,
    render_html,
    report_keys,
    scan_buckets,
    storage_report,
    summary_lines,
)
from airlake.report.pricing import DEFAULT_PRICING_FILE
from tests.helpers import read_object
from tests.plugins.airlake.report.conftest import EVIL, LAST_SCANS, OBJECTS

DATE = "2026-11-22"
REGION = "eu-west-1"
MIB = 1024**2


def _prices() -> dict[str, Any]:
    """The region's prices read straight from the YAML (not through the loader under test)."""
    return yaml.safe_load(DEFAULT_PRICING_FILE.read_text())["regions"][REGION]


def _direct_listing(store) -> list[dict[str, Any]]:
    """Every object of the bucket, by hand: ListObjectsV2 and its continuation token."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": store.bucket}
    while True:
        page = store.client.list_objects_v2(**kwargs)
        items.extend(page.get("Contents", []))
        if not page.get("IsTruncated"):
            return items
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("curated/orders/dt=2026-11-20/v=1/part.parquet", ("curated", "orders"), id="curated"),
        pytest.param("_manifests/orders/run/ingest.json", ("_manifests", "orders"), id="manifests"),
        pytest.param("raw/file-at-zone-root", ("raw", "-"), id="no-dataset"),
        pytest.param("_health/probe.txt", ("other", "_health"), id="unknown-zone"),
        pytest.param("landing/products/2026-11-20/products-1.csv.gz", ("landing", "products"), id="landing"),
        pytest.param("README.txt", ("other", "-"), id="bucket-root"),
    ],
)
def test_classify(key: str, expected: tuple[str, str]) -> None:
    assert classify(key) == expected


def test_report_keys() -> None:
    assert report_keys(DATE) == (f"reports/storage/{DATE}/report.json", f"reports/storage/{DATE}/report.html")
    for bad in ("2026-13-01", "22/11/2026", "../x"):
        with pytest.raises(ValueError):
            report_keys(bad)


def test_report_equals_a_direct_listing(populated) -> None:
    lake = populated.store
    listing = _direct_listing(lake)  # before the report writes itself into the bucket
    assert {item["Key"] for item in listing} == set(populated.expected)

    document = storage_report(
        lake, report_date=DATE, region=REGION, page_size=4, now=datetime(2026, 11, 22, tzinfo=UTC)
    )

    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in listing:
        zone, dataset = populated.expected[item["Key"]]
        cell = cells[(zone, dataset, item.get("StorageClass", "STANDARD"))]
        cell[0] += 1
        cell[1] += item["Size"]
    # the storage classes put directly are what S3 lists
    for key, (_size, storage_class, _z, _d) in OBJECTS.items():
        assert next(i for i in listing if i["Key"] == key)["StorageClass"] == storage_class

    prices = _prices()["storage_gb_month"]
    got = {
        (d["zone"], d["dataset"], c): [split["objects"], split["bytes"]]
        for d in document["by_dataset"]
        for c, split in d["by_storage_class"].items()
    }
    assert got == dict(cells)
    for d in document["by_dataset"]:
        for c, split in d["by_storage_class"].items():
            assert split["monthly_cost_usd"] == pytest.approx(split["bytes"] * prices[c] / GIB, rel=1e-12)

    by_zone: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (zone, _dataset, storage_class), (objects, size) in cells.items():
        by_zone[zone][0] += objects
        by_zone[zone][1] += size
        by_class[storage_class][0] += objects
        by_class[storage_class][1] += size
    assert {z["zone"]: [z["objects"], z["bytes"]] for z in document["by_zone"]} == dict(by_zone)
    assert [z["zone"] for z in document["by_zone"]] == [
        "landing",
        "raw",
        "curated",
        "quarantine",
        "analytics",
        "_manifests",
        "_state",
        "other",
    ]
    assert {c["storage_class"]: [c["objects"], c["bytes"]] for c in document["by_storage_class"]} == dict(
        by_class
    )
    assert {"STANDARD", "STANDARD_IA", "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"} == set(by_class)

    storage_cost = sum(size * prices[c] / GIB for c, (_n, size) in by_class.items())
    for c in document["by_storage_class"]:
        assert c["monthly_cost_usd"] == pytest.approx(
            by_class[c["storage_class"]][1] * prices[c["storage_class"]] / GIB
        )
    for z in document["by_zone"]:
        expected = sum(
            size * prices[c] / GIB for (zone, _d, c), (_n, size) in cells.items() if zone == z["zone"]
        )
        assert z["monthly_cost_usd"] == pytest.approx(expected, rel=1e-12)

    # Athena: the newest materialise manifest of each view, priced per TB with the 10 MB minimum
    athena = _prices()["athena"]
    billed = sum(max(math.ceil(b / MIB), athena["minimum_mb_per_query"]) * MIB for b in LAST_SCANS.values())
    section = document["athena"]
    assert {q["view"]: q["bytes_scanned"] for q in section["queries"]} == LAST_SCANS
    assert {q["view"]: q["run_id"] for q in section["queries"]}["funnel_daily"] == "manual__2026-11-21"
    assert section["last_run_bytes_scanned"] == sum(LAST_SCANS.values())
    assert section["last_run_billed_bytes"] == billed
    assert section["last_run_cost_usd"] == pytest.approx(billed / TIB * athena["per_tb_scanned"])
    assert section["monthly_cost_usd"] == pytest.approx(30 * billed / TIB * athena["per_tb_scanned"])

    totals = document["totals"]
    assert totals["objects"] == len(listing)
    assert totals["bytes"] == sum(item["Size"] for item in listing)
    assert totals["storage_monthly_cost_usd"] == pytest.approx(storage_cost, rel=1e-12)
    assert totals["monthly_cost_usd"] == pytest.approx(storage_cost + section["monthly_cost_usd"])
    assert document["pricing"]["region"] == REGION and document["pricing"]["as_of"]
    assert document["warnings"] == []


def test_report_is_written_encrypted_and_matches(populated) -> None:
    lake = populated.store
    document = storage_report(lake, report_date=DATE, region="us-east-1")
    json_key, html_key = report_keys(DATE)
    assert (document["json_key"], document["html_key"]) == (json_key, html_key)
    for key in (json_key, html_key):
        assert lake.head(key)["ServerSideEncryption"] == "AES256"
    assert lake.head(html_key)["ContentType"].startswith("text/html")
    stored = json.loads(read_object(lake, json_key))
    assert stored == json.loads(
        json.dumps({k: v for k, v in document.items() if not k.endswith("_key")}, default=str)
    )

    # a rerun the next week counts last week's report under the zone "reports"
    again = storage_report(lake, report_date="2026-11-29", region="us-east-1")
    reports = next(z for z in again["by_zone"] if z["zone"] == "reports")
    assert reports["objects"] == 2


def test_html_holds_the_numbers_and_escapes_names(populated) -> None:
    lake = populated.store
    document = storage_report(lake, report_date=DATE, region=REGION)
    html = read_object(lake, report_keys(DATE)[1]).decode("utf-8")
    assert html == render_html(document)

    assert f"{document['totals']['objects']:,}" in html
    assert f"{document['totals']['bytes']:,} bytes" in html
    for zone in document["by_zone"]:
        assert (
            f"<td>{zone['zone']}</td><td class=n>{zone['objects']:,}</td><td class=n>{zone['bytes']:,}</td>"
            in html
        )
    for entry in document["by_storage_class"]:
        assert (
            f"<td>{entry['storage_class']}</td><td class=n>{entry['objects']:,}</td><td class=n>{entry['bytes']:,}</td>"
            in html
        )
    assert f"{document['athena']['last_run_bytes_scanned']:,} bytes" in html
    assert html.count("<svg") >= 5

    # the malicious dataset name is there, escaped, in tables and charts alike
    assert EVIL not in html
    assert "<img" not in html
    escaped = "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#x27;"
    assert html.count(escaped) >= 2
    # self-contained: nothing to run or fetch
    for tag in ("<script", "<link", "<iframe", "url("):
        assert tag not in html


def test_unknown_storage_class_is_reported_not_priced() -> None:
    scan = UsageScan()
    scan.add("b", {"Key": "raw/orders/x", "Size": 2 * GIB, "StorageClass": "STANDARD"})
    scan.add("b", {"Key": "raw/orders/y", "Size": GIB, "StorageClass": "REDUCED_REDUNDANCY"})
    table = load_price_table()
    document = build_document(scan, table, "us-east-1", report_date=DATE)
    price = table.region("us-east-1").storage_gb_month["STANDARD"]
    assert document["totals"]["storage_monthly_cost_usd"] == pytest.approx(2 * price)
    assert document["warnings"] == [
        "no us-east-1 price for storage class REDUCED_REDUNDANCY: its 1,073,741,824 bytes (1 objects) "
        "are left out of the cost"
    ]
    reduced = next(c for c in document["by_storage_class"] if c["storage_class"] == "REDUCED_REDUNDANCY")
    assert reduced["monthly_cost_usd"] is None
    assert "n/a" in render_html(document)
    assert any("warning" in line for line in summary_lines(document))


class _Paginator:
    """Pages of a huge bucket made up on the fly: nothing is kept between pages."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def paginate(self, **_kwargs: Any):
        classes = ("STANDARD", "STANDARD_IA", "GLACIER")
        for page in range(self.pages):
            yield {
                "Contents": [
                    {
                        "Key": f"curated/ds{n % 3}/dt=2026-11-{n % 28 + 1:02d}/v=1/part-{n:09d}.parquet",
                        "Size": 1000,
                        "StorageClass": classes[n % 3],
                    }
                    for n in range(page * 1000, page * 1000 + 1000)
                ]
            }


class _Client:
    def __init__(self, pages: int) -> None:
        self.pages = pages

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator(self.pages)


def test_listing_memory_stays_flat() -> None:
    """300,000 objects are aggregated holding one page at a time (peak far below one dict per object)."""
    tracemalloc.start()
    try:
        scan = scan_buckets(_Client(300), ["huge"])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.total.objects == 300_000
    assert scan.total.bytes == 300_000_000
    assert len(scan.cells) == 3
    assert peak < 3 * 1024 * 1024, peak  # one page of 1000 entries, not 300,000
