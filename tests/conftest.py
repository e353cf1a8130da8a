"""Session fixtures: real local services (moto server, PostgreSQL) started once, Airflow on a temp home.

The environment is set before Airflow is imported anywhere, so every test sees the same settings the
local stack uses (include/local_stack/env.sh), pointed at services on free ports of this session.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="airlake-tests-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_DIR / "airflow"),
        # dag.test() runs tasks in this process, one at a time: a throwaway SQLite metadata DB is enough,
        # and the developer's running stack (env.sh points at its PostgreSQL) is never touched.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_SESSION_DIR / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # env.sh sends lineage to the developer's .local/lineage/; tests that check lineage turn it on
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AWS_ACCESS_KEY_ID": "moto-local",
        "AWS_SECRET_ACCESS_KEY": "moto-local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_VAR_AIRLAKE_BUCKET": "airlake-test",
        "AIRFLOW_VAR_AIRLAKE_QUERY_ENGINE": "duckdb",
    }
)
os.environ.pop("AWS_PROFILE", None)

# AIRLAKE_CLOCK_SHIFT_DAYS=N runs the session with the wall clock N days ahead, in this process (before Airflow
# is imported) and in every Python service it starts (tests/clockshift/sitecustomize.py on their PYTHONPATH).
if os.environ.get("AIRLAKE_CLOCK_SHIFT_DAYS", "").strip():
    _CLOCKSHIFT = str(ROOT / "tests" / "clockshift")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (_CLOCKSHIFT, os.environ.get("PYTHONPATH"))))
    import tests.clockshift.sitecustomize  # noqa: F401  (shifts this process's clock on import)


DATE_SENSITIVE = (
    "tests/dags/",
    "tests/include/demo/",
    "tests/plugins/airlake/analytics/",
    "tests/plugins/airlake/curate/test_versions.py",
    "tests/plugins/airlake/maintenance/",
    "tests/plugins/airlake/operators/test_maintenance_operators.py",
    "tests/plugins/airlake/operators/test_materialise_operator.py",
    "tests/plugins/airlake/operators/test_tiering_operator.py",
    "tests/plugins/airlake/quality/",
    "tests/plugins/airlake/report/",
    "tests/plugins/airlake/test_intervals.py",
    "tests/plugins/airlake/tiering/",
    "tests/test_clock_shift.py",
)
"""Tests of what reads intervals, object ages or schedules: include/local_stack/run_tests.sh runs them again
with the wall clock of the test process and its Python services (moto) moved 30 and 365 days ahead
(AIRLAKE_CLOCK_SHIFT_DAYS), so a test or a DAG that follows the wall clock instead of its logical date fails in
CI, not on some later day."""


CLOCK_FREE = ("tests/dags/test_dag_integrity.py",)
"""Under a DATE_SENSITIVE folder but reading no clock (parsing only): not rerun."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).relative_to(ROOT).as_posix()
        if path.startswith(DATE_SENSITIVE) and not path.startswith(CLOCK_FREE):
            item.add_marker(pytest.mark.date_sensitive)
        # pytest-xdist (--dist loadgroup): a file's tests share one worker (module fixtures start once), and
        # all browser tests share one, so one Airflow stack serves them (tests/ui/conftest.py).
        item.add_marker(pytest.mark.xdist_group("ui" if path.startswith("tests/ui/") else path))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LocalServices:
    moto_endpoint: str
    pg_dsn: str
    state_dir: Path

    def pg_database_dsn(self, database: str) -> str:
        return f"{self.pg_dsn}/{database}"


@pytest.fixture(scope="session")
def local_services() -> Iterator[LocalServices]:
    """moto server and a PostgreSQL 15 cluster of this test session, on free ports, stopped at the end."""
    from include.local_stack import services

    state_dir = _SESSION_DIR / "stack"
    moto_port, pg_port = free_port(), free_port()
    services.start_moto(port=moto_port, state_dir=state_dir)
    try:
        pg_dsn = services.start_postgres(port=pg_port, state_dir=state_dir)
        try:
            endpoint = f"http://127.0.0.1:{moto_port}"
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {"conn_type": "aws", "extra": {"region_name": "us-east-1", "endpoint_url": endpoint}}
            )
            os.environ["AIRFLOW_CONN_AIRLAKE_WAREHOUSE"] = f"postgres://airlake@127.0.0.1:{pg_port}/warehouse"
            os.environ["AIRFLOW_CONN_SHOP_DB"] = f"postgres://airlake@127.0.0.1:{pg_port}/shop"
            os.environ["AIRLAKE_TEST_PG_DSN"] = f"{pg_dsn}/shop"
            yield LocalServices(moto_endpoint=endpoint, pg_dsn=pg_dsn, state_dir=state_dir)
        finally:
            services.stop_postgres(state_dir=state_dir)
    finally:
        services.stop_moto(state_dir=state_dir)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A fresh metadata DB for dag.test(), created once per session by the engine the tests use."""
    from airflow import settings
    from airflow.utils.db import resetdb

    resetdb()
    return str(settings.engine.url)


@pytest.fixture
def bucket_name() -> str:
    return f"airlake-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def lake(local_services: LocalServices, bucket_name: str):
    """A fresh, empty lake bucket on the session's moto server, behind the provider's S3Hook."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import LakeStore

    store = LakeStore(S3Hook(aws_conn_id="aws_default"), bucket_name)
    store.ensure_bucket()
    return store


@pytest.fixture
def pg_database(local_services: LocalServices) -> Iterator[str]:
    """A fresh PostgreSQL database for one test; its DSN."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield local_services.pg_database_dsn(name)
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def glue(local_services: LocalServices) -> Any:
    """A boto3 Glue client on the session's moto server."""
    import boto3

    return boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")


@pytest.fixture
def database(glue: Any) -> Iterator[str]:
    """A fresh Glue database name (not created); dropped after the test with its tables and crawlers."""
    import contextlib

    name = f"airlake_{uuid.uuid4().hex[:10]}"
    yield name
    for crawler in glue.list_crawlers()["CrawlerNames"]:
        if name in crawler:
            glue.delete_crawler(Name=crawler)
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=name):
            for table in page["TableList"]:
                glue.delete_table(DatabaseName=name, Name=table["Name"])
        glue.delete_database(Name=name)
