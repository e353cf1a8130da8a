"""The main job of the README (`make demo`): the demo shop's week, run through the local Airflow.

1. The shop's latest day (yesterday) reaches its sources (PostgreSQL, Kinesis, S3 landing files, SQS;
   the FX API serves its rates) and the DAGs are unpaused: the scheduler runs that day itself.
2. The demo week (2026-11-16..22) arrives late and is backfilled in every dataset DAG through
   Airflow's REST API; the orders backfill is a full refresh (the watermark is already past the week).
3. The views follow through their assets, the weekly business report runs, then lake maintenance
   (tiering, cleanup, compaction, storage and cost report).

At the end it prints what the lake holds and the answers (:mod:`include.demo.summary`), and leaves
Airflow running; it talks to Airflow through :mod:`include.demo.airflow_api`. Run after
``. include/local_stack/env.sh`` and ``python -m include.local_stack.stack up``::

    python -m include.demo.main [--start 2026-11-16] [--days 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from include.demo import publish
from include.demo.airflow_api import POLL_SECONDS, AirflowApi
from include.demo.publish import aws_client, pg_dsn
from include.demo.summary import DATASETS, print_answers, print_report, print_storage
from include.local_stack import services

log = logging.getLogger("airlake.demo")

VIEWS = ("daily_sales", "funnel_daily")
VIEW_DAGS = [f"view_{view}" for view in VIEWS]
REPORT_DAG = "business_weekly_report"
MAINTENANCE_DAG = "lake_maintenance_weekly"
DEFAULT_START = date(2026, 11, 16)


def create_sources(bucket: str) -> None:
    """The shop's sources exist before any DAG runs (empty): the lake bucket, table, stream and queue."""
    import psycopg

    publish.ensure_bucket(aws_client("s3"), bucket)
    with psycopg.connect(pg_dsn("shop")) as conn:
        publish.ensure_orders_table(conn)
    publish.ensure_stream(aws_client("kinesis"), publish.CLICKSTREAM_STREAM)
    publish.ensure_queue(aws_client("sqs"), publish.PAYMENTS_QUEUE)
    ensure_alerts_topic()


ALERTS_QUEUE = "airlake-alerts"


def ensure_alerts_topic() -> None:
    """The alerts topic env.sh names (airlake.alerts publishes to it), with the SQS queue ``airlake-alerts``
    subscribed: read the demo's alerts with ``aws --endpoint-url ... sqs receive-message``."""
    arn = os.environ.get("AIRFLOW_VAR_AIRLAKE_ALERTS_TOPIC_ARN")
    if not arn:
        return
    sns, sqs = aws_client("sns"), aws_client("sqs")
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
    shop_dsn = pg_dsn("shop")

    # clients made here: boto3 creates clients safely in one thread only (each is then thread-safe)
    kinesis, s3, sqs = aws_client("kinesis"), aws_client("s3"), aws_client("sqs")

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
    """The views are scheduled by the datasets' assets: wait until every day of the week is built and no
    view has a run going or an asset event still queued for its next run (a day built from its orders
    before its fx_rates arrived is rebuilt by that event's run: the answers must wait for it)."""
    glue = aws_client("glue")
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
        active = api.active_dag_ids()
        busy = [dag_id for dag_id in VIEW_DAGS if dag_id in active or api.queued_asset_events(dag_id)]
        if not missing and not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"views not built after {timeout:.0f} s: {', '.join(missing or busy)}")
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
