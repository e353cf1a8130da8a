"""The main job of the README (`make demo`): the demo shop's week, run through the local Airflow.

For each day of the week it delivers the shop's data to the sources (PostgreSQL, Kinesis, S3 landing
files, SQS; the FX API serves its rates), then backfills that day in every dataset DAG through
Airflow's REST API, as a scheduler catching up would. At the end it prints what the lake holds.

Run after ``. include/local_stack/env.sh`` and ``python -m include.local_stack.stack up``::

    python -m include.demo.main [--start 2026-11-16] [--days 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

from include.demo import publish
from include.local_stack import services

log = logging.getLogger("airlake.demo")

DATASETS = ("orders", "clickstream", "products", "fx_rates", "payments")
DEFAULT_START = date(2026, 11, 16)
RUN_TIMEOUT_SECONDS = 900


class AirflowApi:
    """A small client of Airflow 3's REST API (/api/v2), logged in with the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        token = httpx.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; SQLite's "database is locked" (HTTP 503) is retried with backoff."""
        for attempt in range(8):
            response = self.client.request(method, path, **kwargs)
            if response.status_code != 503 or "locked" not in response.text:
                break
            time.sleep(min(2**attempt, 20) * 0.5)
        if response.status_code >= 400:
            raise RuntimeError(
                f"Airflow API {method} {path}: HTTP {response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Wait until the DAG processor has parsed every DAG; fail on import errors."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.call("GET", "/importErrors")["import_errors"]
            if errors:
                details = "\n".join(f"{e['filename']}: {e['stack_trace'][-800:]}" for e in errors)
                raise RuntimeError(f"Airflow could not import DAG files:\n{details}")
            known = {dag["dag_id"] for dag in self.call("GET", "/dags", params={"limit": 1000})["dags"]}
            missing = sorted(set(dag_ids) - known)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"DAGs not parsed after {timeout:.0f} s: {', '.join(missing)}")
            time.sleep(3)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def active_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"state": ["queued", "running"]})
        return runs["dag_runs"]

    def backfill_day(self, dag_id: str, day: date) -> int:
        """Backfill the run whose data interval is [day, day + 1), rerunning it if it already ran."""
        backfill = self.call(
            "POST",
            "/backfills",
            json={
                "dag_id": dag_id,
                "from_date": f"{day.isoformat()}T00:00:00Z",
                "to_date": f"{day.isoformat()}T00:00:00Z",
                "max_active_runs": 1,
                "reprocess_behavior": "completed",
            },
        )
        return backfill["id"]

    def backfill_state(self, dag_id: str, backfill_id: int, day: date) -> str | None:
        """None while the backfill runs; then the state of its run for ``day``."""
        if self.call("GET", f"/backfills/{backfill_id}")["completed_at"] is None:
            return None
        runs = self.call(
            "GET",
            f"/dags/{dag_id}/dagRuns",
            params={"run_type": ["backfill"], "order_by": "-end_date", "limit": 100},
        )["dag_runs"]
        states = [run["state"] for run in runs if run["data_interval_start"].startswith(day.isoformat())]
        return states[0] if states else "missing"

    def wait_settled(self, dag_ids: list[str], timeout: float = RUN_TIMEOUT_SECONDS) -> None:
        """Wait until the scheduler has created every run that is due (the latest interval runs once
        on unpause) and none is still queued or running, so the demo's deliveries go to its backfills."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            pending = [
                dag_id
                for dag_id in dag_ids
                if (self.call("GET", f"/dags/{dag_id}")["next_dagrun_run_after"] or "9999")[:19] <= now
                or self.active_runs(dag_id)
            ]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs of {', '.join(pending)} still due or active after {timeout:.0f} s")
            time.sleep(3)


def _aws(service: str) -> Any:
    endpoint = f"http://127.0.0.1:{os.environ['AIRLAKE_MOTO_PORT']}"
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION"))


def create_sources(bucket: str) -> None:
    """The shop's sources exist before any DAG runs (empty): the lake bucket, table, stream and queue."""
    import psycopg

    publish.ensure_bucket(_aws("s3"), bucket)
    with psycopg.connect(f"postgresql://airlake@127.0.0.1:{os.environ['AIRLAKE_PG_PORT']}/shop") as conn:
        publish.ensure_orders_table(conn)
    publish.ensure_stream(_aws("kinesis"), publish.CLICKSTREAM_STREAM)
    publish.ensure_queue(_aws("sqs"), publish.PAYMENTS_QUEUE)


