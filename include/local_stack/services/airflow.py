"""Airflow standalone of the local stack: AIRFLOW_HOME under ``<state>/airflow``, API on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from include.local_stack.services.common import (
    _HTTP,
    AIRFLOW_PORT_VAR,
    PROJECT_ROOT,
    VENV_BIN,
    StackError,
    _dirs,
    _ensure_port_free,
    _executable,
    _locked,
    _tail,
    http_status,
    log,
)
from include.local_stack.services.process import (
    _cmdline,
    _live_pid,
    _read_pid,
    _spawn,
    _stop_detached,
    pid_alive,
)


def _airflow_pid_file(state_dir: Path) -> Path:
    return state_dir / "run" / "airflow.pid"


def airflow_home(state_dir: Path) -> Path:
    """Return AIRFLOW_HOME of ``state_dir`` (as env.sh sets it)."""
    return Path(state_dir) / "airflow"


def airflow_pid(*, state_dir: Path) -> int | None:
    """Return the pid of the running ``airflow standalone`` of ``state_dir``, or None."""
    pid = _read_pid(_airflow_pid_file(Path(state_dir)))
    return pid if pid is not None and pid_alive(pid) and "standalone" in _cmdline(pid) else None


def airflow_health_url(port: int) -> str:
    """Return the URL of Airflow 3's health endpoint."""
    return f"http://127.0.0.1:{port}/api/v2/monitor/health"


