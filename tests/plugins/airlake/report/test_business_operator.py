"""BusinessReportOperator on the session's moto lake: the report SQL files rendered for the week and the
week before, run on the demo-like view tables, written as JSON and HTML with SSE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airlake.operators.business_report import BusinessReportOperator
from airlake.report.business import render_html
from tests.plugins.airlake.report.test_business import PREVIOUS, WEEK, ViewEngine, demo_views


def _context() -> dict[str, Any]:
    start = datetime.fromisoformat(WEEK).replace(tzinfo=UTC)
    return {
        "run_id": "scheduled__2026-11-23T06:00:00+00:00",
        "ds": "2026-11-23",  # the run's own day: the report's queries get the week's Monday instead
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=7),
        "params": {},
    }


def test_the_operator_writes_the_weeks_report_compared_with_the_week_before(
    lake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = ViewEngine(demo_views())
    monkeypatch.setattr("airlake.engines.factory.build_query_engine", lambda *a, **k: engine)
    operator = BusinessReportOperator(
        task_id="report", week_start=WEEK, bucket=lake.bucket, database="airlake"
    )

    result = operator.execute(_context())  # type: ignore[arg-type]

    prefix = f"reports/business/week={WEEK}/"
    assert result == {
        "week_start": WEEK,
        "json": prefix + "report.json",
        "html": prefix + "report.html",
        "bytes_scanned": 6000,
    }
    # three queries for the week, then the same three for the week before, rendered with each Monday
    assert [WEEK in q for q in engine.queries] == [True] * 3 + [False] * 3
    assert [PREVIOUS in q for q in engine.queries] == [False] * 3 + [True] * 3
    assert all("{{" not in q for q in engine.queries)
    report = lake.get_json(prefix + "report.json")
    assert report["previous_week"]["week_start"] == PREVIOUS and report["previous_week"]["summary"]
    assert report["summary"]["orders"] == sum(r["orders"] for r in report["top_countries"])
    html = lake.client.get_object(Bucket=lake.bucket, Key=prefix + "report.html")
    assert html["Body"].read().decode() == render_html(report)
    assert html.get("ServerSideEncryption")
