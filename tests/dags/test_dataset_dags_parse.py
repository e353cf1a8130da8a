"""What airlake_datasets.py's parse shares between its DAGs (issue 14) leaves their serialised form as it was."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

DATASETS_FILE = Path(__file__).resolve().parents[2] / "dags" / "airlake_datasets.py"


def _dataset_dags() -> list[Any]:
    from airflow.sdk import DAG

    namespace = runpy.run_path(str(DATASETS_FILE), run_name="datasets_under_test")
    dags = [value for value in namespace.values() if isinstance(value, DAG)]
    assert len(dags) > 1, "the project's contracts make several dataset DAGs"
    return dags


def test_the_file_checks_each_param_once_for_all_its_dags(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema
    from airflow.serialization.serialized_objects import DagSerialization

    dags = _dataset_dags()
    calls = []
    real = jsonschema.validate
    monkeypatch.setattr(jsonschema, "validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    for dag in dags:
        DagSerialization.to_dict(dag)
    # the DAGs' Params have the same schemas and defaults (their descriptions name the dataset)
    assert len(calls) == len(dags[0].params)


def test_the_dags_serialise_as_with_plain_params() -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.serialization.serialized_objects import DagSerialization

    from airlake.shared_params import SharedCheckParams

    for dag in _dataset_dags():
        shared = DagSerialization.to_dict(dag)
        for task in dag.tasks:
            assert isinstance(task.params, SharedCheckParams)
            task.params = ParamsDict(task.params)
        assert DagSerialization.to_dict(dag) == shared, dag.dag_id
