"""What the project's own code costs each parse of a DAG file: parsed by parents with more of it loaded.

    .venv/bin/python -m bench.stages.dagparse_preload [dags/airlake_datasets.py] [--rounds 3] [--parses 5]
        [--bytecode off|on|both]

The DAG processor pre-imports only the ``airflow.*`` modules a DAG file names
(``airflow.utils.file.iter_airflow_imports``) before it forks a parser, so every parse imports the
project's modules (plugins/) again, and a file that loads the contracts builds the Contract validator
again. This measures what that costs: each round, three new parents prepared like the manager
(:func:`bench.stages.dagparse.prepare_processor`) parse the file ``--parses`` times with
``DagFileProcessorProcess``, one with nothing of the project loaded (what the processor does), one that
has imported the project modules a parse of the file imports (found by a probe parse) and one that has
also built the Contract validator. The parser child's CPU ms (wait4) are printed, median and best, with
the load averages. The last two are what a manager that imported the project itself (an
``airflow_local_settings.py``, say) would measure; it is a measurement, not a setting: such a manager
parses with the code it imported at its start, not the code in plugins/ now.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from bench.harness import ROOT, child_json
from bench.stages.dagparse_ab import _env

MODES = ("nothing", "modules", "modules+validator")
"""What of the project the parent has loaded before it forks the parsers."""

CHILD = """\
import importlib, json, sys, tempfile
from pathlib import Path
dag_file, mode, parses = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from bench.stages.dagparse import prepare_processor
from bench.stages.dagparse_profile import _project_modules
work = prepare_processor({"dag_files": [], "contracts": "project", "run_dir": tempfile.mkdtemp()})
modules = _project_modules(dag_file) if mode != "nothing" else []
for name in modules:
    importlib.import_module(name)
if mode == "modules+validator" and "airlake.contracts.model" in sys.modules:
    sys.modules["airlake.contracts.model"].Contract.model_rebuild()
cpu = []
for _ in range(parses):
    parsed = work.parse_once(dag_file)
    if parsed["import_errors"]:
        raise SystemExit(f"{dag_file}: {parsed['import_errors']}")
    cpu.append(parsed["cpu_ms"])
print(json.dumps({"cpu_ms": cpu, "dags": parsed["dags"], "modules": len(modules)}))
"""


def parse_with(dag_file: Path, mode: str, parses: int, bytecode: str, cache: Path) -> dict[str, object]:
    return child_json(
        ["-c", CHILD, str(dag_file), mode, str(parses)],
        cwd=ROOT,
        env=_env(ROOT, bytecode, cache),
        what=f"{dag_file.name} ({mode})",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dag_file", nargs="?", type=Path, default=ROOT / "dags" / "airlake_datasets.py")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parses", type=int, default=5, help="parses per parent")
    parser.add_argument("--bytecode", choices=("off", "on", "both"), default="both")
    parser.add_argument("--json", type=Path, help="write every parse's CPU ms here")
    args = parser.parse_args(argv)

    dag_file = args.dag_file.resolve()
    conditions = ("off", "on") if args.bytecode == "both" else (args.bytecode,)
    cache = Path(tempfile.mkdtemp(prefix="airlake-dagparse-preload-pyc-"))
    cpu: dict[str, list[float]] = {}
    found: dict[str, object] = {}
    loads = [os.getloadavg()]
    for _ in range(args.rounds):
        for bytecode in conditions:
            for mode in MODES:
                found = parse_with(dag_file, mode, args.parses, bytecode, cache)
                cpu.setdefault(f"{bytecode}|{mode}", []).extend(found["cpu_ms"])  # type: ignore[arg-type]
        loads.append(os.getloadavg())
    print(
        f"{dag_file.name} ({found['dags']} DAGs, {found['modules']} project modules): CPU ms of the parser "
        f"child, median (best) of {args.rounds} x {args.parses} parses, by what the parent has loaded"
    )
    for bytecode in conditions:
        figures = "  ".join(
            f"{mode} {statistics.median(cpu[f'{bytecode}|{mode}']):5.1f} ({min(cpu[f'{bytecode}|{mode}']):5.1f})"
            for mode in MODES
        )
        print(f"  bytecode {bytecode:3}  {figures}")
    print(
        "load averages (before, after each round): "
        + "; ".join(f"{a:.1f} {b:.1f} {c:.1f}" for a, b, c in loads)
    )
    if args.json:
        args.json.write_text(json.dumps({"cpu_ms": cpu, "load_averages": loads}, indent=1))


if __name__ == "__main__":
    main()
