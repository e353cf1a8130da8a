"""Process control of the local stack: pid files, detached process groups, stopping, HTTP daemons.

Services are started detached in their own process group (session), so that stopping one kills
everything it spawned and nothing else. A pid file whose process is gone is stale and cleaned up.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import psutil

from include.local_stack.services.common import (
    StackError,
    _dirs,
    _ensure_port_free,
    _tail,
    http_status,
    log,
)

# Popen objects of the services this process started, kept so that they are reaped (no zombies,
# no ResourceWarning) when they are stopped from this same process, as the tests do.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------------------------------
# pid files and process groups
# --------------------------------------------------------------------------------------------------


def _read_pid(pid_file: Path) -> int | None:
    """Return the pid stored in ``pid_file``, or None when there is no readable pid."""
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _proc_alive(proc: psutil.Process) -> bool:
    """Tell whether ``proc`` still runs (a zombie does not); reap it when it is our child."""
    child = _CHILDREN.get(proc.pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(proc.pid, None)
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pid_alive(pid: int) -> bool:
    """Tell whether process ``pid`` runs (zombies count as dead)."""
    try:
        return _proc_alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _cmdline(pid: int) -> str:
    """Return the command line of ``pid`` as one string ('' when unknown)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def _live_pid(pid_file: Path, *, marker: str, service: str) -> int | None:
    """Return the pid in ``pid_file`` when it is a live process of ``service``, else clean up and return None.

    A pid file whose process is dead, or whose pid now belongs to another program, is stale: it
    is removed with a message, and processes left over in the old process group are stopped.
    """
    pid = _read_pid(pid_file)
    if pid is not None and pid_alive(pid) and marker in _cmdline(pid):
        return pid
    _remove_stale(pid_file, pid, marker=marker, service=service)
    return None


def _remove_stale(pid_file: Path, pid: int | None, *, marker: str, service: str) -> bool:
    """Remove a stale ``pid_file`` and stop what is left of its process group; True if anything was left."""
    if pid is None:
        if pid_file.exists():
            log.warning("%s: removing unreadable pid file %s", service, pid_file)
            pid_file.unlink(missing_ok=True)
        return False
    log.warning(
        "%s: removing stale pid file %s (process %d is gone or is no longer %s; it was not stopped cleanly)",
        service,
        pid_file,
        pid,
        service,
    )
    pid_file.unlink(missing_ok=True)
    if pid_alive(pid):
        # The pid was reused by another program: its group is not ours.
        return False
    # A process group outlives its leader, and while any member is left its id cannot be reused.
    leftovers = [p for p in _group_members(pid) if _proc_alive(p) and marker in _cmdline(p.pid)]
    if not leftovers:
        return False
    log.warning("%s: stopping %d leftover process(es) of the old group %d", service, len(leftovers), pid)
    _terminate(pid, leftovers, service=service, grace=10.0)
    return True


def _group_members(pgid: int) -> list[psutil.Process]:
    """Return the processes whose process group is ``pgid`` (never our own group)."""
    if pgid <= 1 or pgid == os.getpgrp():
        return []
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
    return members


