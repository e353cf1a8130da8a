"""Amazon SQS: receive a queue's messages in micro-batches, delete them only once they are safe in S3.

SQS keeps its own position, so the checkpoint is ``{}``. Received messages stay invisible for
``visibility_timeout_seconds``; they are deleted in :meth:`SqsSource.acknowledge`, which the runner calls
after every part and the manifest are written. A run that fails before that deletes nothing: the
messages become visible again and the retry lands them. Messages SQS delivers twice land twice (standard
queues are at-least-once); curate de-duplicates.

A run stops receiving once half the visibility timeout has passed since its first message, leaving the
rest to the next run: its messages must be landed and deleted before SQS hands them out again. A
message delivered twice within a run lands once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from airlake.ingest.base import IngestContext, IngestSource, SourceBatch
from airlake.ingest.lines import one_line

if TYPE_CHECKING:
    from airlake.contracts.model import SqsSource as SqsSpec

log = logging.getLogger(__name__)

RECEIVE_LIMIT = 10  # ReceiveMessage MaxNumberOfMessages and DeleteMessageBatch entries
MAX_VISIBILITY_TIMEOUT = 12 * 60 * 60
MAX_WAIT_TIME = 20


class SqsAcknowledgeError(RuntimeError):
    """Some messages could not be deleted; they will be delivered (and landed) again."""


class SqsSource(IngestSource):
    """Messages of one queue, received until it is drained or ``max_run_records`` is reached.

    ``client`` is a boto3 SQS client (``SqsHook(...).get_conn()`` in the operator); give ``queue_url`` or
    ``queue_name`` (resolved with GetQueueUrl on first use). ``wait_time_seconds`` >= 1 long-polls, which
    asks every SQS server: short polling (0) samples a few and can return nothing from a non-empty queue,
    ending the run early (the rest then waits for the next run).
    """

    kind: ClassVar[str] = "sqs"

    def __init__(
        self,
        *,
        client: Any,
        queue_url: str | None = None,
        queue_name: str | None = None,
        max_messages_per_batch: int = RECEIVE_LIMIT,
        visibility_timeout_seconds: int = 300,
        wait_time_seconds: int = 1,
        max_batch_records: int = 10_000,
        max_run_records: int = 100_000,
    ) -> None:
        if bool(queue_url) == bool(queue_name):
            raise ValueError("give exactly one of queue_url and queue_name")
        if not 1 <= max_messages_per_batch <= RECEIVE_LIMIT:
            raise ValueError(
                f"max_messages_per_batch must be 1..{RECEIVE_LIMIT}, got {max_messages_per_batch}"
            )
        if not 0 <= visibility_timeout_seconds <= MAX_VISIBILITY_TIMEOUT:
            raise ValueError(
                f"visibility_timeout_seconds must be 0..{MAX_VISIBILITY_TIMEOUT}, got {visibility_timeout_seconds}"
            )
        if not 0 <= wait_time_seconds <= MAX_WAIT_TIME:
            raise ValueError(f"wait_time_seconds must be 0..{MAX_WAIT_TIME}, got {wait_time_seconds}")
        if max_batch_records < 1 or max_run_records < 1:
            raise ValueError("max_batch_records and max_run_records must be at least 1")
        self.client = client
        self.queue_name = queue_name
        self._queue_url = queue_url
        self.max_messages_per_batch = max_messages_per_batch
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.wait_time_seconds = wait_time_seconds
        self.max_batch_records = max_batch_records
        self.max_run_records = max_run_records
        # Message id -> latest receipt handle, in first-received order: what acknowledge() deletes.
        self._received: dict[str, str] = {}
        self._first_receive: float | None = None

    @classmethod
    def from_spec(cls, spec: SqsSpec, *, client: Any, max_run_records: int) -> SqsSource:
        """The source a contract's ``source`` (kind ``sqs``) declares: its fields are this class's
        arguments of the same names (``run_on_message`` is the event watcher's, :mod:`airlake.events`)."""
        fields = spec.model_dump(exclude={"kind", "run_on_message"})
        return cls(client=client, max_run_records=max_run_records, **fields)

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = self.client.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        return self._queue_url

    @property
    def pending_message_ids(self) -> list[str]:
        """Messages received by this run and not deleted yet."""
        return list(self._received)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "queue": self._queue_url or self.queue_name}

    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        self._received = {}
        self._first_receive = None
        received = 0
        lines: list[bytes] = []
        message_ids: list[str] = []
        while received < self.max_run_records:
            if self._first_receive is not None and self._receive_time_spent():
                log.info(
                    "Stopped receiving after half the visibility timeout (%ss) with %d message(s), leaving "
                    "time to land and delete them before SQS hands them out again; the next run continues.",
                    self.visibility_timeout_seconds,
                    received,
                )
                break
            wanted = min(
                self.max_messages_per_batch,
                self.max_run_records - received,
                self.max_batch_records - len(lines),
            )
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                VisibilityTimeout=self.visibility_timeout_seconds,
                WaitTimeSeconds=self.wait_time_seconds,
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            if self._first_receive is None:
                self._first_receive = time.monotonic()
            for message in messages:
                message_id = message["MessageId"]
                again = message_id in self._received
                self._received[message_id] = message["ReceiptHandle"]  # only the latest handle deletes
                if again:  # its visibility ran out while this run was receiving: it is already landed
                    log.warning("Message %s was delivered again within this run; landed once", message_id)
                    continue
                lines.append(one_line(message["Body"].encode("utf-8")))
                message_ids.append(message_id)
                received += 1
            if len(lines) >= self.max_batch_records:
                yield self._batch(lines, message_ids)
                lines, message_ids = [], []
        if received >= self.max_run_records:
            log.info("Received max_run_records=%d messages; the next run continues.", self.max_run_records)
        if lines:
            yield self._batch(lines, message_ids)

    def _receive_time_spent(self) -> bool:
        """Half the visibility timeout is gone since the first receive: stop taking more messages."""
        assert self._first_receive is not None
        return time.monotonic() - self._first_receive > self.visibility_timeout_seconds / 2

    def _batch(self, lines: list[bytes], message_ids: list[str]) -> SourceBatch:
        return SourceBatch(
            checkpoint={},
            inputs=[
                {
                    "queue": self.queue_url,
                    "messages": len(lines),
                    "rows": len(lines),
                    "first_message_id": message_ids[0],
                    "last_message_id": message_ids[-1],
                }
            ],
            lines=lines,
            rows=len(lines),
        )

    def release(self) -> None:
        """Make the run's messages visible again at once, so a retry need not wait the visibility timeout."""
        received = list(self._received.items())
        for start in range(0, len(received), RECEIVE_LIMIT):
            group = received[start : start + RECEIVE_LIMIT]
            try:
                self.client.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                        for index, (_, handle) in enumerate(group)
                    ],
                )
            except ClientError as error:  # they come back after the visibility timeout anyway
                log.warning("Could not release %d message(s) early: %s", len(group), error)
        self._received.clear()

    def acknowledge(self) -> None:
        """Delete every message this run received, ten per request; raise naming any that failed."""
        if not self._received:
            return
        if self._first_receive is not None:
            elapsed = time.monotonic() - self._first_receive
            if elapsed > self.visibility_timeout_seconds:
                log.warning(
                    "The run took %.0fs, longer than the visibility timeout (%ss): some messages may have "
                    "been delivered again and will land twice",
                    elapsed,
                    self.visibility_timeout_seconds,
                )
        received = list(self._received.items())
        failed: list[str] = []
        for start in range(0, len(received), RECEIVE_LIMIT):
            group = received[start : start + RECEIVE_LIMIT]
            response = self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle} for index, (_, handle) in enumerate(group)
                ],
            )
            for entry in response.get("Successful", []):
                self._received.pop(group[int(entry["Id"])][0], None)
            for entry in response.get("Failed", []):
                message_id = group[int(entry["Id"])][0]
                failed.append(f"{message_id} ({entry.get('Code', 'unknown')}: {entry.get('Message', '')})")
        if failed:
            raise SqsAcknowledgeError(
                f"{len(failed)} of {len(received)} message(s) could not be deleted from {self.queue_url}; "
                f"they are already in S3 and will be delivered and landed again: {'; '.join(failed)}"
            )
        log.info("Deleted %d message(s) from %s", len(received), self.queue_url)
