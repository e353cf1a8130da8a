"""Alerts through AWS SNS (airlake.alerts): each test subscribes an SQS queue to a topic on the session's
moto server and reads back what the provider's SnsNotifier published.

The failures are raised the way the operators raise them (``AirflowFailException(...) from`` the
quality or reject-rate error), and the deadline context has the shape the scheduler hands the triggerer
(``dag_run`` as the REST API's DAGRunResponse JSON).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from airlake.alerts import (
    DEADLINE_MISSED,
    QUALITY_FAILED,
    REJECT_RATE_EXCEEDED,
    TOPIC_VARIABLE,
    deadline_missed,
    send_alert,
    task_failed,
)
from airlake.curate import RejectRateExceeded
from airlake.quality.checks import CheckResult, QualityCheckFailed
from tests.conftest import ROOT, LocalServices

BASE_URL = "http://airflow.example.test:8080"
RUN_ID = "scheduled__2026-11-20T00:00:00+00:00"
TOPIC_ENV = f"AIRFLOW_VAR_{TOPIC_VARIABLE.upper()}"


@dataclass
class Topic:
    arn: str
    queue_url: str
    sqs: Any

    def messages(self) -> list[dict[str, Any]]:
        """The SNS envelopes the queue received (raw delivery off: Subject, Message, MessageAttributes)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def topic(local_services: LocalServices, monkeypatch: pytest.MonkeyPatch) -> Iterator[Topic]:
    """A fresh SNS topic with an SQS queue subscribed, named by Variable airlake_alerts_topic_arn."""
    name = f"airlake-alerts-{uuid.uuid4().hex[:8]}"
    clients = {"endpoint_url": local_services.moto_endpoint, "region_name": "us-east-1"}
    sns, sqs = boto3.client("sns", **clients), boto3.client("sqs", **clients)
    arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv(TOPIC_ENV, arn)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    yield Topic(arn=arn, queue_url=queue_url, sqs=sqs)
    sqs.delete_queue(QueueUrl=queue_url)
    sns.delete_topic(TopicArn=arn)


