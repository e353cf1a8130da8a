"""Event-driven runs: the schedule wiring, what a message says, and the watcher trigger on moto's SQS."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import boto3
import pytest
from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable

from airlake.contracts import get_contract
from airlake.events import dataset_schedule, event_queue, events_asset, s3_notices, triggering_notices
from airlake.triggers.sqs_events import LakeSqsEventTrigger


def _with_source(name: str, **source: Any):
    contract = get_contract(name)
    return contract.model_copy(update={"source": contract.source.model_copy(update=source)})


def _client(local_services: Any, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=local_services.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",
    )


# -- schedule wiring -------------------------------------------------------------------------------


def test_a_contract_without_an_event_queue_keeps_its_cron_only() -> None:
    for name in ("products", "payments", "orders"):
        contract = get_contract(name)
        assert event_queue(contract) is None
        schedule = dataset_schedule(contract)
        assert isinstance(schedule, CronDataIntervalTimetable)
        assert schedule.expression == "0 0 * * *"  # @daily


def test_a_landing_queue_schedules_on_the_cron_or_the_watched_asset() -> None:
    contract = _with_source("products", events_queue="airlake-landing-products")
    schedule = dataset_schedule(contract, poll_seconds=7)
    assert isinstance(schedule, AssetOrTimeSchedule)
    assert isinstance(schedule.timetable, CronDataIntervalTimetable)
    assert schedule.timetable.expression == "0 0 * * *"
    (asset,) = schedule.asset_condition.objects
    assert isinstance(asset, Asset) and asset.name == "events.products"
    (watcher,) = asset.watchers
    trigger = watcher.trigger
    assert isinstance(trigger, LakeSqsEventTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airlake.triggers.sqs_events.LakeSqsEventTrigger"
    assert kwargs["sqs_queue"] == "airlake-landing-products"
    assert kwargs["waiter_delay"] == 7
    assert kwargs["delete_message_on_reception"] is True  # notifications are only signals
    assert kwargs["aws_conn_id"] == "aws_default"


def test_an_sqs_source_is_peeked_at_never_consumed_by_its_watcher() -> None:
    contract = _with_source("payments", run_on_message=True)
    queue = event_queue(contract)
    assert queue is not None and queue.queue == "airlake-payments" and queue.consume is False
    _, kwargs = events_asset(contract).watchers[0].trigger.serialize()
    assert kwargs["delete_message_on_reception"] is False
    assert kwargs["visibility_timeout"] == 0  # ingest can receive the message at once


def test_the_dag_is_scheduled_on_cron_or_events_and_runs_one_at_a_time() -> None:
    import importlib

    import airlake.contracts as contracts

    module = importlib.import_module("dags.airlake_datasets")
    contract = _with_source("products", events_queue="airlake-landing-products")
    dag = module.dataset_dag(contract)
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable.expression == "0 0 * * *"
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["events.products"]
    assert dag.max_active_runs == 1  # an event run and a scheduled run never read the checkpoint at once
    assert contracts.get_contract("products").source.events_queue is None  # the demo stays schedule-only

    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.to_dict(dag)
    text = json.dumps(serialized)
    assert "airlake.triggers.sqs_events.LakeSqsEventTrigger" in text
    assert "airlake-landing-products" in text


def test_the_contract_option_is_checked() -> None:
    from airlake.contracts import Contract

    document = get_contract("products").model_dump(by_alias=True)
    document["source"]["events_queue"] = "not a queue!"
    with pytest.raises(ValueError, match="events_queue"):
        Contract.model_validate(document)
    document["source"]["events_queue"] = "airlake-landing-products"
    assert Contract.model_validate(document).source.events_queue == "airlake-landing-products"


# -- what a message says ---------------------------------------------------------------------------


def _notification(key: str, etag: str = "abc", event: str = "ObjectCreated:Put") -> str:
    record = {
        "eventName": event,
        "s3": {"bucket": {"name": "lake"}, "object": {"key": key, "size": 3, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def test_s3_notices_decode_keys_and_ignore_what_is_not_a_new_object() -> None:
    (notice,) = s3_notices(_notification("landing%2Fproducts%2F2026-11-20%2Fa+b.csv.gz", '"e1"'))
    assert (notice.bucket, notice.key, notice.etag) == (
        "lake",
        "landing/products/2026-11-20/a b.csv.gz",
        "e1",
    )
    assert s3_notices(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "lake"})) == []
    assert s3_notices(_notification("landing/x.csv", event="ObjectRemoved:Delete")) == []
    assert s3_notices("not json") == []
    assert s3_notices("[1, 2]") == []


def test_triggering_notices_read_the_watcher_payload_of_asset_events() -> None:
    event = {
        "extra": {
            "from_trigger": True,
            "payload": {"status": "success", "message_batch": [{"Body": _notification("landing/a.csv")}]},
        }
    }
    assert [n.key for n in triggering_notices({"events.products": [event]})] == ["landing/a.csv"]
    assert triggering_notices([{"extra": {}}]) == []


# -- the trigger on moto's SQS (real S3 notifications) ---------------------------------------------


def _first_event(trigger: LakeSqsEventTrigger) -> Any:
    async def first() -> Any:
        events = trigger.run()
        try:
            return await events.__anext__()
        finally:
            await events.aclose()

    return asyncio.run(first())


def test_moto_sends_the_landing_notification_and_the_trigger_fires_with_it(local_services, lake) -> None:
    s3, sqs = _client(local_services, "s3"), _client(local_services, "sqs")
    queue_name = f"landing-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    from include.demo.notifications import ensure_landing_notifications

    ensure_landing_notifications(s3, sqs, lake.bucket, {"landing/products/": queue_name})
    sqs.purge_queue(QueueUrl=queue_url)  # drop s3:TestEvent
    s3.put_object(Bucket=lake.bucket, Key="elsewhere/x.csv", Body=b"id\n1\n")  # outside the prefix
    put = s3.put_object(Bucket=lake.bucket, Key="landing/products/day 1.csv", Body=b"id\n1\n")

    trigger = LakeSqsEventTrigger(sqs_queue=queue_name, waiter_delay=1, delete_message_on_reception=True)
    event = _first_event(trigger)
    assert event.payload["status"] == "success"
    notices = [n for m in event.payload["message_batch"] for n in s3_notices(m["Body"])]
    assert [(n.bucket, n.key, n.etag) for n in notices] == [
        (lake.bucket, "landing/products/day 1.csv", put["ETag"].strip('"'))
    ]
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages") is None  # deleted


def test_the_data_queue_watcher_leaves_the_messages_for_ingest(local_services) -> None:
    sqs = _client(local_services, "sqs")
    queue_url = sqs.create_queue(QueueName=f"data-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"payment_id": 1}')
    trigger = LakeSqsEventTrigger(
        sqs_queue=queue_url, waiter_delay=1, delete_message_on_reception=False, visibility_timeout=0
    )
    event = _first_event(trigger)
    assert [m["Body"] for m in event.payload["message_batch"]] == ['{"payment_id": 1}']
    left = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in left] == ['{"payment_id": 1}']  # still there, visible at once


# -- message -> asset event -> queued run, through Airflow's own code and metadata DB -------------


def test_a_watcher_event_becomes_an_asset_event_that_queues_a_run_of_the_dataset_dag(airflow_db) -> None:
    """What the DAG processor stores for the watcher, and what the triggerer's ``submit_event`` does with
    the trigger's event: an asset event carrying the SQS messages and a queued run of the dataset DAG."""
    import importlib

    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.trigger import Trigger
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    module = importlib.import_module("dags.airlake_datasets")
    queue = f"landing-{uuid.uuid4().hex[:8]}"
    dag = module.dataset_dag(_with_source("products", events_queue=queue))
    bundle = "dags-folder"

    def sync() -> None:
        with create_session() as session:
            update_dag_parsing_results_in_db(
                bundle, None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
            )

    with create_session() as session:
        if session.get(DagBundleModel, bundle) is None:
            session.add(DagBundleModel(name=bundle))
    sync()
    with create_session() as session:
        session.get(DagModel, dag.dag_id).is_paused = False  # a paused DAG's assets have no watcher
    sync()

    with create_session() as session:
        asset = session.scalars(select(AssetModel).where(AssetModel.name == "events.products")).one()
        (watcher,) = asset.watchers
        assert watcher.trigger.classpath == "airlake.triggers.sqs_events.LakeSqsEventTrigger"
        assert watcher.trigger.kwargs["sqs_queue"] == queue
        trigger_id, asset_id = watcher.trigger.id, asset.id
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.asset_id == asset_id))

    body = _notification("landing%2Fproducts%2F2026-11-20%2Fp.csv", "e9")
    Trigger.submit_event(trigger_id, TriggerEvent({"status": "success", "message_batch": [{"Body": body}]}))

    with create_session() as session:
        (event,) = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset_id)).all()
        assert [n.key for n in triggering_notices([{"extra": event.extra}])] == [
            "landing/products/2026-11-20/p.csv"
        ]
        queued = session.scalars(select(AssetDagRunQueue).where(AssetDagRunQueue.asset_id == asset_id)).all()
        assert [q.target_dag_id for q in queued] == ["dataset_products"]
        _, triggered = DagModel.dags_needing_dagruns(session)
        assert "dataset_products" in triggered  # the scheduler's next loop creates the asset-triggered run


# -- the interval of an event run ------------------------------------------------------------------


def test_an_event_run_processes_the_utc_day_it_was_triggered_in_other_runs_are_unchanged() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from airlake.events import event_run_interval
    from airlake.intervals import IntervalParamError, interval_of

    after = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    event_run = SimpleNamespace(run_type="asset_triggered", run_after=after)
    assert event_run_interval({"dag_run": event_run}) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
    )
    interval = interval_of({"dag_run": event_run, "params": {}})
    assert (interval.start, interval.end) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert interval.as_of == after and not interval.complete  # its day is still filling
    assert interval.as_dict()["as_of"] == "2026-11-20T23:30:00+00:00"
    asked = interval_of({"dag_run": event_run, "params": {"start_date": "2026-11-18"}})  # the form still wins
    assert asked.start == datetime(2026, 11, 18, tzinfo=UTC)
    assert asked.as_of is None and asked.complete
    manual = SimpleNamespace(run_type="manual", run_after=after)
    assert event_run_interval({"dag_run": manual}) is None
    with pytest.raises(IntervalParamError, match="no data interval"):
        interval_of({"dag_run": manual, "params": {}})  # a manual run without dates is still refused
