"""A small client of Airflow 3's REST API (/api/v2) for the demo: DAGs, runs, backfills, waits."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

import httpx

RUN_TIMEOUT_SECONDS = 1800
POLL_SECONDS = 2.0
"""Between two looks at Airflow's API while waiting (each look is a few requests to the API server)."""


class AirflowApi:
    """A small client of Airflow 3's REST API (/api/v2), logged in with the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        token = httpx.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; SQLite's "database is locked" (HTTP 503) is retried with backoff."""
        for attempt in range(8):
            response = self.client.request(method, path, **kwargs)
            if response.status_code != 503 or "locked" not in response.text:
                break
            time.sleep(min(2**attempt, 20) * 0.5)
        if response.status_code >= 400:
            raise RuntimeError(
                f"Airflow API {method} {path}: HTTP {response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Wait until the DAG processor has parsed every DAG; fail on import errors."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.call("GET", "/importErrors")["import_errors"]
            if errors:
                details = "\n".join(f"{e['filename']}: {e['stack_trace'][-800:]}" for e in errors)
                raise RuntimeError(f"Airflow could not import DAG files:\n{details}")
            known = {dag["dag_id"] for dag in self.call("GET", "/dags", params={"limit": 1000})["dags"]}
            missing = sorted(set(dag_ids) - known)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"DAGs not parsed after {timeout:.0f} s: {', '.join(missing)}")
            time.sleep(POLL_SECONDS)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def active_dag_ids(self) -> set[str]:
        """The DAGs with a run queued or running: one request for all of them (Airflow's ``~``)."""
        runs = self.call("GET", "/dags/~/dagRuns", params={"state": ["queued", "running"], "limit": 1000})[
            "dag_runs"
        ]
        return {run["dag_id"] for run in runs}

    def queued_asset_events(self, dag_id: str) -> int:
        """Asset events waiting for the scheduler to make ``dag_id``'s next run (its run does not exist yet)."""
        return int(self.call("GET", f"/dags/{dag_id}/assets/queuedEvents")["total_entries"])

    def next_runs_after(self) -> dict[str, str | None]:
        """When the scheduler creates each DAG's next run (``next_dagrun_run_after``), in one request."""
        dags = self.call("GET", "/dags", params={"limit": 1000})["dags"]
        return {dag["dag_id"]: dag["next_dagrun_run_after"] for dag in dags}

    def backfill(
        self, dag_id: str, first: date, last: date, conf: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Backfill the runs whose data intervals start on the days first..last, rerunning any that ran;
        the backfill as the API returns it (id, dag_id, from_date, to_date, ...): its runs exist by then."""
        return self.call(
            "POST",
            "/backfills",
            json={
                "dag_id": dag_id,
                "from_date": f"{first.isoformat()}T00:00:00Z",
                "to_date": f"{last.isoformat()}T23:59:59Z",
                "max_active_runs": 1,
                "reprocess_behavior": "completed",
                "dag_run_conf": conf or {},
            },
        )

    def wait_backfills(self, backfills: list[dict[str, Any]], timeout: float = RUN_TIMEOUT_SECONDS) -> None:
        """Wait until no run of ``backfills`` is queued or running, with one request per look for all of them.

        Not until their ``completed_at`` is set: the scheduler sets it in a check it makes every 30 s
        (``_mark_backfills_complete``, not configurable), so the demo sat idle 0-30 s after each backfill's
        last run had finished (22 s after the week's, 17 s after the weekly report's in one run). What it
        checks is what that check decides on: a backfill's runs (created with it, and the only backfill runs
        of their DAG in its range, as a DAG has one active backfill at a time) are all finished."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.call(
                "GET",
                "/dags/~/dagRuns",
                params={"run_type": ["backfill"], "state": ["queued", "running"], "limit": 1000},
            )["dag_runs"]
            if not any(_in_backfill(run, backfill) for run in active for backfill in backfills):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the backfills are still running after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 100})[
            "dag_runs"
        ]

    def day_states(self, dag_id: str, days: list[date]) -> dict[date, str]:
        """The state of the newest run of each day's data interval."""
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-end_date", "limit": 100})[
            "dag_runs"
        ]
        states: dict[date, str] = {}
        for run in runs:
            day = date.fromisoformat(run["data_interval_start"][:10])
            if day in days:
                states.setdefault(day, run["state"])
        return {day: states.get(day, "missing") for day in days}

    def wait_settled(self, dag_ids: list[str], timeout: float = RUN_TIMEOUT_SECONDS) -> None:
        """Wait until the scheduler has created every run that is due (the latest interval runs once
        on unpause) and none is still queued or running, so the demo's deliveries go to its backfills.

        Each look is two requests whatever the number of DAGs: the API server is one process that the
        tasks' own calls (start, XComs, variables, finish) wait behind, and two requests per DAG every
        2 s took ~7 s of its time per look under load."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            run_after, active = self.next_runs_after(), self.active_dag_ids()
            pending = [
                dag_id
                for dag_id in dag_ids
                if (run_after.get(dag_id) or "9999")[:19] <= now or dag_id in active
            ]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs of {', '.join(pending)} still due or active after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)


def _in_backfill(run: dict[str, Any], backfill: dict[str, Any]) -> bool:
    """Whether ``run`` (a backfill run) is one of ``backfill``'s: its DAG, a logical date in its range."""
    if run["dag_id"] != backfill["dag_id"] or not run.get("logical_date"):
        return False
    logical = datetime.fromisoformat(run["logical_date"])
    return (
        datetime.fromisoformat(backfill["from_date"])
        <= logical
        <= datetime.fromisoformat(backfill["to_date"])
    )
