"""Tests of the local-stack scripts: real moto, PostgreSQL and Airflow processes on free ports in tmp dirs."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
import psycopg
import pytest

from include.local_stack import services
from include.local_stack.services import (
    StackError,
    airflow_login,
    airflow_pid,
    load_env,
    moto_pid,
    postgres_pid,
    start_airflow,
    start_moto,
    start_postgres,
    stop_airflow,
    stop_moto,
    stop_postgres,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

needs_moto = pytest.mark.skipif(
    not (Path(sys.executable).parent / "moto_server").exists() and shutil.which("moto_server") is None,
    reason="moto_server is not installed",
)
needs_postgres = pytest.mark.skipif(
    not (services.PG_BIN / "pg_ctl").exists(), reason=f"PostgreSQL binaries not found in {services.PG_BIN}"
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def running(pid: int) -> bool:
    """Tell whether ``pid`` is a live process: an exited one that its parent has not reaped yet
    (a zombie, shown as <defunct>) holds no resources and counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_of(pgid: int) -> list[int]:
    """Return the pids of the live processes in process group ``pgid``."""
    pids = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and running(proc.pid):
                pids.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def dead_pid() -> int:
    """Return the pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A fresh state folder; whatever a test leaves running in it is stopped afterwards.

    Directly under the temp dir, not pytest's tmp_path: PostgreSQL's Unix socket path must stay under
    107 bytes, and tmp_path under pytest-xdist (``.../pytest-N/popen-gw0/<test name>0/``) is longer.
    """
    state = Path(tempfile.mkdtemp(prefix="airlake-state-")) / "state"
    yield state
    stop_airflow(state_dir=state)
    services.stop_fx_api(state_dir=state)
    stop_moto(state_dir=state)
    stop_postgres(state_dir=state)
    shutil.rmtree(state.parent, ignore_errors=True)


def listening_addresses(port: int) -> set[str]:
    """Return the local addresses on which something listens on TCP ``port``."""
    return {
        conn.laddr.ip
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
    }


def s3_client(port: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",
    )


# --------------------------------------------------------------------------------------------------
# moto
# --------------------------------------------------------------------------------------------------


@needs_moto
def test_moto_starts_once_serves_s3_stops_and_restarts(state_dir: Path) -> None:
    port = free_port()
    pid = start_moto(port=port, state_dir=state_dir)
    assert start_moto(port=port, state_dir=state_dir) == pid, "a second start must find the same server"
    assert moto_pid(state_dir=state_dir) == pid
    assert (state_dir / "run" / "moto.pid").read_text().strip() == str(pid)
    assert len([p for p in psutil.process_iter(["cmdline"]) if str(port) in (p.info["cmdline"] or [])]) == 1
    assert listening_addresses(port) == {"127.0.0.1"}

    s3 = s3_client(port)
    s3.create_bucket(Bucket="airlake-test")
    s3.put_object(Bucket="airlake-test", Key="raw/orders/part-0.jsonl", Body=b'{"id": 1}\n')
    assert "airlake-test" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    listed = s3.list_objects_v2(Bucket="airlake-test", Prefix="raw/")
    assert [o["Key"] for o in listed["Contents"]] == ["raw/orders/part-0.jsonl"]

    assert stop_moto(state_dir=state_dir) is True
    assert not running(pid)
    assert group_of(pid) == []
    assert not (state_dir / "run" / "moto.pid").exists()
    assert stop_moto(state_dir=state_dir) is False, "stopping twice is safe"
    assert moto_pid(state_dir=state_dir) is None

    again = start_moto(port=port, state_dir=state_dir)
    assert again != pid
    assert s3_client(port).list_buckets()["Buckets"] == [], "moto keeps its state in memory only"
    assert stop_moto(state_dir=state_dir) is True
    assert not running(again)


