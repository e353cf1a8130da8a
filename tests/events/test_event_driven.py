"""End to end: a file dropped into the landing prefix is curated by an event run, with no scheduled run.

A real `airflow standalone` (scheduler, DAG processor, triggerer, API server) on this session's moto and
PostgreSQL, with the demo contracts where only ``products`` has ``source.events_queue``. Scheduled runs are
switched off (``[scheduler] use_job_schedule``): the only way a run can appear is the watcher. The chain
under test is moto's S3 notification -> SQS -> the AssetWatcher's trigger in the triggerer -> asset event
-> asset-triggered run -> ingest, curate, quality, catalog, load.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

import boto3
import httpx
import pyarrow.parquet as pq
import pytest
import yaml

from include.demo import fx_api
from include.demo.notifications import ensure_landing_notifications
from include.local_stack import services
from tests.conftest import LocalServices, free_port
from tests.ui.conftest import _create_database, _drop_database, _wait_for_dags

DAG_ID = "dataset_products"
CSV = (
    "product_id,name,category,price,currency,updated_at,brand\n"
    "SKU-E1,Event mug,kitchen,9.90,EUR,2026-11-20T08:00:00Z,Acme\n"
    "SKU-E2,Event pen,office,1.50,EUR,2026-11-20T09:30:00Z,\n"
)


def _client(local: LocalServices, service: str):
    return boto3.client(
        service,
        endpoint_url=local.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",
    )


@pytest.fixture(scope="module")
def event_stack(local_services: LocalServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("events-stack")
    suffix = uuid.uuid4().hex[:10]
    bucket, glue_database, queue = f"airlake-ev-{suffix}", f"airlake_ev_{suffix}", f"airlake-landing-{suffix}"
    contracts = state / "contracts"
    shutil.copytree(services.PROJECT_ROOT / "include" / "contracts", contracts)
    products = yaml.safe_load((contracts / "products.yaml").read_text())
    products["source"]["events_queue"] = queue
    (contracts / "products.yaml").write_text(yaml.safe_dump(products, sort_keys=False))

    s3, sqs = _client(local_services, "s3"), _client(local_services, "sqs")
    s3.create_bucket(Bucket=bucket)
    ensure_landing_notifications(s3, sqs, bucket, {products["source"]["landing_prefix"]: queue})
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])  # s3:TestEvent

    port = free_port()
    fx_server = fx_api.serve("127.0.0.1", 0)
    pg_port = local_services.pg_dsn.rsplit(":", 1)[1]
    metadata_db = _create_database(local_services, "ev_airflow")
    warehouse_db = _create_database(local_services, "ev_warehouse")
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=120)
    try:
        env = services.load_env(
            {
                "AIRLAKE_STATE": str(state),
                "AIRFLOW_PORT": str(port),
                "AIRLAKE_MOTO_PORT": local_services.moto_endpoint.rsplit(":", 1)[1],
                "AIRLAKE_PG_PORT": pg_port,
                "AIRLAKE_AIRFLOW_DB": metadata_db,
                "AIRLAKE_FX_API_PORT": str(fx_server.server_address[1]),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW_VAR_AIRLAKE_BUCKET": bucket,
            },
            base={key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TZ")},
        )
        env.update(
            {
                "AIRFLOW_CONN_AIRLAKE_WAREHOUSE": f"postgres://airlake@127.0.0.1:{pg_port}/{warehouse_db}",
                "AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE": glue_database,
                "AIRLAKE_CONTRACTS_DIR": str(contracts),
                "AIRLAKE_EVENTS_POLL_SECONDS": "2",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",  # watchers follow the unpause soon
            }
        )
        services.start_airflow(port=port, state_dir=state, env=env, timeout=300)
        username, password = services.airflow_login(state)
        token = api.post("/auth/token", json={"username": username, "password": password})
        assert token.status_code == 201, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        _wait_for_dags(api, (DAG_ID,), timeout=240)
        unpaused = api.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        yield {"api": api, "bucket": bucket, "queue": queue, "s3": s3, "sqs": sqs, "state": state}
    finally:
        try:
            services.stop_airflow(state_dir=state)
        finally:
            api.close()
            fx_api.stop(fx_server)
            for name in (metadata_db, warehouse_db):
                _drop_database(local_services, name)


def _get(api: httpx.Client, path: str, **params) -> httpx.Response:
    """GET, tolerating the API server's slow replies on a busy machine (a few tries)."""
    for attempt in range(5):
        try:
            return api.get(path, params=params or None)
        except httpx.TransportError:
            if attempt == 4:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


def _runs(api: httpx.Client) -> list[dict]:
    response = _get(api, f"/api/v2/dags/{DAG_ID}/dagRuns", limit=100)
    assert response.status_code == 200, response.text
    return response.json()["dag_runs"]


