from __future__ import annotations

import dataclasses
import gzip
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from include.demo import publish
from include.demo.publish import (
    Delivery,
    publish_clickstream,
    publish_orders,
    publish_payments,
    publish_products,
)
from include.demo.shop import DUPLICATE, MALFORMED, DemoDay, generate_day

DAY = date(2026, 11, 20)
REGION = "us-east-1"


@pytest.fixture(scope="module")
def demo() -> DemoDay:
    return generate_day(DAY)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Placeholders for moto, so nothing here can reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


class _Recorder:
    """Wraps a boto3 client and records the size of every batch call."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in ("put_records", "send_message_batch"):

            def call(**kwargs: Any) -> Any:
                self.batches.append(len(kwargs.get("Records") or kwargs.get("Entries") or []))
                return attr(**kwargs)

            return call
        return attr


# --- Kinesis --------------------------------------------------------------------------------------


def _read_stream(client: Any, stream: str) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        data: list[bytes] = []
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=10_000)
            data.extend(r["Data"] for r in response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
        out[shard["ShardId"]] = data
    return out


def test_publish_clickstream_creates_a_two_shard_stream_and_puts_every_record(
    aws: None, demo: DemoDay
) -> None:
    client = _Recorder(boto3.client("kinesis", region_name=REGION))
    delivery = publish_clickstream(demo, client, "airlake-clickstream")

    assert delivery == Delivery("clickstream", DAY, len(demo.clickstream), "airlake-clickstream")
    summary = client.describe_stream_summary(StreamName="airlake-clickstream")["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 2
    assert client.batches and max(client.batches) <= 500
    assert sum(client.batches) == len(demo.clickstream)

    shards = _read_stream(client, "airlake-clickstream")
    assert all(shards.values()), "both shards receive records"
    received = Counter(d.decode() for data in shards.values() for d in data)
    assert received == Counter(r.body for r in demo.clickstream)

    # every record of a session lands on the same shard (partition key = session_id)
    shard_of: dict[str, str] = {}
    body_to_key = {r.body: r.key for r in demo.clickstream}
    for shard_id, data in shards.items():
        for d in data:
            key = body_to_key[d.decode()]
            assert shard_of.setdefault(key, shard_id) == shard_id


def test_publish_clickstream_keeps_an_existing_stream(aws: None) -> None:
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName="existing", ShardCount=1)
    small = generate_day(DAY - timedelta(days=1))
    publish_clickstream(small, client, "existing")
    assert (
        client.describe_stream_summary(StreamName="existing")["StreamDescriptionSummary"]["OpenShardCount"]
        == 1
    )
    assert sum(len(d) for d in _read_stream(client, "existing").values()) == len(small.clickstream)


# --- S3 -------------------------------------------------------------------------------------------


def test_publish_products_writes_gzip_csv_with_sse_and_is_idempotent(aws: None, demo: DemoDay) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    delivery = publish_products(demo, s3, "airlake-test")

    prefix = f"landing/products/{DAY.isoformat()}/"
    expected = demo.product_files()
    assert delivery.keys == tuple(prefix + name for name, _ in expected)
    assert delivery.target == f"s3://airlake-test/{prefix}"
    listed = s3.list_objects_v2(Bucket="airlake-test", Prefix=prefix)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(delivery.keys)
    etags = {}
    for key, (_, text) in zip(delivery.keys, expected, strict=True):
        obj = s3.get_object(Bucket="airlake-test", Key=key)
        assert obj["ServerSideEncryption"] == "AES256"
        assert gzip.decompress(obj["Body"].read()).decode() == text
        etags[key] = obj["ETag"]

    publish_products(DAY, s3, "airlake-test")  # again, from the date: same keys, same bytes
    again = s3.list_objects_v2(Bucket="airlake-test", Prefix=prefix)["Contents"]
    assert {o["Key"]: o["ETag"] for o in again} == etags


def test_publish_products_into_an_existing_bucket_of_a_monday(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    monday = date(2026, 11, 16)
    delivery = publish_products(monday, s3, "lake")
    assert len(delivery.keys) > 1  # the Monday snapshot is split into files
    assert delivery.records == len(generate_day(monday).products)


# --- SQS ------------------------------------------------------------------------------------------


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(m["Body"] for m in messages)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def _fewer_payments(demo: DemoDay, n: int = 45) -> DemoDay:
    """The day with n payment messages, still holding one duplicate pair and the malformed body.

    moto's SQS costs O(queue length) per call, so a whole day (~600 messages) takes ~20 s to drain.
    """
    bodies = [r.body for r in demo.payments]
    dup = next(i for i, r in enumerate(demo.payments) if r.has(DUPLICATE))
    malformed = next(i for i, r in enumerate(demo.payments) if r.has(MALFORMED))
    keep = set(range(n - 3)) | {dup, bodies.index(bodies[dup]), malformed}
    return dataclasses.replace(demo, payments=[r for i, r in enumerate(demo.payments) if i in keep])


def test_publish_payments_creates_the_queue_and_sends_every_body(aws: None, demo: DemoDay) -> None:
    sqs = _Recorder(boto3.client("sqs", region_name=REGION))
    demo = _fewer_payments(demo)
    delivery = publish_payments(demo, sqs, "airlake-payments")

    url = sqs.get_queue_url(QueueName="airlake-payments")["QueueUrl"]
    assert delivery == Delivery("payments", DAY, len(demo.payments), url)
    assert sqs.batches == [10, 10, 10, 10, 5]
    assert sum(sqs.batches) == len(demo.payments)
    received = Counter(_drain(sqs, url))
    assert received == Counter(r.body for r in demo.payments)
    assert any(n == 2 for n in received.values())  # duplicate deliveries arrive twice


def test_publish_payments_to_a_queue_url(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="given")["QueueUrl"]
    day = _fewer_payments(generate_day(DAY + timedelta(days=1)), 12)
    assert publish_payments(day, sqs, url).target == url
    assert len(_drain(sqs, url)) == len(day.payments)


# --- PostgreSQL -----------------------------------------------------------------------------------

PG_DAYS = [date(2031, 3, 3), date(2031, 3, 4)]  # far from the demo dates other tests publish


def test_publish_orders_upserts_idempotently(pg_database: str) -> None:
    import psycopg

    pg_dsn = pg_database  # a fresh database of the session's PostgreSQL
    days = [generate_day(d) for d in PG_DAYS]
    ids = sorted({r.value["order_id"] for d in days for r in d.orders})  # type: ignore[index]
    expected: dict[int, dict] = {}
    for d in days:
        for r in d.orders:
            assert isinstance(r.value, dict)
            expected[r.value["order_id"]] = r.value  # later days win

    def table() -> dict[int, dict]:
        with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(
                f"SELECT {', '.join(publish.ORDER_COLUMNS)} FROM public.orders WHERE order_id = ANY(%s)",
                [ids],
            )
            return {row["order_id"]: row for row in cur.fetchall()}

    def cleanup() -> None:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("DELETE FROM public.orders WHERE order_id = ANY(%s)", [ids])

    with psycopg.connect(pg_dsn) as conn:
        publish.ensure_orders_table(conn)
    cleanup()
    try:
        for d in days:
            delivery = publish_orders(d, pg_dsn)
            assert delivery.records == len(d.orders)
        first = table()
        assert first == expected
        assert any(row["coupon_code"] for row in first.values())  # the column exists and is filled
        for d in days:
            publish_orders(d, pg_dsn)
        assert table() == first
        publish_orders(PG_DAYS[0], pg_dsn)  # an older day published late never moves a row back
        assert table() == first
    finally:
        cleanup()
