"""WarehouseLoadOperator: the warehouse connection's type picks the path (Redshift COPY of a manifest, or
the PostgreSQL stand-in); the COPY role comes from the connection and never reaches logs, XCom or the
load manifest."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from airlake.contracts import get_contract
from airlake.lake import copy_manifest_key, manifest_key
from airlake.operators.load import WarehouseLoadOperator
from tests.plugins.airlake.load.load_helpers import (
    ROLE,
    RecordingConnection,
    parquet_bytes,
    write_curate_manifest,
)

RUN_ID = "manual__2026-11-21T00:00:00+00:00"
CONN_ID = "test_warehouse"
KMS_KEY = "alias/airlake-test"
REDSHIFT_HOST = "airlake.abc123xyz.us-east-1.redshift.amazonaws.com"


def _orders(ids: list[int], day: int, status: str = "placed") -> list[dict[str, Any]]:
    moment = dt.datetime(2026, 11, day, 9, tzinfo=dt.UTC)
    return [
        {
            "order_id": order_id,
            "customer_id": 100 + order_id,
            "product_id": f"p-{order_id}",
            "quantity": 1,
            "amount": Decimal("9.99"),
            "currency": "EUR",
            "country": "DE",
            "status": status,
            "ordered_at": moment,
            "updated_at": moment,
            "coupon_code": None,
        }
        for order_id in ids
    ]


@pytest.fixture
def published_run(lake) -> list[str]:
    """A complete curate run of ``orders`` that published two partitions (one file each)."""
    contract = get_contract("orders")
    partitions = {}
    for day, ids in ((19, [1, 2]), (20, [3, 4, 5])):
        key = f"curated/orders/dt=2026-11-{day}/v=20261121T000000000000Z/part-00000.parquet"
        lake.put_bytes(key, parquet_bytes(contract, _orders(ids, day)))
        partitions[f"2026-11-{day}"] = [key]
    write_curate_manifest(lake, "orders", RUN_ID, partitions)
    return [files[0] for files in partitions.values()]


def _operator(lake) -> WarehouseLoadOperator:
    return WarehouseLoadOperator(
        task_id="load", dataset="orders", bucket=lake.bucket, warehouse_conn_id=CONN_ID
    )


def _redshift_connection(monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "redshift",
                "host": REDSHIFT_HOST,
                "port": 5439,
                "schema": "analytics",
                "login": "loader",
                "password": "not-a-real-password",
                "extra": extra,
            }
        ),
    )


@pytest.fixture
def redshift(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A redshift connection whose driver hands out a recording connection instead of a socket."""
    _redshift_connection(monkeypatch, {"copy_iam_role": ROLE, "sslmode": "verify-full"})
    state: dict[str, Any] = {"connects": [], "conn": RecordingConnection()}

    def connect(**kwargs: Any) -> RecordingConnection:
        state["connects"].append(kwargs)
        return state["conn"]

    monkeypatch.setattr("redshift_connector.connect", connect)
    return state


def test_template_fields_are_the_arguments() -> None:
    operator = WarehouseLoadOperator(task_id="load", dataset="orders", bucket="b")
    assert set(operator.template_fields) >= {"dataset", "bucket", "warehouse_conn_id", "aws_conn_id"}
    for name in operator.template_fields:
        assert hasattr(operator, name), name


def test_redshift_connection_takes_the_copy_path(lake, published_run, redshift, caplog, capsys) -> None:
    result = _operator(lake).execute({"run_id": RUN_ID})  # type: ignore[arg-type]

    # the provider's hook connected with the connection's fields, without the COPY role keys
    [kwargs] = redshift["connects"]
    assert kwargs["host"] == REDSHIFT_HOST and kwargs["database"] == "analytics"
    assert kwargs["user"] == "loader" and kwargs["sslmode"] == "verify-full"
    assert "copy_iam_role" not in kwargs and "iam_role" not in kwargs
    conn: RecordingConnection = redshift["conn"]
    assert conn.closed
    statements = conn.statements
    [create] = [s for s in statements if "create table if not exists" in s]
    assert 'distkey ("customer_id")' in create
    [copy] = [s for s in statements if "format as parquet" in s]
    manifest_uri = f"s3://{lake.bucket}/{copy_manifest_key('orders', RUN_ID)}"
    assert f"from '{manifest_uri}'" in copy and f"iam_role '{ROLE}'" in copy
    assert [event[0] for event in conn.events].count("commit") == 2  # the table, then the load
    assert [e[0] for e in conn.events][-1] == "commit"

    copy_manifest = lake.get_json(copy_manifest_key("orders", RUN_ID))
    assert [entry["url"] for entry in copy_manifest["entries"]] == [
        f"s3://{lake.bucket}/{key}" for key in published_run
    ]
    load = lake.get_json(manifest_key("orders", RUN_ID, "load"))
    assert load["warehouse"] == "redshift" and load["copy_manifest"] == manifest_uri
    assert load["rows"]["staged"] == 5 and load["rows"]["files"] == 2
    assert result == {"dataset": "orders", "table": "orders", **load["rows"]}
    logged = caplog.text + "".join(capsys.readouterr())
    for text in (json.dumps(load), json.dumps(result), logged):
        assert ROLE not in text


def test_redshift_copy_manifest_is_written_with_the_kms_key(lake, published_run, redshift) -> None:
    operator = WarehouseLoadOperator(
        task_id="load", dataset="orders", bucket=lake.bucket, warehouse_conn_id=CONN_ID, kms_key_id=KMS_KEY
    )
    operator.execute({"run_id": RUN_ID})  # type: ignore[arg-type]

    for key in (copy_manifest_key("orders", RUN_ID), manifest_key("orders", RUN_ID, "load")):
        head = lake.client.head_object(Bucket=lake.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"].endswith(KMS_KEY), key


def test_redshift_connection_without_role_fails_before_connecting(lake, published_run, redshift, monkeypatch):
    _redshift_connection(monkeypatch, {"sslmode": "verify-full"})
    with pytest.raises(ValueError, match="no IAM role for COPY"):
        _operator(lake).execute({"run_id": RUN_ID})  # type: ignore[arg-type]
    assert redshift["connects"] == []
    assert not lake.exists(copy_manifest_key("orders", RUN_ID))


def test_unknown_connection_type_is_refused(lake, published_run, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", "mysql://u:p@localhost/db")
    with pytest.raises(ValueError, match="'mysql'"):
        _operator(lake).execute({"run_id": RUN_ID})  # type: ignore[arg-type]


def test_postgres_connection_keeps_the_streaming_path(lake, published_run, pg_database, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", pg_database.replace("postgresql://", "postgres://"))

    result = _operator(lake).execute({"run_id": RUN_ID})  # type: ignore[arg-type]
    again = _operator(lake).execute({"run_id": RUN_ID})  # type: ignore[arg-type]

    assert (result["staged"], result["inserted"], result["updated"]) == (5, 5, 0)
    assert (again["inserted"], again["updated"]) == (0, 5)
    with psycopg.connect(pg_database) as conn:
        rows = conn.execute("select order_id, customer_id, status from orders order by 1").fetchall()
    assert rows == [(i, 100 + i, "placed") for i in range(1, 6)]
    load = lake.get_json(manifest_key("orders", RUN_ID, "load"))
    assert load["warehouse"] == "postgres" and "copy_manifest" not in load
    assert not lake.exists(copy_manifest_key("orders", RUN_ID))