def _wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for ``procs`` to end; return those still alive."""
    alive = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in alive if _proc_alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _signal(pgid: int, procs: Iterable[psutil.Process], sig: signal.Signals) -> None:
    """Send ``sig`` to the process group ``pgid`` and to each of ``procs``."""
    if pgid > 1 and pgid != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for proc in procs:
        if proc.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _terminate(pgid: int, procs: list[psutil.Process], *, service: str, grace: float) -> None:
    """SIGTERM ``procs`` and group ``pgid``, SIGKILL what is left after ``grace``; raise if any survive."""
    _signal(pgid, procs, signal.SIGTERM)
    alive = _wait_gone(procs, grace)
    # Processes forked while shutting down join the group too: sweep it once more.
    alive += [p for p in _group_members(pgid) if _proc_alive(p) and p not in alive]
    if alive:
        log.warning(
            "%s: %d process(es) still running %.0f s after SIGTERM, sending SIGKILL: %s",
            service,
            len(alive),
            grace,
            ", ".join(str(p.pid) for p in alive),
        )
        _signal(pgid, alive, signal.SIGKILL)
        alive = _wait_gone(alive, 10.0)
    if alive:
        raise StackError(
            f"{service}: processes {', '.join(str(p.pid) for p in alive)} survived SIGKILL; see `ps`"
        )


def _stop_detached(pid_file: Path, *, marker: str, service: str, grace: float) -> bool:
    """Stop the process group started from ``pid_file`` and remove the file; False when nothing ran."""
    pid = _read_pid(pid_file)
    if pid is None or not pid_alive(pid) or marker not in _cmdline(pid):
        return _remove_stale(pid_file, pid, marker=marker, service=service)
    procs = {p.pid: p for p in _group_members(pid)}
    with contextlib.suppress(psutil.NoSuchProcess):
        leader = psutil.Process(pid)
        procs[pid] = leader
        # Descendants that moved to a group of their own (Airflow task processes do) go too.
        for child in leader.children(recursive=True):
            procs.setdefault(child.pid, child)
    _terminate(pid, list(procs.values()), service=service, grace=grace)
    pid_file.unlink(missing_ok=True)
    _CHILDREN.pop(pid, None)
    return True


def _spawn(cmd: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None, cwd: Path) -> int:
    """Start ``cmd`` detached in a new session, output appended to ``log_path``; return its pid."""
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(cmd)}\n".encode())
        log_file.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


# --------------------------------------------------------------------------------------------------
# Detached single-process HTTP servers (moto, FX API)
# --------------------------------------------------------------------------------------------------


def _cmdline_port(pid: int) -> int | None:
    """Return the port a running server was started with (its -p/--port argument)."""
    try:
        args = psutil.Process(pid).cmdline()
    except psutil.Error:
        return None
    for flag, value in itertools.pairwise(args):
        if flag in ("-p", "--port"):
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _wait_http(name: str, url: str, pid: int, *, timeout: float, log_path: Path) -> None:
    """Wait until ``url`` answers HTTP; raise StackError when the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_status(url) is not None:
            return
        if not pid_alive(pid):
            raise StackError(f"{name} exited while starting; last lines of {log_path}:\n{_tail(log_path)}")
        time.sleep(0.2)
    raise StackError(f"{name} did not answer on {url} within {timeout:.0f} s; see {log_path}")


def _start_http_daemon(
    *,
    name: str,
    cmd: Sequence[str],
    marker: str,
    port: int,
    port_var: str,
    health_path: str,
    state_dir: Path,
    timeout: float,
    cwd: Path | None = None,
) -> int:
    """Start a single-process HTTP server detached (or find the running one) and wait until it answers."""
    logs, _ = _dirs(state_dir)
    pid_file, log_path = state_dir / "run" / f"{name}.pid", logs / f"{name}.log"
    url = f"http://127.0.0.1:{port}{health_path}"
    pid = _live_pid(pid_file, marker=marker, service=name)
    if pid is not None:
        running_port = _cmdline_port(pid)
        if running_port != port:
            raise StackError(
                f"{name} is already running (pid {pid}) on port {running_port}, not {port}; "
                f"stop it first (python -m include.local_stack.stack down --only {name})"
            )
        _wait_http(name, url, pid, timeout=timeout, log_path=log_path)
        return pid
    _ensure_port_free(port, name, port_var)
    pid = _spawn(cmd, log_path=log_path, env=None, cwd=cwd or state_dir)
    pid_file.write_text(f"{pid}\n")
    try:
        _wait_http(name, url, pid, timeout=timeout, log_path=log_path)
    except StackError:
        _stop_detached(pid_file, marker=marker, service=name, grace=5.0)
        raise
    log.info("%s: started pid %d on http://127.0.0.1:%d", name, pid, port)
    return pid
