"""The demo FX rates API of the local stack (the fx_rates dataset's HTTP source)."""

from __future__ import annotations

import sys
from pathlib import Path

from include.local_stack.services.common import FX_API_PORT_VAR, PROJECT_ROOT, _locked
from include.local_stack.services.process import (
    _cmdline,
    _read_pid,
    _start_http_daemon,
    _stop_detached,
    pid_alive,
)


def start_fx_api(*, port: int, state_dir: Path, timeout: float = 20.0) -> int:
    """Start the demo FX API (``python -m include.demo.fx_api``) on 127.0.0.1:``port``; return its pid."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "fx-api"):
        return _start_http_daemon(
            name="fx-api",
            cmd=[sys.executable, "-m", "include.demo.fx_api", "--host", "127.0.0.1", "--port", str(port)],
            marker="include.demo.fx_api",
            port=port,
            port_var=FX_API_PORT_VAR,
            health_path="/rates?date=2026-01-01",
            state_dir=state_dir,
            timeout=timeout,
            cwd=PROJECT_ROOT,
        )


def stop_fx_api(*, state_dir: Path) -> bool:
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "fx-api"):
        return _stop_detached(
            state_dir / "run" / "fx-api.pid", marker="include.demo.fx_api", service="fx-api", grace=5.0
        )


def fx_api_pid(*, state_dir: Path) -> int | None:
    pid = _read_pid(Path(state_dir) / "run" / "fx-api.pid")
    return pid if pid is not None and pid_alive(pid) and "include.demo.fx_api" in _cmdline(pid) else None
