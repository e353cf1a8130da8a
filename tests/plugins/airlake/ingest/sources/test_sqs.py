from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.sqs import SqsAcknowledgeError, SqsSource
from airlake.lake import manifest_key, state_key

REGION = "us-east-1"
QUEUE = "orders"

# (message body sent, line expected in the raw zone), formatted with the message number n
BODIES: list[tuple[str, str]] = [
    ('{{"order":{n}}}', '{{"order":{n}}}'),
    ('{{\n  "order": {n},\n  "total": 10.50\n}}', '{{"order":{n},"total":10.50}}'),
    ("plain text {n}", "plain text {n}"),
    ('{{"broken":{n}', '{{"broken":{n}'),
    ("multi\nline text {n}", '"multi\\nline text {n}"'),
    ('{{"name": "caf\u00e9 {n}"}}', '{{"name": "caf\u00e9 {n}"}}'),
]


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return sqs.create_queue(QueueName=QUEUE)["QueueUrl"]


def send(sqs: Any, queue_url: str, count: int, *, offset: int = 0) -> list[bytes]:
    """Send ``count`` numbered messages cycling through BODIES; the lines they must land as."""
    expected = []
    for n in range(offset, offset + count):
        body, line = BODIES[n % len(BODIES)]
        sqs.send_message(QueueUrl=queue_url, MessageBody=body.format(n=n))
        expected.append(line.format(n=n).encode())
    return expected


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


