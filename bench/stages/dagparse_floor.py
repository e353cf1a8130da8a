"""Airflow's floor for airlake_datasets.py: the same DAGs built from EmptyOperator, parsed the same way.

    .venv/bin/python -m bench.stages.dagparse_floor [--contracts 1,project,10] [--rounds 4]

For each contract set, a scratch DAG file is written that rebuilds every DAG ``dags/airlake_datasets.py``
makes (read from the DAGs themselves, in a subprocess, so nothing of the project is loaded in the
measuring parent) with Airflow's own objects only: the same dag_id, description, schedule (the
contract's cron as a ``CronDataIntervalTimetable``), tags, trigger-form Params (same values and
schemas), doc_md, start date, catch-up, max active runs, default_args (the failure callback a local
function), deadline alert, and 7 ``EmptyOperator`` tasks with the same task ids, dependencies, pool
and outlet assets. ``--bare`` leaves the Params, default_args and deadline out (tasks and dependencies
only); ``--shared-params`` adds the floor with its Params handled as airlake_datasets.py handles them
(``airlake.pipeline.copy_params_directly`` and ``check_params_once``: the one project import of it).

Then the scratch file and the real one are parsed alternately, ``--rounds`` times each, as
:mod:`bench.stages.dagparse` parses them (``DagFileProcessorProcess`` in a parent prepared like the
DAG processor's manager: the budget's measurement) and the parser child's CPU ms are reported,
median and best, with the load averages. The difference is what the project's code costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import ROOT

DATASETS = ROOT / "dags" / "airlake_datasets.py"

# Runs in a subprocess with the project's import paths: reads the real DAGs and prints them as JSON.
DESCRIBE = r"""
import json, runpy, sys
from airflow.sdk import DAG
from airflow.sdk.definitions.param import NOTSET
namespace = runpy.run_path(sys.argv[1])
out = []
for dag in (v for v in namespace.values() if isinstance(v, DAG)):
    tt = dag.timetable
    if type(tt).__name__ != "CronDataIntervalTimetable":
        raise SystemExit(f"{dag.dag_id}: timetable {type(tt).__name__} not mirrored by the floor")
    deadline = dag.deadline[0] if isinstance(dag.deadline, list) else dag.deadline
    args = {}
    for key, value in dag.default_args.items():
        if callable(value):
            args[key] = {"callable": True}
        elif hasattr(value, "total_seconds"):
            args[key] = {"seconds": value.total_seconds()}
        else:
            args[key] = {"value": value}
    out.append({
        "dag_id": dag.dag_id,
        "description": dag.description,
        "cron": tt.expression,
        "timezone": str(getattr(tt, "timezone", None) or tt._timezone),
        "tags": sorted(dag.tags),
        "params": {
            name: {
                "value": None if p.value is NOTSET else p.value,
                "notset": p.value is NOTSET,
                "description": p.description,
                "schema": p.schema,
            }
            for name, p in dag.params.items()
        },
        "doc_md": dag.doc_md,
        "start_date": dag.start_date.isoformat(),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "default_args": args,
        "deadline": None if deadline is None else {
            "seconds": deadline.interval.total_seconds(),
            "kwargs": deadline.callback.kwargs,
        },
        "tasks": [
            {
                "task_id": t.task_id,
                "pool": t.pool,
                "outlets": [{"name": a.name, "uri": a.uri, "group": a.group} for a in t.outlets],
                "downstream": sorted(t.downstream_task_ids),
            }
            for t in dag.tasks
        ],
    })
print(json.dumps(out))
"""

HEADER = '''\
"""Airflow's floor of airlake_datasets.py: its DAGs rebuilt from EmptyOperator (bench/stages/dagparse_floor.py)."""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, DeadlineReference, Param


def task_failed(context):
    """The failure callback's stand-in."""


