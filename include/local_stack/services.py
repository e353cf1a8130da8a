"""Start and stop the services of the local stack: moto server, PostgreSQL 15 and Airflow standalone.

Every service keeps its files under one state folder (``$AIRLAKE_STATE``, ``.local`` by default):
``logs/<service>.log``, ``run/<service>.pid``, ``postgres/`` (data and socket) and ``airflow/``
(AIRFLOW_HOME). Every ``start_*`` is idempotent and every ``stop_*`` is safe when nothing runs.
Services are started detached in their own process group (session), so that stopping one kills
everything it spawned and nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import psutil

log = logging.getLogger("airlake.local_stack")

ENV_SH = Path(__file__).with_name("env.sh")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("AIRLAKE_PG_BIN", "/usr/lib/postgresql/15/bin"))
VENV_BIN = Path(sys.executable).parent

MOTO_PORT_VAR = "AIRLAKE_MOTO_PORT"
FX_API_PORT_VAR = "AIRLAKE_FX_API_PORT"
PG_PORT_VAR = "AIRLAKE_PG_PORT"
AIRFLOW_PORT_VAR = "AIRFLOW_PORT"

# Popen objects of the services this process started, kept so that they are reaped (no zombies,
# no ResourceWarning) when they are stopped from this same process, as the tests do.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

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
# Small helpers: ports, HTTP, pid files, process groups
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


def _executable(name: str) -> str:
    """Return the path of a console script: the one next to this Python first, then PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found next to {sys.executable} nor on PATH; install requirements.txt")
    return found


# --------------------------------------------------------------------------------------------------
# moto server
# --------------------------------------------------------------------------------------------------


def _moto_pid_file(state_dir: Path) -> Path:
    return state_dir / "run" / "moto.pid"


def moto_pid(*, state_dir: Path) -> int | None:
    """Return the pid of the running moto server of ``state_dir``, or None."""
    pid_file = _moto_pid_file(state_dir)
    pid = _read_pid(pid_file)
    return pid if pid is not None and pid_alive(pid) and "moto_server" in _cmdline(pid) else None


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


def start_moto(*, port: int, state_dir: Path, timeout: float = 30.0) -> int:
    """Start ``moto_server`` on 127.0.0.1:``port`` (or find the one running) and return its pid."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "moto"):
        return _start_http_daemon(
            name="moto",
            cmd=[_executable("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            marker="moto_server",
            port=port,
            port_var=MOTO_PORT_VAR,
            health_path="/moto-api/",
            state_dir=state_dir,
            timeout=timeout,
        )


def stop_moto(*, state_dir: Path) -> bool:
    """Stop the moto server of ``state_dir``; return False when it was not running."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "moto"):
        return _stop_detached(_moto_pid_file(state_dir), marker="moto_server", service="moto", grace=10.0)


# --------------------------------------------------------------------------------------------------
# demo FX rates API (the fx_rates dataset's HTTP source)
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def _pg_paths(state_dir: Path) -> tuple[Path, Path, Path]:
    """Return the PostgreSQL root, data and socket folders of ``state_dir``."""
    root = state_dir / "postgres"
    return root, root / "data", root / "socket"


def _pg_os_user(data_dir: Path) -> str | None:
    """Return the OS user to run PostgreSQL as when we are root (None: run as ourselves).

    PostgreSQL refuses to run as root: an existing data folder keeps its owner, else the
    ``postgres`` user is used, else a system user ``airlake`` is created.
    """
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(OSError, KeyError):
        owner = data_dir.stat().st_uid
        if owner != 0:
            return pwd.getpwuid(owner).pw_name
    for name in ("postgres", "airlake"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        [
            *(_system_tool("useradd") or "useradd", "--system", "--user-group", "--no-create-home"),
            *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "airlake"),
        ],
        check=True,
        capture_output=True,
    )
    log.info("postgres: created system user 'airlake' to run PostgreSQL (it refuses to run as root)")
    return "airlake"


def _as_user(cmd: Sequence[str], user: str | None) -> list[str]:
    """Wrap ``cmd`` to run as ``user`` (runuser, else su); unchanged when user is None."""
    if user is None:
        return list(cmd)
    runuser = _system_tool("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *cmd]
    return ["su", "-s", "/bin/sh", user, "-c", shlex.join(cmd)]


def _grant_traverse(path: Path, user: str) -> None:
    """Make sure ``user`` can traverse every folder from / down to ``path`` (adds o+x where needed)."""
    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in [*reversed(path.parents), path]:
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            log.info("postgres: allowing user %s to traverse %s (chmod o+x)", user, folder)
            folder.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything below it to ``user`` (nothing to do when ``path`` is already theirs)."""
    entry = pwd.getpwnam(user)
    if not path.exists() or path.stat().st_uid == entry.pw_uid:
        return
    if path.is_file():
        os.chown(path, entry.pw_uid, entry.pw_gid)
        return
    for folder, dirnames, filenames in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in dirnames + filenames:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _pg_env() -> dict[str, str]:
    """Return a small, predictable environment for the PostgreSQL programs."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC"}
    return env


