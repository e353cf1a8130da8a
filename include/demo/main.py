"""The main job of the README (`make demo`): the demo shop's week, run through the local Airflow.

1. The shop's latest day (yesterday) reaches its sources (PostgreSQL, Kinesis, S3 landing files, SQS;
   the FX API serves its rates) and the DAGs are unpaused: the scheduler runs that day itself.
2. The demo week (2026-11-16..22) arrives late and is backfilled in every dataset DAG through
   Airflow's REST API; the orders backfill is a full refresh (the watermark is already past the week).
3. The views follow through their assets, the weekly business report runs, then lake maintenance
   (tiering, cleanup, compaction, storage and cost report).

At the end it prints what the lake holds and the answers, and leaves Airflow running. Run after
``. include/local_stack/env.sh`` and ``python -m include.local_stack.stack up``::

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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

from include.demo import publish
from include.local_stack import services

log = logging.getLogger("airlake.demo")

DATASETS = ("orders", "clickstream", "products", "fx_rates", "payments")
VIEWS = ("daily_sales", "funnel_daily")
VIEW_DAGS = [f"view_{view}" for view in VIEWS]
REPORT_DAG = "business_weekly_report"
MAINTENANCE_DAG = "lake_maintenance_weekly"
DEFAULT_START = date(2026, 11, 16)
RUN_TIMEOUT_SECONDS = 1800
POLL_SECONDS = 2.0
"""Between two looks at Airflow's API while waiting (each look is a few requests to the API server)."""


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
            time.sleep(POLL_SECONDS)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def active_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"state": ["queued", "running"]})
        return runs["dag_runs"]

    def backfill(self, dag_id: str, first: date, last: date, conf: dict[str, Any] | None = None) -> int:
        """Backfill the runs whose data intervals start on the days first..last, rerunning any that ran."""
        backfill = self.call(
            "POST",
            "/backfills",
            json={
                "dag_id": dag_id,
                "from_date": f"{first.isoformat()}T00:00:00Z",
                "to_date": f"{last.isoformat()}T23:59:59Z",
                "max_active_runs": 1,
                "reprocess_behavior": "completed",
                "dag_run_conf": conf or {},
            },
        )
        return backfill["id"]

    def wait_backfills(self, backfill_ids: list[int], timeout: float = RUN_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.backfill_done(backfill_id) for backfill_id in backfill_ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the backfills are still running after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 100})[
            "dag_runs"
        ]

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
            time.sleep(POLL_SECONDS)


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
    ensure_alerts_topic()


ALERTS_QUEUE = "airlake-alerts"


def ensure_alerts_topic() -> None:
    """The alerts topic env.sh names (airlake.alerts publishes to it), with the SQS queue ``airlake-alerts``
    subscribed: read the demo's alerts with ``aws --endpoint-url ... sqs receive-message``."""
    arn = os.environ.get("AIRFLOW_VAR_AIRLAKE_ALERTS_TOPIC_ARN")
    if not arn:
        return
    sns, sqs = _aws("sns"), _aws("sqs")
    topic = sns.create_topic(Name=arn.rsplit(":", 1)[-1])["TopicArn"]
    queue = sqs.create_queue(QueueName=ALERTS_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    if all(sub["Endpoint"] != queue_arn for sub in subscribed):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)


def deliver(days: list[date], bucket: str) -> dict[date, dict[str, int]]:
    """The shop's sources receive the days of data: each source its days in order (the stream and the
    queue keep arrival order), the four sources side by side (they are independent systems; one after
    the other, the demo waited on the sum of their round trips to moto and PostgreSQL)."""
    shop_dsn = f"postgresql://airlake@127.0.0.1:{os.environ['AIRLAKE_PG_PORT']}/shop"

    # clients made here: boto3 creates clients safely in one thread only (each is then thread-safe)
    kinesis, s3, sqs = _aws("kinesis"), _aws("s3"), _aws("sqs")

    def orders() -> list[publish.Delivery]:
        return [publish.publish_orders(day, shop_dsn) for day in days]

    def clickstream() -> list[publish.Delivery]:
        return [publish.publish_clickstream(day, kinesis) for day in days]

    def products() -> list[publish.Delivery]:
        return [publish.publish_products(day, s3, bucket) for day in days]

    def payments() -> list[publish.Delivery]:
        return [publish.publish_payments(day, sqs) for day in days]

    sources = (orders, clickstream, products, payments)
    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="deliver") as pool:
        per_source = [future.result() for future in [pool.submit(source) for source in sources]]
    return {
        day: {deliveries[index].dataset: deliveries[index].records for deliveries in per_source}
        for index, day in enumerate(days)
    }