'''


def describe_dags(contracts_dir: Path) -> list[dict[str, Any]]:
    """The DAGs airlake_datasets.py makes with ``contracts_dir``, read in a subprocess."""
    from bench.harness import child_json, worker_env

    env = worker_env({"AIRLAKE_CONTRACTS_DIR": str(contracts_dir)})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT), env.get("PYTHONPATH", "")])
    return child_json(["-c", DESCRIBE, str(DATASETS)], env=env, what=f"reading the DAGs of {DATASETS.name}")


SHARED_PARAMS_HEADER = """\
from airlake.pipeline import check_params_once, copy_params_directly

_checks = {}

"""


def floor_source(dags: list[dict[str, Any]], *, bare: bool = False, shared_params: bool = False) -> str:
    """The Python source of the floor file for ``dags`` (as :func:`describe_dags` reads them);
    ``shared_params``: the Params handled as airlake_datasets.py handles them (airlake.pipeline's
    copy_params_directly and check_params_once, its checks shared by the file's DAGs)."""
    lines = [HEADER]
    if shared_params:
        lines.append(SHARED_PARAMS_HEADER)
    for index, dag in enumerate(dags):
        args = [
            f"dag_id={dag['dag_id']!r}",
            f"description={dag['description']!r}",
            f"schedule=CronDataIntervalTimetable({dag['cron']!r}, timezone={dag['timezone']!r})",
            f"tags={dag['tags']!r}",
            f"doc_md={dag['doc_md']!r}",
            f"start_date=datetime.fromisoformat({dag['start_date']!r})",
            f"catchup={dag['catchup']!r}",
            f"max_active_runs={dag['max_active_runs']!r}",
        ]
        if not bare:
            params = []
            for name, p in dag["params"].items():
                default = "" if p["notset"] else f"{p['value']!r}, "
                params.append(f"{name!r}: Param({default}{p['description']!r}, schema={p['schema']!r})")
            args.append("params={" + ", ".join(params) + "}")
            default_args = []
            for key, value in dag["default_args"].items():
                if "callable" in value:
                    default_args.append(f"{key!r}: task_failed")
                elif "seconds" in value:
                    default_args.append(f"{key!r}: timedelta(seconds={value['seconds']!r})")
                else:
                    default_args.append(f"{key!r}: {value['value']!r}")
            args.append("default_args={" + ", ".join(default_args) + "}")
            if dag["deadline"]:
                args.append(
                    "deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, "
                    f"interval=timedelta(seconds={dag['deadline']['seconds']!r}), "
                    # a path that does not import (logged at debug, kept as given): no project module loaded
                    f"callback=AsyncCallback('floor_callbacks.deadline_missed', kwargs={dag['deadline']['kwargs']!r}))"
                )
        lines.append(f"with DAG({', '.join(args)}) as dag_{index}:")
        if shared_params:
            lines.append(f"    copy_params_directly(dag_{index})")
        lines.append("    t = {}")
        for task in dag["tasks"]:
            extra = ""
            if task["pool"] != "default_pool":
                extra += f", pool={task['pool']!r}"
            if task["outlets"]:
                assets = ", ".join(
                    f"Asset(name={a['name']!r}, uri={a['uri']!r}, group={a['group']!r})"
                    for a in task["outlets"]
                )
                extra += f", outlets=[{assets}]"
            lines.append(f"    t[{task['task_id']!r}] = EmptyOperator(task_id={task['task_id']!r}{extra})")
        for task in dag["tasks"]:
            for downstream in task["downstream"]:
                lines.append(f"    t[{task['task_id']!r}] >> t[{downstream!r}]")
        if shared_params:
            lines.append(f"check_params_once(dag_{index}, _checks)")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_floor(
    folder: Path, contracts_dir: Path, *, bare: bool = False, shared_params: bool = False
) -> Path:
    name = "bare" if bare else "shared_params" if shared_params else ""
    path = folder / f"airlake_datasets_floor{'_' + name if name else ''}.py"
    path.write_text(floor_source(describe_dags(contracts_dir), bare=bare, shared_params=shared_params))
    return path


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f}, best {min(values):.0f}, worst {max(values):.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", default="1,project,10", help="comma-separated: N or 'project'")
    parser.add_argument("--rounds", type=int, default=4, help="alternated parses of each file")
    parser.add_argument(
        "--bare", action="store_true", help="also the bare floor (tasks and dependencies only)"
    )
    parser.add_argument(
        "--shared-params",
        action="store_true",
        help="also the floor with the Params handled as airlake_datasets.py does (project code: airlake.pipeline)",
    )
    parser.add_argument("--json", type=Path, help="write every parse's figures here")
    args = parser.parse_args(argv)

    from bench.stages.dagparse_profile import _environment

    _environment()
    from bench.stages.dagparse import _contracts_folder, prepare_processor

    run_dir = Path(tempfile.mkdtemp(prefix="airlake-dagparse-floor-"))
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": {}}
    for case in args.contracts.split(","):
        params = {"contracts": case, "run_dir": str(run_dir / case)}
        (run_dir / case).mkdir(parents=True)
        contracts_dir = _contracts_folder(params)
        files = {"floor": write_floor(run_dir / case, contracts_dir)}
        if args.shared_params:
            files["floor, shared params"] = write_floor(run_dir / case, contracts_dir, shared_params=True)
        if args.shared_params:
            files["floor, shared params"] = write_floor(run_dir / case, contracts_dir, shared_params=True)
        if args.bare:
            files["bare floor"] = write_floor(run_dir / case, contracts_dir, bare=True)
        files["airlake_datasets.py"] = DATASETS
        work = prepare_processor({**params, "dag_files": [str(f) for f in files.values()]})
        cpu: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.rounds):
            for name, path in files.items():
                parsed = work.parse_once(path)  # type: ignore[attr-defined]
                if parsed["import_errors"]:
                    raise SystemExit(f"{name}: {parsed['import_errors']}")
                cpu[name].append(parsed["cpu_ms"])
        results["cases"][case] = cpu
        print(f"{case} contracts ({parsed['dags']} DAGs), CPU ms of the parser child:")
        for name, values in cpu.items():
            print(f"  {name:22} {_summary(values)}   {values}")
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