@needs_moto
def test_moto_stale_pid_file_is_removed(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    stale = dead_pid()
    (state_dir / "run").mkdir(parents=True)
    (state_dir / "run" / "moto.pid").write_text(f"{stale}\n")
    with caplog.at_level(logging.WARNING, logger="airlake.local_stack"):
        pid = start_moto(port=free_port(), state_dir=state_dir)
    assert pid != stale
    assert f"stale pid file {state_dir / 'run' / 'moto.pid'}" in caplog.text
    assert (state_dir / "run" / "moto.pid").read_text().strip() == str(pid)
    assert stop_moto(state_dir=state_dir) is True
    assert not running(pid)


@needs_moto
def test_moto_port_in_use_names_the_port(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} .*AIRLAKE_MOTO_PORT"):
            start_moto(port=port, state_dir=state_dir)
    assert not (state_dir / "run" / "moto.pid").exists()


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


@needs_postgres
def test_postgres_starts_once_keeps_data_and_stops(state_dir: Path) -> None:
    port = free_port()
    dsn = start_postgres(port=port, state_dir=state_dir)
    assert dsn == f"postgresql://airlake@127.0.0.1:{port}"
    pid = postgres_pid(state_dir=state_dir)
    assert pid is not None and running(pid)
    assert start_postgres(port=port, state_dir=state_dir) == dsn
    assert postgres_pid(state_dir=state_dir) == pid, "a second start must find the same server"
    postmaster = psutil.Process(pid)
    if os.geteuid() == 0:
        assert postmaster.username() != "root", "PostgreSQL must run as a non-root user"
    workers = [child.pid for child in postmaster.children(recursive=True)]
    assert workers

    with psycopg.connect(f"{dsn}/warehouse") as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == ("warehouse", "airlake")
        conn.execute("CREATE TABLE fx_rate (currency text PRIMARY KEY, rate numeric)")
        conn.execute("INSERT INTO fx_rate VALUES ('EUR', 1.08)")
    with psycopg.connect(f"{dsn}/shop") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert listening_addresses(port) == {"127.0.0.1"}

    assert stop_postgres(state_dir=state_dir) is True
    assert [p for p in [pid, *workers] if running(p)] == []
    assert not (state_dir / "postgres" / "data" / "postmaster.pid").exists()
    assert stop_postgres(state_dir=state_dir) is False, "stopping twice is safe"

    assert start_postgres(port=port, state_dir=state_dir) == dsn
    with psycopg.connect(f"{dsn}/warehouse") as conn:
        assert conn.execute("SELECT currency, rate::text FROM fx_rate").fetchall() == [("EUR", "1.08")]
    restarted = postgres_pid(state_dir=state_dir)
    assert restarted is not None and restarted != pid
    assert stop_postgres(state_dir=state_dir) is True
    assert not running(restarted)


@needs_postgres
def test_postgres_stale_postmaster_pid_is_removed(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    start_postgres(port=port, state_dir=state_dir, databases=("warehouse",))
    assert stop_postgres(state_dir=state_dir) is True
    data = state_dir / "postgres" / "data"
    stale = data / "postmaster.pid"
    stale.write_text(f"{dead_pid()}\n{data}\n1700000000\n{port}\n{state_dir}\n127.0.0.1\n  0 0\nready   \n")
    with caplog.at_level(logging.WARNING, logger="airlake.local_stack"):
        dsn = start_postgres(port=port, state_dir=state_dir, databases=("warehouse", "extra"))
    assert "stale" in caplog.text and str(stale) in caplog.text
    with psycopg.connect(f"{dsn}/extra") as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("extra",)
    assert stop_postgres(state_dir=state_dir) is True


@needs_postgres
def test_postgres_port_in_use_names_the_port(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} .*AIRLAKE_PG_PORT"):
            start_postgres(port=port, state_dir=state_dir)
    assert postgres_pid(state_dir=state_dir) is None


def test_airflow_port_in_use_names_the_port(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} .*AIRFLOW_PORT"):
            start_airflow(port=port, state_dir=state_dir, env={"PATH": os.environ["PATH"]})
    assert airflow_pid(state_dir=state_dir) is None


def test_airflow_login_before_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="start Airflow first"):
        airflow_login(tmp_path)


# --------------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "include.local_stack.stack", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_moto
def test_cli_up_status_down_only_moto(state_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "AIRLAKE_STATE": str(state_dir), "AIRLAKE_MOTO_PORT": str(port)}

    up = run_cli("up", "--only", "moto", env=env)
    assert up.returncode == 0, up.stderr
    assert f"moto      started  http://127.0.0.1:{port}" in up.stdout
    pid = moto_pid(state_dir=state_dir)
    assert pid is not None

    status = run_cli("status", env=env)
    assert status.returncode == 0, status.stderr
    assert f"moto      up    http://127.0.0.1:{port} (pid {pid})" in status.stdout
    assert "postgres  down" in status.stdout and "airflow   down" in status.stdout

    unknown = run_cli("up", "--only", "moto,nope", env=env)
    assert unknown.returncode == 1 and "unknown service(s) nope" in unknown.stderr

    down = run_cli("down", "--only", "moto", env=env)
    assert down.returncode == 0, down.stderr
    assert "moto      stopped" in down.stdout
    assert not running(pid)


@needs_moto
def test_cli_reports_port_in_use_with_exit_code_1(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**os.environ, "AIRLAKE_STATE": str(state_dir), "AIRLAKE_MOTO_PORT": str(port)}
        result = run_cli("up", "--only", "moto", env=env)
    assert result.returncode == 1
    assert f"error: cannot start moto: port {port}" in result.stderr
    assert "AIRLAKE_MOTO_PORT" in result.stderr


# --------------------------------------------------------------------------------------------------
# Airflow standalone
# --------------------------------------------------------------------------------------------------


FAKE_STANDALONE = """
(exec -a "airflow scheduler" sleep 300) &
(exec -a "airflow triggerer" sleep 300) &
setsid bash -c 'exec -a "airflow task runner" sleep 300' &
exec -a "airflow standalone" sleep 300
"""


def start_fake_standalone(state: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start a stand-in for `airflow standalone` (a group of sleeps named like its parts) with a pid file."""
    leader = subprocess.Popen(["bash", "-c", FAKE_STANDALONE], start_new_session=True)
    (state / "run").mkdir(parents=True, exist_ok=True)
    (state / "run" / "airflow.pid").write_text(f"{leader.pid}\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            names = [
                " ".join(p.cmdline())
                for p in [psutil.Process(leader.pid), *psutil.Process(leader.pid).children()]
            ]
            parts = ("airflow standalone", "airflow scheduler", "airflow triggerer", "airflow task runner")
            if all(any(name.startswith(part) for name in names) for part in parts):
                return leader, [child.pid for child in psutil.Process(leader.pid).children()]
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    raise AssertionError("the fake standalone did not start")


def test_stop_airflow_also_stops_descendants_in_other_groups(state_dir: Path) -> None:
    leader, children = start_fake_standalone(state_dir)
    assert airflow_pid(state_dir=state_dir) == leader.pid
    assert any(os.getpgid(child) != leader.pid for child in children), "one child has a group of its own"
    assert stop_airflow(state_dir=state_dir, grace=5) is True
    leader.wait(timeout=5)
    assert [pid for pid in children if running(pid)] == []
    assert not (state_dir / "run" / "airflow.pid").exists()


def test_stop_airflow_after_standalone_crashed_stops_its_leftovers(
    state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leader, children = start_fake_standalone(state_dir)
    same_group = [pid for pid in children if os.getpgid(pid) == leader.pid]
    other_group = [pid for pid in children if pid not in same_group]
    leader.kill()
    leader.wait(timeout=5)
    assert [pid for pid in same_group if running(pid)] == same_group
    with caplog.at_level(logging.WARNING, logger="airlake.local_stack"):
        assert stop_airflow(state_dir=state_dir, grace=5) is True
    assert "leftover process(es)" in caplog.text
    assert [pid for pid in same_group if running(pid)] == []
    assert airflow_pid(state_dir=state_dir) is None
    # An orphan that had left the group cannot be found any more once its parent is gone.
    for pid in other_group:
        os.kill(pid, signal.SIGKILL)


def jwt_claims(token: str) -> dict[str, object]:
    """Return the (unverified) claims of a JWT."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.stack
def test_airflow_standalone_health_login_and_clean_stop(
    tmp_path: Path, local_services, pg_database: str
) -> None:
    state = tmp_path / "state"
    port = free_port()
    pg_port, metadata_db = pg_database.rsplit(":", 1)[1].split("/")
    # Everything like env.sh, with ports of our own: the developer's stack may be running beside us.
    env = load_env(
        {
            "AIRLAKE_STATE": str(state),
            "AIRFLOW_PORT": str(port),
            "AIRLAKE_MOTO_PORT": str(free_port()),
            "AIRLAKE_PG_PORT": pg_port,  # the metadata DB: a fresh database of the session's PostgreSQL
            "AIRLAKE_AIRFLOW_DB": metadata_db,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        },
        base={key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ},
    )
    assert env["AIRFLOW_HOME"] == str(state / "airflow")
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, trust_env=False, timeout=30)
    try:
        pid = start_airflow(port=port, state_dir=state, env=env)
        assert start_airflow(port=port, state_dir=state, env=env) == pid, "a second start must find it"
        assert airflow_pid(state_dir=state) == pid

        health = http.get("/api/v2/monitor/health")
        assert health.status_code == 200
        assert health.json()["metadatabase"]["status"] == "healthy"
        assert health.json()["scheduler"]["status"] == "healthy"

        user, password = airflow_login(state)
        assert user == "admin" and len(password) == 16
        token = http.post("/auth/token", json={"username": user, "password": password})
        assert token.status_code == 201, token.text
        access_token = token.json()["access_token"]
        assert jwt_claims(access_token)["sub"] == "admin"
        dags = http.get("/api/v2/dags", headers={"Authorization": f"Bearer {access_token}"})
        assert dags.status_code == 200, dags.text
        assert "dags" in dags.json()
        assert http.get("/api/v2/dags").status_code == 401
        # the DAGs' pools, created by the start from the file every environment imports
        pools = http.get("/api/v2/pools", headers={"Authorization": f"Bearer {access_token}"}).json()["pools"]
        expected = json.loads((PROJECT_ROOT / "include" / "airflow" / "pools.json").read_text())
        assert {pool["name"]: pool["slots"] for pool in pools if pool["name"] in expected} == {
            name: spec["slots"] for name, spec in expected.items()
        }
        wrong = http.post("/auth/token", json={"username": user, "password": password + "x"})
        assert wrong.status_code == 401

        assert listening_addresses(port) == {"127.0.0.1"}
        group = group_of(pid)
        names = " ".join(" ".join(psutil.Process(p).cmdline()) for p in group)
        for component in ("scheduler", "dag-processor", "api_server", "triggerer"):
            assert component in names, f"{component} not in the standalone process group"

        assert stop_airflow(state_dir=state) is True
        assert [p for p in group if running(p)] == []
        assert group_of(pid) == []
        assert airflow_pid(state_dir=state) is None
        assert stop_airflow(state_dir=state) is False, "stopping twice is safe"

    finally:
        http.close()
        stop_airflow(state_dir=state)


def test_fx_api_starts_once_serves_rates_and_stops(state_dir: Path) -> None:
    import urllib.request

    port = free_port()
    pid = services.start_fx_api(port=port, state_dir=state_dir)
    assert services.start_fx_api(port=port, state_dir=state_dir) == pid
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/rates?date=2026-11-20") as response:
        items = json.load(response)["items"]
    assert {item["rate_date"] for item in items} == {"2026-11-20"}
    assert services.stop_fx_api(state_dir=state_dir) is True
    assert services.fx_api_pid(state_dir=state_dir) is None
    assert not services.pid_alive(pid)
