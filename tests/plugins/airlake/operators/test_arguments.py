"""The operators' declared arguments (airlake.operators.base.argument): one __init__ for a chain of classes
that only keep their arguments, the same arguments, defaults and attributes as one class at a time."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from airflow.sdk import DAG

from airlake.operators.base import DatasetOperator, LakeOperator, argument
from airlake.operators.curate import CurateOperator
from airlake.operators.curate_athena import EngineCurateOperator
from airlake.operators.ingest import IngestOperator
from airlake.operators.query import QueryOperator

LAKE = {"bucket": "lake-bucket", "database": "lake_db"}


def keyword_only(operator_class: type) -> dict[str, Any]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(operator_class.__init__).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }


def test_the_signature_holds_the_arguments_of_every_class_it_keeps() -> None:
    empty = inspect.Parameter.empty
    assert keyword_only(LakeOperator) == {"bucket": empty, "database": "airlake", "kms_key_id": None}
    assert keyword_only(IngestOperator) == {
        "max_part_bytes": 128 * 1024 * 1024,
        "dataset": empty,
        **keyword_only(LakeOperator),
    }
    found = keyword_only(EngineCurateOperator)
    for base in (CurateOperator, DatasetOperator, QueryOperator, LakeOperator):
        assert keyword_only(base).items() <= found.items()


def test_each_argument_is_kept_and_default_args_fill_them() -> None:
    with DAG("arguments", schedule=None, default_args={**LAKE, "memory_limit": "2GB"}):
        curate = EngineCurateOperator(task_id="curate", dataset="orders", engine="athena")
    assert (curate.bucket, curate.database, curate.kms_key_id) == ("lake-bucket", "lake_db", None)
    assert (curate.dataset, curate.engine, curate.memory_limit) == ("orders", "athena", "2GB")
    assert curate.curate_engine == EngineCurateOperator.curate_engine  # the declared default
    assert curate.workgroup == QueryOperator.workgroup


def test_the_chain_goes_through_one_defaults_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's apply_defaults (default_args merged, the DAG's Params deep-copied) runs once for the classes
    that only keep arguments, then for AwsBaseOperator and BaseOperator: three times, not once a class."""
    import airflow.sdk.bases.operator as sdk_operator

    calls = []
    merged = sdk_operator.get_merged_defaults

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return merged(*args, **kwargs)

    monkeypatch.setattr(sdk_operator, "get_merged_defaults", counted)
    with DAG("wrappers", schedule=None, default_args=LAKE, params={"day": None}):
        EngineCurateOperator(task_id="curate", dataset="orders")
    assert len(calls) == 3


def test_a_required_argument_is_required() -> None:
    with pytest.raises(TypeError, match="dataset"):
        IngestOperator(task_id="ingest", bucket="b")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bucket"):
        IngestOperator(task_id="ingest", dataset="orders")  # type: ignore[call-arg]


class _Mixed(CurateOperator, QueryOperator):
    """Mixes bases in without declaring arguments: its MRO puts QueryOperator between CurateOperator's
    classes and LakeOperator, which CurateOperator's own chain does not know."""


class _Written(DatasetOperator):
    """A hand-written __init__ in the middle of a chain."""

    def __init__(self, *, note: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.note = f"written {note}"


class _Below(_Written):
    flag: bool = argument(False)


def test_a_mixed_in_base_keeps_its_arguments() -> None:
    with DAG("mixed", schedule=None, default_args=LAKE):
        mixed = _Mixed(task_id="mixed", dataset="orders", engine="athena", memory_limit="3GB")
    assert (mixed.dataset, mixed.engine, mixed.memory_limit, mixed.bucket) == (
        "orders",
        "athena",
        "3GB",
        "lake-bucket",
    )


def test_a_hand_written_init_in_the_chain_is_called() -> None:
    assert keyword_only(_Below) == {"flag": False}  # the chain stops at the hand-written class
    with DAG("written", schedule=None, default_args=LAKE):
        below = _Below(task_id="below", dataset="orders", note="x", flag=True)
    assert (below.flag, below.note, below.dataset, below.bucket) == (
        True,
        "written x",
        "orders",
        "lake-bucket",
    )
