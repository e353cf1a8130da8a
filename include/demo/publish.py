"""Deliver demo shop days to the local stack (PostgreSQL, Kinesis, S3, SQS), as the real sources would.

Every ``publish_*`` function takes a ``DemoDay`` (or a date, generated with ``seed``) and returns a
``Delivery``. Orders and products are idempotent (upsert by order_id / same keys and bytes); a stream or
a queue cannot be: publishing a day twice delivers its records twice, as a replaying producer would.

CLI (after ``. include/local_stack/env.sh``)::

    python -m include.demo.publish --start 2026-11-16 --days 7 [--seed 42] [--only orders,clickstream]

Endpoints come from the environment: AWS at ``http://127.0.0.1:$AIRLAKE_MOTO_PORT``, the bucket from
``AIRFLOW_VAR_AIRLAKE_BUCKET``, the shop DB at ``postgresql://airlake@127.0.0.1:$AIRLAKE_PG_PORT/shop``.
fx_rates is not published: the FX API serves it (``python -m include.demo.fx_api``).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import boto3
import psycopg

from include.demo.shop import DEFAULT_SEED, ORDER_COLUMNS, DemoDay, Record, as_date, generate_day

log = logging.getLogger(__name__)

CLICKSTREAM_STREAM = "airlake-clickstream"
CLICKSTREAM_SHARDS = 2
PAYMENTS_QUEUE = "airlake-payments"
PRODUCTS_PREFIX = "landing/products"
ORDERS_TABLE = "public.orders"
PUBLISHABLE = ("orders", "clickstream", "products", "payments")

KINESIS_MAX_RECORDS = 500
KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024
SQS_MAX_BATCH = 10
SQS_MAX_BATCH_BYTES = 256 * 1024
MAX_ATTEMPTS = 5

ORDERS_DDL = f"""
CREATE TABLE IF NOT EXISTS {ORDERS_TABLE} (
    order_id    bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    product_id  text NOT NULL,
    quantity    integer NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    currency    text NOT NULL,
    country     text NOT NULL,
    status      text NOT NULL,
    ordered_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    coupon_code text NULL
);
CREATE INDEX IF NOT EXISTS orders_updated_at_idx ON {ORDERS_TABLE} (updated_at);
"""

# Re-publishing a day, or publishing days out of order, never moves a row back to an older state.
ORDERS_UPSERT = f"""
INSERT INTO {ORDERS_TABLE} AS o ({", ".join(ORDER_COLUMNS)})
VALUES ({", ".join(f"%({c})s" for c in ORDER_COLUMNS)})
ON CONFLICT (order_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "order_id")}
WHERE o.updated_at <= EXCLUDED.updated_at
"""


@dataclass(frozen=True)
class Delivery:
    """What one publish call delivered: records sent (flawed ones included) and where to."""

    dataset: str
    day: date
    records: int
    target: str
    keys: tuple[str, ...] = ()  # S3 keys written, for products


def _demo_day(day: DemoDay | date | str, seed: int) -> DemoDay:
    return day if isinstance(day, DemoDay) else generate_day(as_date(day), seed)


# --- orders -> PostgreSQL -------------------------------------------------------------------------


def ensure_orders_table(conn: Any) -> None:
    """Create public.orders (with coupon_code) and its updated_at index if missing."""
    with conn.cursor() as cur:
        cur.execute(ORDERS_DDL)


def publish_orders(day: DemoDay | date | str, dsn: str, *, seed: int = DEFAULT_SEED) -> Delivery:
    """Upsert the day's order rows into public.orders, in one transaction (creates the table if missing)."""
    demo = _demo_day(day, seed)
    rows = [r.value for r in demo.orders if isinstance(r.value, dict)]
    with psycopg.connect(dsn) as conn:
        ensure_orders_table(conn)
        with conn.cursor() as cur:
            cur.executemany(ORDERS_UPSERT, rows)
    log.info("orders %s: %d rows upserted into %s", demo.day, len(rows), ORDERS_TABLE)
    return Delivery("orders", demo.day, len(rows), ORDERS_TABLE)


