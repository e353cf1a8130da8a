"""Alerts that tell people: a missed deadline, a failed quality check, a breached reject budget.

Each alert goes to an SNS topic through the Amazon provider's ``SnsNotifier`` (e-mail, chat or an SQS
queue subscribe to the topic), with the dataset, the run, the reason and a link to the run in the UI.
The topic is the Airflow Variable ``airlake_alerts_topic_arn``, reached on the ``aws_default``
connection; without it an alert is one WARNING log line and nothing is sent, so a lake without a topic
runs the same. Locally the topic lives in moto (``include/local_stack``).

Kept import-light (the DAG files import :func:`task_failed` through :mod:`airlake.pipeline` at parse
time): the provider, the Variable and the exceptions are imported when an alert is raised.

Messages hold what the run says (dataset, ids, the exception's text: checks, counts, lake keys), never a
connection, a secret or a variable's value other than the topic.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

log = logging.getLogger("airlake.alerts")

TOPIC_VARIABLE = "airlake_alerts_topic_arn"
"""Airflow Variable holding the SNS topic ARN alerts are published to; unset: log only."""
AWS_CONN_ID = "aws_default"
DEADLINE_MISSED = "deadline_missed"
QUALITY_FAILED = "quality_failed"
REJECT_RATE_EXCEEDED = "reject_rate_exceeded"
SUBJECT_MAX = 100
"""SNS subjects: at most 100 printable ASCII characters, no line break."""
_DAG_PREFIXES = ("dataset_", "view_")


@dataclass(frozen=True)
class Alert:
    """What one alert says; ``message`` is its text, ``attributes`` its fields for filters and code."""

    kind: str
    dag_id: str
    run_id: str
    reason: str
    link: str
    dataset: str | None = None
    task_id: str | None = None

    @property
    def subject(self) -> str:
        what = {
            DEADLINE_MISSED: "deadline missed",
            QUALITY_FAILED: "quality checks failed",
            REJECT_RATE_EXCEEDED: "reject budget exceeded",
        }.get(self.kind, self.kind)
        text = f"Airlake: {what}: {self.dataset or self.dag_id}"
        text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
        return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."

    @property
    def message(self) -> str:
        lines = [
            self.subject,
            "",
            f"Dataset: {self.dataset or '-'}",
            f"DAG: {self.dag_id}",
            f"Run: {self.run_id}",
        ]
        if self.task_id:
            lines.append(f"Task: {self.task_id}")
        lines += [f"Reason: {self.reason}", f"Link: {self.link}"]
        return "\n".join(lines)

    @property
    def attributes(self) -> dict[str, str]:
        """SNS message attributes (strings; a subscription can filter on ``alert`` or ``dataset``)."""
        return {
            key: str(value) for key, value in asdict(self).items() if value and key not in ("kind", "reason")
        } | {"alert": self.kind}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_link(dag_id: str, run_id: str, task_id: str | None = None) -> str:
    """The run (or its task) in the Airflow UI, from ``[api] base_url``, like the task runner's log URL."""
    from airflow.sdk.configuration import conf

    base = str(conf.get("api", "base_url", fallback="http://localhost:8080/")).rstrip("/")
    link = f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{link}/tasks/{quote(task_id, safe='')}" if task_id else link


def dataset_of_dag(dag_id: str) -> str | None:
    """``dataset_orders`` -> ``orders``, ``view_daily_sales`` -> ``daily_sales``; other DAGs: None."""
    for prefix in _DAG_PREFIXES:
        if dag_id.startswith(prefix):
            return dag_id[len(prefix) :]
    return None


def alerts_topic_arn() -> str | None:
    """The topic of Variable ``airlake_alerts_topic_arn``, None when unset or empty."""
    from airflow.sdk import Variable

    value = Variable.get(TOPIC_VARIABLE, default=None)
    if value is None:
        return None
    return str(value).strip() or None


