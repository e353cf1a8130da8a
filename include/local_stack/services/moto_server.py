"""moto's server as the local stack runs it: ``moto_server`` with SQS and Kinesis linear in the queue's length.

moto 5.2 computes *every* queue attribute where it needs one, and three of them
(ApproximateNumberOfMessages, ...NotVisible, ...Delayed) scan the whole queue:

- each message a receive hands out is checked against the retention period through
  ``get_queue_attributes``, three times: ~90 scans of the payments queue (1,741 messages after the
  demo's week) per receive of 10, 1.4-2.2 s per call, and payments' ingest spent its whole 150 s window
  receiving (:func:`patch_sqs`);
- each message sent reads ``ContentBasedDeduplication`` from the same attributes: three scans per
  message, so the demo's week of payments (175 batches of 10) took 39 s to send, the last day 11 s
  (:func:`patch_sqs_sends`).

Kinesis' ``put_records`` finds a shard's last sequence number by copying the shard's keys into a list,
once per record: the week's 27,000 clickstream events took 7.5 s, more for each day (:func:`patch_kinesis`).

What moto decides and returns is unchanged in each case. Run it like ``moto_server``::

    python -m include.local_stack.services.moto_server -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

QUEUE_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
"""moto's Queue properties that scan the whole queue (the Approximate* attributes)."""

_sends = threading.local()
"""How many sends are in progress on this thread (moto's server handles each request on its own thread)."""


def _message_within_retention(self: Any, queue_name: str, message: Any) -> bool:
    """moto's ``is_message_valid_based_on_retention_period``, reading only the retention period."""
    from moto.core.utils import unix_time

    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return retain_until > unix_time()


def patch_sqs() -> None:
    """Replace moto's per-message retention check by :func:`_message_within_retention`."""
    from moto.sqs.models import SQSBackend

    if not hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
        raise RuntimeError(
            "moto's SQSBackend has no is_message_valid_based_on_retention_period any more: "
            "check whether include/local_stack/services/moto_server.py is still needed"
        )
    SQSBackend.is_message_valid_based_on_retention_period = _message_within_retention  # type: ignore[method-assign]


def _sending() -> bool:
    return getattr(_sends, "depth", 0) > 0


def _count_unless_sending(count: property) -> property:
    """moto's count ``count``, or 0 while this thread is inside a send: a send reads the queue's attributes
    only for ContentBasedDeduplication (and, for FIFO queues, in its checks), never a count."""

    def fget(queue: Any) -> int:
        return 0 if _sending() else count.fget(queue)  # type: ignore[misc]

    fget.__doc__ = count.__doc__
    fget.__wrapped__ = count  # type: ignore[attr-defined]
    return property(fget)


def _marking_a_send(send: Callable[..., Any]) -> Callable[..., Any]:
    """``send`` with this thread marked as sending while it runs (re-entrant: a batch calls send_message)."""

    @functools.wraps(send)
    def marked(*args: Any, **kwargs: Any) -> Any:
        _sends.depth = getattr(_sends, "depth", 0) + 1
        try:
            return send(*args, **kwargs)
        finally:
            _sends.depth -= 1

    return marked


def patch_sqs_sends() -> None:
    """SendMessage and SendMessageBatch without the three queue scans per message (:func:`_count_unless_sending`).

    Idempotent. The counts a client asks for (GetQueueAttributes) are still moto's own scans."""
    from moto.sqs.models import Queue, SQSBackend

    for name in QUEUE_COUNTS:
        count = getattr(Queue, name)
        if not hasattr(count.fget, "__wrapped__"):
            setattr(Queue, name, _count_unless_sending(count))
    for name in ("send_message", "send_message_batch"):
        send = getattr(SQSBackend, name)
        if not hasattr(send, "__wrapped__"):
            setattr(SQSBackend, name, _marking_a_send(send))


def _last_sequence_number(shard: Any) -> int:
    """moto's ``Shard.get_max_sequence_number`` (the newest record's key) without copying every key."""
    return next(reversed(shard.records)) if shard.records else 0


def _first_sequence_number(shard: Any) -> int:
    """moto's ``Shard.get_min_sequence_number`` (the oldest record's key) without copying every key."""
    return next(iter(shard.records)) if shard.records else 0


def patch_kinesis() -> None:
    """A shard's first and last sequence numbers read from the ends of its ordered records (moto:
    ``list(records.keys())[0]`` and ``[-1]``, a copy of every key for each record put)."""
    from moto.kinesis.models import Shard

    Shard.get_max_sequence_number = _last_sequence_number  # type: ignore[method-assign]
    Shard.get_min_sequence_number = _first_sequence_number  # type: ignore[method-assign]


def patch_moto() -> None:
    """Every patch of this module (what the stack's moto runs with)."""
    patch_sqs()
    patch_sqs_sends()
    patch_kinesis()


def main(argv: list[str] | None = None) -> None:
    """Start moto's server (its own command line) with :func:`patch_moto` applied."""
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
