"""parse: import time of every DAG file in dags/ with 1, 10 and 100 generated contracts.

dags/airlake_datasets.py makes one DAG per contract; the other DAG files are measured the same way
(their time may or may not depend on the contracts).

Each run is a fresh interpreter (the worker process) that imports ``airflow.sdk`` untimed, as the DAG
processor has Airflow loaded before it parses a file, points ``AIRLAKE_CONTRACTS_DIR`` (read by
:func:`airlake.contracts.loader.contracts_dir`) at a folder of generated contracts, and times only
the import of the DAG file (``importlib``, the way the DAG processor executes a file). Everything the
file imports from plugins/ (operators, the contract loader, pydantic models) is part of the time: the
DAG processor pays it for every parse of the file.

Generated contracts are the clickstream contract under new names (``events_000`` ...), so each one
validates and makes one DAG of the same shape.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import ROOT

Work = Callable[[], dict[str, Any]]
DAGS_DIR = ROOT / "dags"
TEMPLATE = ROOT / "include" / "contracts" / "clickstream.yaml"


def write_contracts(folder: Path, count: int) -> list[Path]:
    """``count`` valid contracts ``events_NNN.yaml`` made from the clickstream contract."""
    folder.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.read_text()
    paths = []
    for index in range(count):
        name = f"events_{index:03d}"
        body = re.sub(r"(?m)^name: clickstream$", f"name: {name}", text)
        body = re.sub(r"(?m)^  table: clickstream$", f"  table: {name}", body)
        body = body.replace(
            "stream_name: airlake-clickstream", f"stream_name: airlake-{name.replace('_', '-')}"
        )
        path = folder / f"{name}.yaml"
        path.write_text(body)
        paths.append(path)
    return paths


def dag_files() -> list[Path]:
    return sorted(path for path in DAGS_DIR.glob("*.py") if not path.name.startswith("_"))


def prepare_airlake(params: dict[str, Any]) -> Work:
    dag_file = Path(params["dag_file"])
    folder = Path(params["run_dir"]) / "contracts"
    write_contracts(folder, int(params["contracts"]))
    os.environ["AIRLAKE_CONTRACTS_DIR"] = str(folder)
    import airflow.sdk  # noqa: F401 - loaded before the clock, as in the DAG processor

    profile = os.environ.get("AIRLAKE_BENCH_PROFILE")
    if profile:  # untimed: a separate interpreter under -X importtime
        Path(profile).with_suffix(".importtime.txt").write_text(import_profile(dag_file, folder))

    def work() -> dict[str, Any]:
        spec = importlib.util.spec_from_file_location(f"airlake_bench_dag_{dag_file.stem}", dag_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        started = time.perf_counter()
        spec.loader.exec_module(module)
        seconds = time.perf_counter() - started
        from airflow.sdk import DAG

        dags = [value for value in vars(module).values() if isinstance(value, DAG)]
        return {"seconds": seconds, "dags": len(dags), "tasks": sum(len(d.tasks) for d in dags)}

    return work


def import_profile(dag_file: Path, contracts: Path, top: int = 40) -> str:
    """``python -X importtime`` of the DAG file after ``import airflow.sdk``: the modules the DAG file
    itself brings in, slowest first (cumulative microseconds, as Python reports them)."""
    import subprocess

    code = "import airflow.sdk\nimport runpy, sys\nrunpy.run_path(sys.argv[1])"
    env = {**os.environ, "AIRLAKE_CONTRACTS_DIR": str(contracts)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, str(dag_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = result.stderr.splitlines()
    # importtime lines are written as imports finish: everything after airflow.sdk's own line is the file's
    start = max((i for i, line in enumerate(lines) if line.rstrip().endswith("| airflow.sdk")), default=-1)
    rows = []
    for line in lines[start + 1 :]:
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit():
            rows.append((int(parts[1]), int(parts[0].split(":")[-1].strip() or 0), parts[2]))
    total = sum(own for _, own, _ in rows)
    header = (
        f"# python -X importtime: modules first imported by {dag_file.name} after `import airflow.sdk`\n"
        f"# {len(rows)} modules, {total / 1000:.0f} ms of own import time in total; top {top} by cumulative\n"
        "# cumulative_ms  own_ms  module (indent = imported by the line above)\n"
    )
    body = "\n".join(
        f"{cum / 1000:13.1f} {own / 1000:7.1f}  {name}" for cum, own, name in sorted(rows, reverse=True)[:top]
    )
    return header + body + "\n"


def describe() -> dict[str, str]:
    return {"airlake": "import of the DAG file after `import airflow.sdk`, in a fresh interpreter"}
