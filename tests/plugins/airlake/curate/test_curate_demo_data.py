"""Curate on a day of the demo shop's data: what the generator says is clean is exactly what is curated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airlake.contracts import get_contract
from airlake.curate import run_curate
from tests.plugins.airlake.curate.curate_helpers import csv_gz, jsonl, land_run, read_partition, read_rejects

shop = pytest.importorskip("include.demo.shop")
RUN = "scheduled__2026-11-20T00:00:00+00:00"


def _utc_day(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).date().isoformat()


def test_clickstream_day(lake, catalog, tmp_path) -> None:
    day = shop.generate_day("2026-11-20")
    records = day.clickstream
    land_run(lake, "clickstream", RUN, [(".jsonl.gz", jsonl([r.body for r in records]))])

    summary = run_curate(
        get_contract("clickstream"), lake, run_id=RUN, live_location=catalog.lookup, work_dir=tmp_path / "w"
    ).summary

    clean = [r.value for r in records if not r.has(shop.MALFORMED)]
    expected = {(_utc_day(v["event_time"]), v["event_id"]) for v in clean}
    manifest = lake.get_json(summary["manifest"])
    got = {(p["dt"], row["event_id"]) for p in manifest["partitions"] for row in read_partition(lake, p)}
    assert got == expected
    assert summary["rows"]["quarantined"] == sum(r.has(shop.MALFORMED) for r in records)
    assert summary["rows"]["duplicates_dropped"] == sum(r.has(shop.DUPLICATE) for r in records)
    assert len({dt for dt, _ in got}) > 1  # late sessions landed in earlier partitions
    assert {r["reason"] for r in read_rejects(lake, summary["quarantine"])} <= {
        "not_json",
        "bad_timestamp",
        "missing_field",
    }


def test_products_snapshot_day_with_the_brand_column(lake, catalog, tmp_path) -> None:
    day = shop.generate_day("2026-11-23")  # a Monday: the full catalog snapshot
    files = day.product_files()
    land_run(lake, "products", RUN, [(".csv.gz", csv_gz(text)) for _, text in files])

    summary = run_curate(
        get_contract("products"), lake, run_id=RUN, live_location=catalog.lookup, work_dir=tmp_path / "w"
    ).summary

    manifest = lake.get_json(summary["manifest"])
    rows = [row for p in manifest["partitions"] for row in read_partition(lake, p)]
    clean = {r.value["product_id"] for r in day.products if not r.has(shop.MALFORMED)}
    assert {row["product_id"] for row in rows} == clean
    assert any(row["brand"] for row in rows)
    assert summary["rows"]["quarantined"] == 1
