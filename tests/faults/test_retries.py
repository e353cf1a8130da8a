"""Gap 1 of issue 18: every client the lake builds retries transient errors at the request level, with
one policy (airlake.aws) the connection's extra can override option by option."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airlake.catalog import ensure_database, ensure_table, get_table, live_location_lookup, publish_partitions
from airlake.contracts import get_contract
from airlake.operators import glue_client_of
from airlake.operators.curate import CurateOperator
from airlake.store import LakeStore
from tests.plugins.airlake.catalog.catalog_helpers import VERSION_1, write_curate_run

LAKE_RETRIES = {"mode": "standard", "total_max_attempts": 8}


def _settings(client: Any) -> tuple[Any, ...]:
    config = client.meta.config
    return config.retries, config.connect_timeout, config.read_timeout


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda conn: LakeStore(S3Hook(aws_conn_id=conn), "b").client, id="lake-store-s3"),
        pytest.param(
            lambda conn: glue_client_of(
                CurateOperator(task_id="c", dataset="orders", bucket="b", aws_conn_id=conn)
            ),
            id="glue-of-an-operator",
        ),
    ],
)
def test_every_lake_client_has_the_retry_policy(local_services, build) -> None:
    assert _settings(build("aws_default")) == (LAKE_RETRIES, 10, 60)


@pytest.mark.parametrize("dataset", ["clickstream", "payments"])
def test_stream_and_queue_sources_have_the_retry_policy(lake, dataset: str) -> None:
    from airlake.ingest.factory import build_source

    source = build_source(get_contract(dataset), store=lake, aws_conn_id="aws_default")

    assert _settings(source.client) == (LAKE_RETRIES, 10, 60)


def test_the_athena_engine_has_the_retry_policy(lake) -> None:
    from airlake.engines.factory import build_query_engine

    engine = build_query_engine(
        "athena",
        glue=None,
        store=lake,
        database="db",
        hook_parameters={"aws_conn_id": "aws_default"},
        athena_output_location="s3://b/athena/",
        workgroup="primary",
    )

    assert _settings(engine.hook.get_conn()) == (LAKE_RETRIES, 10, 60)


@pytest.mark.parametrize(
    ("config_kwargs", "expected"),
    [
        pytest.param(
            {"retries": {"total_max_attempts": 3}, "read_timeout": 5},
            ({"mode": "standard", "total_max_attempts": 3}, 10, 5),
            id="attempts-and-timeout",
        ),
        pytest.param(
            {"retries": {"mode": "adaptive", "max_attempts": 4}},
            ({"mode": "adaptive", "total_max_attempts": 5}, 10, 60),  # botocore's max_attempts: retries
            id="botocore-retries-key",
        ),
        pytest.param({"connect_timeout": 2}, (LAKE_RETRIES, 2, 60), id="timeouts-only"),
    ],
)
def test_the_connection_extra_overrides_option_by_option(monkeypatch, config_kwargs, expected) -> None:
    extra = {"region_name": "us-east-1", "config_kwargs": config_kwargs}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TUNED", json.dumps({"conn_type": "aws", "extra": extra}))

    assert _settings(LakeStore(S3Hook(aws_conn_id="aws_tuned"), "b").client) == expected


def test_an_operators_botocore_config_wins_over_the_connection(monkeypatch) -> None:
    extra = {"region_name": "us-east-1", "config_kwargs": {"read_timeout": 5}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TUNED", json.dumps({"conn_type": "aws", "extra": extra}))
    operator = CurateOperator(
        task_id="c",
        dataset="orders",
        bucket="b",
        aws_conn_id="aws_tuned",
        botocore_config={"retries": {"total_max_attempts": 12}},
    )

    assert _settings(glue_client_of(operator)) == ({"mode": "standard", "total_max_attempts": 12}, 10, 60)


def test_four_throttled_get_partition_in_a_row_do_not_fail_the_live_lookup(
    lake, glue, database, fault_proxy, chaos_conn
) -> None:
    """What failed a curate attempt after its whole parse (botocore's default: 3 attempts)."""
    contract = get_contract("orders")
    ensure_database(glue, database)
    ensure_table(glue, database, contract, lake.bucket)
    manifest = write_curate_run(lake, contract, "run-1", ["2026-11-20"], VERSION_1)
    template = get_table(glue, database, "orders")["StorageDescriptor"]
    publish_partitions(glue, database, "orders", manifest["partitions"], template)
    proxy = fault_proxy()
    proxy.script("glue:GetPartition", "error", status=429, times=4)
    operator = CurateOperator(
        task_id="curate",
        dataset="orders",
        bucket=lake.bucket,
        database=database,
        aws_conn_id=chaos_conn(proxy),
    )

    lookup = live_location_lookup(glue_client_of(operator), database, "orders")

    assert lookup("2026-11-20") == manifest["partitions"][0]["location"]
    assert proxy.stats.summary()["by_operation"] == {"error glue:GetPartition": 4}
    assert proxy.stats.retries == 4
    assert proxy.stats.max_attempts == {8}


def test_s3_reads_and_writes_outlast_a_burst_of_503(lake, fault_proxy, chaos_conn) -> None:
    proxy = fault_proxy()
    proxy.script("s3:PutObject", "error", status=503, times=3)
    proxy.script("s3:HeadObject", "error", status=500, times=2)
    proxy.script("s3:GetObject", "lost", status=503, times=4)
    store = LakeStore(S3Hook(aws_conn_id=chaos_conn(proxy)), lake.bucket)
    key = f"_health/{uuid.uuid4().hex}.json"

    store.put_json(key, {"probe": 1})

    assert store.get_json(key) == {"probe": 1}
    assert proxy.stats.faults == proxy.stats.retries == 9