def _failed(error: Exception) -> Exception:
    """``error`` raised like the operators raise it: an AirflowFailException from it."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        try:
            raise error
        except Exception as exc:
            raise AirflowFailException(str(exc)) from exc
    except AirflowFailException as failed:
        return failed


def _context(error: Exception, *, dag_id: str, task_id: str, dataset: str | None = None) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id=dag_id, run_id=RUN_ID, task_id=task_id)
    task = SimpleNamespace(task_id=task_id, **({"dataset": dataset} if dataset else {}))
    return {"ti": ti, "task": task, "run_id": RUN_ID, "exception": _failed(error)}


def _fields(message: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in message.splitlines()[2:])


def _attributes(envelope: dict[str, Any]) -> dict[str, str]:
    return {key: value["Value"] for key, value in envelope["MessageAttributes"].items()}


def test_a_failed_quality_check_is_published_with_dataset_run_reason_and_link(topic: Topic) -> None:
    failed = [
        CheckResult("unique(order_id)", False, 3, "3 duplicated key(s) in dt=2026-11-20", ["2026-11-20"]),
        CheckResult("row_count_min(100)", True, 812, "812 rows", ["2026-11-20"]),
    ]
    error = QualityCheckFailed("orders", [failed[0]])
    alert = task_failed(_context(error, dag_id="dataset_orders", task_id="quality", dataset="orders"))

    assert alert is not None and alert.kind == QUALITY_FAILED
    [envelope] = topic.messages()
    assert envelope["TopicArn"] == topic.arn
    assert envelope["Subject"] == "Airlake: quality checks failed: orders"
    fields = _fields(envelope["Message"])
    link = f"{BASE_URL}/dags/dataset_orders/runs/{quote(RUN_ID, safe='')}/tasks/quality"
    assert fields == {
        "Dataset": "orders",
        "DAG": "dataset_orders",
        "Run": RUN_ID,
        "Task": "quality",
        "Reason": "orders: 1 quality check(s) failed: unique(order_id): 3 duplicated key(s) in dt=2026-11-20",
        "Link": link,
    }
    assert _attributes(envelope) == {
        "alert": QUALITY_FAILED,
        "dataset": "orders",
        "dag_id": "dataset_orders",
        "run_id": RUN_ID,
        "task_id": "quality",
        "link": link,
    }
    # no credential of the connection the notifier used (the session's placeholder keys) in the message
    assert "moto-local" not in json.dumps(envelope)


def test_a_reject_budget_breach_is_published_with_its_counts_and_quarantine(topic: Topic) -> None:
    error = RejectRateExceeded(
        "clickstream",
        RUN_ID,
        rejected=40,
        read=200,
        threshold=0.05,
        quarantine="quarantine/clickstream/dt=2026-11-20/run=x/rejects.jsonl.gz",
        manifest="_manifests/clickstream/x/curate.json",
    )
    # the task has no dataset attribute: the exception names it
    task_failed(_context(error, dag_id="dataset_clickstream", task_id="curate"))

    [envelope] = topic.messages()
    assert envelope["Subject"] == "Airlake: reject budget exceeded: clickstream"
    fields = _fields(envelope["Message"])
    assert (fields["Dataset"], fields["Run"], fields["Task"]) == ("clickstream", RUN_ID, "curate")
    assert fields["Reason"].startswith(
        "clickstream: reject rate 20.00% (40 of 200 rows) is above the threshold"
    )
    assert "quarantine/clickstream/dt=2026-11-20/run=x/rejects.jsonl.gz" in fields["Reason"]
    assert _attributes(envelope)["alert"] == REJECT_RATE_EXCEEDED


def test_other_failures_alert_nobody(topic: Topic) -> None:
    context = _context(RuntimeError("S3 timed out"), dag_id="dataset_orders", task_id="ingest")
    assert task_failed(context) is None
    assert task_failed({"ti": context["ti"], "exception": None}) is None
    assert topic.messages() == []


def test_a_missed_deadline_is_published_with_a_link_to_the_run(topic: Topic) -> None:
    # what Deadline.handle_miss gives the triggerer: DAGRunResponse.model_dump(mode="json")
    dag_run = {"dag_run_id": RUN_ID, "dag_id": "dataset_orders", "queued_at": "2026-11-21T00:00:05Z"}
    line = asyncio.run(deadline_missed({"dag_run": dag_run, "deadline": {}}, limit="3:00:00"))

    assert (
        line == f"Airlake deadline missed: dataset_orders run {RUN_ID} not done 3:00:00 after it was queued"
    )
    [envelope] = topic.messages()
    assert envelope["Subject"] == "Airlake: deadline missed: orders"
    assert _fields(envelope["Message"]) == {
        "Dataset": "orders",
        "DAG": "dataset_orders",
        "Run": RUN_ID,
        "Reason": "not done 3:00:00 after it was queued (queued at 2026-11-21T00:00:05Z)",
        "Link": f"{BASE_URL}/dags/dataset_orders/runs/{quote(RUN_ID, safe='')}",
    }
    assert _attributes(envelope)["alert"] == DEADLINE_MISSED


def test_without_a_topic_an_alert_is_a_log_line(
    local_services: LocalServices, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(TOPIC_ENV, raising=False)
    error = QualityCheckFailed("orders", [CheckResult("not_null(id)", False, 1, "1 row(s) breaking it")])
    with caplog.at_level(logging.WARNING, logger="airlake.alerts"):
        alert = task_failed(_context(error, dag_id="dataset_orders", task_id="quality"))
    assert alert is not None
    assert send_alert(alert) is False
    [line, *_] = [r.getMessage() for r in caplog.records if "No alert sent" in r.getMessage()]
    assert f"Variable {TOPIC_VARIABLE} is not set" in line and '"run_id": "' + RUN_ID in line


def test_every_airlake_task_and_deadline_alerts_and_dag_parsing_stays_light() -> None:
    from airlake.pipeline import deadline_alert, default_args

    assert default_args("analytics-team")["on_failure_callback"] is task_failed
    assert deadline_alert(__import__("datetime").timedelta(hours=3)).callback.path == (
        "airlake.alerts.deadline_missed"
    )
    heavy = ("boto3", "botocore", "airflow.providers.amazon", "pyarrow", "duckdb", "pandas")
    code = (
        "import sys, airlake.alerts, airlake.pipeline; "
        f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r} or m.startswith({heavy!r})])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'plugins'}", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"


def test_the_dataset_dags_curate_and_quality_tasks_carry_the_failure_callback() -> None:
    import importlib

    datasets = importlib.import_module("airlake_datasets")
    dag = datasets.dataset_orders
    for task in dag.tasks:
        assert task.on_failure_callback == [task_failed], task.task_id
    assert {"curate", "quality"} <= {task.task_id for task in dag.tasks}


def test_an_alert_sns_refuses_stays_in_the_log(
    topic: Topic, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = topic.arn + "-deleted"
    monkeypatch.setenv(TOPIC_ENV, missing)
    error = QualityCheckFailed("orders", [CheckResult("not_null(id)", False, 1, "1 row(s) breaking it")])
    with caplog.at_level(logging.ERROR, logger="airlake.alerts"):
        alert = task_failed(_context(error, dag_id="dataset_orders", task_id="quality"))
    assert alert is not None
    assert send_alert(alert) is False
    [line, *_] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Alert not sent")]
    assert missing in line and '"kind": "quality_failed"' in line
    assert topic.messages() == []
