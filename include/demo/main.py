"""The main job of the README (`make demo`): the demo shop's week, run through the local Airflow.

For each day of the week it delivers the shop's data to the sources (PostgreSQL, Kinesis, S3 landing
files, SQS; the FX API serves its rates), then backfills that day in every dataset DAG through
Airflow's REST API, as a scheduler catching up would. At the end it prints what the lake holds.

Run after ``. include/local_stack/env.sh`` and ``python -m include.local_stack.stack up``::

    python -m include.demo.main [--start 2026-11-16] [--days 7]
"""

from __future__ import annotations

import argparse
import json
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
RUN_TIMEOUT_SECONDS = 1800


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

    def backfill(self, dag_id: str, first: date, last: date) -> int:
        """Backfill the runs whose data intervals are the days first..last, rerunning any that ran."""
        backfill = self.call(
            "POST",
            "/backfills",
            json={
                "dag_id": dag_id,
                "from_date": f"{first.isoformat()}T00:00:00Z",
                "to_date": f"{last.isoformat()}T00:00:00Z",
                "max_active_runs": 1,
                "reprocess_behavior": "completed",
            },
        )
        return backfill["id"]

    def backfill_done(self, backfill_id: int) -> bool:
        return self.call("GET", f"/backfills/{backfill_id}")["completed_at"] is not None

    def day_states(self, dag_id: str, days: list[date]) -> dict[date, str]:
        """The state of the newest run of each day's data interval."""
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-end_date", "limit": 100})[
            "dag_runs"
        ]
        states: dict[date, str] = {}
        for run in runs:
            day = date.fromisoformat(run["data_interval_start"][:10])
            if day in days:
                states.setdefault(day, run["state"])
        return {day: states.get(day, "missing") for day in days}

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


