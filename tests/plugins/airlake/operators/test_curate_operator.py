"""CurateOperator against the session's moto server: injected and Glue-backed live locations."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airlake.contracts import get_contract
from airlake.lake import manifest_key
from airlake.operators.curate import CurateOperator
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run, read_partition
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1, RUN_2, order

THRESHOLD = get_contract("orders").quality.reject_rate_max


def _context(run_id: str, day: date, **params: Any) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "run_id": run_id,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1),
        "params": params,
    }


def test_template_fields_are_the_arguments() -> None:
    operator = CurateOperator(task_id="curate", dataset="orders", bucket="{{ var.value.airlake_bucket }}")
    assert set(operator.template_fields) >= {"dataset", "bucket", "database", "memory_limit", "aws_conn_id"}
    for name in operator.template_fields:
        assert hasattr(operator, name), name
    assert operator.bucket == "{{ var.value.airlake_bucket }}"  # kept as given; rendered at run time


def test_execute_with_injected_live_locations(lake) -> None:
    catalog = Catalog()
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    operator = CurateOperator(
        task_id="curate",
        dataset="orders",
        bucket=lake.bucket,
        live_locations=catalog.lookup,
        memory_limit="256MB",
    )

    summary = operator.execute(_context(RUN_1, date(2026, 11, 20)))  # type: ignore[arg-type]

    assert summary["manifest"] == manifest_key("orders", RUN_1, "curate")
    assert summary["rows"]["written"] == 6
    assert {p["dt"] for p in summary["partitions"]} == {"2026-11-18", "2026-11-19", "2026-11-20"}
    assert all(
        p["location"].startswith(f"s3://{lake.bucket}/curated/orders/dt=") for p in summary["partitions"]
    )


def test_too_many_rejects_fail_without_retry(lake) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(["nope", *ORDERS_DAY_1[:2]]))])
    operator = CurateOperator(
        task_id="curate", dataset="orders", bucket=lake.bucket, live_locations=Catalog().lookup
    )
    with pytest.raises(
        AirflowFailException,
        match=rf"orders: reject rate 33\.33% .* above the threshold {re.escape(f'{THRESHOLD:.2%}')}",
    ):
        operator.execute(_context(RUN_1, date(2026, 11, 20)))  # type: ignore[arg-type]
    assert lake.list("quarantine/orders/dt=2026-11-20/")


def test_live_locations_come_from_glue_after_the_catalog_published(lake, local_services) -> None:
    catalog_operators = pytest.importorskip("airlake.operators.catalog")
    database = f"airlake_{uuid.uuid4().hex[:10]}"
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])

    def curate(run_id: str, day: date) -> dict[str, Any]:
        operator = CurateOperator(task_id="curate", dataset="orders", bucket=lake.bucket, database=database)
        return operator.execute(_context(run_id, day))  # type: ignore[arg-type]

    def publish(run_id: str) -> None:
        catalog_operators.CatalogOperator(
            task_id="catalog", dataset="orders", bucket=lake.bucket, database=database
        ).execute({"run_id": run_id})

    first = curate(RUN_1, date(2026, 11, 20))  # no Glue table yet: every partition starts empty
    assert all(p["previous_location"] is None for p in first["partitions"])
    publish(RUN_1)
    update = order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99")
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl([update]))], ingest_date=date(2026, 11, 21))

    second = curate(RUN_2, date(2026, 11, 21))

    [partition] = second["partitions"]
    published = {p["dt"]: p["location"] for p in first["partitions"]}
    assert partition["previous_location"] == published["2026-11-20"]
    glue = boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")
    live = glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=["2026-11-20"])
    assert live["Partition"]["StorageDescriptor"]["Location"] == published["2026-11-20"]  # not yet published
    rows = read_partition(lake, lake.get_json(second["manifest"])["partitions"][0])
    assert {row["order_id"]: row["status"] for row in rows} == {
        1: "shipped",
        4: "placed",
        5: "cancelled",
        6: "shipped",
    }


def test_a_crash_before_publishing_leaves_the_old_version_and_a_rerun_repairs_it(
    lake, local_services
) -> None:
    """Curate wrote v2 but the task died before the catalog published it: readers keep v1; the
    retried run gets the same files from the same inputs, so it reuses v2 (uploads nothing, writes no
    third version) and publishing it makes the update live."""
    from airlake.operators.catalog import CatalogOperator

    database = f"airlake_{uuid.uuid4().hex[:10]}"
    glue = boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")

    def curate(run_id: str, day: date) -> dict[str, Any]:
        operator = CurateOperator(task_id="curate", dataset="orders", bucket=lake.bucket, database=database)
        return operator.execute(_context(run_id, day))  # type: ignore[arg-type]

    def publish(run_id: str) -> None:
        CatalogOperator(task_id="catalog", dataset="orders", bucket=lake.bucket, database=database).execute(
            {"run_id": run_id}
        )

    def live_location() -> str:
        partition = glue.get_partition(
            DatabaseName=database, TableName="orders", PartitionValues=["2026-11-20"]
        )
        return partition["Partition"]["StorageDescriptor"]["Location"]

    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    curate(RUN_1, date(2026, 11, 20))
    publish(RUN_1)
    v1 = live_location()
    update = order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99")
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl([update]))], ingest_date=date(2026, 11, 21))

    crashed = curate(RUN_2, date(2026, 11, 21))  # ... and the catalog task never ran
    assert live_location() == v1
    retried = curate(RUN_2, date(2026, 11, 21))
    publish(RUN_2)

    [crashed_partition], [retried_partition] = crashed["partitions"], retried["partitions"]
    assert retried_partition["location"] == crashed_partition["location"]  # reused, not rewritten
    assert retried_partition["reused"] is True and retried_partition["previous_location"] == v1
    versions = {key.split("/")[3] for key in (o.key for o in lake.list("curated/orders/dt=2026-11-20/"))}
    assert len(versions) == 2  # v1 and the crashed attempt's, nothing more
    assert live_location().rstrip("/") == retried_partition["location"].rstrip("/")
    live_rows = read_partition(lake, lake.get_json(retried["manifest"])["partitions"][0])
    assert {row["order_id"]: row["status"] for row in live_rows}[1] == "shipped"
    [v1_partition] = [
        p
        for p in lake.get_json(manifest_key("orders", RUN_1, "curate"))["partitions"]
        if p["dt"] == "2026-11-20"
    ]
    v1_rows = read_partition(lake, v1_partition)
    assert {row["order_id"]: row["status"] for row in v1_rows}[1] != "shipped"  # v1 is untouched


def test_a_full_refresh_replaces_the_partitions_it_touches_instead_of_merging(lake) -> None:
    catalog = Catalog()
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    first = CurateOperator(
        task_id="curate", dataset="orders", bucket=lake.bucket, live_locations=catalog.lookup
    ).execute(_context(RUN_1, date(2026, 11, 20)))  # type: ignore[arg-type]
    catalog.publish(first)
    update = order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99")
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl([update]))], ingest_date=date(2026, 11, 21))

    refreshed = CurateOperator(
        task_id="curate", dataset="orders", bucket=lake.bucket, live_locations=catalog.lookup, backlog=False
    ).execute(_context(RUN_2, date(2026, 11, 21), full_refresh=True))  # type: ignore[arg-type]

    [partition] = refreshed["partitions"]
    assert partition["previous_location"] is None  # the live version was not merged in
    rows = read_partition(lake, lake.get_json(refreshed["manifest"])["partitions"][0])
    assert [(row["order_id"], row["status"]) for row in rows] == [(1, "shipped")]


# --------------------------------------------------------------------------------------------------
# A files dataset as its DAG runs it: ingest -> curate -> quality -> catalog, on moto's S3 and Glue
# --------------------------------------------------------------------------------------------------

PRODUCTS_HEADER = "product_id,name,category,price,currency,updated_at,brand\n"


def _products_csv(*rows: tuple[str, str]) -> bytes:
    """CSV of products (id, updated_at), as the merchandising system exports them."""
    return (PRODUCTS_HEADER + "".join(f"{pid},Name {pid},misc,1.50,EUR,{at},\n" for pid, at in rows)).encode()


def _pipeline(lake, database: str) -> Any:
    from airlake.operators.catalog import CatalogOperator
    from airlake.operators.ingest import IngestOperator
    from airlake.operators.quality import QualityCheckOperator

    def run(run_id: str, day: date, *, stages: tuple[str, ...] = ("ingest", "curate", "quality", "catalog")):
        context = _context(run_id, day)
        results: dict[str, Any] = {}
        for stage in stages:
            if stage == "ingest":
                operator: Any = IngestOperator(task_id=stage, dataset="products", bucket=lake.bucket)
            elif stage == "curate":
                operator = CurateOperator(
                    task_id=stage, dataset="products", bucket=lake.bucket, database=database
                )
            elif stage == "quality":
                operator = QualityCheckOperator(
                    task_id=stage, dataset="products", bucket=lake.bucket, database=database
                )
            else:
                operator = CatalogOperator(
                    task_id=stage, dataset="products", bucket=lake.bucket, database=database
                )
            results[stage] = operator.execute(context)
        return results

    return run


def _raw_rows(lake) -> list[str]:
    """product_id of every row the raw zone holds (each part read whole)."""
    import gzip as gz

    ids = []
    for obj in lake.list("raw/products/"):
        text = gz.decompress(lake.client.get_object(Bucket=lake.bucket, Key=obj.key)["Body"].read()).decode()
        ids += [line.split(",")[0] for line in text.splitlines()[1:] if line]
    return sorted(ids)


def _glue_rows(lake, glue, database: str) -> dict[str, list[str]]:
    """{dt: product ids} of what the Glue partitions point at (what Athena would read)."""
    import io

    import pyarrow.parquet as pq

    out: dict[str, list[str]] = {}
    for partition in glue.get_partitions(DatabaseName=database, TableName="products")["Partitions"]:
        location = partition["StorageDescriptor"]["Location"]
        prefix = location.split("/", 3)[3].rstrip("/") + "/"
        for obj in lake.list(prefix):
            body = lake.client.get_object(Bucket=lake.bucket, Key=obj.key)["Body"].read()
            out.setdefault(partition["Values"][0], []).extend(
                pq.read_table(io.BytesIO(body))["product_id"].to_pylist()
            )
    return {dt: sorted(ids) for dt, ids in sorted(out.items())}


def test_files_waiting_in_landing_a_failed_first_run_is_published_by_the_next_and_a_rerun_writes_nothing(
    lake, local_services, monkeypatch
) -> None:
    """The DAG is unpaused with old files in landing: run 1 claims them and fails row_count_min; run 2
    lands only the new file, curates both raw runs and publishes every row; raw holds each row once.
    Clearing run 2 afterwards writes no curated object, and its first attempt's records stay."""
    from airflow.sdk.exceptions import AirflowFailException

    import airlake.contracts
    from airlake.lake import manifest_attempt_key

    contract = airlake.contracts.get_contract("products").model_copy(deep=True)
    [row_count] = [check for check in contract.quality.checks if check.kind == "row_count_min"]
    object.__setattr__(row_count, "value", 3)
    monkeypatch.setattr(airlake.contracts, "get_contract", lambda name: contract)
    database = f"airlake_{uuid.uuid4().hex[:10]}"
    glue = boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")
    run = _pipeline(lake, database)
    lake.put_bytes("landing/products/export-1.csv", _products_csv(("a1", "2026-11-16T08:00:00Z")))
    lake.put_bytes("landing/products/export-2.csv", _products_csv(("a2", "2026-11-17T08:00:00Z")))
    first, second = "scheduled__2026-11-20T00:00:00+00:00", "scheduled__2026-11-21T00:00:00+00:00"

    with pytest.raises(
        AirflowFailException, match=r"row_count_min: 2 row\(s\) over 3 day\(s\), below the minimum 3"
    ):
        run(first, date(2026, 11, 20))
    quality = lake.get_json(manifest_key("products", first, "quality"))
    [detail] = [c["detail"] for c in quality["checks"] if c["check"] == "row_count_min"]
    assert "dt=2026-11-16: 1 (outside the interval, written by the run)" in detail
    assert "dt=2026-11-20: 0 (interval day, no data)" in detail

    new_day = [(f"b{i}", f"2026-11-21T0{i}:00:00Z") for i in (1, 2, 3)]
    lake.put_bytes("landing/products/export-3.csv", _products_csv(*new_day))
    results = run(second, date(2026, 11, 21))

    assert results["ingest"]["rows"] == 3  # export-1 and -2 were claimed by run 1: not landed again
    assert results["curate"]["raw_runs"] == [first, second]
    assert _raw_rows(lake) == ["a1", "a2", "b1", "b2", "b3"]  # each row once in raw
    assert _glue_rows(lake, glue, database) == {
        "2026-11-16": ["a1"],
        "2026-11-17": ["a2"],
        "2026-11-21": ["b1", "b2", "b3"],
    }
    curated_objects = sorted(obj.key for obj in lake.list("curated/products/"))

    rerun = run(second, date(2026, 11, 21), stages=("ingest", "curate", "quality", "catalog"))  # a clear

    assert sorted(obj.key for obj in lake.list("curated/products/")) == curated_objects
    assert rerun["ingest"]["skipped"]
    assert {p["dt"]: p["unchanged"] for p in rerun["curate"]["partitions"]} == {
        "2026-11-21": True
    }  # run 1's raw is published now: only the run's own raw run is curated again
    assert rerun["catalog"]["created"] == rerun["catalog"]["updated"] == 0
    assert _glue_rows(lake, glue, database) == {
        "2026-11-16": ["a1"],
        "2026-11-17": ["a2"],
        "2026-11-21": ["b1", "b2", "b3"],
    }
    attempts = [lake.get_json(manifest_attempt_key("products", second, "curate", n)) for n in (1, 2)]
    assert attempts[0]["raw_runs"] == [first, second] and attempts[0]["rows"]["read"] == 5
    assert attempts[0]["unchanged"] == [] and len(attempts[0]["outputs"]) == 3
    assert attempts[1]["raw_runs"] == [second] and attempts[1]["unchanged"] == ["2026-11-21"]
    assert attempts[1]["outputs"] == [] and attempts[1]["bytes_written"] == 0
    assert lake.get_json(manifest_key("products", second, "curate"))["attempt"] == 2
