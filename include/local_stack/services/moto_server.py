"""moto's server as the local stack runs it: ``moto_server`` with SQS ReceiveMessage in linear time.

moto 5.2 checks each message a receive hands out against the queue's retention period by computing
*every* queue attribute, three times (``get_queue_attributes``), and three of them
(ApproximateNumberOfMessages, ...NotVisible, ...Delayed) scan the whole queue. A receive of 10 messages
from the payments queue (1,741 messages after the demo's week) made ~90 scans of it: 1.4-2.2 s per call,
and payments' ingest spent its whole 150 s window receiving. moto then used half a core.

:func:`patch_sqs` makes the check read the one attribute it needs; what it decides is unchanged (a
message older than ``MessageRetentionPeriod`` is not handed out). Run it like ``moto_server``::

    python -m include.local_stack.services.moto_server -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

import sys
from typing import Any


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


def main(argv: list[str] | None = None) -> None:
    """Start moto's server (its own command line) with :func:`patch_sqs` applied."""
    from moto.server import main as moto_main

    patch_sqs()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