def _pg_run(
    args: Sequence[str], *, user: str | None, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program (as ``user``) and return its result."""
    return subprocess.run(
        _as_user(args, user),
        cwd=cwd,
        env=_pg_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _postmaster(data_dir: Path) -> tuple[int, int] | None:
    """Return (pid, port) of the postmaster of ``data_dir``, or None (a stale postmaster.pid is removed)."""
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return None
    except PermissionError:
        return None
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (ValueError, IndexError):
        pid, port = -1, -1
    if pid > 0 and pid_alive(pid):
        with contextlib.suppress(psutil.Error, OSError):
            proc = psutil.Process(pid)
            if "postgres" in proc.name() and Path(proc.cwd()).resolve() == data_dir.resolve():
                return pid, port
    log.warning(
        "postgres: removing stale %s (process %s is not a running PostgreSQL; it was not shut down cleanly)",
        pid_file,
        pid,
    )
    pid_file.unlink(missing_ok=True)
    return None


def postgres_pid(*, state_dir: Path) -> int | None:
    """Return the pid of the running PostgreSQL of ``state_dir``, or None."""
    _, data_dir, _ = _pg_paths(Path(state_dir))
    running = _postmaster(data_dir)
    return running[0] if running else None


def _pg_conf(*, port: int, socket_dir: Path) -> str:
    """Return the local settings written to data/airlake.conf at every start."""

    def quote(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return (
        "# Written by include/local_stack/services.py at every start: local, disposable settings.\n"
        f"listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        f"unix_socket_directories = {quote(str(socket_dir))}\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
        "timezone = 'UTC'\n"
    )


def _pg_initdb(data_dir: Path, *, superuser: str, user: str | None, cwd: Path) -> None:
    """Create the cluster in ``data_dir`` once and make it read data/airlake.conf."""
    if (data_dir / "PG_VERSION").exists():
        return
    if data_dir.exists() and any(data_dir.iterdir()):
        raise StackError(
            f"{data_dir} is not empty but holds no PostgreSQL cluster (an interrupted initdb?); "
            f"remove it and start again"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _chown_tree(data_dir, user)
    locale_args = ["--locale=C.UTF-8"] if _has_locale("C.UTF-8") else ["--no-locale"]
    result = _pg_run(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            superuser,
            "--auth=trust",
            "-E",
            "UTF8",
            *locale_args,
        ],
        user=user,
        cwd=cwd,
        timeout=300,
    )
    if result.returncode != 0:
        raise StackError(f"initdb failed for {data_dir}:\n{result.stdout}{result.stderr}")
    with open(data_dir / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# Airlake local stack: port, socket and durability settings.\n"
            "include_if_exists = 'airlake.conf'\n"
        )
    log.info("postgres: initialised a new cluster in %s (superuser %s)", data_dir, superuser)


def _has_locale(name: str) -> bool:
    """Tell whether the C library knows locale ``name``."""
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    wanted = name.lower().replace("-", "")
    return any(line.strip().lower().replace("-", "") == wanted for line in out.splitlines())


def _create_databases(port: int, superuser: str, databases: Sequence[str]) -> None:
    """Create each of ``databases`` that does not exist yet."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=superuser,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in databases:
                if name not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    log.info("postgres: created database %s", name)
    except psycopg.OperationalError as exc:
        raise StackError(f"cannot connect to PostgreSQL on 127.0.0.1:{port} as {superuser}: {exc}") from exc


def start_postgres(
    *,
    port: int,
    state_dir: Path,
    databases: Sequence[str] = ("warehouse", "shop", "airflow"),
    superuser: str = "airlake",
    timeout: float = 60.0,
) -> str:
    """Start PostgreSQL 15 on 127.0.0.1:``port`` with ``databases`` (idempotent); return the base DSN.

    As root, PostgreSQL runs as the ``postgres`` OS user (or a system user ``airlake``).
    """
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "postgres"):
        return _start_postgres(
            port=port, state_dir=state_dir, databases=databases, superuser=superuser, timeout=timeout
        )


