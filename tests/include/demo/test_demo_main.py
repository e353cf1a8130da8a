"""The demo's wait for the views: every day built is not enough while an asset event still waits for a run
(a day built from its orders before its fx_rates arrived is rebuilt by that run)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from include.demo import main
from include.demo.airflow_api import AirflowApi

DAYS = [date(2026, 11, 16) + timedelta(days=i) for i in range(7)]


class FakeGlue:
    """Both views hold a partition for every day of the week."""

    class exceptions:
        EntityNotFoundException = LookupError

    def get_partitions(self, DatabaseName: str, TableName: str) -> dict[str, Any]:
        return {"Partitions": [{"Values": [day.isoformat()]} for day in DAYS]}


class FakeApi:
    """Each look shows the next state: (DAGs with an active run, queued asset events per DAG)."""

    def __init__(self, looks: list[tuple[set[str], dict[str, int]]]) -> None:
        self.looks, self.seen = looks, 0

    def active_dag_ids(self) -> set[str]:
        self.seen += 1
        return self.looks[min(self.seen, len(self.looks)) - 1][0]

    def queued_asset_events(self, dag_id: str) -> int:
        return self.looks[min(self.seen, len(self.looks)) - 1][1].get(dag_id, 0)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(main, "aws_client", lambda service: FakeGlue())


def test_the_views_are_waited_for_until_no_asset_event_is_queued_for_them() -> None:
    api = FakeApi(
        [
            (set(), {"view_daily_sales": 1}),  # fx_rates published: its run is not created yet
            ({"view_daily_sales"}, {}),  # the rebuild runs
            (set(), {}),
        ]
    )
    main.wait_for_views(api, "airlake", DAYS)  # type: ignore[arg-type]
    assert api.seen == 3


def test_a_view_whose_events_never_run_is_reported_after_the_timeout() -> None:
    api = FakeApi([(set(), {"view_funnel_daily": 2})])
    with pytest.raises(RuntimeError, match="view_funnel_daily"):
        main.wait_for_views(api, "airlake", DAYS, timeout=0)  # type: ignore[arg-type]


def test_the_api_counts_a_dags_queued_asset_events(monkeypatch: pytest.MonkeyPatch) -> None:
    def airflow(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/dags/view_daily_sales/assets/queuedEvents"
        events = [
            {"dag_id": "view_daily_sales", "asset_id": i, "created_at": "2026-11-23T00:00:00Z"}
            for i in (1, 2)
        ]
        return httpx.Response(200, json={"queued_events": events, "total_entries": 2})

    api = AirflowApi.__new__(AirflowApi)
    api.client = httpx.Client(base_url="http://airflow/api/v2", transport=httpx.MockTransport(airflow))
    assert api.queued_asset_events("view_daily_sales") == 2
