"""The demo's Airflow API client: a backfill is waited for until its runs are finished, not its completed_at."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from include.demo import airflow_api
from include.demo.airflow_api import AirflowApi

BACKFILL = {
    "id": 7,
    "dag_id": "dataset_orders",
    "from_date": "2026-11-16T00:00:00Z",
    "to_date": "2026-11-22T23:59:59Z",
    "completed_at": None,
}


def _run(dag_id: str, day: str, state: str) -> dict[str, Any]:
    return {"dag_id": dag_id, "logical_date": f"{day}T00:00:00Z", "run_type": "backfill", "state": state}


class FakeAirflow:
    """Airflow's REST API as far as backfills go: each look at the active runs shows the next state."""

    def __init__(self, looks: list[list[dict[str, Any]]]) -> None:
        self.looks = looks
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST" and request.url.path == "/api/v2/backfills":
            return httpx.Response(200, json={**BACKFILL, "dag_id": json.loads(request.content)["dag_id"]})
        if request.url.path == "/api/v2/dags/~/dagRuns":
            assert request.url.params.get_list("run_type") == ["backfill"]
            assert request.url.params.get_list("state") == ["queued", "running"]
            runs = self.looks.pop(0) if len(self.looks) > 1 else self.looks[0]
            return httpx.Response(200, json={"dag_runs": runs, "total_entries": len(runs)})
        return httpx.Response(404, json={"detail": f"unexpected {request.method} {request.url.path}"})


@pytest.fixture
def api_of(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(airflow_api.time, "sleep", lambda seconds: None)

    def make(fake: FakeAirflow) -> AirflowApi:
        monkeypatch.setattr(
            airflow_api.httpx,
            "post",
            lambda *a, **k: httpx.Response(
                200, json={"access_token": "t"}, request=httpx.Request("POST", "http://x")
            ),
        )
        api = AirflowApi("http://airflow", "admin", "pw")
        api.client = httpx.Client(base_url="http://airflow/api/v2", transport=httpx.MockTransport(fake))
        return api

    return make


def test_waits_while_a_run_of_the_backfill_is_active(api_of: Any) -> None:
    fake = FakeAirflow(
        [
            [_run("dataset_orders", "2026-11-21", "running"), _run("dataset_orders", "2026-11-22", "queued")],
            [_run("dataset_orders", "2026-11-22", "running")],
            [],
        ]
    )
    api = api_of(fake)
    backfill = api.backfill("dataset_orders", date(2026, 11, 16), date(2026, 11, 22), {"full_refresh": True})
    assert backfill["id"] == 7 and backfill["from_date"] == "2026-11-16T00:00:00Z"

    api.wait_backfills([backfill])
    looks = [r for r in fake.requests if r.url.path.endswith("/dagRuns")]
    assert len(looks) == 3  # returned on the first look without an active run, completed_at still None
    assert json.loads(fake.requests[0].content) == {
        "dag_id": "dataset_orders",
        "from_date": "2026-11-16T00:00:00Z",
        "to_date": "2026-11-22T23:59:59Z",
        "max_active_runs": 1,
        "reprocess_behavior": "completed",
        "dag_run_conf": {"full_refresh": True},
    }


def test_runs_of_other_dags_and_days_are_not_the_backfills(api_of: Any) -> None:
    fake = FakeAirflow(
        [
            [
                _run("dataset_payments", "2026-11-18", "running"),  # another DAG's backfill
                _run("dataset_orders", "2026-11-23", "queued"),  # after the range
                _run("dataset_orders", "2026-11-15", "running"),  # before it
            ]
        ]
    )
    api = api_of(fake)
    api.wait_backfills([BACKFILL])
    assert len([r for r in fake.requests if r.url.path.endswith("/dagRuns")]) == 1


def test_every_backfill_is_waited_for_and_a_stuck_one_times_out(api_of: Any) -> None:
    payments = {**BACKFILL, "id": 8, "dag_id": "dataset_payments"}
    stuck = FakeAirflow([[_run("dataset_payments", "2026-11-22", "running")]])
    with pytest.raises(RuntimeError, match="still running"):
        api_of(stuck).wait_backfills([BACKFILL, payments], timeout=0)
    assert airflow_api._in_backfill(_run("dataset_orders", "2026-11-22", "running"), BACKFILL)
    assert not airflow_api._in_backfill({"dag_id": "dataset_orders", "logical_date": None}, BACKFILL)