def run_week(api: AirflowApi, dag_ids: list[str], days: list[date]) -> dict[str, dict[date, str]]:
    """Backfill the week in every dataset DAG (the DAGs run side by side, each day after the other).

    The scheduler's own run of the latest day has already moved the orders watermark past the week, so
    the orders backfill is a full refresh: each day re-extracts its orders by order time (the source
    table is the truth); streams and landed files hand over whatever is still waiting.
    """
    conf = {"dataset_orders": {"full_refresh": True}}
    started = [api.backfill(dag_id, days[0], days[-1], conf.get(dag_id)) for dag_id in dag_ids]
    api.wait_backfills(started)
    return {dag_id: api.day_states(dag_id, days) for dag_id in dag_ids}


def wait_for_views(api: AirflowApi, database: str, days: list[date], timeout: float = 600) -> None:
    """The views are scheduled by the datasets' assets: wait until every day of the week is built."""
    glue = _aws("glue")
    deadline = time.monotonic() + timeout
    while True:
        missing = []
        for view in VIEWS:
            try:
                partitions = glue.get_partitions(DatabaseName=database, TableName=view)["Partitions"]
            except glue.exceptions.EntityNotFoundException:
                partitions = []
            built = {p["Values"][0] for p in partitions}
            missing += [f"{view} {day}" for day in days if day.isoformat() not in built]
        busy = [dag_id for dag_id in VIEW_DAGS if api.active_runs(dag_id)]
        if not missing and not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"views not built after {timeout:.0f} s: {', '.join(missing) or busy}")
        time.sleep(POLL_SECONDS)


def run_weekly(api: AirflowApi, dag_id: str, first: date) -> str:
    """Unpause a weekly DAG (the scheduler runs its latest week) and make sure the week of ``first``
    ran too; the state of that week's newest run."""
    api.unpause(dag_id)
    api.wait_settled([dag_id])
    week = [
        run for run in api.runs(dag_id) if (run.get("data_interval_start") or "")[:10] == first.isoformat()
    ]
    if not week:
        api.wait_backfills([api.backfill(dag_id, first, first)])
        week = [
            run
            for run in api.runs(dag_id)
            if (run.get("data_interval_start") or "")[:10] == first.isoformat()
        ]
    return week[0]["state"] if week else "missing"


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
    print_warehouse()


def _newest_report(s3: Any, bucket: str, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The newest ``report.json`` under ``prefix``: its key and document."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith("/report.json")
    ]
    if not keys:
        return None
    key = max(keys)
    return key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _save_html(s3: Any, bucket: str, json_key: str, name: str) -> Path:
    """Copy a report's HTML page out of the (in-memory) lake into .local/reports/ to open in a browser."""
    folder = Path(os.environ["AIRLAKE_STATE"]) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    html_key = json_key.rsplit("/", 1)[0] + "/report.html"
    path.write_bytes(s3.get_object(Bucket=bucket, Key=html_key)["Body"].read())
    return path


def print_answers(bucket: str, week_start: date) -> None:
    """The shop's answers, from the weekly business report the Airflow DAG wrote into the lake."""
    s3 = _aws("s3")
    found = _newest_report(s3, bucket, f"reports/business/week={week_start.isoformat()}/")
    if found is None:
        print(f"\nNo business report for the week of {week_start} (see business_weekly_report in the UI)")
        return
    key, report = found
    top = report["top_countries"][:5]
    print(
        "\nTop countries by revenue (EUR, via fx_rates): "
        + ", ".join(f"{r['country']} {r['revenue_eur']:,.2f}" for r in top)
    )
    print(
        "Funnel conversion (purchase / product-view sessions) per day: "
        + ", ".join(f"{r['dt'][5:]} {float(r['conversion_rate'] or 0):.1%}" for r in report["funnel"])
    )
    print(
        f"Most popular products, week of {week_start}: "
        + ", ".join(
            f"{r['product_name'] or r['product_id']} ({int(r['purchases'])} bought)"
            for r in report["top_products"][:5]
        )
    )
    print(
        f"Business report: s3://{bucket}/{key.rsplit('/', 1)[0]}/report.html -> {_save_html(s3, bucket, key, 'business-report.html')}"
    )


