"""PostgreSQL 15 of the local stack: one cluster under ``<state>/postgres`` (data and socket).

As root, PostgreSQL runs as the ``postgres`` OS user (or a system user ``airlake``), because it refuses
to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psutil

from include.local_stack.services.common import (
    PG_BIN,
    PG_PORT_VAR,
    StackError,
    _dirs,
    _ensure_port_free,
    _locked,
    _system_tool,
    _tail,
    log,
)
from include.local_stack.services.process import _terminate, _wait_gone, pid_alive


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
        "# Written by include/local_stack/services/postgres.py at every start: local, disposable settings.\n"
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