def send_alert(alert: Alert, *, topic_arn: str | None = None, aws_conn_id: str = AWS_CONN_ID) -> bool:
    """
    Publish ``alert`` with the provider's ``SnsNotifier``; True when it was sent. When SNS refuses it
    (no such topic, access denied) the alert is logged at ERROR with the reason instead: an alert that
    cannot be sent must not hide the failure it reports.

    :param topic_arn: the topic (default: Variable ``airlake_alerts_topic_arn``); none: log only.
    :param aws_conn_id: the AWS connection the notifier's ``SnsHook`` uses.
    """
    topic_arn = topic_arn or alerts_topic_arn()
    if not topic_arn:
        log.warning("No alert sent (Variable %s is not set): %s", TOPIC_VARIABLE, json.dumps(alert.as_dict()))
        return False
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    notifier = SnsNotifier(
        aws_conn_id=aws_conn_id,
        target_arn=topic_arn,
        subject=alert.subject,
        message=alert.message,
        message_attributes=alert.attributes,
    )
    try:
        # notify() directly: the text comes from the run (exception messages), never a template to render
        notifier.notify({})
    except Exception:  # botocore's errors (missing topic, denied): the alert stays in the log
        log.exception("Alert not sent to %s: %s", topic_arn, json.dumps(alert.as_dict()))
        return False
    log.info("Alert %s for %s run %s sent to %s", alert.kind, alert.dag_id, alert.run_id, topic_arn)
    return True


# -- deadline misses (DeadlineAlert's AsyncCallback, run by the triggerer) ---------------------------


def deadline_alert_of(context: Mapping[str, Any] | None, limit: str) -> Alert:
    """The alert of a missed deadline from the triggerer's context (``dag_run`` as the REST API's JSON)."""
    dag_run = (context or {}).get("dag_run") or {}

    def field(*names: str) -> str | None:
        for name in names:
            value = dag_run.get(name) if isinstance(dag_run, Mapping) else getattr(dag_run, name, None)
            if value:
                return str(value)
        return None

    dag_id = field("dag_id") or "?"
    run_id = field("dag_run_id", "run_id") or "?"
    queued = field("queued_at")
    reason = f"not done {limit} after it was queued" + (f" (queued at {queued})" if queued else "")
    return Alert(
        kind=DEADLINE_MISSED,
        dag_id=dag_id,
        run_id=run_id,
        reason=reason,
        link=run_link(dag_id, run_id),
        dataset=dataset_of_dag(dag_id),
    )


async def deadline_missed(context: dict[str, Any] | None = None, *, limit: str = "", **kwargs: Any) -> str:
    """Log the late run at ERROR (for log-based alerting) and publish it to the alerts topic; returns the
    log line."""
    alert = deadline_alert_of(context, limit)
    line = f"Airlake deadline missed: {alert.dag_id} run {alert.run_id} not done {limit} after it was queued"
    log.error(line)
    await asyncio.to_thread(send_alert, alert)  # the SNS hook is synchronous (no aiobotocore here)
    return line


# -- quality failures and reject-budget breaches (tasks' on_failure_callback) -----------------------


def _chain(error: BaseException | None) -> list[BaseException]:
    """The exception, then what it was raised from (``__cause__``, else ``__context__``)."""
    found: list[BaseException] = []
    while error is not None and error not in found and len(found) < 10:
        found.append(error)
        error = error.__cause__ or error.__context__
    return found


def failure_alert_of(context: Mapping[str, Any]) -> Alert | None:
    """The alert of a failed task when it failed a quality check or the reject budget; else None."""
    from airlake.curate import RejectRateExceeded
    from airlake.quality.checks import QualityCheckFailed

    chain = _chain(context.get("exception"))
    cause = next((e for e in chain if isinstance(e, RejectRateExceeded | QualityCheckFailed)), None)
    if cause is None:
        return None
    ti, task = context.get("ti") or context.get("task_instance"), context.get("task")
    dag_id = str(getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?"))
    run_id = str(context.get("run_id") or getattr(ti, "run_id", "?"))
    task_id = getattr(ti, "task_id", None) or getattr(task, "task_id", None)
    dataset = getattr(cause, "dataset", None) or getattr(task, "dataset", None) or dataset_of_dag(dag_id)
    return Alert(
        kind=REJECT_RATE_EXCEEDED if isinstance(cause, RejectRateExceeded) else QUALITY_FAILED,
        dag_id=dag_id,
        run_id=run_id,
        reason=str(cause),
        link=run_link(dag_id, run_id, task_id),
        dataset=str(dataset) if dataset else None,
        task_id=task_id,
    )


def task_failed(context: Mapping[str, Any]) -> Alert | None:
    """``on_failure_callback`` of every Airlake task: alert on quality and reject-budget failures."""
    alert = failure_alert_of(context)
    if alert is not None:
        log.error("Airlake %s: %s run %s: %s", alert.kind, alert.dag_id, alert.run_id, alert.reason)
        send_alert(alert)
    return alert
