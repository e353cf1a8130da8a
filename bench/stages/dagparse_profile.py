"""Where a DAG file's parse time goes, as the DAG processor parses it: a cProfile of one parse per file.

    .venv/bin/python -m bench.stages.dagparse_profile [dags/airlake_datasets.py ...] [--top 25]

The parent prepares what the DAG processor manager has loaded (``airflow.dag_processing.manager`` and
the pre-imports of every file in dags/, as :mod:`bench.stages.dagparse` does), then forks one child per
file (the manager forks its parsers too). The child profiles the parser's own work,
``BundleDagBag`` of the file and ``DagSerialization.to_dict`` of each DAG, and prints three tables: the
phases (import of the file, DagBag bookkeeping, serialisation), the functions by cumulative time
within the project (plugins/, dags/) and the top functions overall by their own time. ``--fresh``
profiles the import alone in a new interpreter with nothing pre-imported instead; ``--time N`` profiles
nothing and prints each phase's CPU ms, median of N forks per file (the files alternated); ``--steps N``
splits the parse further, without a profiler: each project module the file imports, in turn, then, when
the file loads the contracts, the Contract validator's build and the contracts' load (read, YAML,
validation), then the file's own body (its DAGs
built, imports and contracts done), then the serialisation (CPU ms, median and best of N forks).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import ROOT

DAGS_DIR = ROOT / "dags"


def _prepare_manager() -> None:
    os.environ.setdefault("AIRFLOW__DAG_PROCESSOR__PARSING_PRE_IMPORT_MODULES", "True")
    import airflow.dag_processing.manager  # noqa: F401 - the manager process's own modules
    import structlog
    from airflow.dag_processing.processor import _pre_import_airflow_modules

    quiet = structlog.get_logger("bench")
    for dag_file in sorted(DAGS_DIR.glob("*.py")):
        _pre_import_airflow_modules(str(dag_file), quiet)


def _report(profile: cProfile.Profile, top: int, phases: dict[str, float]) -> str:
    out = io.StringIO()
    out.write("phases (ms): " + ", ".join(f"{name} {ms:.1f}" for name, ms in phases.items()) + "\n")
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(plugins|dags)/", top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _profile_child(dag_file: Path, top: int) -> None:
    """In the forked child: one parse as ``_parse_file`` does it, profiled."""
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.serialization.serialized_objects import DagSerialization

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    bag = BundleDagBag(
        dag_folder=str(dag_file), bundle_path=DAGS_DIR, bundle_name="dags-folder", load_op_links=False
    )
    parsed = time.perf_counter()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    profile.disable()
    done = time.perf_counter()
    phases = {"dagbag (import + checks)": (parsed - started) * 1000, "serialise": (done - parsed) * 1000}
    errors = f" import errors: {list(bag.import_errors.values())[-1][-400:]}" if bag.import_errors else ""
    print(f"==== {dag_file.name}: {len(bag.dags)} DAGs{errors}")
    print(_report(profile, top, phases), flush=True)


def _time_child(dag_file: Path, out: int) -> None:
    """In the forked child: one parse as ``_parse_file`` does it, CPU ms of each phase, no profiler."""
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.serialization.serialized_objects import DagSerialization

    started = time.process_time()
    bag = BundleDagBag(
        dag_folder=str(dag_file), bundle_path=DAGS_DIR, bundle_name="dags-folder", load_op_links=False
    )
    parsed = time.process_time()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    done = time.process_time()
    os.write(out, f"{(parsed - started) * 1000:.2f} {(done - parsed) * 1000:.2f} {len(bag.dags)}\n".encode())


def _in_fork(child: Callable[[int], None]) -> str:
    """What ``child`` writes to the file descriptor it is given, run in a new fork of this process."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            child(write)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


def time_processor(files: list[Path], rounds: int) -> None:
    """``rounds`` parses of each file (alternated), each in a new fork: median and best CPU ms per phase."""
    import statistics

    _prepare_manager()
    found: dict[Path, list[tuple[float, float]]] = {dag_file: [] for dag_file in files}
    dags: dict[Path, int] = {}
    for _ in range(rounds):
        for dag_file in files:
            line = _in_fork(lambda out, dag_file=dag_file: _time_child(dag_file, out)).split()
            found[dag_file].append((float(line[0]), float(line[1])))
            dags[dag_file] = int(line[2])
    print(f"CPU ms per phase, median (best) of {rounds} forks; load average {os.getloadavg()}")
    for dag_file, phases in found.items():
        bag, ser = [p[0] for p in phases], [p[1] for p in phases]
        total = [a + b for a, b in phases]
        print(
            f"  {dag_file.name:34} {dags[dag_file]:3} DAGs  dagbag {statistics.median(bag):6.1f} ({min(bag):5.1f})"
            f"  serialise {statistics.median(ser):6.1f} ({min(ser):5.1f})"
            f"  total {statistics.median(total):6.1f} ({min(total):5.1f})"
        )