class RecordingSqs:
    """The moto client, recording DeleteMessageBatch sizes; ``fail_first_delete`` reports one entry failed."""

    def __init__(self, client: Any, *, fail_first_delete: bool = False) -> None:
        self.client = client
        self.fail_first_delete = fail_first_delete
        self.delete_batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.delete_batches.append(len(Entries))
        if not self.fail_first_delete:
            return self.client.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        self.fail_first_delete = False
        failed, rest = Entries[0], Entries[1:]
        response = self.client.delete_message_batch(QueueUrl=QueueUrl, Entries=rest)
        error = {"Id": failed["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
        return response | {"Failed": [*response.get("Failed", []), error]}


def source(client: Any, queue_url: str, **kwargs: Any) -> SqsSource:
    options: dict[str, Any] = {"wait_time_seconds": 0, "max_batch_records": 7} | kwargs
    return SqsSource(client=client, queue_url=queue_url, **options)


def test_every_message_lands_once_then_is_deleted_in_groups_of_ten(
    sqs: Any,
    queue_url: str,
    s3_lake: Any,
    ctx_for: Callable[..., Any],
    landed: Any,
    assert_encrypted: Any,
) -> None:
    expected = send(sqs, queue_url, 23)
    client = RecordingSqs(sqs)

    summary = run_ingest(source(client, queue_url), s3_lake, ctx_for("run-1"), max_part_bytes=200)

    assert Counter(landed(s3_lake, summary["parts"])) == Counter(expected)
    assert summary["rows"] == 23 and len(summary["parts"]) > 1
    assert_encrypted(s3_lake, summary["parts"])
    assert client.delete_batches == [10, 10, 3]
    assert queue_counts(sqs, queue_url) == (0, 0)

    manifest = s3_lake.get_json(summary["manifest"])
    assert manifest["rows"] == {"read": 23, "landed": 23}
    assert manifest["source"] == {"kind": "sqs", "queue": queue_url}
    assert [item["rows"] for item in manifest["inputs"]] == [7, 7, 7, 2]
    assert all(item["messages"] == item["rows"] and item["queue"] == queue_url for item in manifest["inputs"])
    assert all(item["first_message_id"] and item["last_message_id"] for item in manifest["inputs"])
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == {}


def test_a_rerun_lands_nothing_twice_and_a_new_run_lands_only_new_messages(
    sqs: Any, queue_url: str, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    first_expected = send(sqs, queue_url, 5)
    first = run_ingest(source(sqs, queue_url), s3_lake, ctx_for("run-1"))
    uploads = list(s3_lake.puts)

    new_expected = send(sqs, queue_url, 4, offset=5)
    rerun = run_ingest(source(sqs, queue_url), s3_lake, ctx_for("run-1"))
    assert rerun["skipped"] and rerun["parts"] == first["parts"] and s3_lake.puts == uploads
    assert queue_counts(sqs, queue_url) == (4, 0)  # a skipped run receives nothing

    second = run_ingest(source(sqs, queue_url), s3_lake, ctx_for("run-2"))
    assert Counter(landed(s3_lake, first["parts"])) == Counter(first_expected)
    assert Counter(landed(s3_lake, second["parts"])) == Counter(new_expected)
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_a_failed_run_deletes_nothing_and_its_retry_lands_every_message_exactly_once(
    sqs: Any,
    queue_url: str,
    make_store: Callable[..., Any],
    ctx_for: Callable[..., Any],
    landed: Any,
) -> None:
    expected = send(sqs, queue_url, 12)
    failing = make_store(fail_on_put=2)

    with pytest.raises(OSError, match="injected failure"):
        run_ingest(
            source(sqs, queue_url, visibility_timeout_seconds=1), failing, ctx_for("run-1"), max_part_bytes=60
        )

    # Nothing was deleted, and the failed run handed its messages back at once (no visibility wait).
    assert queue_counts(sqs, queue_url) == (12, 0)
    assert not failing.exists(manifest_key("events", "run-1", "ingest"))
    assert failing.get_json(state_key("events", "ingest")) is None

    store = make_store()
    summary = run_ingest(source(sqs, queue_url), store, ctx_for("run-1"), max_part_bytes=60)

    assert Counter(landed(store, summary["parts"])) == Counter(expected)
    assert [o.key for o in store.list(summary["parts"][0].rsplit("/", 1)[0] + "/")] == summary["parts"]
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_max_run_records_leaves_the_rest_for_the_next_run(
    sqs: Any, queue_url: str, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    expected = send(sqs, queue_url, 12)
    first = run_ingest(source(sqs, queue_url, max_run_records=5), s3_lake, ctx_for("run-1"))
    assert first["rows"] == 5 and queue_counts(sqs, queue_url) == (7, 0)

    second = run_ingest(source(sqs, queue_url, max_run_records=5), s3_lake, ctx_for("run-2"))
    third = run_ingest(source(sqs, queue_url, max_run_records=5), s3_lake, ctx_for("run-3"))
    fourth = run_ingest(source(sqs, queue_url, max_run_records=5), s3_lake, ctx_for("run-4"))

    assert [run["rows"] for run in (second, third, fourth)] == [5, 2, 0]
    parts = first["parts"] + second["parts"] + third["parts"]
    assert Counter(landed(s3_lake, parts)) == Counter(expected)


class SlowReceive:
    """The moto client with every ReceiveMessage taking ``delay`` seconds (a slow or busy network)."""

    def __init__(self, client: Any, delay: float) -> None:
        self.client, self.delay = client, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        time.sleep(self.delay)
        return self.client.receive_message(**kwargs)


def test_a_slow_run_stops_receiving_before_the_visibility_timeout_and_lands_each_message_once(
    sqs: Any, queue_url: str, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    expected = send(sqs, queue_url, 30)
    slow = source(SlowReceive(sqs, 0.4), queue_url, visibility_timeout_seconds=2, max_messages_per_batch=2)
    first = run_ingest(slow, s3_lake, ctx_for("run-1"))
    assert 0 < first["rows"] < 30  # stopped after ~1 s (half the timeout), long before SQS redelivers
    assert queue_counts(sqs, queue_url)[0] == 30 - first["rows"]

    second = run_ingest(source(sqs, queue_url), s3_lake, ctx_for("run-2"))
    assert first["rows"] + second["rows"] == 30
    assert Counter(landed(s3_lake, first["parts"] + second["parts"])) == Counter(expected)


def test_messages_that_fail_to_delete_are_named_and_stay_in_the_queue(
    sqs: Any, queue_url: str, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    send(sqs, queue_url, 3)
    client = RecordingSqs(sqs, fail_first_delete=True)
    sqs_source = source(client, queue_url)

    with pytest.raises(SqsAcknowledgeError, match="1 of 3 message") as raised:
        run_ingest(sqs_source, s3_lake, ctx_for("run-1"))

    undeleted = sqs_source.pending_message_ids
    assert len(undeleted) == 1 and undeleted[0] in str(raised.value) and "InternalError" in str(raised.value)
    assert queue_counts(sqs, queue_url) == (0, 1)
    manifest = s3_lake.get_json(manifest_key("events", "run-1", "ingest"))
    assert manifest["rows"]["landed"] == 3  # the data is safe; the message will land again (curate de-dups)


def test_a_queue_given_by_name_is_resolved_on_first_use(
    sqs: Any, queue_url: str, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    expected = send(sqs, queue_url, 2)
    by_name = SqsSource(client=sqs, queue_name=QUEUE, wait_time_seconds=1)
    assert by_name.describe() == {"kind": "sqs", "queue": QUEUE}

    summary = run_ingest(by_name, s3_lake, ctx_for("run-1"))

    assert Counter(landed(s3_lake, summary["parts"])) == Counter(expected)
    assert by_name.queue_url == queue_url and queue_counts(sqs, queue_url) == (0, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="no-queue"),
        pytest.param({"queue_url": "u", "queue_name": "n"}, id="both-url-and-name"),
        pytest.param({"queue_name": "n", "max_messages_per_batch": 11}, id="more-than-ten-per-receive"),
        pytest.param({"queue_name": "n", "visibility_timeout_seconds": -1}, id="negative-visibility"),
        pytest.param({"queue_name": "n", "wait_time_seconds": 21}, id="wait-above-twenty"),
        pytest.param({"queue_name": "n", "max_run_records": 0}, id="zero-run"),
    ],
)
def test_invalid_arguments_fail_early(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SqsSource(client=object(), **kwargs)