def _airflow_env(*, port: int, state_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Return the environment of Airflow: ``env`` with home, API address and PATH made consistent."""
    full = dict(env)
    base_url = f"http://127.0.0.1:{port}"
    full.update(
        {
            "AIRFLOW_HOME": str(airflow_home(state_dir)),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        }
    )
    # `airflow standalone` starts its components as `airflow ...` found on PATH: use ours.
    path = full.get("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    if not path.startswith(f"{VENV_BIN}{os.pathsep}"):
        full["PATH"] = f"{VENV_BIN}{os.pathsep}{path}"
    return full


def _log_server_ports(env: Mapping[str, str]) -> list[tuple[int, str]]:
    """Return the log-server ports the scheduler and triggerer of standalone bind (all interfaces)."""
    ports = []
    for variable, default in (
        ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 8793),
        ("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 8794),
    ):
        try:
            ports.append((int(env.get(variable, default)), variable))
        except ValueError as exc:
            raise StackError(f"{variable} must be a port number, not {env.get(variable)!r}") from exc
    return ports


POOLS_FILE = PROJECT_ROOT / "include" / "airflow" / "pools.json"
"""The pools the DAGs use (Athena and warehouse concurrency): the file every environment imports."""


def _import_pools(port: int, state_dir: Path, *, timeout: float = 30.0) -> None:
    """Create or update the pools of :data:`POOLS_FILE` through the REST API of the Airflow just started.

    What ``airflow pools import`` does, without a CLI process of its own: that and ``airflow db migrate``
    each started an interpreter and imported Airflow (~3 s each on 2 cores) before standalone could start,
    and standalone migrates the database itself (``db.initdb``) before it starts its components. Tasks run
    only once the stack is up, so the pools exist before any task that uses them is queued."""
    pools = json.loads(POOLS_FILE.read_text())
    entities = [{"name": name, **spec} for name, spec in pools.items()]
    base = f"http://127.0.0.1:{port}"
    user, password = airflow_login(state_dir)
    token = _request_json(
        f"{base}/auth/token", "POST", {"username": user, "password": password}, timeout=timeout
    )["access_token"]
    result = _request_json(
        f"{base}/api/v2/pools",
        "PATCH",
        {"actions": [{"action": "create", "action_on_existence": "overwrite", "entities": entities}]},
        token=token,
        timeout=timeout,
    )
    created = (result.get("create") or {}).get("success") or []
    if sorted(created) != sorted(pools):
        raise StackError(f"Airflow did not create the pools of {POOLS_FILE}: {result}")


def _request_json(
    url: str, method: str, body: dict[str, Any], *, token: str | None = None, timeout: float
) -> dict[str, Any]:
    """One JSON request to Airflow's API; a StackError with the answer when it fails."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # S310: the URL is the loopback http:// one the caller built from the stack's port
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method=method)  # noqa: S310
    try:
        with _HTTP.open(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise StackError(f"Airflow API {method} {url}: HTTP {exc.code} {exc.read()[:300]!r}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StackError(f"Airflow API {method} {url}: {exc}") from exc


def airflow_execution_health_url(port: int) -> str:
    """Return the URL of the health endpoint of Airflow 3's execution API (what task processes call)."""
    return f"http://127.0.0.1:{port}/execution/health"


def airflow_health(port: int, *, timeout: float = 5.0) -> dict[str, str] | None:
    """Return {component: status} from the health endpoint, or None when the API does not answer."""
    try:
        with _HTTP.open(airflow_health_url(port), timeout=timeout) as response:
            payload = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return {
        name: str(value.get("status"))
        for name, value in payload.items()
        if isinstance(value, dict) and "status" in value
    }


def _wait_airflow(port: int, pid: int, *, timeout: float, log_path: Path) -> None:
    """Wait until the API answers and the metadatabase and scheduler report healthy."""
    deadline = time.monotonic() + timeout
    health: dict[str, str] | None = None
    while time.monotonic() < deadline:
        health = airflow_health(port)
        if health and health.get("metadatabase") == "healthy" and health.get("scheduler") == "healthy":
            _warm_execution_api(port, deadline=time.monotonic() + WARM_UP_TIMEOUT, log_path=log_path)
            return
        if not pid_alive(pid):
            raise StackError(
                f"airflow standalone exited while starting; last lines of {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(1.0)
    raise StackError(
        f"Airflow did not become healthy on {airflow_health_url(port)} within {timeout:.0f} s "
        f"(last health: {health}); see {log_path}"
    )


WARM_UP_TIMEOUT = 300.0
"""Seconds the execution API's first request may take once Airflow is healthy (its own budget: under load
it comes after a slow start, and it is a build of routes, not a hang)."""


def _warm_execution_api(port: int, *, deadline: float, log_path: Path) -> None:
    """Make the execution API's first request before any task does.

    The execution API (cadwyn) builds the routes of every API version on its first request, inside the
    API server's event loop: every request waits meanwhile. That took 40-64 s of wall time under load 20-25
    on 2 cores, so the first tasks' ``run`` calls timed out, the tasks were killed and retried a minute
    later (retry_delay), and the demo's own API calls timed out. Here it happens while the stack starts.
    """
    url = airflow_execution_health_url(port)
    status = None
    while time.monotonic() < deadline:
        status = http_status(url, timeout=max(1.0, deadline - time.monotonic()))
        if status == 200:
            return
        time.sleep(1.0)
    raise StackError(
        f"Airflow's execution API did not answer on {url} (last status {status}); see {log_path}"
    )


def start_airflow(*, port: int, state_dir: Path, env: Mapping[str, str], timeout: float = 600.0) -> int:
    """Start ``airflow standalone`` on 127.0.0.1:``port`` (idempotent) and return its pid once healthy.

    ``env`` is the complete environment for Airflow (see :func:`load_env`); AIRFLOW_HOME is
    ``state_dir/airflow`` and the API address follows ``port`` whatever ``env`` says. ``timeout`` covers
    standalone's own migration of a fresh database too (3 min of it under load 20-30 on 2 cores); a
    standalone that exits fails the start at once.
    """
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "airflow"):
        return _start_airflow(port=port, state_dir=state_dir, env=env, timeout=timeout)


def _start_airflow(*, port: int, state_dir: Path, env: Mapping[str, str], timeout: float) -> int:
    logs, _ = _dirs(state_dir)
    pid_file, log_path = _airflow_pid_file(state_dir), logs / "airflow.log"
    home = airflow_home(state_dir)
    full_env = _airflow_env(port=port, state_dir=state_dir, env=env)

    pid = _live_pid(pid_file, marker="airflow", service="airflow")
    if pid is not None and "standalone" not in _cmdline(pid):
        log.warning("airflow: pid file %s points at another airflow command; removing it", pid_file)
        pid_file.unlink(missing_ok=True)
        pid = None
    if pid is not None:
        with contextlib.suppress(psutil.Error):
            running_port = psutil.Process(pid).environ().get("AIRFLOW__API__PORT")
            if running_port is not None and running_port != str(port):
                raise StackError(
                    f"Airflow is already running (pid {pid}) on port {running_port}, not {port}; "
                    f"stop it first (python -m include.local_stack.stack down --only airflow)"
                )
        _wait_airflow(port, pid, timeout=timeout, log_path=log_path)
        return pid

    _ensure_port_free(port, "Airflow", AIRFLOW_PORT_VAR)
    for log_port, variable in _log_server_ports(full_env):
        if log_port == port:
            raise StackError(f"{variable}={log_port} is the Airflow API port too; choose another")
        _ensure_port_free(log_port, "Airflow (its log server)", variable)
    home.mkdir(parents=True, exist_ok=True)
    # no `airflow db migrate` first: standalone migrates the database before it starts its components
    pid = _spawn(
        [_executable("airflow"), "standalone"],
        log_path=log_path,
        env=full_env,
        cwd=Path(full_env.get("AIRLAKE_ROOT", str(PROJECT_ROOT))),
    )
    pid_file.write_text(f"{pid}\n")
    try:
        _wait_airflow(port, pid, timeout=timeout, log_path=log_path)
        _import_pools(port, state_dir)
    except StackError:
        _stop_detached(pid_file, marker="airflow", service="airflow", grace=20.0)
        raise
    log.info("airflow: started pid %d on http://127.0.0.1:%d", pid, port)
    return pid


def stop_airflow(*, state_dir: Path, grace: float = 30.0) -> bool:
    """Stop ``airflow standalone`` and every process it spawned; return False when it was not running."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "airflow"):
        return _stop_detached(_airflow_pid_file(state_dir), marker="airflow", service="airflow", grace=grace)


def airflow_login(state_dir: Path, *, username: str = "admin") -> tuple[str, str]:
    """Return (username, password) generated by the Simple auth manager for ``username``.

    Airflow 3 writes the passwords of ``[core] simple_auth_manager_users`` as JSON to
    ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated`` on first start.
    """
    password_file = airflow_home(state_dir) / "simple_auth_manager_passwords.json.generated"
    try:
        passwords = json.loads(password_file.read_text() or "{}")
    except FileNotFoundError as exc:
        raise StackError(f"{password_file} does not exist yet: start Airflow first") from exc
    except ValueError as exc:
        raise StackError(f"{password_file} is not valid JSON: {exc}") from exc
    if username not in passwords:
        raise StackError(
            f"no password for user {username!r} in {password_file} (users: {', '.join(passwords)})"
        )
    return username, str(passwords[username])
