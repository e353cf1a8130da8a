"""LakeSqsEventTrigger: the AssetWatcher trigger that turns SQS messages into asset events of a dataset.

It is the Amazon provider's ``SqsSensorTrigger`` (the trigger its common.messaging ``sqs`` queue
provider dispatches ``MessageQueueTrigger(scheme="sqs")`` to): the same receive, filter and delete code
(``poke``), the same ``{"status": "success", "message_batch": [...]}`` event. Only the transport differs:
the provider talks to SQS through aiobotocore, which has no release for the pinned botocore (1.44.x;
aiobotocore 3.10.0 wants botocore < 1.43.118), so here the synchronous boto3 client of ``SqsHook`` runs
each call in a worker thread (``asyncio.to_thread``, as :mod:`airlake.triggers.restore` does); the
triggerer's event loop is never blocked. The connection's ``endpoint_url`` extra (moto locally) applies.

``sqs_queue`` may be a queue name: the URL is looked up in the triggerer (the DAG file, parsed often,
never calls AWS).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
from airflow.triggers.base import TriggerEvent


class _ThreadedSqsClient:
    """The awaitable face ``SqsSensorTrigger.poke`` expects, over a boto3 client (calls in a thread)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(**kwargs: Any) -> Any:
            return await asyncio.to_thread(method, **kwargs)

        return call


class LakeSqsEventTrigger(SqsSensorTrigger):
    """
    Poll an SQS queue every ``waiter_delay`` seconds and fire once with the messages received (deleted
    on reception unless ``delete_message_on_reception=False``); the triggerer starts a watcher's trigger
    again after it fired. Parameters are ``SqsSensorTrigger``'s; ``sqs_queue`` is a URL or a queue name.
    """

    def _client(self) -> Any:
        """A boto3 SQS client with the lake's retry settings (runs in a worker thread: reads the connection)."""
        from airlake.aws import lake_client

        return lake_client(self.hook)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = _ThreadedSqsClient(await asyncio.to_thread(self._client))
        if not self.sqs_queue.startswith(("https://", "http://")):
            self.sqs_queue = (await client.get_queue_url(QueueName=self.sqs_queue))["QueueUrl"]
        self.log.info("Watching SQS queue %s every %ss", self.sqs_queue, self.waiter_delay)
        while True:
            messages = await self.poke(client=client)
            if messages:
                self.log.info("Received %d message(s) from %s", len(messages), self.sqs_queue)
                yield TriggerEvent({"status": "success", "message_batch": messages})
                return
            await asyncio.sleep(self.waiter_delay)
