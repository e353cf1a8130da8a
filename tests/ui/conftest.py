"""Fixtures of the browser tests: a real `airflow standalone` on the project's DAGs, and headless Chromium.

The Airflow of these tests runs like the local stack does (include/local_stack/env.sh via ``load_env``),
on free ports, against this session's moto server and PostgreSQL: a fresh metadata database, a fresh
warehouse database, a fresh lake bucket and Glue database, and the demo FX API served in-process.
Scheduled runs are switched off (``[scheduler] use_job_schedule``), so the only runs are the ones the
tests trigger and the lake holds nothing else.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import httpx
import psycopg
import pytest

from include.demo import fx_api
from include.local_stack import services
from tests.conftest import LocalServices, free_port

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (include/local_stack/setup.sh installs it); Playwright never downloads a browser."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
UI_TIMEOUT_MS = 60_000
"""Default wait of every Playwright action: the React UI is slow to render on 2 busy cores."""
DAGS = ("airlake_reprocess", "dataset_fx_rates")
"""The DAGs the tests trigger, unpaused through the REST API once they are parsed."""
TERMINAL = frozenset({"success", "failed"})


@dataclass
class AirflowStack:
    """A running `airflow standalone` on the project's DAGs, and where its lake and warehouse are."""

    base_url: str
    username: str
    password: str
    state_dir: Path
    moto_endpoint: str
    bucket: str
    glue_database: str
    warehouse_dsn: str
    api: httpx.Client = field(repr=False)

    # -- REST API --------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params or None)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return {ti["task_id"]: ti["state"] for ti in self.get(path, limit=100)["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as text: each event, and the exception of a failed try."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}"
        )
        response = self.api.get(path, params={"full_content": "true"}, headers={"Accept": "application/json"})
        if response.status_code != 200:
            return f"(no log: {response.status_code} {response.text[:200]})"
        lines = []
        for entry in response.json().get("content", []):
            if not isinstance(entry, dict):
                lines.append(str(entry))
                continue
            lines.append(f"{entry.get('level', '')} {entry.get('event', '')}".strip())
            for error in entry.get("error_detail") or []:
                lines.append(f"  {error.get('exc_type')}: {error.get('exc_value')}")
        return "\n".join(lines)

    def describe(self, dag_id: str, run_id: str) -> str:
        """A run's state, its tasks' states and the log tails of its failed tasks (for assertion messages)."""
        run = self.dag_run(dag_id, run_id)
        states = self.task_states(dag_id, run_id)
        text = [f"{dag_id} run {run_id}: {run['state']} (conf {run.get('conf')}), tasks {states}"]
        for task_id, state in states.items():
            if state in ("failed", "up_for_retry"):
                tail = "\n".join(self.task_log(dag_id, run_id, task_id).splitlines()[-25:])
                text.append(f"--- log of {task_id} ({state}):\n{tail}")
        return "\n".join(text)

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float,
        also_watch: str | None = None,
        poll: float = 3.0,
    ) -> dict[str, Any]:
        """Wait until a run is success or failed; return it.

        ``also_watch`` names a DAG whose operator-triggered runs belong to this run (the reprocess DAG
        triggers the dataset's DAG): when one of them fails, stop at once with its tasks' logs instead
        of waiting for the trigger task's retries.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            if also_watch is not None:
                for child in self.dag_runs(also_watch):
                    if child["run_type"] == "operator_triggered" and child["state"] == "failed":
                        raise AssertionError(
                            f"the {also_watch} run triggered by {dag_id} failed:\n"
                            f"{self.describe(also_watch, child['dag_run_id'])}"
                        )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{dag_id} run {run_id} not finished after {timeout:.0f} s:\n{self.describe(dag_id, run_id)}"
                )
            time.sleep(poll)

    # -- the lake and the catalog ----------------------------------------------------------------

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="moto-local",
            aws_secret_access_key="moto-local",
        )

    def lake_keys(self, prefix: str = "") -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def _create_database(local: LocalServices, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def _drop_database(local: LocalServices, name: str) -> None:
    with psycopg.connect(local.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _drop_lake(stack: AirflowStack) -> None:
    """Remove the test's bucket and Glue database from the session's moto server."""
    s3, glue = stack.client("s3"), stack.client("glue")
    with contextlib.suppress(Exception):
        for key in stack.lake_keys():
            s3.delete_object(Bucket=stack.bucket, Key=key)
        s3.delete_bucket(Bucket=stack.bucket)
    with contextlib.suppress(Exception):
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=stack.glue_database):
            for table in page["TableList"]:
                glue.delete_table(DatabaseName=stack.glue_database, Name=table["Name"])
        glue.delete_database(Name=stack.glue_database)


def _wait_for_dags(api: httpx.Client, dag_ids: tuple[str, ...], *, timeout: float) -> None:
    """Wait until the DAG processor has stored ``dag_ids``; fail with the import errors if it does not."""
    deadline = time.monotonic() + timeout
    missing = list(dag_ids)
    while time.monotonic() < deadline:
        missing = [dag_id for dag_id in dag_ids if api.get(f"/api/v2/dags/{dag_id}").status_code != 200]
        if not missing:
            return
        time.sleep(2)
    errors = api.get("/api/v2/importErrors").json().get("import_errors", [])
    details = "\n".join(f"{e.get('filename')}: {e.get('stack_trace', '')[-800:]}" for e in errors)
    raise AssertionError(
        f"DAGs {missing} not parsed within {timeout:.0f} s; import errors:\n{details or 'none'}"
    )


@pytest.fixture(scope="session")
def airflow_stack(
    local_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowStack]:
    """`airflow standalone` on the project's DAGs: fresh metadata and warehouse DBs, lake bucket, Glue DB.

    One per session: starting it takes minutes, and the Lake page test reads what the trigger-form tests'
    runs left in its lake (see ``pytest_collection_modifyitems``)."""
    state = tmp_path_factory.mktemp("ui-stack")
    pg_port = local_services.pg_dsn.rsplit(":", 1)[1]
    moto_port = local_services.moto_endpoint.rsplit(":", 1)[1]
    suffix = uuid.uuid4().hex[:10]
    bucket, glue_database = f"airlake-ui-{suffix}", f"airlake_ui_{suffix}"
    port = free_port()

    fx_server = fx_api.serve("127.0.0.1", 0)
    metadata_db = warehouse_db = None
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=60)
    stack: AirflowStack | None = None
    try:
        metadata_db = _create_database(local_services, "ui_airflow")
        warehouse_db = _create_database(local_services, "ui_warehouse")
        # Everything like env.sh, on this session's services and ports of our own (a developer's stack may
        # run beside us), with connections and Variables pointing at this test's fresh lake and warehouse.
        env = services.load_env(
            {
                "AIRLAKE_STATE": str(state),
                "AIRFLOW_PORT": str(port),
                "AIRLAKE_MOTO_PORT": moto_port,
                "AIRLAKE_PG_PORT": pg_port,
                "AIRLAKE_AIRFLOW_DB": metadata_db,
                "AIRLAKE_FX_API_PORT": str(fx_server.server_address[1]),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW_VAR_AIRLAKE_BUCKET": bucket,
            },
            base={key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TZ")},
        )
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(services.PROJECT_ROOT / "dags")
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(services.PROJECT_ROOT / "plugins")
        env.update(
            {
                "AIRFLOW_CONN_AIRLAKE_WAREHOUSE": f"postgres://airlake@127.0.0.1:{pg_port}/{warehouse_db}",
                "AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE": glue_database,
                # only the runs the tests trigger: no scheduled run appears when a dataset DAG is unpaused
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            }
        )
        stack = AirflowStack(
            base_url=f"http://127.0.0.1:{port}",
            username="",
            password="",
            state_dir=state,
            moto_endpoint=local_services.moto_endpoint,
            bucket=bucket,
            glue_database=glue_database,
            warehouse_dsn=local_services.pg_database_dsn(warehouse_db),
            api=api,
        )
        stack.client("s3").create_bucket(Bucket=bucket)

        services.start_airflow(port=port, state_dir=state, env=env, timeout=300)
        stack.username, stack.password = services.airflow_login(state)
        token = api.post("/auth/token", json={"username": stack.username, "password": stack.password})
        assert token.status_code == 201, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        _wait_for_dags(api, DAGS, timeout=240)
        for dag_id in DAGS:
            unpaused = api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
            assert unpaused.status_code == 200 and unpaused.json()["is_paused"] is False, unpaused.text
        yield stack
    finally:
        try:
            services.stop_airflow(state_dir=state)
        finally:
            api.close()
            fx_api.stop(fx_server)
            if stack is not None:
                _drop_lake(stack)
            for name in (metadata_db, warehouse_db):
                if name is not None:
                    _drop_database(local_services, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright, closed at the end of the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` as root (it installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions wait like actions do (Playwright's default: 5 s)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Lake page test (test_lake_page.py) runs after the other UI tests: it shows what their runs did."""
    items.sort(key=lambda item: Path(item.path).name == "test_lake_page.py")  # stable: the rest keep order


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so that the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser context and page; on failure a screenshot and the page's HTML go to tmp_path."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                (tmp_path / "failure.html").write_text(page.content())
                print(f"UI at failure ({page.url}): {tmp_path / 'failure.png'}, {tmp_path / 'failure.html'}")
        context.close()
