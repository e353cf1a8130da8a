"""The local stack's executor: a LocalExecutor that preloads third-party libraries, selected by env.sh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from airflow.executors.local_executor import LocalExecutor

from include.local_stack import executor, services

ROOT = Path(__file__).resolve().parents[3]
FIRST_PARTY = ("airlake", "include", "dags", "airlake_", "lake_")


def test_env_sh_selects_it_and_airflow_loads_it(tmp_path: Path) -> None:
    env = services.load_env(
        {"AIRLAKE_STATE": str(tmp_path)}, base={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    )
    assert env["AIRFLOW__CORE__EXECUTOR"] == f"{executor.__name__}.PreloadingLocalExecutor"
    code = (
        "from airflow.executors.executor_loader import ExecutorLoader\n"
        "cls, _ = ExecutorLoader.import_default_executor_cls()\n"
        "print(cls.__module__, cls.__name__, cls.is_local)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.strip()
    # `airflow standalone` keeps an executor that is local (it would force LocalExecutor otherwise)
    assert out.splitlines()[-1] == f"{executor.__name__} PreloadingLocalExecutor True"
    assert issubclass(executor.PreloadingLocalExecutor, LocalExecutor)


def test_only_third_party_modules_are_preloaded() -> None:
    """Airlake's code is imported by each task, so that an edit reaches the next task without a restart."""
    assert not [name for name in executor.PRELOADED_MODULES if name.startswith(FIRST_PARTY)]


def test_preload_imports_every_module_and_starts_no_thread() -> None:
    code = (
        "import os, sys\n"
        "from include.local_stack import executor\n"
        "missing = executor.preload()\n"
        "loaded = [m for m in executor.PRELOADED_MODULES if m in sys.modules]\n"
        "first_party = sorted(m for m in sys.modules if m == 'airlake' or m.startswith('airlake.'))\n"
        "threaded = [m for m in ('pyarrow', 'numpy') if m in sys.modules]\n"
        "print(missing, len(loaded), first_party, threaded, len(os.listdir('/proc/self/task')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    ).stdout.strip()
    # nothing missing, all loaded, none of Airlake's code, and still one thread: safe to fork from
    assert out.splitlines()[-1] == f"[] {len(executor.PRELOADED_MODULES)} [] [] 1"


def test_a_missing_module_is_reported_not_fatal() -> None:
    assert executor.preload(("json", "no_such_module_anywhere")) == ["no_such_module_anywhere"]
