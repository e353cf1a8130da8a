"""Maintenance operators against the session's moto server: thin wrappers with small XCom values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlake.lake import curated_version_prefix, manifest_key
from airlake.operators.maintenance import (
    CleanupVersionsOperator,
    CompactPartitionsOperator,
    StorageReportOperator,
)
from airlake.report import report_keys
from tests.plugins.airlake.maintenance.conftest import DATASET, CuratedOrders, order_rows, version_at

RUN_ID = "scheduled__2026-11-29T00:00:00+00:00"
DS = "2026-11-29"


@pytest.fixture
def orders(lake, glue, database) -> CuratedOrders:
    return CuratedOrders(lake, glue, database)


def _context() -> dict[str, Any]:
    start = datetime.fromisoformat(DS).replace(tzinfo=UTC)
    return {
        "run_id": RUN_ID,
        "ds": DS,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=7),
    }


@pytest.mark.parametrize(
    ("operator_class", "arguments"),
    [
        pytest.param(StorageReportOperator, {"report_date", "pricing_region", "pricing_file"}, id="report"),
        pytest.param(
            CleanupVersionsOperator, {"database", "datasets", "grace_hours", "dry_run"}, id="cleanup"
        ),
        pytest.param(
            CompactPartitionsOperator,
            {"database", "datasets", "max_files", "small_file_bytes", "target_file_bytes", "dry_run"},
            id="compact",
        ),
    ],
)
def test_template_fields_are_the_arguments(operator_class, arguments: set[str]) -> None:
    kwargs = {"task_id": "t", "bucket": "b"}
    if operator_class is not StorageReportOperator:
        kwargs["database"] = "d"
    operator = operator_class(**kwargs)
    assert {"bucket", "kms_key_id", "aws_conn_id", "region_name"} | arguments <= set(operator.template_fields)
    for name in operator.template_fields:
        assert hasattr(operator, name), name


def test_storage_report_operator(lake) -> None:
    lake.client.put_object(
        Bucket=lake.bucket, Key="raw/orders/a.jsonl.gz", Body=b"x" * 2000, StorageClass="GLACIER"
    )
    lake.put_bytes("curated/orders/dt=2026-11-20/v=1/part-00000.parquet", b"y" * 500)
    operator = StorageReportOperator(task_id="storage_report", bucket=lake.bucket, report_date=DS)
    result = operator.execute(_context())  # type: ignore[arg-type]

    json_key, html_key = report_keys(DS)
    assert result["json_key"] == json_key and result["html_key"] == html_key
    assert (result["objects"], result["bytes"]) == (2, 2500)
    assert result["region"] == "us-east-1"  # the connection's region
    assert len(json.dumps(result)) < 1000  # a small XCom value
    document = lake.get_json(json_key)
    assert document["totals"]["monthly_cost_usd"] == pytest.approx(result["monthly_cost_usd"], abs=1e-6)
    assert lake.head(html_key)["ServerSideEncryption"] == "AES256"

    eu = StorageReportOperator(task_id="r", bucket=lake.bucket, report_date=DS, pricing_region="eu-west-1")
    assert eu.execute(_context())["region"] == "eu-west-1"  # type: ignore[arg-type]
    mars = StorageReportOperator(task_id="r", bucket=lake.bucket, report_date=DS, pricing_region="mars-1")
    with pytest.raises(ValueError, match="no prices for region 'mars-1'"):
        mars.execute(_context())  # type: ignore[arg-type]


def test_cleanup_operator(orders: CuratedOrders, lake, database) -> None:
    # the versions' ages count back from the run's interval end, the operator's "now" (it never looks past
    # the wall clock either): a wall-clock anchor made the test fail once the interval end was in the past
    now = _context()["data_interval_end"]
    old, live, young = (version_at(now - timedelta(days=d)) for d in (20, 10, 1))
    dt = "2026-11-01"
    for version in (old, live, young):
        orders.write(dt, version, [order_rows(dt, 0, 3)])
    orders.publish(dt, live)
    expired = curated_version_prefix(DATASET, dt, old)

    def run(**kwargs: Any) -> dict[str, Any]:
        operator = CleanupVersionsOperator(
            task_id="cleanup", bucket=lake.bucket, database=database, datasets=[DATASET], **kwargs
        )
        return operator.execute(_context())  # type: ignore[arg-type]

    # a run whose interval ended a month ago saw nothing expired then, and deletes nothing now
    month_ago = CleanupVersionsOperator(
        task_id="c", bucket=lake.bucket, database=database, datasets=[DATASET]
    )
    context = {**_context(), "data_interval_end": now - timedelta(days=30)}
    assert month_ago.execute(context)["versions"] == 0  # type: ignore[arg-type]

    dry = run(dry_run="True")
    assert (dry["dry_run"], dry["versions"]) == (True, 1)
    assert any(key.startswith(expired) for key in orders.objects())

    result = run(grace_hours="72")
    assert result["dry_run"] is False
    assert result["datasets"][DATASET]["versions"] == 1 and result["bytes"] > 0
    assert not any(key.startswith(expired) for key in orders.objects())
    assert {version for version in (live, young) if any(f"v={version}/" in k for k in orders.objects())} == {
        live,
        young,
    }
    assert lake.get_json(manifest_key(DATASET, RUN_ID, "cleanup"))["outputs"][0]["prefix"] == expired
    with pytest.raises(ValueError, match="grace_hours"):
        run(grace_hours=-1)


def test_compact_operator(orders: CuratedOrders, lake, database) -> None:
    dt = "2026-11-20"
    rows = order_rows(dt, 0, 30)
    v1 = version_at(datetime(2026, 11, 20, tzinfo=UTC))
    orders.write(dt, v1, [rows[i : i + 5] for i in range(0, 30, 5)])
    orders.publish(dt, v1)

    def run(**kwargs: Any) -> dict[str, Any]:
        operator = CompactPartitionsOperator(
            task_id="compact", bucket=lake.bucket, database=database, datasets="orders", **kwargs
        )
        return operator.execute(_context())  # type: ignore[arg-type]

    dry = run(dry_run=True)
    assert (dry["planned"], dry["compacted"]) == (1, 0)
    assert orders.live(dt).endswith(f"v={v1}/")

    result = run()
    assert (result["compacted"], result["files_before"], result["files_after"]) == (1, 6, 1)
    assert result["datasets"] == {"orders": {"planned": 1, "compacted": 1, "skipped": 0}}
    location = orders.live(dt)
    assert not location.endswith(f"v={v1}/")
    assert orders.read_rows(location) == rows
    assert run()["planned"] == 0  # rerun: nothing to do
