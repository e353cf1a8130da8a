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


def _state(params: Any) -> dict[str, Any]:
    return {name: dict(vars(params.get_param(name))) for name in params}


def test_the_dags_params_copy_as_deepcopy_copies_them() -> None:
    import copy

    from airflow.sdk.definitions.param import Param, ParamsDict

    from airlake.shared_params import DirectCopyParams

    shared_enum = ["a", "b"]
    params = {
        "day": Param(None, "a day", type=["null", "string"], format="date"),
        "mode": Param("a", type="string", enum=shared_enum, title="Mode"),
        "again": Param("b", type="string", enum=shared_enum),  # a list two Params share
        "nested": Param({"keys": [1, 2.5, True, None], "tuple": (1, 2)}, type="object"),
    }
    for suppress in (False, True):
        expected = copy.deepcopy(ParamsDict(params, suppress))
        copied = copy.deepcopy(DirectCopyParams(ParamsDict(params, suppress), suppress))
        assert type(copied) is ParamsDict and copied.suppress_exception is suppress
        assert _state(copied) == _state(expected)
        for name in params:
            original, new = params[name], copied.get_param(name)
            assert type(new) is Param and new is not original
            assert new.schema == original.schema and new.schema is not original.schema
        mode, again = copied.get_param("mode"), copied.get_param("again")
        assert mode.schema["enum"] is again.schema["enum"] is not shared_enum  # shared once, as deepcopy does
        assert copied.get_param("nested").value["tuple"] == (1, 2)


def test_each_task_starts_from_copies_of_the_dags_params() -> None:
    from airflow.sdk.definitions.param import ParamsDict

    from airlake.shared_params import DirectCopyParams

    for dag in _dataset_dags():
        assert isinstance(dag.params, DirectCopyParams)
        for task in dag.tasks:
            for name in dag.params:
                original, copied = dag.params.get_param(name), task.params.get_param(name)
                assert copied is not original and copied.schema is not original.schema
                assert {**vars(copied), "source": None} == {**vars(original), "source": None}
                assert copied.source == "dag"  # Airflow marks a task's copies of the DAG's Params
        assert ParamsDict(dag.params).validate() == dag.params.validate()


def test_shared_check_params_compare_as_paramsdict_does() -> None:
    from airflow.sdk.definitions.param import ParamsDict

    for dag in _dataset_dags()[:1]:
        for task in dag.tasks:
            shared, plain = task.params, ParamsDict(task.params)
            others = [{}, [], plain.dump(), {**plain.dump(), "dry_run": True}, ParamsDict(), plain, 1, None]
            for other in others:
                assert (shared == other) is (plain == other), other
                assert (shared in [other]) is (plain in [other])
        assert type(task.params).__hash__ is ParamsDict.__hash__  # kept beside the __eq__


SERIALISE_PROBE = """\
import json, sys
import airflow.dag_processing.manager  # what the DAG processor's manager has loaded before any parse
import structlog
from airflow.dag_processing.processor import _pre_import_airflow_modules
from airflow.serialization.serialized_objects import DagSerialization
from airflow.dag_processing.dagbag import BundleDagBag

_pre_import_airflow_modules(sys.argv[1], structlog.get_logger())
before = set(sys.modules)
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2], bundle_name="dags-folder", load_op_links=False)
for dag in bag.dags.values():
    DagSerialization.to_dict(dag)
late = sorted(name for name in set(sys.modules) - before if name.split(".")[0] in ("airflow", "boto3", "botocore"))
print(json.dumps({"dags": len(bag.dags), "late": late}))
"""


def test_parsing_and_serialising_the_file_imports_no_airflow_module() -> None:
    """What the DAG processor does with the file (import, DagBag, serialisation) after its pre-import of
    the modules the file names: no Airflow module is left to import then."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SERIALISE_PROBE, str(DATASETS_FILE), str(DATASETS_FILE.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["dags"] > 1
    assert found["late"] == []
