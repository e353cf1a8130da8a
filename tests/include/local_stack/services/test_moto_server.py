"""The stack's moto server: SQS's retention check and sends, and Kinesis' sequence numbers, as moto decides
them; a deep queue filled and drained whole."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.kinesis.models import KinesisBackend, Shard
from moto.sqs.models import Queue, SQSBackend

from include.local_stack.services import moto_server


@pytest.fixture
def backend() -> SQSBackend:
    """An in-process SQS backend with a queue that keeps messages 60 s."""
    sqs = SQSBackend("us-east-1", "123456789012")
    sqs.create_queue("retained", MessageRetentionPeriod="60")
    return sqs


def test_retention_check_decides_as_moto_does(backend: SQSBackend) -> None:
    fresh = backend.send_message("retained", "fresh")
    old = backend.send_message("retained", "old")
    old.sent_timestamp -= 61_000  # sent 61 s ago: past the queue's 60 s
    moto_decides = SQSBackend.is_message_valid_based_on_retention_period

    assert moto_decides(backend, "retained", fresh) is True
    assert moto_decides(backend, "retained", old) is False
    assert moto_server._message_within_retention(backend, "retained", fresh) is True
    assert moto_server._message_within_retention(backend, "retained", old) is False


def test_patch_replaces_the_check(backend: SQSBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    # recorded first, so that the class is restored after the test
    monkeypatch.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        SQSBackend.is_message_valid_based_on_retention_period,
    )
    moto_server.patch_sqs()

    assert SQSBackend.is_message_valid_based_on_retention_period is moto_server._message_within_retention
    backend.send_message("retained", "body")
    received = backend.receive_message("retained", 10, 0, 30)
    assert [message.body for message in received] == ["body"]


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every patch of the stack's moto applied, moto's classes restored after the test."""
    for name in moto_server.QUEUE_COUNTS:
        monkeypatch.setattr(Queue, name, getattr(Queue, name))
    for name in ("send_message", "send_message_batch", "is_message_valid_based_on_retention_period"):
        monkeypatch.setattr(SQSBackend, name, getattr(SQSBackend, name))
    for name in ("get_max_sequence_number", "get_min_sequence_number"):
        monkeypatch.setattr(Shard, name, getattr(Shard, name))
    moto_server.patch_moto()
    moto_server.patch_moto()  # idempotent: nothing wrapped twice


def _batch(first: int, count: int = 10, **extra: Any) -> dict[str, dict[str, Any]]:
    return {
        str(n): {"Id": str(n), "MessageBody": f"m{n}", "MessageAttributes": {}, "DelaySeconds": None, **extra}
        for n in range(first, first + count)
    }


def test_sends_keep_the_queue_counts_clients_read(backend: SQSBackend, patched: None) -> None:
    for first in range(0, 30, 10):
        backend.send_message_batch("retained", _batch(first))
    backend.send_message("retained", "single", delay_seconds=60)
    backend.receive_message("retained", 5, 0, 300)

    attributes = backend.get_queue_attributes("retained", ["All"])
    assert attributes["ApproximateNumberOfMessages"] == 25  # 31 sent, 5 in flight, 1 delayed
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == 5
    assert attributes["ApproximateNumberOfMessagesDelayed"] == 1
    assert backend.get_queue("retained").approximate_number_of_messages == 25
    # the count's own moto property is what the patched one answers outside a send
    assert isinstance(Queue.approximate_number_of_messages.fget.__wrapped__, property)


def test_a_send_reads_no_count(backend: SQSBackend, patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    queue = backend.get_queue("retained")
    original = type(queue).messages

    def counted(self: Any) -> Any:
        scans.append("scan")
        return original.fget(self)

    monkeypatch.setattr(Queue, "messages", property(counted))
    backend.send_message_batch("retained", _batch(0))
    backend.send_message("retained", "single")
    assert scans == []
    assert len(backend.receive_message("retained", 10, 0, 30)) == 10
    assert scans  # a receive still looks at the visible messages


def test_fifo_content_deduplication_as_moto_decides(patched: None) -> None:
    sqs = SQSBackend("us-east-1", "123456789012")
    sqs.create_queue("dedup.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sqs.create_queue("explicit.fifo", FifoQueue="true")

    for _ in range(2):
        sqs.send_message("dedup.fifo", "same body", group_id="g")
    sqs.send_message_batch("dedup.fifo", _batch(0, 3, MessageGroupId="g"))
    assert [m.body for m in sqs.receive_message("dedup.fifo", 10, 0, 30)] == ["same body", "m0", "m1", "m2"]

    # without content-based deduplication moto still demands an id, as it decides from the attributes
    with pytest.raises(Exception, match="MessageDeduplicationId"):
        sqs.send_message_batch("explicit.fifo", _batch(0, 1, MessageGroupId="g"))


def test_kinesis_sequence_numbers_as_moto_numbers_them(patched: None) -> None:
    kinesis = KinesisBackend("us-east-1", "123456789012")
    kinesis.create_stream("events", shard_count=1)
    shard = next(iter(kinesis.describe_stream(stream_arn=None, stream_name="events").shards.values()))
    assert (shard.get_min_sequence_number(), shard.get_max_sequence_number()) == (0, 0)

    put = kinesis.put_records(None, "events", [{"Data": "eA==", "PartitionKey": f"k{n}"} for n in range(5)])
    numbers = [int(record["SequenceNumber"]) for record in put["Records"]]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    keys = list(shard.records)  # what moto reads the ends from
    assert shard.get_min_sequence_number() == keys[0] == numbers[0]
    assert shard.get_max_sequence_number() == keys[-1] == numbers[-1]
    records, last, _ = shard.get_records(str(numbers[1]), limit=10)
    assert [r.sequence_number for r in records] == numbers[2:] and last == numbers[-1]


def test_stack_moto_drains_a_deep_queue_message_by_message(local_services: Any) -> None:
    """1,500 messages in, each received exactly once while earlier ones are in flight, all deleted."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=local_services.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",
    )
    url = sqs.create_queue(QueueName="deep-queue")["QueueUrl"]
    for first in range(0, 1500, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(first, first + 10)],
        )

    handles: dict[str, str] = {}
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            assert message["Body"] not in handles, "a message in flight was handed out again"
            handles[message["Body"]] = message["ReceiptHandle"]
    assert sorted(handles) == sorted(f"m{n}" for n in range(1500))

    bodies = list(handles)
    for first in range(0, len(bodies), 10):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": handles[body]}
                for n, body in enumerate(bodies[first : first + 10])
            ],
        )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
