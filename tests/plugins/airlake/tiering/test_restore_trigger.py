"""GlacierRestoreTrigger.run() driven with asyncio directly, against the session's moto server."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from airflow.triggers.base import TriggerEvent

from airlake.triggers.restore import GlacierRestoreTrigger
from tests.plugins.airlake.tiering.conftest import put, raw_key


async def _first_event(trigger: GlacierRestoreTrigger, timeout: float = 20.0) -> TriggerEvent:
    async def first() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def _trigger(bucket: str, keys: list[str], **kwargs: Any) -> GlacierRestoreTrigger:
    return GlacierRestoreTrigger(bucket=bucket, keys=keys, aws_conn_id="aws_default", **kwargs)


def test_serializes_to_an_importable_class_with_its_arguments() -> None:
    trigger = _trigger("bkt", ["a", "b"], region_name="us-east-1", poke_interval=60)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert path == "airlake.triggers.restore.GlacierRestoreTrigger"
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs["keys"] == ["a", "b"] and kwargs["poke_interval"] == 60


def test_fires_at_once_when_everything_is_readable(lake) -> None:
    archived = put(lake, raw_key("orders", "2025-01-01"), StorageClass="GLACIER")
    hot = put(lake, raw_key("orders", "2025-01-01", 1))
    lake.client.restore_object(Bucket=lake.bucket, Key=archived.key, RestoreRequest={"Days": 1})

    event = asyncio.run(_first_event(_trigger(lake.bucket, [archived.key, hot.key])))

    assert event.payload == {"status": "success", "bucket": lake.bucket, "keys": [archived.key, hot.key]}


def test_waits_until_the_restore_finishes(lake) -> None:
    """The first checks find the object archived; it becomes readable while the trigger sleeps."""
    archived = put(lake, raw_key("orders", "2025-01-01"), StorageClass="GLACIER")
    trigger = _trigger(lake.bucket, [archived.key], poke_interval=0.05)
    results: list[list[str]] = []
    check = trigger._pending

    def counting(keys: list[str]) -> list[str]:
        results.append(check(keys))
        return results[-1]

    trigger._pending = counting  # type: ignore[method-assign]

    async def scenario() -> TriggerEvent:
        waiting = asyncio.create_task(_first_event(trigger))
        while len(results) < 2:
            await asyncio.sleep(0.02)
        assert not waiting.done()
        await asyncio.to_thread(
            lake.client.restore_object, Bucket=lake.bucket, Key=archived.key, RestoreRequest={"Days": 1}
        )
        return await waiting

    event = asyncio.run(scenario())

    assert event.payload["status"] == "success"
    assert results[:2] == [[archived.key], [archived.key]]
    assert results[-1] == []


def test_reports_an_error_instead_of_waiting_forever(lake) -> None:
    gone = raw_key("orders", "2025-01-01")

    event = asyncio.run(_first_event(_trigger(lake.bucket, [gone], poke_interval=0.05)))

    assert event.payload["status"] == "error"
    assert "no longer exists" in event.payload["message"]
    assert event.payload["pending"] == [gone]
