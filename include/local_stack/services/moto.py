"""The moto server of the local stack (S3, Glue, SNS, ... on 127.0.0.1).

It runs as :mod:`.moto_server`: moto's own server with SQS receives and sends and Kinesis puts made
linear in the queue's or stream's length (moto's scan the queue ~9 times per message handed out and 3 times
per message sent, and copy a shard's keys per record put)."""

from __future__ import annotations

import sys
from pathlib import Path

from include.local_stack.services.common import MOTO_PORT_VAR, PROJECT_ROOT, _locked
from include.local_stack.services.process import (
    _cmdline,
    _read_pid,
    _start_http_daemon,
    _stop_detached,
    pid_alive,
)


def _moto_pid_file(state_dir: Path) -> Path:
    return state_dir / "run" / "moto.pid"


def moto_pid(*, state_dir: Path) -> int | None:
    """Return the pid of the running moto server of ``state_dir``, or None."""
    pid_file = _moto_pid_file(state_dir)
    pid = _read_pid(pid_file)
    return pid if pid is not None and pid_alive(pid) and "moto_server" in _cmdline(pid) else None


def start_moto(*, port: int, state_dir: Path, timeout: float = 30.0) -> int:
    """Start moto's server on 127.0.0.1:``port`` (or find the one running) and return its pid."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "moto"):
        return _start_http_daemon(
            name="moto",
            cmd=[
                sys.executable,
                "-m",
                "include.local_stack.services.moto_server",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            marker="moto_server",
            port=port,
            port_var=MOTO_PORT_VAR,
            health_path="/moto-api/",
            state_dir=state_dir,
            timeout=timeout,
            cwd=PROJECT_ROOT,
        )


def stop_moto(*, state_dir: Path) -> bool:
    """Stop the moto server of ``state_dir``; return False when it was not running."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "moto"):
        return _stop_detached(_moto_pid_file(state_dir), marker="moto_server", service="moto", grace=10.0)
