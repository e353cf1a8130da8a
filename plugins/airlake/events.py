"""Event-driven runs: a dataset DAG also runs when its source says there is something new.

A contract opts in per source (``source.events_queue`` for files, ``source.run_on_message`` for sqs).
The DAG is then scheduled on ``AssetOrTimeSchedule``: its cron as before (the fallback that catches
whatever an event missed) or an asset event of ``events.<dataset>``, which an ``AssetWatcher`` raises
in the triggerer when the queue has a message (:class:`~airlake.triggers.sqs_events.LakeSqsEventTrigger`,
polling every :data:`POLL_SECONDS`).

The event only says *run now*: what a run reads is still decided by the source's checkpoint (landing
files are claimed by key and ETag, SQS messages deleted once landed), and the DAG's ``max_active_runs=1``
keeps two runs from reading it at once, so a file is landed once whichever of the event run, the
scheduled run or a manual run comes first. Airflow gives an event run no data interval: it processes the
UTC day it was triggered in (:func:`event_run_interval`), the cron's current interval.

Light at import (the DAG file imports it): Airflow's SDK only; the trigger module is imported when a
contract asks for a watcher.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronDataIntervalTimetable

from airlake.assets import GROUP

if TYPE_CHECKING:
    from airflow.sdk.bases.timetable import BaseTimetable

    from airlake.contracts import Contract

POLL_SECONDS = int(os.environ.get("AIRLAKE_EVENTS_POLL_SECONDS", "30"))
"""Seconds between two polls of an empty queue: an event starts a run within a minute (a poll, then the
scheduler's next loop). ``AIRLAKE_EVENTS_POLL_SECONDS`` overrides it (the end-to-end test uses 2)."""

AWS_CONN_ID = "aws_default"


@dataclass(frozen=True)
class EventQueue:
    """The queue whose messages start a run of a dataset, and whether the watcher may delete them."""

    dataset: str
    queue: str
    consume: bool
    """True for a queue of S3 notifications (the message is only a signal); False for an sqs source's
    own queue: its messages are the data, which only ingest deletes, once landed."""


def event_queue(contract: Contract) -> EventQueue | None:
    """The contract's event queue, or None when only the schedule runs it."""
    source = contract.source
    if source.kind == "files" and source.events_queue:
        return EventQueue(contract.name, source.events_queue, consume=True)
    if source.kind == "sqs" and source.run_on_message:
        return EventQueue(contract.name, source.queue_name, consume=False)
    return None


def events_asset(contract: Contract, *, poll_seconds: int = POLL_SECONDS) -> Asset | None:
    """``events.<dataset>``, watched on the contract's queue; None when the contract has none."""
    queue = event_queue(contract)
    if queue is None:
        return None
    from airlake.triggers.sqs_events import LakeSqsEventTrigger

    trigger = LakeSqsEventTrigger(
        sqs_queue=queue.queue,
        aws_conn_id=AWS_CONN_ID,
        max_messages=10,
        waiter_delay=poll_seconds,
        wait_time_seconds=1,
        delete_message_on_reception=queue.consume,
        # peeking at a data queue hides nothing from ingest (visibility 0); each peek still counts as a
        # receive (ApproximateReceiveCount): see the README's limits for a redrive policy
        visibility_timeout=None if queue.consume else 0,
    )
    return Asset(
        name=f"events.{contract.name}",
        uri=f"x-airlake://events/{contract.name}",
        group=GROUP,
        watchers=[AssetWatcher(name=f"{contract.name}_sqs_{queue.queue}", trigger=trigger)],
    )


def dataset_schedule(contract: Contract, *, poll_seconds: int = POLL_SECONDS) -> BaseTimetable:
    """The contract's cron as a data-interval timetable, or it *or* the event asset when it has a queue."""
    cron = CronDataIntervalTimetable(contract.schedule, timezone="UTC")
    asset = events_asset(contract, poll_seconds=poll_seconds)
    if asset is None:
        return cron
    return AssetOrTimeSchedule(timetable=cron, assets=[asset])


# --------------------------------------------------------------------------------------------------
# What an event says (for the run's log and manifest; never what a run reads: the checkpoint decides)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Notice:
    """One object an S3 event notification announces."""

    bucket: str
    key: str
    etag: str
    event: str


def s3_notices(body: str | Mapping[str, Any]) -> list[S3Notice]:
    """The objects an S3 notification message body announces; ``[]`` for ``s3:TestEvent`` (sent when a
    notification is configured) and for any body that is not an S3 event. Keys arrive URL-encoded
    (``+`` for a space), as S3 sends them."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if not isinstance(body, Mapping):
        return []
    notices = []
    for record in body.get("Records") or []:
        s3 = record.get("s3") if isinstance(record, Mapping) else None
        if not isinstance(s3, Mapping) or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = s3.get("object") or {}
        notices.append(
            S3Notice(
                bucket=str((s3.get("bucket") or {}).get("name", "")),
                key=unquote_plus(str(obj.get("key", ""))),
                etag=str(obj.get("eTag", "")).strip('"'),
                event=str(record["eventName"]),
            )
        )
    return notices


def triggering_notices(events: Mapping[Any, Iterable[Any]] | Iterable[Any]) -> list[S3Notice]:
    """The S3 objects announced by a run's ``triggering_asset_events`` (the watcher's events carry the
    SQS messages in ``extra["payload"]["message_batch"]``)."""
    if isinstance(events, Mapping):
        events = [event for per_asset in events.values() for event in per_asset]
    notices: list[S3Notice] = []
    for event in events:
        extra = getattr(event, "extra", None)
        if extra is None and isinstance(event, Mapping):
            extra = event.get("extra")
        payload = (extra or {}).get("payload") or {}
        for message in payload.get("message_batch") or []:
            notices.extend(s3_notices(message.get("Body", "")))
    return notices


def event_run_moment(context: Mapping[str, Any]) -> datetime | None:
    """When an asset-triggered run was triggered (UTC); None for any other run."""
    run = context.get("dag_run")
    if run is None or str(getattr(run, "run_type", "")).rsplit(".", 1)[-1].lower() != "asset_triggered":
        return None
    after = getattr(run, "run_after", None) or getattr(run, "queued_at", None)
    return None if after is None else after.astimezone(UTC)


def event_run_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """The interval of an asset-triggered run, which Airflow gives none: the UTC day it was triggered in
    (the cron's current interval, the one its next scheduled run covers). None for any other run."""
    after = event_run_moment(context)
    if after is None:
        return None
    start = datetime.combine(after.date(), time(), tzinfo=UTC)
    return start, start + timedelta(days=1)
