"""The Lake page's status document on a lake the project's own operators filled (moto S3 and Glue).

Two orders runs are landed like IngestOperator leaves them, curated by CurateOperator and published by
CatalogOperator; then the storage report and a business report are written by their own code. Every
number of the document must equal what the manifests, the quarantine file, Glue and the storage report
say, read back here independently.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

import pytest

from airlake.contracts import get_contract
from airlake.lake import manifest_key
from airlake.operators.catalog import CatalogOperator
from airlake.operators.curate import CurateOperator
from airlake.report.business import write_report
from airlake.report.storage import storage_report
from airlake.status import FRESH, NO_DATA, STALE, StatusCache, lake_status, list_bounded
from tests.plugins.airlake.curate.curate_helpers import jsonl, land_run
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, order
from tests.plugins.airlake.report.test_business import demo_report

RUN_1 = "scheduled__2026-11-20T00:00:00+00:00"
RUN_2 = "scheduled__2026-11-21T00:00:00+00:00"
DAY_2 = date(2026, 11, 21)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BAD_LINES = ["not json at all", '{"order_id": "x"}']


def _context(run_id: str, day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"run_id": run_id, "data_interval_start": start, "data_interval_end": start + timedelta(days=1)}


def _day_2() -> list[dict[str, Any] | str]:
    """50 orders of 11-21, one exact duplicate and two lines curate must quarantine (4% of 53 rows)."""
    orders = [order(100 + i, "placed", "2026-11-21T10:00:00Z", "2026-11-21T10:00:00Z") for i in range(50)]
    return [*orders, orders[0], *BAD_LINES]


@pytest.fixture(scope="module")
def lake(local_services):
    """One lake for the module (the operators' runs are the slow part): bucket, Glue client, database."""
    import uuid

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import LakeStore

    store = LakeStore(S3Hook(aws_conn_id="aws_default"), f"airlake-status-{uuid.uuid4().hex[:10]}")
    store.ensure_bucket()
    return store


@pytest.fixture(scope="module")
def glue(local_services):
    import boto3

    return boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def database(glue) -> Iterator[str]:
    import uuid

    name = f"airlake_status_{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        for table in glue.get_tables(DatabaseName=name)["TableList"]:
            glue.delete_table(DatabaseName=name, Name=table["Name"])
        glue.delete_database(Name=name)


@pytest.fixture(scope="module")
def filled(lake, glue, database) -> dict[str, Any]:
    """Two orders runs through curate and catalog, a moved raw object, the storage and business reports."""
    runs = (
        (RUN_1, date(2026, 11, 20), ORDERS_DAY_1),
        (RUN_2, DAY_2, _day_2()),
    )
    for run_id, day, records in runs:
        land_run(lake, "orders", run_id, [(".jsonl.gz", jsonl(records))], ingest_date=day)
        CurateOperator(task_id="curate", dataset="orders", bucket=lake.bucket, database=database).execute(
            _context(run_id, day)  # type: ignore[arg-type]
        )
        CatalogOperator(task_id="catalog", dataset="orders", bucket=lake.bucket, database=database).execute(
            {"run_id": run_id}  # type: ignore[arg-type]
        )
    # tiering moved the first raw part to Standard-IA (same copy in place as airlake.tiering does)
    raw = next(o.key for o in lake.list("raw/orders/ingest_date=2026-11-20/"))
    lake.client.copy_object(
        Bucket=lake.bucket,
        Key=raw,
        CopySource={"Bucket": lake.bucket, "Key": raw},
        StorageClass="STANDARD_IA",
        MetadataDirective="COPY",
        ServerSideEncryption="AES256",
    )
    storage = storage_report(lake, report_date="2026-11-22", region="us-east-1", now=NOW)
    business = write_report(lake, demo_report())
    return {"storage": storage, "business": business}


def _status(lake, glue, database, **kwargs: Any) -> dict[str, Any]:
    contracts = [get_contract("orders"), get_contract("clickstream")]
    return lake_status(lake, glue, database, contracts, now=NOW, **kwargs)


def test_status_equals_manifests_glue_and_reports(lake, glue, database, filled) -> None:
    status = _status(lake, glue, database)
    assert status["as_of"] == "2026-11-22T12:00:00+00:00"
    orders, clickstream = (
        next(d for d in status["datasets"] if d["dataset"] == n) for n in ("orders", "clickstream")
    )

    # Glue: the count and the newest partition, as get_partitions says
    partitions = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]
    newest = max(partitions, key=lambda p: p["Values"][0])
    assert orders["glue"]["partitions"] == len(partitions) == 4  # 11-18, 11-19, 11-20, 11-21
    assert orders["glue"]["last_partition"] == newest["Values"][0] == "2026-11-21"
    assert orders["glue"]["location"] == newest["StorageDescriptor"]["Location"]
    assert (orders["glue"]["database"], orders["glue"]["table"], orders["glue"]["table_exists"]) == (
        database,
        "orders",
        True,
    )
    # the last partition's day ended 12 hours before NOW; orders has no freshness check: one day (@daily)
    assert orders["freshness"] == {
        "last_partition": "2026-11-21",
        "rule_hours": 24.0,
        "rule": "schedule @daily",
        "age_hours": 12.0,
        "status": FRESH,
    }
    assert clickstream["freshness"]["status"] == NO_DATA and clickstream["glue"]["table_exists"] is False
    assert clickstream["freshness"]["rule"] == "quality check freshness" and clickstream["runs"] == []

    # runs, newest first, with the curate manifests' accounting
    assert [r["run_id"] for r in orders["runs"]] == [RUN_2, RUN_1]
    for shown in orders["runs"]:
        curate = lake.get_json(manifest_key("orders", shown["run_id"], "curate"))
        rows = curate["rows"]
        assert shown["rows"] == {
            "read": rows["read"],
            "written": rows["written"],
            "quarantined": rows["quarantined"],
            "duplicates": rows["duplicates_dropped"],
        }
        assert shown["published"] is True and shown["status"] == "complete"
        assert rows["read"] == rows["written"] + rows["quarantined"] + rows["duplicates_dropped"]
    assert orders["runs"][0]["rows"] == {"read": 53, "written": 50, "quarantined": 2, "duplicates": 1}
    assert orders["runs"][1]["rows"]["read"] == len(ORDERS_DAY_1)

    # quarantine: reasons summed over the runs shown, samples = the first lines of the newest rejects file
    reasons = lake.get_json(manifest_key("orders", RUN_2, "curate"))["quarantine"]["reasons"]
    assert {r["reason"]: r["rows"] for r in orders["quarantine"]["top_reasons"]} == reasons
    assert sum(reasons.values()) == 2
    key = lake.get_json(manifest_key("orders", RUN_2, "curate"))["quarantine"]["key"]
    assert orders["quarantine"]["samples_from"] == key
    body = lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
    rejects = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert [(s["line"], s["reason"], s["raw"]) for s in orders["quarantine"]["samples"]] == [
        (r["line"], r["reason"], r["raw"]) for r in rejects
    ]
    assert [s["raw"] for s in orders["quarantine"]["samples"]] == BAD_LINES

    # storage: the dataset's zones summed per class, as the storage report says
    report = filled["storage"]
    expected: dict[str, list[float]] = {}
    for entry in report["by_dataset"]:
        if entry["dataset"] == "orders":
            for storage_class, split in entry["by_storage_class"].items():
                cell = expected.setdefault(storage_class, [0, 0.0])
                cell[0] += split["bytes"]
                cell[1] += split["monthly_cost_usd"]
    shown = {c["storage_class"]: c for c in orders["storage"]["by_storage_class"]}
    assert set(shown) == set(expected) == {"STANDARD", "STANDARD_IA"}
    for storage_class, (size, cost) in expected.items():
        assert shown[storage_class]["bytes"] == size
        assert shown[storage_class]["monthly_cost_usd"] == pytest.approx(cost)
    assert orders["storage"]["bytes"] == sum(size for size, _cost in expected.values())
    assert status["storage_report"]["date"] == "2026-11-22"
    assert status["storage_report"]["totals"] == report["totals"]
    assert status["storage_report"]["by_storage_class"] == [
        {k: c[k] for k in ("storage_class", "bytes", "monthly_cost_usd")} for c in report["by_storage_class"]
    ]
    assert (status["storage_report"]["json_key"], status["storage_report"]["html_key"]) == (
        report["json_key"],
        report["html_key"],
    )
    assert status["business_report"] == {
        "week_start": demo_report()["week_start"],
        "json_key": filled["business"]["json"],
        "html_key": filled["business"]["html"],
    }
    json.dumps(status)  # the page's JSON as it is


