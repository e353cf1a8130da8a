"""Readers tests use to look at what landed in the lake."""

from __future__ import annotations

import gzip
import json
from typing import Any


def read_object(store: Any, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def read_jsonl_gz(store: Any, key: str) -> list[bytes]:
    return [line for line in gzip.decompress(read_object(store, key)).split(b"\n") if line]


def read_records(store: Any, keys: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for key in keys for line in read_jsonl_gz(store, key)]


def run_dag_test(dag: Any, **kwargs: Any) -> Any:
    """``dag.test(**kwargs)`` with the DAG's deadline alerts set aside and its params restored after.

    Airflow 3.3.2's ``dag.test()`` hands the SDK DAG to ``DagRun.update_state``, which reads
    ``dag.deadline`` as ids of stored alerts and fails on the alert objects; the scheduler path reads the
    serialized DAG and is unaffected (tests/dags/test_dag_integrity.py checks the alerts serialize).
    A run's conf also stays in the in-process DAG's params, so a later test of the same DAG would run
    with it: each call starts from the params the DAG file defined.

    ``logical_date`` is required: without it ``dag.test()`` takes the wall clock as the logical date, so the
    run's data interval (and whatever the DAG reads with it) would follow the day the test runs.
    """
    import copy

    if "logical_date" not in kwargs:
        raise TypeError(
            "run_dag_test needs an explicit logical_date (None for a run without one): without it "
            "dag.test() uses the wall clock and the test depends on the day it runs"
        )

    deadline, params = dag.deadline, copy.deepcopy(dag.params)
    task_params = {task.task_id: copy.deepcopy(task.params) for task in dag.tasks}
    dag.deadline = None
    try:
        return dag.test(**kwargs)
    finally:
        dag.deadline, dag.params = deadline, params
        for task in dag.tasks:
            task.params = task_params[task.task_id]
