"""The process of one measured run: ``python -m bench.worker <task.json> <result.json>``.

``bench.stages.<stage>.prepare_<engine>(params)`` does the untimed part (imports, opening
connections, laying out inputs) and returns the work as a function; only that function is timed.
Its result (row counts and details) is written with ``seconds`` to the result file; a work function
that times something narrower itself (the DAG parse times only the DAG file's import) returns its own
``seconds``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _profiled(work: Any, path: Path, task: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run ``work`` under cProfile; write the top functions (own time, then cumulative) to ``path``."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    result = profiler.runcall(work)
    seconds = time.perf_counter() - started
    text = io.StringIO()
    text.write(
        f"# {task['stage']} / {task['engine']} / {task['case']}: {seconds:.2f} s under cProfile "
        f"({task['rows']} rows, {task['input_bytes']} bytes)\n"
        "# Work in other processes (parse workers, DuckDB threads are in-process) is not seen by cProfile.\n\n"
    )
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs()
    text.write("## top 30 by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(30)
    text.write("## top 30 by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(30)
    path.write_text(text.getvalue())
    return result, seconds


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    task = json.loads(spec_path.read_text())
    module = importlib.import_module(f"bench.stages.{task['stage']}")
    prepare = getattr(module, f"prepare_{task['engine']}")
    work = prepare(task["params"])
    profile_path = os.environ.get("AIRLAKE_BENCH_PROFILE")
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    if profile_path:
        result, seconds = _profiled(work, Path(profile_path), task)
    else:
        result = work()
        seconds = time.perf_counter() - started
    # CPU time of the work: this process's threads (DuckDB, pyarrow) + children it waited for (parse
    # workers, psql). Less sensitive than wall time to other jobs on a shared machine.
    result.setdefault("cpu_seconds", round(_cpu_seconds() - cpu_before, 3))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    # A task timing a child interpreter (DAG parse) reports the child's own measure as "seconds".
    seconds = float(result.pop("seconds", seconds))
    out_path.write_text(json.dumps({"seconds": seconds, **result}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