def deliver(day: date, bucket: str) -> dict[str, int]:
    """The shop's sources receive one day of data."""
    shop_dsn = f"postgresql://airlake@127.0.0.1:{os.environ['AIRLAKE_PG_PORT']}/shop"
    deliveries = [
        publish.publish_orders(day, shop_dsn),
        publish.publish_clickstream(day, _aws("kinesis")),
        publish.publish_products(day, _aws("s3"), bucket),
        publish.publish_payments(day, _aws("sqs")),
    ]
    return {delivery.dataset: delivery.records for delivery in deliveries}


def run_day(api: AirflowApi, day: date) -> dict[str, str]:
    """Backfill ``day`` in every dataset DAG and wait; returns each DAG's run state."""
    started = {f"dataset_{name}": api.backfill_day(f"dataset_{name}", day) for name in DATASETS}
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    states: dict[str, str] = {}
    while len(states) < len(started):
        for dag_id, backfill_id in started.items():
            if dag_id not in states and (state := api.backfill_state(dag_id, backfill_id, day)):
                states[dag_id] = state
        if time.monotonic() > deadline:
            raise RuntimeError(f"backfill of {day} still running after {RUN_TIMEOUT_SECONDS} s")
        time.sleep(2)
    return states


def lake_summary(bucket: str) -> dict[str, dict[str, dict[str, int]]]:
    """Rows, parts and bytes landed per dataset and ingest date, read from the run manifests."""
    s3 = _aws("s3")
    summary: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="_manifests/"):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/ingest.json"):
                continue
            manifest = _read_json(s3, bucket, item["Key"])
            day = manifest["interval"]["start"][:10]
            entry = summary[manifest["dataset"]].setdefault(day, {"rows": 0, "parts": 0, "bytes": 0})
            entry["rows"] += manifest["rows"]["landed"]
            entry["parts"] += len(manifest["outputs"])
            entry["bytes"] += manifest["bytes_written"]
    return summary


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    import json

    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def print_report(
    summary: dict[str, dict[str, dict[str, int]]], days: list[date], airflow_url: str, login: str
) -> None:
    columns = [day.isoformat() for day in days]
    print("\nRows landed in the raw zone (from each run's manifest), per data interval:")
    print(f"{'dataset':<12}" + "".join(f"{c[5:]:>8}" for c in columns) + f"{'total':>9}{'MB':>7}")
    for dataset in DATASETS:
        per_day = summary.get(dataset, {})
        rows = [per_day.get(c, {}).get("rows", 0) for c in columns]
        megabytes = sum(v["bytes"] for v in per_day.values()) / 1e6
        print(f"{dataset:<12}" + "".join(f"{r:>8}" for r in rows) + f"{sum(rows):>9}{megabytes:>7.2f}")
    print(f"\nAirflow UI: {airflow_url}  (login {login})")
    print("The stack keeps running. Stop it with: make down  (moto's in-memory lake is emptied)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo.main", description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    bucket = os.environ["AIRFLOW_VAR_AIRLAKE_BUCKET"]
    state_dir = Path(os.environ["AIRLAKE_STATE"])
    airflow_url = f"http://127.0.0.1:{os.environ['AIRFLOW_PORT']}"
    user, password = services.airflow_login(state_dir)
    api = AirflowApi(airflow_url, user, password)
    dag_ids = [f"dataset_{name}" for name in DATASETS]

    print(f"Airlake demo: the shop's week {args.start} + {args.days} days, through Airflow at {airflow_url}")
    create_sources(bucket)
    api.wait_for_dags(dag_ids)
    for dag_id in dag_ids:
        api.unpause(dag_id)
    api.wait_settled(dag_ids)

    days = [args.start + timedelta(days=offset) for offset in range(args.days)]
    failed: list[str] = []
    for day in days:
        started = time.monotonic()
        delivered = deliver(day, bucket)
        states = run_day(api, day)
        failed += [f"{dag_id} {day}" for dag_id, state in states.items() if state != "success"]
        sent = ", ".join(f"{name} {count}" for name, count in delivered.items())
        print(
            f"{day}: delivered {sent}; runs {', '.join(sorted(set(states.values())))} ({time.monotonic() - started:.0f} s)"
        )

    print_report(lake_summary(bucket), days, airflow_url, f"{user} / {password}")
    if failed:
        print(f"\nFAILED runs (see their logs in the UI): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
