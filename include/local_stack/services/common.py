"""What every service of the local stack shares: paths, port variables, StackError, env.sh, ports, HTTP.

Each service keeps its files under one state folder: ``logs/<service>.log`` and ``run/<service>.pid``
(:func:`_dirs`); starts and stops of one service are serialised by a lock file (:func:`_locked`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger("airlake.local_stack")

ENV_SH = Path(__file__).resolve().parent.parent / "env.sh"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
PG_BIN = Path(os.environ.get("AIRLAKE_PG_BIN", "/usr/lib/postgresql/15/bin"))
VENV_BIN = Path(sys.executable).parent

MOTO_PORT_VAR = "AIRLAKE_MOTO_PORT"
FX_API_PORT_VAR = "AIRLAKE_FX_API_PORT"
PG_PORT_VAR = "AIRLAKE_PG_PORT"
AIRFLOW_PORT_VAR = "AIRFLOW_PORT"

# Direct connections only: a proxy from the environment must never see the loopback checks.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StackError(RuntimeError):
    """A service of the local stack cannot be started or stopped; the message says why and what to do."""


# --------------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------------


def load_env(
    overrides: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the environment that sourcing env.sh gives, starting from ``base`` (default: os.environ).

    ``overrides`` (ports, AIRLAKE_STATE, ...) are set before sourcing, so env.sh builds on them.
    """
    start = dict(os.environ if base is None else base)
    start.update(overrides or {})
    result = subprocess.run(
        ["bash", "-c", '. "$1" && env -0', "bash", str(ENV_SH)],
        env=start,
        capture_output=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        raise StackError(f"sourcing {ENV_SH} failed: {result.stderr.decode(errors='replace').strip()}")
    env: dict[str, str] = {}
    for item in result.stdout.decode().split("\0"):
        if "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
    return env


# --------------------------------------------------------------------------------------------------
# Small helpers: state folders, locks, ports, HTTP, logs, programs
# --------------------------------------------------------------------------------------------------


def _dirs(state_dir: Path) -> tuple[Path, Path]:
    """Create and return the logs and run folders of ``state_dir``."""
    logs, run = state_dir / "logs", state_dir / "run"
    logs.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    return logs, run


@contextlib.contextmanager
def _locked(state_dir: Path, service: str) -> Iterator[None]:
    """Hold an exclusive lock on ``run/<service>.lock`` so two starts or stops never race."""
    _, run = _dirs(state_dir)
    with open(run / f"{service}.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _system_tool(name: str) -> str | None:
    """Find a system program, looking in the sbin folders too (root's tools, absent from some PATHs)."""
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something already listens on (or holds) ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _ensure_port_free(port: int, service: str, variable: str) -> None:
    """Raise StackError naming the port and the variable that moves it when the port is taken."""
    if port_in_use(port):
        raise StackError(
            f"cannot start {service}: port {port} on 127.0.0.1 is already in use by another process. "
            f"Stop that process, or choose another port with {variable}=<port> "
            f"(export it before sourcing include/local_stack/env.sh)."
        )


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """Return the HTTP status code of GET ``url``, or None when nothing answers."""
    try:
        with _HTTP.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 25) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _executable(name: str) -> str:
    """Return the path of a console script: the one next to this Python first, then PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found next to {sys.executable} nor on PATH; install requirements.txt")
    return found
