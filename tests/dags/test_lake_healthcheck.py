"""Smoke test: the health-check DAG writes an object through S3Hook to the moto server and reads it back."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest

from tests.helpers import run_dag_test


def test_lake_healthcheck_round_trips_an_encrypted_object(
    lake, airflow_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_BUCKET", lake.bucket)
    dag = importlib.import_module("lake_healthcheck").lake_healthcheck()

    moment = datetime(2026, 11, 21, 12, tzinfo=UTC)
    run = run_dag_test(dag, logical_date=moment, run_after=moment)

    assert run.state == "success"
    [probe] = list(lake.list("_health/"))
    body = lake.client.get_object(Bucket=lake.bucket, Key=probe.key)["Body"].read().decode()
    assert body == f"airlake health probe {run.run_id}"
    assert lake.head(probe.key)["ServerSideEncryption"] == "AES256"