# --- clickstream -> Kinesis -----------------------------------------------------------------------


def ensure_stream(kinesis_client: Any, stream: str, shards: int = CLICKSTREAM_SHARDS) -> None:
    """Create the stream with ``shards`` shards if missing and wait until it is ACTIVE."""
    try:
        kinesis_client.describe_stream_summary(StreamName=stream)
    except kinesis_client.exceptions.ResourceNotFoundException:
        try:
            kinesis_client.create_stream(StreamName=stream, ShardCount=shards)
            log.info("created Kinesis stream %s with %d shards", stream, shards)
        except kinesis_client.exceptions.ResourceInUseException:
            pass  # created concurrently
    kinesis_client.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def _batches(
    records: Sequence[Record], max_count: int, max_bytes: int, overhead: int
) -> Iterator[list[Record]]:
    batch: list[Record] = []
    size = 0
    for record in records:
        record_size = len(record.body.encode()) + len(record.key.encode()) + overhead
        if batch and (len(batch) >= max_count or size + record_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record_size
    if batch:
        yield batch


def _retry_partial(send: Callable[[list[Any]], list[Any]], entries: list[Any], what: str) -> None:
    """Call ``send`` until it reports no failed entries (it returns the ones to resend)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        entries = send(entries)
        if not entries:
            return
        if attempt < MAX_ATTEMPTS:
            time.sleep(min(0.1 * 2**attempt, 2.0))
    raise RuntimeError(f"{what}: {len(entries)} entries still failing after {MAX_ATTEMPTS} attempts")


def publish_clickstream(
    day: DemoDay | date | str,
    kinesis_client: Any,
    stream: str = CLICKSTREAM_STREAM,
    *,
    seed: int = DEFAULT_SEED,
) -> Delivery:
    """put_records the day's events in arrival order (batches of at most 500), partition key session_id."""
    demo = _demo_day(day, seed)
    ensure_stream(kinesis_client, stream)

    def send(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = kinesis_client.put_records(StreamName=stream, Records=entries)
        if not response.get("FailedRecordCount"):
            return []
        return [e for e, r in zip(entries, response["Records"], strict=True) if r.get("ErrorCode")]

    for batch in _batches(demo.clickstream, KINESIS_MAX_RECORDS, KINESIS_MAX_REQUEST_BYTES, 0):
        entries = [{"Data": r.body.encode(), "PartitionKey": r.key} for r in batch]
        _retry_partial(send, entries, f"put_records to {stream}")
    log.info("clickstream %s: %d records put on %s", demo.day, len(demo.clickstream), stream)
    return Delivery("clickstream", demo.day, len(demo.clickstream), stream)


# --- products -> S3 landing -----------------------------------------------------------------------


def ensure_bucket(s3_client: Any, bucket: str) -> None:
    """Create the bucket if it does not exist (the local stack normally creates it first)."""
    try:
        s3_client.head_bucket(Bucket=bucket)
        return
    except s3_client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = s3_client.meta.region_name
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3_client.create_bucket(**kwargs)
        log.info("created bucket %s", bucket)
    except (s3_client.exceptions.BucketAlreadyOwnedByYou, s3_client.exceptions.BucketAlreadyExists):
        pass


def products_prefix(day: date) -> str:
    return f"{PRODUCTS_PREFIX}/{day.isoformat()}/"


def publish_products(
    day: DemoDay | date | str, s3_client: Any, bucket: str, *, seed: int = DEFAULT_SEED
) -> Delivery:
    """Upload the day's products-<n>.csv.gz files (byte-identical on every publish), SSE AES256."""
    demo = _demo_day(day, seed)
    ensure_bucket(s3_client, bucket)
    keys = []
    for name, text in demo.product_files():
        key = products_prefix(demo.day) + name
        s3_client.put_object(
            Bucket=bucket,
            Key=key,
            Body=gzip.compress(text.encode(), mtime=0),
            ContentType="application/gzip",
            ServerSideEncryption="AES256",
        )
        keys.append(key)
    target = f"s3://{bucket}/{products_prefix(demo.day)}"
    log.info("products %s: %d rows in %d files under %s", demo.day, len(demo.products), len(keys), target)
    return Delivery("products", demo.day, len(demo.products), target, tuple(keys))


# --- payments -> SQS ------------------------------------------------------------------------------


def ensure_queue(sqs_client: Any, queue: str) -> str:
    """The queue URL of ``queue`` (a URL is returned as is); a queue given by name is created if missing."""
    if queue.startswith(("http://", "https://")):
        return queue
    try:
        return sqs_client.get_queue_url(QueueName=queue)["QueueUrl"]
    except sqs_client.exceptions.QueueDoesNotExist:
        log.info("creating SQS queue %s", queue)
        return sqs_client.create_queue(QueueName=queue)["QueueUrl"]


def publish_payments(
    day: DemoDay | date | str,
    sqs_client: Any,
    queue: str = PAYMENTS_QUEUE,
    *,
    seed: int = DEFAULT_SEED,
) -> Delivery:
    """send_message_batch the day's message bodies (batches of at most 10), duplicates and bad body included."""
    demo = _demo_day(day, seed)
    queue_url = ensure_queue(sqs_client, queue)

    def send(entries: list[dict[str, str]]) -> list[dict[str, str]]:
        response = sqs_client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = response.get("Failed") or []
        fatal = [f for f in failed if f.get("SenderFault")]
        if fatal:
            raise RuntimeError(f"send_message_batch to {queue_url} rejected: {fatal}")
        failed_ids = {f["Id"] for f in failed}
        return [e for e in entries if e["Id"] in failed_ids]

    for batch in _batches(demo.payments, SQS_MAX_BATCH, SQS_MAX_BATCH_BYTES, 0):
        entries = [{"Id": str(i), "MessageBody": r.body} for i, r in enumerate(batch)]
        _retry_partial(send, entries, f"send_message_batch to {queue_url}")
    log.info("payments %s: %d messages sent to %s", demo.day, len(demo.payments), queue_url)
    return Delivery("payments", demo.day, len(demo.payments), queue_url)


# --- CLI ------------------------------------------------------------------------------------------


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: source include/local_stack/env.sh first")
    return value


def aws_client(service: str) -> Any:
    """A boto3 client of the local stack's moto (env.sh's port and region)."""
    endpoint = f"http://127.0.0.1:{_require_env('AIRLAKE_MOTO_PORT')}"
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def pg_dsn(database: str) -> str:
    """The DSN of one database of the local stack's PostgreSQL (env.sh's port): shop, warehouse, ..."""
    return f"postgresql://airlake@127.0.0.1:{_require_env('AIRLAKE_PG_PORT')}/{database}"


def _parse_only(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = sorted(set(names) - set(PUBLISHABLE))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown dataset(s) {unknown}; choose from {', '.join(PUBLISHABLE)}"
        )
    return [n for n in PUBLISHABLE if n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.demo.publish", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1, help="number of consecutive days (default 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--only", type=_parse_only, default=list(PUBLISHABLE), help="comma-separated datasets"
    )
    parser.add_argument("--stream", default=CLICKSTREAM_STREAM)
    parser.add_argument("--queue", default=PAYMENTS_QUEUE)
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    only = set(args.only)
    dsn = pg_dsn("shop") if "orders" in only else ""
    bucket = _require_env("AIRFLOW_VAR_AIRLAKE_BUCKET") if "products" in only else ""
    kinesis = aws_client("kinesis") if "clickstream" in only else None
    s3 = aws_client("s3") if "products" in only else None
    sqs = aws_client("sqs") if "payments" in only else None

    for offset in range(args.days):
        demo = generate_day(args.start + timedelta(days=offset), args.seed)
        deliveries = []
        if "orders" in only:
            deliveries.append(publish_orders(demo, dsn))
        if kinesis is not None:
            deliveries.append(publish_clickstream(demo, kinesis, args.stream))
        if s3 is not None:
            deliveries.append(publish_products(demo, s3, bucket))
        if sqs is not None:
            deliveries.append(publish_payments(demo, sqs, args.queue))
        print(demo.day.isoformat(), " ".join(f"{d.dataset}={d.records}" for d in deliveries), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
