"""SSE-KMS on every write: each stage operator given ``kms_key_id`` writes every object it puts (data,
quarantine, manifests, checkpoints, reports) with that key, on the session's moto server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from airlake.operators.business_report import BusinessReportOperator
from airlake.operators.curate_athena import EngineCurateOperator
from airlake.operators.ingest import IngestOperator
from airlake.operators.maintenance import CompactPartitionsOperator, StorageReportOperator
from airlake.operators.materialise import MaterialiseOperator
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1
from tests.plugins.airlake.engines.conftest import curated
from tests.plugins.airlake.engines.test_engine_duckdb import DS, shop
from tests.plugins.airlake.maintenance.conftest import CuratedOrders, order_rows, version_at
from tests.plugins.airlake.operators.test_curate_operator import _context as curate_context
from tests.plugins.airlake.operators.test_ingest_operator import GOOD
from tests.plugins.airlake.operators.test_ingest_operator import _context as ingest_context
from tests.plugins.airlake.report.test_business import WEEK, ViewEngine, demo_views

__all__ = ["curated", "shop"]  # fixtures of the engine tests, reused

KMS_KEY = "alias/airlake-test"


def written_by(lake: Any, run: Callable[[], Any]) -> list[str]:
    """The keys ``run`` put into the lake (new ones, and old ones it replaced)."""
    before = {obj.key: obj.etag for obj in lake.list("")}
    run()
    return sorted(obj.key for obj in lake.list("") if before.get(obj.key) != obj.etag)


def assert_kms(lake: Any, keys: list[str], *zones: str) -> None:
    assert {key.split("/", 1)[0] for key in keys} >= set(zones), keys
    for key in keys:
        head = lake.head(key)
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) == ("aws:kms", KMS_KEY), key


def test_ingest(lake) -> None:
    lake.put_bytes("landing/products/2026-11-20/good.csv", GOOD)
    operator = IngestOperator(task_id="ingest", dataset="products", bucket=lake.bucket, kms_key_id=KMS_KEY)
    keys = written_by(lake, lambda: operator.execute(ingest_context("r1")))  # type: ignore[arg-type]
    assert_kms(lake, keys, "raw", "_manifests")


@pytest.mark.parametrize("curate_engine", ["worker", "athena"])  # athena: the SQL curate, on DuckDB here
def test_curate(lake, curate_engine: str) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(["nope", *ORDERS_DAY_1]))])
    operator = EngineCurateOperator(
        task_id="curate",
        dataset="orders",
        bucket=lake.bucket,
        live_locations=Catalog().lookup,
        reject_rate_max=0.5,
        curate_engine=curate_engine,
        engine="duckdb",
        kms_key_id=KMS_KEY,
    )
    keys = written_by(lake, lambda: operator.execute(curate_context(RUN_1, date(2026, 11, 20))))  # type: ignore[arg-type]
    assert_kms(lake, keys, "curated", "quarantine", "_manifests")


def test_materialise(shop, lake, database) -> None:
    operator = MaterialiseOperator(
        task_id="m",
        view="funnel_daily",
        ds=DS,
        bucket=lake.bucket,
        database=database,
        engine="duckdb",
        kms_key_id=KMS_KEY,
    )
    context = {"run_id": "r1", "ds": DS, "params": {}}
    keys = written_by(lake, lambda: operator.execute(context))  # type: ignore[arg-type]
    assert_kms(lake, keys, "analytics", "_manifests")


def test_compaction(lake, glue, database) -> None:
    orders = CuratedOrders(lake, glue, database)
    dt = "2026-11-20"
    rows = order_rows(dt, 0, 30)
    version = version_at(datetime(2026, 11, 20, tzinfo=UTC))
    orders.write(dt, version, [rows[i : i + 5] for i in range(0, 30, 5)])
    orders.publish(dt, version)
    operator = CompactPartitionsOperator(
        task_id="compact", bucket=lake.bucket, database=database, datasets="orders", kms_key_id=KMS_KEY
    )
    keys = written_by(lake, lambda: operator.execute({"run_id": "r1"}))  # type: ignore[arg-type]
    assert_kms(lake, keys, "curated", "_manifests")


def test_reports(lake, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = StorageReportOperator(task_id="s", bucket=lake.bucket, report_date=DS, kms_key_id=KMS_KEY)
    keys = written_by(lake, lambda: storage.execute({"run_id": "r1"}))  # type: ignore[arg-type]
    assert_kms(lake, keys, "reports")

    monkeypatch.setattr(
        "airlake.engines.factory.build_query_engine", lambda *a, **k: ViewEngine(demo_views())
    )
    business = BusinessReportOperator(task_id="b", week_start=WEEK, bucket=lake.bucket, kms_key_id=KMS_KEY)
    keys = written_by(lake, lambda: business.execute({"run_id": "r2"}))  # type: ignore[arg-type]
    assert_kms(lake, keys, "reports")
    assert any(key.startswith(f"reports/business/week={WEEK}/") for key in keys)