def print_storage(bucket: str) -> None:
    """Storage per zone and class and the monthly cost estimate, from the maintenance DAG's report."""
    s3 = _aws("s3")
    found = _newest_report(s3, bucket, "reports/storage/")
    if found is None:
        print("\nNo storage report (see lake_maintenance_weekly in the UI)")
        return
    key, report = found
    totals, pricing = report["totals"], report["pricing"]
    print(
        f"\nStorage: {totals['objects']:,} objects, {totals['bytes'] / 2**20:,.1f} MiB; monthly cost estimate "
        f"${totals['monthly_cost_usd']:.4f} ({pricing['region']} prices as of {pricing['as_of']}; "
        f"Athena ${totals['athena_monthly_cost_usd']:.4f} of it)"
    )
    print(
        "  per storage class: "
        + ", ".join(
            f"{e['storage_class']} {e['objects']} objects {e['bytes'] / 2**20:,.2f} MiB"
            for e in report["by_storage_class"]
        )
    )
    print("  per zone: " + ", ".join(f"{z['zone']} {z['bytes'] / 2**20:,.2f} MiB" for z in report["by_zone"]))
    print(
        f"Storage report: s3://{bucket}/{key.rsplit('/', 1)[0]}/report.html -> {_save_html(s3, bucket, key, 'storage-report.html')}"
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

    demo_started = time.monotonic()

    def clock() -> str:
        """Time since the demo started, printed after each phase (where the minutes go)."""
        minutes, seconds = divmod(int(time.monotonic() - demo_started), 60)
        return f"+{minutes}:{seconds:02d}"

    days = [args.start + timedelta(days=offset) for offset in range(args.days)]
    latest = datetime.now(UTC).date() - timedelta(days=1)
    database = os.environ.get("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", "airlake")
    print(f"Airlake demo: the shop's week {days[0]}..{days[-1]}, through Airflow at {airflow_url}")
    create_sources(bucket)
    api.wait_for_dags([*dag_ids, *VIEW_DAGS, REPORT_DAG, MAINTENANCE_DAG])
    print(f"Airflow has parsed the DAGs [{clock()}]")

    # 1. the shop's latest day, then the DAGs go live: the scheduler runs that day itself
    if latest > days[-1]:
        for day, delivered in deliver([latest], bucket).items():
            print(f"{day}: delivered " + ", ".join(f"{name} {count}" for name, count in delivered.items()))
    for dag_id in [*VIEW_DAGS, *dag_ids]:
        api.unpause(dag_id)
    api.wait_settled(dag_ids)
    print(f"The scheduler ran the latest day ({latest}) in {len(dag_ids)} dataset DAGs [{clock()}]")

    # 2. the demo week arrives late: a backfill through Airflow processes it day by day
    for day, delivered in deliver(days, bucket).items():
        print(f"{day}: delivered " + ", ".join(f"{name} {count}" for name, count in delivered.items()))
    print(f"The week reached the shop's sources [{clock()}]")
    started = time.monotonic()
    print(
        f"Backfilling {days[0]}..{days[-1]} in {len(dag_ids)} DAGs through Airflow (orders as a full refresh) ..."
    )
    states = run_week(api, dag_ids, days)
    failed = [
        f"{dag_id} {day}"
        for dag_id, per_day in states.items()
        for day, state in per_day.items()
        if state != "success"
    ]
    print(
        f"{sum(len(v) for v in states.values()) - len(failed)} runs succeeded in {time.monotonic() - started:.0f} s"
        f" [{clock()}]"
    )

    # 3. the views follow the data (asset-scheduled), then the weekly report and maintenance run
    wait_for_views(api, database, days)
    print(
        f"Views {', '.join(VIEWS)} rebuilt by their asset-triggered DAGs for every day of the week [{clock()}]"
    )
    week_start = days[0] - timedelta(days=days[0].weekday())
    for dag_id, state in (
        (REPORT_DAG, run_weekly(api, REPORT_DAG, week_start)),
        (MAINTENANCE_DAG, _run_latest(api, MAINTENANCE_DAG)),
    ):
        print(f"{dag_id}: {state} [{clock()}]")
        if state != "success":
            failed.append(dag_id)

    print_report(bucket, database, [*days, *([latest] if latest > days[-1] else [])])
    print_answers(bucket, week_start)
    print_storage(bucket)
    print(f"\nAirflow UI: {airflow_url}  (login {user} / {password})")
    print("The stack keeps running. Stop it with: make down  (moto's in-memory lake is emptied)")
    if failed:
        print(f"\nFAILED runs (see their logs in the UI): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _run_latest(api: AirflowApi, dag_id: str) -> str:
    """Unpause a DAG and wait for the run the scheduler starts for its latest interval."""
    api.unpause(dag_id)
    api.wait_settled([dag_id])
    runs = api.runs(dag_id)
    return runs[0]["state"] if runs else "missing"


if __name__ == "__main__":
    sys.exit(main())
