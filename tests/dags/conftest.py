"""Fixtures of the DAG tests: the local services wired into the DAGs' Variables and connections."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest

from include.demo import fx_api, publish
from tests.conftest import free_port


def glue_database_of(bucket: str) -> str:
    return f"airlake_{bucket.rsplit('-', 1)[1]}"


def point_dags_at(monkeypatch: pytest.MonkeyPatch, bucket: str, warehouse_dsn: str) -> str:
    """Make the DAGs use this lake bucket, its own Glue database and this warehouse; the database name."""
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_BUCKET", bucket)
    glue_database = glue_database_of(bucket)
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", glue_database)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRLAKE_WAREHOUSE", warehouse_dsn.replace("postgresql://", "postgres://", 1)
    )
    return glue_database


@pytest.fixture
def shop_dsn(local_services, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh shop database (the orders source) for one test, wired as the shop_db connection."""
    name = f"shop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = local_services.pg_database_dsn(name)
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_DB", dsn.replace("postgresql://", "postgres://", 1))
    yield dsn
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pipeline_env(
    local_services, lake, airflow_db, pg_database: str, shop_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The lake bucket of this test as the DAGs' Variable, and clients for the demo's sources."""
    glue_database = point_dags_at(monkeypatch, lake.bucket, pg_database)
    server = fx_api.serve("127.0.0.1", free_port())
    monkeypatch.setenv("AIRFLOW_CONN_FX_API", f"http://127.0.0.1:{server.server_address[1]}")
    clients = {
        service: boto3.client(service, endpoint_url=local_services.moto_endpoint, region_name="us-east-1")
        for service in ("s3", "kinesis", "sqs", "glue")
    }
    _forget_streams(clients)
    yield {
        "lake": lake,
        "glue_database": glue_database,
        "warehouse_dsn": pg_database,
        "clients": clients,
        "shop_dsn": shop_dsn,
    }
    fx_api.stop(server)


def _forget_streams(clients: dict[str, Any]) -> None:
    """Streams and queues outlive a test on the session's moto server: start each test without them."""
    sqs, kinesis = clients["sqs"], clients["kinesis"]
    for url in sqs.list_queues(QueueNamePrefix=publish.PAYMENTS_QUEUE).get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    if publish.CLICKSTREAM_STREAM in kinesis.list_streams()["StreamNames"]:
        kinesis.delete_stream(StreamName=publish.CLICKSTREAM_STREAM, EnforceConsumerDeletion=True)
