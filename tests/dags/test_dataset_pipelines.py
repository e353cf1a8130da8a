"""Every generated dataset DAG runs with dag.test() against the local services and lands its source.

The demo shop delivers one day to each source (PostgreSQL, Kinesis, S3 landing files, SQS, the FX
API); the test then reads the raw zone back and compares it with what was delivered.
"""

from __future__ import annotations

import gzip
import importlib
import json
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from include.demo import fx_api, publish
from include.demo.shop import generate_day
from tests.helpers import read_jsonl_gz, read_object, run_dag_test

DAY = date(2026, 11, 20)
# A manual run's data interval is the last complete one before its logical date (CronDataIntervalTimetable):
# triggered at 2026-11-21T00:00Z it covers [2026-11-20, 2026-11-21), the day the shop delivered.
LOGICAL_DATE = datetime(2026, 11, 21, tzinfo=UTC)


def run_dataset_dag(dataset: str, logical_date: datetime = LOGICAL_DATE, **kwargs: Any) -> Any:
    module = importlib.import_module("airlake_datasets")
    dag = getattr(module, f"dataset_{dataset}")
    # A fixed run_after gives a fixed run_id: calling it again re-runs (clears) the same run.
    return run_dag_test(dag, logical_date=logical_date, run_after=logical_date, **kwargs)


def landed_lines(lake, dataset: str) -> list[bytes]:
    manifest_keys = [
        obj.key for obj in lake.list(f"_manifests/{dataset}/") if obj.key.endswith("/ingest.json")
    ]
    assert len(manifest_keys) == 1, manifest_keys
    manifest = lake.get_json(manifest_keys[0])
    lines: list[bytes] = []
    for output in manifest["outputs"]:
        assert lake.head(output["key"])["ServerSideEncryption"] == "AES256"
        if output["key"].endswith(".csv.gz"):
            text = gzip.decompress(read_object(lake, output["key"])).decode()
            lines.extend(row.encode() for row in text.splitlines()[1:])
        else:
            lines.extend(read_jsonl_gz(lake, output["key"]))
    assert manifest["rows"]["read"] == manifest["rows"]["landed"] == len(lines)
    return lines


def assert_published(env: dict[str, Any], dataset: str) -> dict[str, Any]:
    """Curate accounted for every row; Glue points at exactly the versions it wrote, and they hold its rows."""
    import io

    import pyarrow.parquet as pq

    lake, glue = env["lake"], env["clients"]["glue"]
    [key] = [obj.key for obj in lake.list(f"_manifests/{dataset}/") if obj.key.endswith("/curate.json")]
    curate = lake.get_json(key)
    rows = curate["rows"]
    assert rows["read"] == rows["written"] + rows["quarantined"] + rows["duplicates_dropped"]
    partitions = glue.get_partitions(DatabaseName=env["glue_database"], TableName=dataset)["Partitions"]
    published = {p["Values"][0]: p["StorageDescriptor"]["Location"].rstrip("/") for p in partitions}
    assert published == {p["dt"]: p["location"].rstrip("/") for p in curate["partitions"]}
    parquet_rows = sum(
        pq.read_metadata(io.BytesIO(read_object(lake, file))).num_rows
        for partition in curate["partitions"]
        for file in partition["files"]
    )
    assert parquet_rows == rows["output"] == rows["written"]  # first run: nothing existed before
    with psycopg.connect(env["warehouse_dsn"]) as conn:
        loaded = conn.execute(f'select count(*) from "{dataset}"').fetchone()[0]
    assert loaded == parquet_rows - load_duplicates(env, dataset)
    return curate


def load_duplicates(env: dict[str, Any], dataset: str) -> int:
    """Keys that stand in more than one date partition are one warehouse row (the contract's rule)."""
    [key] = [obj.key for obj in env["lake"].list(f"_manifests/{dataset}/") if obj.key.endswith("/load.json")]
    return env["lake"].get_json(key)["rows"]["duplicates"]


def test_orders_from_postgres(pipeline_env) -> None:
    delivery = publish.publish_orders(DAY, pipeline_env["shop_dsn"])
    assert run_dataset_dag("orders").state == "success"
    landed = [json.loads(line) for line in landed_lines(pipeline_env["lake"], "orders")]
    with psycopg.connect(pipeline_env["shop_dsn"]) as conn:
        expected = conn.execute(
            "select order_id from public.orders where updated_at < %s order by updated_at, order_id",
            (datetime(2026, 11, 21, tzinfo=UTC),),
        ).fetchall()
    assert [row["order_id"] for row in landed] == [row[0] for row in expected]
    assert len(landed) == delivery.records > 0
    curate = assert_published(pipeline_env, "orders")
    assert curate["rows"]["quarantined"] == sum(r.has("out_of_range") for r in generate_day(DAY).orders)


