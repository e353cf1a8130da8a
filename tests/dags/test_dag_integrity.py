"""Every DAG file imports without errors, parses fast (leaving no Airflow import to the parse), and every DAG
has an owner, tags and retries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(path for path in DAGS_DIR.glob("*.py") if not path.name.startswith("_"))
PARSE_BUDGET_SECONDS = 1.0
NO_RETRIES = {("airlake_reprocess", "run_dataset_pipeline")}
"""Tasks where a retry would do harm: retrying the trigger would run a whole pipeline again."""


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dag_files_exist() -> None:
    assert DAG_FILES, f"no DAG files in {DAGS_DIR}"


def test_no_import_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}, "\n".join(f"{k}: {v}" for k, v in dag_bag.import_errors.items())
    assert dag_bag.dags, "the DagBag found no DAGs"


@pytest.mark.parametrize("dag_file", [pytest.param(path, id=path.name) for path in DAG_FILES])
def test_dag_file_parses_fast(dag_file: Path) -> None:
    """Parse in a fresh interpreter, after what the DAG processor has already imported when it parses
    a file (the SDK and the DagBag machinery): what is left is the file's own cost. The budget is loose
    because this is a smoke check; bench/ measures parse time properly. CPU time, not wall time: the
    check must not fail because the machine is busy."""
    probe = (
        "import sys, time, runpy; import airflow.sdk; "
        "from airflow.sdk import dag, task, Asset, Param; "
        "from airflow.dag_processing.dagbag import DagBag; "
        "start = time.process_time(); runpy.run_path(sys.argv[1]); "
        "print(time.process_time() - start)"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parse_seconds = float(result.stdout.strip().splitlines()[-1])
    print(
        f"{dag_file.name}: parsed in {parse_seconds * 1000:.0f} ms of CPU ({time.perf_counter() - started:.1f} s "
        "with interpreter start, wall)"
    )
    assert parse_seconds < PARSE_BUDGET_SECONDS


PROCESSOR_PROBE = """\
import json, os, runpy, sys
import airflow.dag_processing.manager  # what the DAG processor's manager has loaded before any parse
from airflow.dag_processing.processor import _pre_import_airflow_modules
import structlog

log = structlog.get_logger()
found = {}
for path in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # like the processor: pre-import this file's airflow modules, then parse it
        os.close(read)
        _pre_import_airflow_modules(path, log)
        before = set(sys.modules)
        runpy.run_path(path)
        late = sorted(
            name for name in set(sys.modules) - before if name.split(".")[0] in ("airflow", "boto3", "botocore")
        )
        os.write(write, json.dumps(late).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found[os.path.basename(path)] = json.loads(pipe.read() or '["<the parse failed>"]')
    os.waitpid(pid, 0)
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def imported_while_parsing() -> dict[str, list[str]]:
    """DAG file -> the Airflow and boto modules its parse imports after the DAG processor's pre-import."""
    result = subprocess.run(
        [sys.executable, "-c", PROCESSOR_PROBE, *map(str, DAG_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dag_file", [pytest.param(path, id=path.name) for path in DAG_FILES])
def test_dag_file_names_the_airflow_modules_it_parses_with(dag_file: Path, imported_while_parsing) -> None:
    """The DAG processor imports the ``airflow.*`` modules a DAG file names in its manager, once, before
    it forks a parser for the file; modules the file's imports bring in only later (the providers under
    the lake's operators, boto3) are imported again by every parse. So every Airflow module a parse
    needs is named in the file (the pre-import block at its top)."""
    late = imported_while_parsing[dag_file.name]
    assert late == [], (
        f"{dag_file.name}: parsing imports {late[:8]} after the DAG processor's pre-import: name the "
        "airflow module that brings them in in the file's pre-import block"
    )


def test_every_dag_has_owner_tags_and_retries(dag_bag) -> None:
    problems = []
    for dag_id, dag in dag_bag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not dag.doc_md:
            problems.append(f"{dag_id}: no doc_md")
        for task in dag.tasks:
            if not task.owner or task.owner == "airflow":
                problems.append(f"{dag_id}.{task.task_id}: no owner")
            if task.retries < 1 and (dag_id, task.task_id) not in NO_RETRIES:
                problems.append(f"{dag_id}.{task.task_id}: retries < 1")
    assert not problems, "\n".join(problems)


def test_no_cycles(dag_bag) -> None:
    for dag in dag_bag.dags.values():
        visited: dict[str, int] = {}

        def visit(task_id: str, dag=dag, visited=visited) -> None:
            state = visited.get(task_id)
            assert state != 1, f"{dag.dag_id}: cycle through {task_id}"
            if state == 2:
                return
            visited[task_id] = 1
            for child in dag.get_task(task_id).downstream_task_ids:
                visit(child)
            visited[task_id] = 2

        for task_id in dag.task_ids:
            visit(task_id)


def test_every_pool_a_task_uses_is_in_the_pools_file(dag_bag) -> None:
    from airlake.pipeline import QUERY_POOL, WAREHOUSE_POOL, pools

    used = {task.pool for dag in dag_bag.dags.values() for task in dag.tasks}
    assert {QUERY_POOL, WAREHOUSE_POOL} <= used
    assert used - {"default_pool"} <= set(pools())


def test_every_scheduled_dag_has_a_deadline_alert_that_serializes(dag_bag) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    scheduled = [dag for dag in dag_bag.dags.values() if dag.timetable.can_be_scheduled]
    assert scheduled
    for dag in scheduled:
        assert dag.deadline, f"{dag.dag_id} has no deadline alert"
        serialized = DagSerialization.to_dict(dag)
        assert serialized["dag"].get("deadline"), dag.dag_id