def _start_postgres(
    *, port: int, state_dir: Path, databases: Sequence[str], superuser: str, timeout: float
) -> str:
    logs, _ = _dirs(state_dir)
    pg_root, data_dir, socket_dir = _pg_paths(state_dir)
    log_path = logs / "postgres.log"
    dsn = f"postgresql://{superuser}@127.0.0.1:{port}"
    if not (PG_BIN / "pg_ctl").exists():
        raise StackError(
            f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql-15; or AIRLAKE_PG_BIN)"
        )
    if len(str(socket_dir / f".s.PGSQL.{port}")) > 100:
        raise StackError(
            f"socket path under {socket_dir} is too long for a Unix socket; use a shorter AIRLAKE_STATE"
        )

    running = _postmaster(data_dir)
    if running is not None:
        pid, running_port = running
        if running_port != port:
            raise StackError(
                f"PostgreSQL of {state_dir} already runs (pid {pid}) on port {running_port}, not {port}; "
                f"stop it first (python -m include.local_stack.stack down --only postgres)"
            )
        _create_databases(port, superuser, databases)
        return dsn
    _ensure_port_free(port, "PostgreSQL", PG_PORT_VAR)

    pg_root.mkdir(parents=True, exist_ok=True)
    socket_dir.mkdir(parents=True, exist_ok=True)
    log_path.touch()
    user = _pg_os_user(data_dir)
    if user is not None:
        _grant_traverse(pg_root, user)
        _grant_traverse(logs, user)
        for path in (pg_root, socket_dir, data_dir, log_path):
            _chown_tree(path, user)
    _pg_initdb(data_dir, superuser=superuser, user=user, cwd=pg_root)
    (data_dir / "airlake.conf").write_text(_pg_conf(port=port, socket_dir=socket_dir))
    if user is not None:
        _chown_tree(data_dir / "airlake.conf", user)

    result = _pg_run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log_path),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        ],
        user=user,
        cwd=pg_root,
        timeout=timeout + 30,
    )
    if result.returncode != 0:
        raise StackError(
            f"PostgreSQL did not start on port {port}: {result.stderr.strip() or result.stdout.strip()}\n"
            f"last lines of {log_path}:\n{_tail(log_path)}"
        )
    _create_databases(port, superuser, databases)
    log.info(
        "postgres: started on %s (data in %s, running as %s)",
        dsn,
        data_dir,
        user or pwd.getpwuid(os.geteuid()).pw_name,
    )
    return dsn


def stop_postgres(*, state_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the PostgreSQL of ``state_dir`` (fast shutdown); return False when it was not running."""
    state_dir = Path(state_dir).absolute()
    with _locked(state_dir, "postgres"):
        return _stop_postgres(state_dir=state_dir, timeout=timeout)


def _stop_postgres(*, state_dir: Path, timeout: float) -> bool:
    pg_root, data_dir, _ = _pg_paths(state_dir)
    running = _postmaster(data_dir)
    if running is None:
        return False
    pid, _ = running
    result = _pg_run(
        [str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
        user=_pg_os_user(data_dir),
        cwd=pg_root,
        timeout=timeout + 30,
    )
    try:
        postmaster = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    if _wait_gone([postmaster], 10.0):
        log.warning("postgres: pg_ctl stop failed (%s); terminating pid %d", result.stderr.strip(), pid)
        _terminate(0, [postmaster, *postmaster.children(recursive=True)], service="postgres", grace=10.0)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------------------------------
# Airflow standalone
# --------------------------------------------------------------------------------------------------


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


def _airflow_migrate(env: Mapping[str, str], *, log_path: Path, home: Path) -> None:
    """Run ``airflow db migrate`` unless this AIRFLOW_HOME was migrated by this Airflow version."""
    from importlib.metadata import version

    marker = home / ".airlake-db-migrated"
    airflow_version = version("apache-airflow-core")
    sqlite_db = home / "airflow.db"
    uses_default_sqlite = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    # A server database may have been recreated under an old marker: migrating it again is cheap.
    if (
        uses_default_sqlite
        and marker.exists()
        and marker.read_text().strip() == airflow_version
        and sqlite_db.exists()
    ):
        return
    log.info("airflow: running `airflow db migrate` (first start of %s)", home)
    _airflow_cli(["db", "migrate"], env, log_path=log_path)
    # the pools the DAGs use (Athena and warehouse concurrency), from the same file every environment imports
    _airflow_cli(
        ["pools", "import", str(PROJECT_ROOT / "include" / "airflow" / "pools.json")], env, log_path=log_path
    )
    marker.write_text(f"{airflow_version}\n")


def _airflow_cli(args: list[str], env: Mapping[str, str], *, log_path: Path) -> None:
    """Run one ``airflow`` CLI command with its output appended to the stack's Airflow log."""
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} airflow {' '.join(args)}\n".encode())
        log_file.flush()
        result = subprocess.run(
            [_executable("airflow"), *args],
            env=dict(env),
            cwd=env.get("AIRLAKE_ROOT", str(PROJECT_ROOT)),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=900,
        )
    if result.returncode != 0:
        raise StackError(f"`airflow {' '.join(args)}` failed; last lines of {log_path}:\n{_tail(log_path)}")


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


def start_airflow(*, port: int, state_dir: Path, env: Mapping[str, str], timeout: float = 180.0) -> int:
    """Start ``airflow standalone`` on 127.0.0.1:``port`` (idempotent) and return its pid once healthy.

    ``env`` is the complete environment for Airflow (see :func:`load_env`); AIRFLOW_HOME is
    ``state_dir/airflow`` and the API address follows ``port`` whatever ``env`` says.
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
    _airflow_migrate(full_env, log_path=log_path, home=home)
    pid = _spawn(
        [_executable("airflow"), "standalone"],
        log_path=log_path,
        env=full_env,
        cwd=Path(full_env.get("AIRLAKE_ROOT", str(PROJECT_ROOT))),
    )
    pid_file.write_text(f"{pid}\n")
    try:
        _wait_airflow(port, pid, timeout=timeout, log_path=log_path)
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