def test_clickstream_from_kinesis(pipeline_env) -> None:
    delivery = publish.publish_clickstream(DAY, pipeline_env["clients"]["kinesis"])
    assert run_dataset_dag("clickstream").state == "success"
    landed = landed_lines(pipeline_env["lake"], "clickstream")
    expected = [record.body.encode() for record in generate_day(DAY).clickstream]
    assert sorted(landed) == sorted(expected)  # duplicates and malformed records land too
    assert len(landed) == delivery.records
    curate = assert_published(pipeline_env, "clickstream")
    flawed = generate_day(DAY).clickstream
    assert curate["rows"]["quarantined"] == sum(r.has("malformed") for r in flawed)
    assert curate["rows"]["duplicates_dropped"] >= sum(r.has("duplicate") for r in flawed)


def test_products_from_landing_files(pipeline_env) -> None:
    delivery = publish.publish_products(DAY, pipeline_env["clients"]["s3"], pipeline_env["lake"].bucket)
    assert run_dataset_dag("products").state == "success"
    landed = landed_lines(pipeline_env["lake"], "products")
    assert len(landed) == delivery.records > 0
    assert assert_published(pipeline_env, "products")["rows"]["quarantined"] == 1  # the "n/a" price


def test_payments_from_sqs(pipeline_env) -> None:
    sqs = pipeline_env["clients"]["sqs"]
    delivery = publish.publish_payments(DAY, sqs)
    assert run_dataset_dag("payments").state == "success"
    landed = landed_lines(pipeline_env["lake"], "payments")
    assert sorted(landed) == sorted(record.body.encode() for record in generate_day(DAY).payments)
    assert len(landed) == delivery.records
    queue_url = sqs.get_queue_url(QueueName=publish.PAYMENTS_QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_fx_rates_from_http_api(pipeline_env) -> None:
    assert run_dataset_dag("fx_rates").state == "success"
    landed = [json.loads(line) for line in landed_lines(pipeline_env["lake"], "fx_rates")]
    assert sorted(landed, key=lambda r: r["quote_currency"]) == sorted(
        fx_api.rates_for(DAY), key=lambda r: r["quote_currency"]
    )
    assert assert_published(pipeline_env, "fx_rates")["rows"]["written"] == len(landed)


def test_a_day_from_the_trigger_form_is_the_day_the_source_is_asked_for(pipeline_env) -> None:
    """The http source's params are rendered from the asked day, not from the run's data interval."""
    run = run_dataset_dag(
        "fx_rates", datetime(2026, 11, 25, 9, tzinfo=UTC), run_conf={"start_date": "2026-11-18"}
    )
    assert run.state == "success"
    [key] = [
        obj.key
        for obj in pipeline_env["lake"].list("_manifests/fx_rates/")
        if obj.key.endswith("/ingest.json")
    ]
    manifest = pipeline_env["lake"].get_json(key)
    assert manifest["outputs"][0]["key"].startswith("raw/fx_rates/ingest_date=2026-11-18/")
    landed = [json.loads(line) for line in landed_lines(pipeline_env["lake"], "fx_rates")]
    assert {row["rate_date"] for row in landed} == {"2026-11-18"}
    assert sorted(landed, key=lambda r: r["quote_currency"]) == fx_api.rates_for("2026-11-18")


def test_rerunning_a_day_lands_nothing_twice(pipeline_env) -> None:
    publish.publish_payments(DAY, pipeline_env["clients"]["sqs"])
    assert run_dataset_dag("payments").state == "success"
    first = landed_lines(pipeline_env["lake"], "payments")
    publish.publish_payments(date(2026, 11, 21), pipeline_env["clients"]["sqs"])
    assert run_dataset_dag("payments").state == "success"  # the same run again: its raw data is kept
    assert landed_lines(pipeline_env["lake"], "payments") == first


def test_a_day_without_orders_fails_its_quality_check_and_publishes_nothing(pipeline_env) -> None:
    publish.publish_orders(DAY, pipeline_env["shop_dsn"])
    run = run_dataset_dag("orders", datetime(2026, 11, 19, tzinfo=UTC))  # 2026-11-18: the shop sold nothing
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["quality"] == "failed"
    assert states["catalog"] == states["load"] == "upstream_failed"
    [key] = [
        obj.key
        for obj in pipeline_env["lake"].list("_manifests/orders/")
        if obj.key.endswith("/quality.json")
    ]
    quality = pipeline_env["lake"].get_json(key)
    [row_count] = [check for check in quality["checks"] if check["check"] == "row_count_min"]
    assert row_count == {**row_count, "passed": False, "observed": 0}
    glue = pipeline_env["clients"]["glue"]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=pipeline_env["glue_database"], Name="orders")
