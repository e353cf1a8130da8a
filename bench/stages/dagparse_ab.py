"""Two checkouts' airlake_datasets.py parsed alternately as the DAG processor parses it: before/after figures.

    git worktree add /tmp/before <commit>   # or: git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python -m bench.stages.dagparse_ab /tmp/before . [--contracts 1,project,10] [--rounds 4]
        [--parses 5] [--bytecode off|on|both]

For each round, contract set and bytecode condition, each checkout in turn gets a new parent prepared
like the DAG processor's manager (:func:`bench.stages.dagparse.prepare_processor` with that checkout's
plugins/ on the path and its dags/ pre-imported) that parses its ``dags/airlake_datasets.py``
``--parses`` times with ``DagFileProcessorProcess``; the parser child's CPU ms (wait4) are collected.
Alternating the checkouts in the same minutes is what makes the figures comparable on a shared machine.
Bytecode ``off``: the environment's PYTHONDONTWRITEBYTECODE (a checkout without ``__pycache__`` compiles
its modules at every parse); ``on``: a scratch PYTHONPYCACHEPREFIX per checkout (written by the first
parse). Prints the median and best per checkout and case, with the load averages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import ROOT, child_json

CHILD = """\
import json, os, sys, tempfile
from pathlib import Path
tree, case, parses = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.path.insert(0, str(tree / "plugins"))  # the checkout's project; the bench is this one's
from bench.stages.dagparse import prepare_processor
run_dir = tempfile.mkdtemp(prefix="airlake-dagparse-ab-")
work = prepare_processor(
    {"dag_files": [], "contracts": case, "run_dir": run_dir, "dags_dir": str(tree / "dags")}
)
cpu = []
for _ in range(parses):
    parsed = work.parse_once(tree / "dags" / "airlake_datasets.py")
    if parsed["import_errors"]:
        raise SystemExit(f"{tree}: {parsed['import_errors']}")
    cpu.append(parsed["cpu_ms"])
print(json.dumps({"cpu_ms": cpu, "dags": parsed["dags"]}))
"""


def _env(tree: Path, bytecode: str, cache: Path) -> dict[str, str]:
    home = Path(tempfile.mkdtemp(prefix="airlake-dagparse-ab-home-"))
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(tree / "plugins"), str(ROOT)]),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(tree / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(tree / "plugins"),
        }
    )
    if bytecode == "on":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def parse_tree(tree: Path, case: str, parses: int, bytecode: str, cache: Path) -> dict[str, Any]:
    return child_json(
        ["-c", CHILD, str(tree), case, str(parses)],
        cwd=ROOT,
        env=_env(tree, bytecode, cache),
        what=f"{tree} ({case})",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--contracts", default="1,project,10", help="comma-separated: N or 'project'")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--parses", type=int, default=5, help="parses per parent")
    parser.add_argument("--bytecode", choices=("off", "on", "both"), default="both")
    parser.add_argument("--json", type=Path, help="write every parse's CPU ms here")
    args = parser.parse_args(argv)

    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    conditions = ("off", "on") if args.bytecode == "both" else (args.bytecode,)
    caches = {name: Path(tempfile.mkdtemp(prefix=f"airlake-dagparse-ab-pyc-{name}-")) for name in trees}
    cases = args.contracts.split(",")
    cpu: dict[str, list[float]] = {}
    dags: dict[str, int] = {}
    loads = [os.getloadavg()]
    for _ in range(args.rounds):
        for bytecode in conditions:
            for case in cases:
                for name, tree in trees.items():
                    found = parse_tree(tree, case, args.parses, bytecode, caches[name])
                    cpu.setdefault(f"{name}|{bytecode}|{case}", []).extend(found["cpu_ms"])
                    dags[case] = found["dags"]
        loads.append(os.getloadavg())
    print(f"CPU ms of the parser child, median (best) of {args.rounds} x {args.parses} parses per checkout")
    for bytecode in conditions:
        for case in cases:
            before, after = cpu[f"before|{bytecode}|{case}"], cpu[f"after|{bytecode}|{case}"]
            print(
                f"  bytecode {bytecode:3}  {case:>7} contracts ({dags[case]:2} DAGs): before "
                f"{statistics.median(before):5.0f} ({min(before):4.0f})  after {statistics.median(after):5.0f} "
                f"({min(after):4.0f})"
            )
    print(
        "load averages (before, after each round): "
        + "; ".join(f"{a:.1f} {b:.1f} {c:.1f}" for a, b, c in loads)
    )
    if args.json:
        args.json.write_text(json.dumps({"cpu_ms": cpu, "dags": dags, "load_averages": loads}, indent=1))


if __name__ == "__main__":
    main()