def _project_modules(dag_file: Path) -> list[str]:
    """The project's modules (plugins/) a parse of ``dag_file`` imports, in the order they were imported
    (one probe fork)."""

    def probe(out: int) -> None:
        from airflow.dag_processing.dagbag import BundleDagBag

        before = set(sys.modules)
        BundleDagBag(
            dag_folder=str(dag_file), bundle_path=DAGS_DIR, bundle_name="dags-folder", load_op_links=False
        )
        plugins = str(ROOT / "plugins")
        found = [
            name
            for name, module in list(sys.modules.items())
            if name not in before and (getattr(module, "__file__", None) or "").startswith(plugins)
        ]
        os.write(out, " ".join(found).encode())

    return _in_fork(probe).split()


def _steps_child(dag_file: Path, modules: list[str], out: int) -> None:
    """In the forked child: CPU ms of each step of one parse (``--steps``), written to ``out`` as JSON."""
    import importlib
    import json

    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.serialization.serialized_objects import DagSerialization

    steps: list[tuple[str, float]] = []
    for name in modules:  # each includes the project modules it imports that are not imported yet
        started = time.process_time()
        importlib.import_module(name)
        steps.append((f"import {name}", time.process_time() - started))
    if "airlake.contracts.loader" in modules:
        started = time.process_time()
        sys.modules["airlake.contracts.model"].Contract.model_rebuild()  # what the first validation builds
        steps.append(("the Contract validator built (defer_build)", time.process_time() - started))
        started = time.process_time()
        sys.modules["airlake.contracts.loader"].load_contracts()  # cached by content for the file's own call
        steps.append(("load_contracts() (read, YAML, validate)", time.process_time() - started))
    started = time.process_time()
    bag = BundleDagBag(
        dag_folder=str(dag_file), bundle_path=DAGS_DIR, bundle_name="dags-folder", load_op_links=False
    )
    steps.append((f"DagBag: the file's body ({len(bag.dags)} DAGs built)", time.process_time() - started))
    started = time.process_time()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    steps.append(("serialise", time.process_time() - started))
    os.write(out, json.dumps([(name, seconds * 1000) for name, seconds in steps]).encode())


def time_steps(files: list[Path], rounds: int) -> None:
    """``rounds`` forks per file (alternated), each timing every step of one parse: median and best CPU ms."""
    import json
    import statistics

    _prepare_manager()
    modules = {dag_file: _project_modules(dag_file) for dag_file in files}
    found: dict[Path, dict[str, list[float]]] = {dag_file: {} for dag_file in files}
    for _ in range(rounds):
        for dag_file in files:
            text = _in_fork(lambda out, dag_file=dag_file: _steps_child(dag_file, modules[dag_file], out))
            for name, ms in json.loads(text):
                found[dag_file].setdefault(name, []).append(ms)
    cache = "off" if sys.dont_write_bytecode else "on"
    print(
        f"CPU ms per step, median (best) of {rounds} forks; bytecode cache {cache}; load average {os.getloadavg()}"
    )
    for dag_file, steps in found.items():
        print(f"  {dag_file.name}")
        for name, values in steps.items():
            print(f"    {name:58} {statistics.median(values):6.2f} ({min(values):6.2f})")
        totals = [sum(values) for values in zip(*steps.values(), strict=True)]
        print(f"    {'total':58} {statistics.median(totals):6.1f} ({min(totals):6.1f})")


def profile_processor(files: list[Path], top: int) -> None:
    _prepare_manager()
    for dag_file in files:
        pid = os.fork()
        if pid == 0:
            try:
                _profile_child(dag_file, top)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)


FRESH = """\
import cProfile, pstats, runpy, sys
profile = cProfile.Profile()
profile.enable()
runpy.run_path(sys.argv[1])
profile.disable()
stats = pstats.Stats(profile)
stats.sort_stats("cumulative").print_stats(int(sys.argv[2]))
"""


def profile_fresh(files: list[Path], top: int) -> None:
    for dag_file in files:
        print(f"==== {dag_file.name} (fresh interpreter)", flush=True)
        subprocess.run([sys.executable, "-c", FRESH, str(dag_file), str(top)], check=False)


def _environment() -> None:
    """The bench's worker environment (import paths, a scratch AIRFLOW_HOME), set before Airflow loads."""
    from bench.harness import worker_env

    home = Path(tempfile.mkdtemp(prefix="airlake-dagparse-profile-"))
    os.environ.update(
        worker_env(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            }
        )
    )
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="DAG files (default: every file in dags/)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--fresh", action="store_true", help="profile the import in a new interpreter")
    parser.add_argument(
        "--time", type=int, metavar="N", help="no profile: CPU ms of each phase, median of N forks per file"
    )
    parser.add_argument(
        "--steps", type=int, metavar="N", help="no profile: CPU ms of each step, median of N forks per file"
    )
    args = parser.parse_args(argv)
    _environment()
    files = [path.resolve() for path in args.files] or sorted(DAGS_DIR.glob("*.py"))
    if args.steps:
        time_steps(files, args.steps)
    elif args.time:
        time_processor(files, args.time)
    else:
        (profile_fresh if args.fresh else profile_processor)(files, args.top)


if __name__ == "__main__":
    main()