def _wait_watcher(api: httpx.Client, timeout: float) -> None:
    """Until the DAG processor has given the unpaused DAG's asset its watcher (a trigger row)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assets = _get(api, "/api/v2/assets", name_pattern="events.products").json().get("assets", [])
        if assets and assets[0].get("watchers"):
            return
        time.sleep(2)
    raise AssertionError(f"no watcher on events.products after {timeout:.0f} s: {assets}")


def _wait_finished(api: httpx.Client, run_type: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [r for r in _runs(api) if r["run_type"] == run_type and r["state"] in ("success", "failed")]
        if done:
            return done[0]
        time.sleep(3)
    raise AssertionError(f"no finished {run_type} run after {timeout:.0f} s: {_runs(api)}")


def _landed(s3, bucket: str, run_id: str) -> list[str]:
    """The landing files the run's ingest manifest says it landed."""
    prefix = "_manifests/products/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    inputs = []
    for key in keys:
        if "/ingest/" in key and key.endswith(".json"):
            manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if manifest.get("run_id") == run_id:
                inputs += [item["key"] for item in manifest.get("inputs", [])]
    return inputs


def _quality_checks(s3, bucket: str, run_id: str) -> dict[str, dict]:
    """The run's quality results by check name (its newest quality manifest)."""
    prefix = "_manifests/products/"
    keys = sorted(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if "/quality/" in o["Key"] and o["Key"].endswith(".json")
    )
    for key in reversed(keys):
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if manifest.get("run_id") == run_id:
            return {check["check"]: check for check in manifest["checks"]}
    raise AssertionError(f"no quality manifest of {run_id} under {prefix}: {keys}")


def test_a_dropped_file_is_curated_by_an_event_run_without_a_scheduled_run(event_stack) -> None:
    api, s3, bucket = event_stack["api"], event_stack["s3"], event_stack["bucket"]
    _wait_watcher(api, timeout=120)
    # Unpausing starts the cron's run of the latest interval (catchup off): the fallback path. It finds no
    # landing file; only after it the file is dropped, so whatever lands it is not a scheduled run.
    scheduled = _wait_finished(api, "scheduled", timeout=300)
    assert _landed(s3, bucket, scheduled["dag_run_id"]) == []

    key = "landing/products/2026-11-20/event-drop.csv.gz"
    s3.put_object(
        Bucket=bucket, Key=key, Body=gzip.compress(CSV.encode(), mtime=0), ServerSideEncryption="AES256"
    )
    dropped = time.time()
    run = _wait_finished(api, "asset_triggered", timeout=300)
    tis = _get(api, f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances").json()
    assert run["state"] == "success", {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
    queued_at = datetime.fromisoformat(run["queued_at"]).timestamp()
    print(f"event run {run['dag_run_id']} queued {queued_at - dropped:.1f} s after the drop")
    assert [r["run_type"] for r in _runs(api) if r["run_type"] != "asset_triggered"] == ["scheduled"]
    assert _landed(s3, bucket, run["dag_run_id"]) == [key]

    # curated: the two rows, in the partition of their event date, as Parquet
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="curated/products/dt=2026-11-20/").get("Contents", [])
    parquet = [obj["Key"] for obj in listed if obj["Key"].endswith(".parquet")]
    assert parquet, f"nothing curated under dt=2026-11-20: {[obj['Key'] for obj in listed]}"
    rows = []
    for part in parquet:
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=part)["Body"].read()))
        rows += table.select(["product_id", "name"]).to_pylist()
    assert sorted(rows, key=lambda r: r["product_id"]) == [
        {"product_id": "SKU-E1", "name": "Event mug"},
        {"product_id": "SKU-E2", "name": "Event pen"},
    ]
    # row_count_min counts the finished day the file brought; the run's own day (the one it was triggered in)
    # is still filling, so it is left to that day's scheduled run, and the result says so
    row_count = _quality_checks(s3, bucket, run["dag_run_id"])["row_count_min"]
    assert row_count["passed"] and not row_count["deferred"] and row_count["observed"] == 2, row_count
    own_day = datetime.fromisoformat(run["run_after"]).date().isoformat()
    assert f"left to the day's scheduled run: dt={own_day} is not complete at" in row_count["detail"], (
        row_count
    )
    # the notification was consumed by the watcher, the file claimed by the checkpoint
    state = s3.get_object(Bucket=bucket, Key="_state/products/ingest.json")["Body"].read()
    assert key.encode() in state
    queue_url = event_stack["sqs"].get_queue_url(QueueName=event_stack["queue"])["QueueUrl"]
    assert event_stack["sqs"].receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages") is None
