"""Run one measurement in its own process and record its time, memory and counts.

Every measured run is a fresh ``python -m bench.worker`` process, so one stage's caches, allocator
arenas and imports never pollute another's. The worker times only the work (see
:mod:`bench.worker`); this side records memory:

- ``peak_rss_mb``: the largest sum of the resident memory of the worker and all its descendants
  (parse worker processes, psql), sampled every 20 ms with psutil (the tree itself is listed every
  200 ms: the sampler costs ~2 % of a core, measured, instead of ~25 % when listing every tick);
- ``maxrss_mb``: the kernel's ``ru_maxrss`` of the worker from ``wait4`` (the largest single process of
  the tree, exact, never missed by sampling).

The memory reported for a run is the larger of the two. Services the work talks to (moto, PostgreSQL)
are separate processes and not counted: their share is described in the README.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.02
MB = 1024 * 1024


@dataclass
class Task:
    """One measured run: ``bench.stages.<stage>.prepare_<engine>(params)`` in a fresh process."""

    stage: str
    engine: str
    role: str
    """``airlake`` (the project's code), ``anchor`` (the reference the ratio is taken to) or ``baseline``."""
    case: str
    """What is measured, e.g. ``csv 1M``: runs of the same case and stage are compared."""
    rows: int
    input_bytes: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """The outcome of one run of a :class:`Task`."""

    seconds: float
    process_seconds: float
    peak_rss_mb: float
    maxrss_mb: float
    result: dict[str, Any]
    services_mb: dict[str, float] = field(default_factory=dict)
    """Peak resident memory of each watched service (moto, PostgreSQL tree) during the run."""

    @property
    def memory_mb(self) -> float:
        return max(self.peak_rss_mb, self.maxrss_mb)


class TaskFailed(RuntimeError):
    """The worker process of a task exited with an error."""

    def __init__(self, message: str, *, crashed: bool = False) -> None:
        super().__init__(message)
        self.crashed = crashed
        """Killed by a signal (e.g. an engine's C++ abort at exit), not a failure the task reported."""


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: the project's import paths, no developer stack settings."""
    env = dict(os.environ)
    paths = [str(ROOT / "plugins"), str(ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def child_json(args: list[str], *, env: dict[str, str], what: str, cwd: Path | None = None) -> Any:
    """Run ``[python, *args]`` to its end; the JSON of the last line it printed. A failed child stops
    the bench with the tail of its stderr, named by ``what``."""
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rss(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    """``proc`` and its descendants (listing them scans /proc: done a few times a second only)."""
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _watched(pids: dict[str, int] | None) -> dict[str, psutil.Process]:
    found = {}
    for name, pid in (pids or {}).items():
        try:
            found[name] = psutil.Process(pid)
        except psutil.Error:
            continue
    return found


def run_task(
    task: Task, *, env: dict[str, str], timeout: float = 3600.0, services: dict[str, int] | None = None
) -> Run:
    """Run ``task`` once in a fresh worker process; raise :class:`TaskFailed` with its stderr tail.

    A worker killed by a signal is run once more, with a warning: seen once in CI, pandas' process
    aborted at exit ("terminate called without an active exception", SIGABRT) and did not on rerun. A
    failure the task reports (an exit code) or a second crash is final.

    ``services`` (name -> pid) are sampled too: their peak memory during the run is reported apart.
    """
    try:
        return _run_task_once(task, env=env, timeout=timeout, services=services)
    except TaskFailed as exc:
        if not exc.crashed:
            raise
        print(f"warning: {str(exc).splitlines()[0]}; running it once more", file=sys.stderr, flush=True)
        return _run_task_once(task, env=env, timeout=timeout, services=services)


def _run_task_once(
    task: Task, *, env: dict[str, str], timeout: float, services: dict[str, int] | None
) -> Run:
    watched = _watched(services)
    service_peak = dict.fromkeys(watched, 0)
    with tempfile.TemporaryDirectory(prefix="airlake-bench-task-") as tmp:
        spec, out, err = Path(tmp) / "task.json", Path(tmp) / "result.json", Path(tmp) / "stderr.txt"
        spec.write_text(json.dumps(asdict(task), default=str))
        started = time.perf_counter()
        with err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", str(spec), str(out)],
                cwd=ROOT,
                env=env,
                stdout=stderr,
                stderr=stderr,
            )
        worker = psutil.Process(proc.pid)
        members = [worker]
        peak = 0
        status = None
        deadline = started + timeout
        ticks = 0
        while status is None:
            # the sampler must stay light on a 2-core machine: reading a few RSS values every tick,
            # listing the process tree every 10 ticks (200 ms), the services' trees every 50 (1 s)
            if ticks % 10 == 0:
                members = _tree(worker)
            peak = max(peak, _rss(members))
            if ticks % 50 == 0:
                for name, service in watched.items():
                    service_peak[name] = max(service_peak[name], _rss(_tree(service)))
            ticks += 1
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                status = None
                if time.perf_counter() > deadline:
                    proc.kill()
                    raise TaskFailed(
                        f"{task.stage}/{task.engine} {task.case}: timed out after {timeout:.0f} s"
                    )
                time.sleep(SAMPLE_SECONDS)
        proc.returncode = os.waitstatus_to_exitcode(status)
        process_seconds = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            tail = err.read_text(errors="replace")[-4000:]
            raise TaskFailed(
                f"{task.stage}/{task.engine} {task.case}: exit {proc.returncode}\n{tail}",
                crashed=proc.returncode < 0,
            )
        payload = json.loads(out.read_text())
    return Run(
        seconds=float(payload.pop("seconds")),
        process_seconds=process_seconds,
        peak_rss_mb=peak / MB,
        maxrss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        result=payload,
        services_mb={name: round(value / MB, 1) for name, value in service_peak.items()},
    )


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, load and versions: what a reader needs to compare two results."""
    import duckdb
    import pandas
    import pyarrow

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory()
    versions = {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
    }
    try:
        from importlib.metadata import version

        versions["apache-airflow-core"] = version("apache-airflow-core")
        versions["moto"] = version("moto")
        versions["psycopg"] = version("psycopg")
    except Exception:  # noqa: S110 - versions are informative only
        pass
    return {
        "hostname": platform.node(),
        "cpu_model": model or platform.processor(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(memory.total / 1024**3, 1),
        "memory_available_gb": round(memory.available / 1024**3, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "versions": versions,
    }
