"""GlacierRestoreTrigger: waits in the triggerer until every archived object of a restore is readable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class GlacierRestoreTrigger(BaseTrigger):
    """
    Poll ``head_object`` of each object until its ``Restore`` header says the restored copy is ready
    (``ongoing-request="false"``), then fire once with ``{"status": "success", "keys": [...]}``; on an
    error (an object gone, access denied) fire ``{"status": "error", "message": ...}``.

    The Amazon provider's async S3 hook needs aiobotocore, which the project does not install: the
    synchronous boto3 calls run in a worker thread (``asyncio.to_thread``), so the triggerer's event loop
    is never blocked. Only keys still pending are checked again.

    :param bucket: the bucket.
    :param keys: the archived objects whose restore was requested.
    :param aws_conn_id: the AWS connection.
    :param region_name: AWS region (default: the connection's).
    :param verify: SSL certificate verification (botocore).
    :param botocore_config: botocore client configuration.
    :param poke_interval: seconds between two rounds of checks (Glacier restores take minutes to hours).
    """

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str],
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        poke_interval: float = 300.0,
    ) -> None:
        super().__init__()
        self.bucket = bucket
        self.keys = list(keys)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.poke_interval = poke_interval
        self._client: Any = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bucket": self.bucket,
                "keys": self.keys,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "poke_interval": self.poke_interval,
            },
        )

    def _pending(self, keys: list[str]) -> list[str]:
        """The keys not readable yet (runs in a worker thread)."""
        from airlake.tiering.restore import check_restores, pending

        if self._client is None:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            from airlake.aws import lake_client

            self._client = lake_client(
                S3Hook(
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    config=self.botocore_config,
                )
            )
        return pending(check_restores(self._client, self.bucket, keys))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        waiting = list(self.keys)
        try:
            while True:
                waiting = await asyncio.to_thread(self._pending, waiting)
                if not waiting:
                    self.log.info("All %d object(s) in s3://%s are restored", len(self.keys), self.bucket)
                    yield TriggerEvent({"status": "success", "bucket": self.bucket, "keys": self.keys})
                    return
                self.log.info(
                    "%d of %d object(s) in s3://%s still being restored (e.g. %s); next check in %ss",
                    len(waiting),
                    len(self.keys),
                    self.bucket,
                    waiting[0],
                    self.poke_interval,
                )
                await asyncio.sleep(self.poke_interval)
        except Exception as exc:  # report to the task instead of failing silently in the triggerer
            yield TriggerEvent(
                {"status": "error", "bucket": self.bucket, "message": str(exc), "pending": waiting}
            )