def run_week(api: AirflowApi, dag_ids: list[str], days: list[date]) -> dict[str, dict[date, str]]:
    """Backfill the week in every dataset DAG (the DAGs run side by side, each day after the other)."""
    started = {dag_id: api.backfill(dag_id, days[0], days[-1]) for dag_id in dag_ids}
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not all(api.backfill_done(backfill_id) for backfill_id in started.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the backfills are still running after {RUN_TIMEOUT_SECONDS} s")
        time.sleep(5)
    return {dag_id: api.day_states(dag_id, days) for dag_id in dag_ids}


def _manifests(s3: Any, bucket: str, stage: str) -> list[dict[str, Any]]:
    """Every complete manifest of ``stage``, oldest run first."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="_manifests/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{stage}.json"):
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                if manifest.get("status") == "complete":
                    found.append(manifest)
    return sorted(found, key=lambda m: m["started_at"])


def print_report(bucket: str, database: str, days: list[date]) -> None:
    """What the lake holds after the week: raw per day, curated and quarantined rows, Glue tables."""
    s3 = _aws("s3")
    columns = [day.isoformat() for day in days]
    raw: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for manifest in _manifests(s3, bucket, "ingest"):
        raw[manifest["dataset"]][manifest["interval"]["start"][:10]] += manifest["rows"]["landed"]
    print("\nRaw zone: rows landed per data interval (from the ingest manifests)")
    print(f"{'dataset':<12}" + "".join(f"{c[5:]:>8}" for c in columns) + f"{'total':>9}")
    for dataset in DATASETS:
        rows = [raw[dataset].get(c, 0) for c in columns]
        print(f"{dataset:<12}" + "".join(f"{r:>8}" for r in rows) + f"{sum(rows):>9}")

    curated: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for manifest in _manifests(s3, bucket, "curate"):
        for key in ("read", "written", "quarantined", "duplicates_dropped"):
            curated[manifest["dataset"]][key] += manifest["rows"].get(key, 0)
        for reason, count in (manifest.get("quarantine") or {}).get("reasons", {}).items():
            reasons[manifest["dataset"]][reason] += count
    glue = _aws("glue")
    print("\nCurated zone and catalog: read = written + quarantined + duplicates dropped")
    print(
        f"{'dataset':<12}{'read':>8}{'written':>9}{'quarant.':>9}{'dupes':>7}{'partitions':>11}  quarantine reasons"
    )
    for dataset in DATASETS:
        counts = curated[dataset]
        try:
            partitions = glue.get_partitions(DatabaseName=database, TableName=dataset)["Partitions"]
        except glue.exceptions.EntityNotFoundException:
            partitions = []
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons[dataset].items())) or "-"
        print(
            f"{dataset:<12}{counts['read']:>8}{counts['written']:>9}{counts['quarantined']:>9}"
            f"{counts['duplicates_dropped']:>7}{len(partitions):>11}  {why}"
        )
    print(
        f"\nGlue database {database!r}: tables point at s3://{bucket}/curated/<dataset>/dt=<day>/v=<version>/"
    )
    print_answers(database, days)
    print_warehouse()


def _render(view: str, ds: date) -> str:
    import jinja2

    text = (Path(__file__).resolve().parents[2] / "sql" / "athena" / f"{view}.sql").read_text()
    return jinja2.Template(text).render(ds=ds.isoformat())


def print_answers(database: str, days: list[date]) -> None:
    """The shop's answers, from the Athena views run on DuckDB over the live Glue partitions."""
    from airlake.engines.duckdb_engine import DuckDBEngine

    with DuckDBEngine(_aws("glue"), _aws("s3"), database) as engine:
        sales = [engine.run(_render("daily_sales", day)).to_pylist() for day in days]
        funnel = [engine.run(_render("funnel_daily", day)).to_pylist() for day in days]
        popular = engine.run(_render("product_popularity_weekly", days[-1])).to_pylist()
    revenue: dict[str, float] = defaultdict(float)
    for row in (row for day in sales for row in day):
        revenue[row["country"]] += float(row["revenue_eur"] or 0)
    top = sorted(revenue.items(), key=lambda item: -item[1])[:5]
    print("\nTop countries by revenue (EUR, via fx_rates): " + ", ".join(f"{c} {v:,.2f}" for c, v in top))
    print(
        "Funnel conversion (purchase / product-view sessions) per day: "
        + ", ".join(
            f"{row['dt'][5:]} {float(row['conversion_rate'] or 0):.1%}" for day in funnel for row in day
        )
    )
    best = sorted(
        popular,
        key=lambda row: (-int(row["purchases"]), -int(row["product_views"]), str(row["product_id"])),
    )[:5]
    print(
        "Most popular products, week of "
        + str(days[-1])
        + ": "
        + ", ".join(
            f"{row['product_name'] or row['product_id']} ({int(row['purchases'])} bought)" for row in best
        )
    )


def print_warehouse() -> None:
    """Rows in the warehouse tables (PostgreSQL standing in for Redshift): one row per key."""
    import psycopg

    dsn = f"postgresql://airlake@127.0.0.1:{os.environ['AIRLAKE_PG_PORT']}/warehouse"
    with psycopg.connect(dsn) as conn:
        counts = {
            dataset: conn.execute(f'select count(*) from "{dataset}"').fetchone()[0]
            for dataset in DATASETS
            if conn.execute("select to_regclass(%s)", (f'"{dataset}"',)).fetchone()[0]
        }
    print("Warehouse tables (PostgreSQL for Redshift): " + ", ".join(f"{t} {n}" for t, n in counts.items()))


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
    for day in days:
        delivered = deliver(day, bucket)
        print(f"{day}: delivered " + ", ".join(f"{name} {count}" for name, count in delivered.items()))
    started = time.monotonic()
    print(f"Backfilling {days[0]}..{days[-1]} in {len(dag_ids)} DAGs through Airflow ...")
    states = run_week(api, dag_ids, days)
    failed = [
        f"{dag_id} {day}"
        for dag_id, per_day in states.items()
        for day, state in per_day.items()
        if state != "success"
    ]
    print(
        f"{sum(len(v) for v in states.values()) - len(failed)} runs succeeded in {time.monotonic() - started:.0f} s"
    )

    print_report(bucket, os.environ.get("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", "airlake"), days)
    print(f"\nAirflow UI: {airflow_url}  (login {user} / {password})")
    print("The stack keeps running. Stop it with: make down  (moto's in-memory lake is emptied)")
    if failed:
        print(f"\nFAILED runs (see their logs in the UI): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
