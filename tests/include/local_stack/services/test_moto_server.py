"""The stack's moto server: SQS's retention check as moto decides it, and a deep queue drained whole."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.sqs.models import SQSBackend

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
