"""Deadline-alert callbacks: what happens when a run is late (Airflow 3's DeadlineAlert, ex-SLA)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("airlake.alerts")


async def deadline_missed(context: dict[str, Any] | None = None, *, limit: str = "", **kwargs: Any) -> str:
    """Log the late run at ERROR (picked up by log-based alerting); returns the message."""
    context = context or {}
    dag_run = context.get("dag_run") or {}
    dag_id = getattr(dag_run, "dag_id", None) or (
        dag_run.get("dag_id") if isinstance(dag_run, dict) else None
    )
    run_id = getattr(dag_run, "run_id", None) or (
        dag_run.get("run_id") if isinstance(dag_run, dict) else None
    )
    message = (
        f"Airlake deadline missed: {dag_id or '?'} run {run_id or '?'} not done {limit} after it was queued"
    )
    log.error(message)
    return message