def test_reads_are_bounded(lake, glue, database, filled) -> None:
    status = _status(lake, glue, database, runs=1, samples=1, max_keys=3)
    orders = next(d for d in status["datasets"] if d["dataset"] == "orders")
    assert orders["runs_listing_truncated"] is True
    assert len(orders["runs"]) <= 1 and len(orders["quarantine"]["samples"]) <= 1
    listed, cut = list_bounded(lake.client, lake.bucket, "_manifests/orders/", limit=3)
    assert len(listed) == 3 and cut
    everything, cut = list_bounded(lake.client, lake.bucket, "_manifests/orders/", limit=10_000)
    assert not cut and len(everything) == len(list(lake.list("_manifests/orders/")))


def test_cache_builds_once_within_its_time() -> None:
    built: list[int] = []
    cache = StatusCache(lambda: {"n": len(built)} if not built.append(1) else {}, ttl=60)
    assert cache.get() == cache.get() == {"n": 1}
    assert len(built) == 1
    expired = StatusCache(lambda: {"n": len(built)} if not built.append(1) else {}, ttl=0)
    expired.get()
    expired.get()
    assert len(built) == 3


def test_page_renders_the_document_and_refuses_anonymous_visitors(lake, glue, database, filled) -> None:
    from fastapi.testclient import TestClient

    from airlake.report.html import human_bytes, usd
    from airlake.ui.app import app, render_page

    status = _status(lake, glue, database)
    html = render_page(status)
    orders = next(d for d in status["datasets"] if d["dataset"] == "orders")
    assert f'<td class="num" data-key="partitions">{orders["glue"]["partitions"]}</td>' in html
    assert (
        human_bytes(orders["storage"]["bytes"]) in html
        and escape(usd(orders["storage"]["monthly_cost_usd"])) in html
    )
    assert '<td class="num" data-key="read">53</td>' in html
    assert "not json at all" in html and "<script" not in html
    assert 'href="reports/business"' in html and 'href="reports/storage"' in html

    client = TestClient(app)
    for path in ("/", "/status.json", "/reports/business", "/reports/storage"):
        response = client.get(path)
        assert response.status_code == 401, (path, response.status_code, response.text)


def test_newest_reports_win_and_age_follows_now(lake, glue, database, filled) -> None:
    storage_report(lake, report_date="2026-11-29", region="us-east-1", now=NOW)
    status = lake_status(lake, glue, database, [get_contract("orders")], now=NOW + timedelta(days=2))
    assert status["storage_report"]["date"] == "2026-11-29"
    [orders] = status["datasets"]
    assert orders["freshness"]["age_hours"] == 60.0 and orders["freshness"]["status"] == STALE
