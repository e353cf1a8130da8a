"""Chaos: curate -> quality -> catalog -> load of a small dataset through 10 % injected faults (500, 503, throttling; half of
them lost replies applied by moto, a third of those as connections dropped without a reply) gives the same
curated content, Glue partitions and warehouse checksum as a clean run, with every operator run once (no task retry): the
request-level retries and the idempotent writes absorb every fault. Two seeds, and on top of the random
faults the first reply of each partition publish (create, then update) is lost; each test prints the
proxy's counts (``pytest -s`` shows them). A longer seeded run:
``AIRLAKE_CHAOS_SEEDS=1-20 .venv/bin/python -m pytest tests/faults/test_chaos.py -q -s``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airlake.catalog.tables import comparable_table
from airlake.operators.catalog import CatalogOperator
from airlake.operators.curate import CurateOperator
from airlake.operators.load import WarehouseLoadOperator
from airlake.operators.quality import QualityCheckOperator
from airlake.store import LakeStore
from tests.plugins.airlake.curate.curate_helpers import jsonl, land_run
from tests.plugins.airlake.curate.test_curate import order

RUN_1 = "scheduled__2026-11-20T00:00:00+00:00"
RUN_2 = "scheduled__2026-11-21T00:00:00+00:00"
DAYS_1 = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]


def _orders_run_1() -> list[list[dict[str, Any]]]:
    """Three raw parts of 40 orders over five days, with updates and duplicates across parts."""
    parts: list[list[dict[str, Any]]] = [[], [], []]
    for n in range(1, 121):
        day = DAYS_1[n % 5]
        placed = order(n, "placed", f"{day}T0{n % 9}:00:00Z", f"{day}T0{n % 9}:00:00Z", f"{n}.50")
        parts[n % 3].append(placed)
        if n % 4 == 0:
            parts[(n + 1) % 3].append({**placed, "status": "paid", "updated_at": f"{day}T10:00:00Z"})
        if n % 10 == 0:
            parts[(n + 2) % 3].append(placed)  # an exact duplicate
    return parts


def _orders_run_2() -> list[dict[str, Any]]:
    """The next day: late updates of orders of every day, and new orders."""
    updates = [
        order(n, "shipped", f"{DAYS_1[n % 5]}T0{n % 9}:00:00Z", "2026-11-21T07:00:00Z", f"{n}.50")
        for n in range(3, 121, 7)
    ]
    return updates + [
        order(n, "placed", "2026-11-21T09:00:00Z", "2026-11-21T09:00:00Z") for n in range(121, 131)
    ]


def _context(run_id: str, day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "run_id": run_id,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1),
        "params": {},
    }


def _new_lake(local_services: Any) -> tuple[LakeStore, str]:
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), f"airlake-chaos-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    land_run(store, "orders", RUN_1, [(".jsonl.gz", jsonl(part)) for part in _orders_run_1()])
    return store, f"airlake_{uuid.uuid4().hex[:10]}"


WAREHOUSE_CONN = "airlake_chaos_warehouse"


def _pipeline(store: LakeStore, database: str, conn: str) -> list[dict[str, Any]]:
    """Two daily runs of curate, quality, catalog and load (into ``WAREHOUSE_CONN``), each operator
    executed once, all S3 and Glue calls through ``conn``."""
    results = []
    for run_id, day in ((RUN_1, date(2026, 11, 20)), (RUN_2, date(2026, 11, 21))):
        if run_id == RUN_2:
            land_run(
                store,
                "orders",
                RUN_2,
                [(".jsonl.gz", jsonl(_orders_run_2()))],
                ingest_date=date(2026, 11, 21),
            )
        curate = CurateOperator(
            task_id="curate", dataset="orders", bucket=store.bucket, database=database, aws_conn_id=conn
        )
        summary = curate.execute(_context(run_id, day))  # type: ignore[arg-type]
        quality = QualityCheckOperator(
            task_id="quality", dataset="orders", bucket=store.bucket, database=database, aws_conn_id=conn
        )
        checked = quality.execute(_context(run_id, day))  # type: ignore[arg-type]
        catalog = CatalogOperator(
            task_id="catalog", dataset="orders", bucket=store.bucket, database=database, aws_conn_id=conn
        )
        published = catalog.execute({"run_id": run_id})  # type: ignore[arg-type]
        published.pop("database")  # each run has its own
        load = WarehouseLoadOperator(
            task_id="load",
            dataset="orders",
            bucket=store.bucket,
            warehouse_conn_id=WAREHOUSE_CONN,
            aws_conn_id=conn,
        )
        load.execute({"run_id": run_id})  # type: ignore[arg-type]
        results.append({"rows": summary["rows"], "quality": checked, "catalog": published})
    return results


def _warehouse(monkeypatch: pytest.MonkeyPatch, local_services: Any) -> str:
    """A fresh PostgreSQL database as ``WAREHOUSE_CONN``; its DSN."""
    name = f"chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = local_services.pg_database_dsn(name)
    monkeypatch.setenv(f"AIRFLOW_CONN_{WAREHOUSE_CONN.upper()}", dsn.replace("postgresql://", "postgres://"))
    return dsn


def _warehouse_checksum(dsn: str) -> tuple[int, str]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select count(*), md5(coalesce(string_agg(t::text, '|' order by t.order_id), '')) "
            "from public.orders as t"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _lake_state(store: LakeStore, glue: Any, database: str) -> dict[str, Any]:
    """What readers see: each Glue partition's files (name and sha256 of the bytes) and the table, with the
    bucket and the version ids (timestamps) folded."""
    fold = re.compile(rf"s3://{re.escape(store.bucket)}/curated/orders/dt=(?P<dt>[0-9-]+)/v=[0-9TZ]+/$")
    partitions: dict[str, list[tuple[str, str]]] = {}
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName="orders"):
        for partition in page["Partitions"]:
            location = partition["StorageDescriptor"]["Location"]
            match = fold.match(location)
            assert match, location
            prefix = location.removeprefix(f"s3://{store.bucket}/")
            partitions[partition["Values"][0]] = [
                (item.key.rsplit("/", 1)[1], hashlib.sha256(_read(store, item.key)).hexdigest())
                for item in store.list(prefix)
            ]
    table = comparable_table(glue.get_table(DatabaseName=database, Name="orders")["Table"])
    table["Location"] = table["Location"].replace(store.bucket, "<bucket>")
    return {"partitions": dict(sorted(partitions.items())), "table": table}


def _read(store: LakeStore, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def clean_run(local_services: Any) -> dict[str, Any]:
    import boto3

    glue = boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")
    patch = pytest.MonkeyPatch()
    try:
        dsn = _warehouse(patch, local_services)
        store, database = _new_lake(local_services)
        results = _pipeline(store, database, "aws_default")
    finally:
        patch.undo()
    return {
        "results": results,
        "state": _lake_state(store, glue, database),
        "warehouse": _warehouse_checksum(dsn),
    }


def _seeds() -> list[int]:
    """``AIRLAKE_CHAOS_SEEDS`` (``1-50`` or ``3,7,11``) for a longer seeded run; two seeds in the suite."""
    text = os.environ.get("AIRLAKE_CHAOS_SEEDS", "11,29")
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",") if part.strip()]


@pytest.mark.parametrize("seed", _seeds())
def test_the_dataset_stages_through_ten_percent_faults_match_a_clean_run(
    local_services, glue, clean_run, fault_proxy, chaos_conn, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    dsn = _warehouse(monkeypatch, local_services)
    store, database = _new_lake(local_services)
    proxy = fault_proxy(seed=seed, rate=0.10, lost_share=0.5, drop_share=0.3, max_faults=100)
    for publish in ("glue:BatchCreatePartition", "glue:BatchUpdatePartition"):
        proxy.script(publish, "lost", status=503)  # on top of the random ones: every publish loses a reply

    results = _pipeline(store, database, chaos_conn(proxy))  # raises on any fault not absorbed

    summary = proxy.stats.summary()
    print(f"\nchaos seed={seed}: {json.dumps(summary, sort_keys=True)}")
    assert results == clean_run["results"]
    assert _lake_state(store, glue, database) == clean_run["state"]
    assert _warehouse_checksum(dsn) == clean_run["warehouse"] and clean_run["warehouse"][0] > 0
    assert len(clean_run["state"]["partitions"]) == 6
    assert summary["by_operation"]["lost glue:BatchCreatePartition"] >= 1
    assert summary["by_operation"]["lost glue:BatchUpdatePartition"] >= 1
    assert summary["faults"] >= 8 and summary["lost_replies"] >= 4
    assert summary["retries"] == summary["faults"]  # each fault cost one request-level retry, no more
    assert summary["max_attempts"] == [8]
