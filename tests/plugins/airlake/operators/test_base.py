"""The operator bases: the lake's arguments once, the datasets a sweep works on, and its dry-run flag."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import airlake.operators
from airlake.operators.base import DatasetOperator, LakeOperator, SweepOperator, dataset_names, split_names
from airlake.operators.maintenance import CleanupVersionsOperator
from airlake.operators.quality import QualityCheckOperator
from airlake.operators.query import QueryOperator

BASES = {LakeOperator, DatasetOperator, SweepOperator, QueryOperator}


def stage_operators() -> list[type[LakeOperator]]:
    """Every operator class the modules of airlake.operators define, the bases left out."""
    found: dict[str, type[LakeOperator]] = {}
    for module in pkgutil.iter_modules(airlake.operators.__path__):
        imported = importlib.import_module(f"airlake.operators.{module.name}")
        for name, value in inspect.getmembers(imported, inspect.isclass):
            if (
                issubclass(value, LakeOperator)
                and value not in BASES
                and value.__module__ == imported.__name__
            ):
                found[name] = value
    return [found[name] for name in sorted(found)]


def test_split_names() -> None:
    assert split_names(None) == split_names("") == split_names([]) == []
    assert split_names("orders, payments  orders,") == ["orders", "payments"]
    assert split_names([" products ", "orders", "products"]) == ["products", "orders"]


def test_dataset_names() -> None:
    assert dataset_names(None) == sorted(["clickstream", "fx_rates", "orders", "payments", "products"])
    assert dataset_names("orders, payments orders") == ["orders", "payments"]
    assert dataset_names(["products"]) == ["products"]
    with pytest.raises(KeyError, match="no contract for dataset 'nope'"):
        dataset_names(["nope"])


@pytest.mark.parametrize("operator_class", stage_operators(), ids=lambda operator: operator.__name__)
def test_every_operator_templates_the_lake_arguments(operator_class: type[LakeOperator]) -> None:
    fields = set(operator_class.template_fields)
    assert {"bucket", "database", "kms_key_id", "aws_conn_id", "region_name", "verify"} <= fields
    if issubclass(operator_class, DatasetOperator):
        assert "dataset" in fields
    if issubclass(operator_class, SweepOperator):
        assert {"datasets", "dry_run"} <= fields
    if issubclass(operator_class, QueryOperator):
        assert {"engine", "athena_output_location", "workgroup"} <= fields
    assert len(operator_class.template_fields) == len(fields)  # each field rendered once


@pytest.mark.parametrize(
    ("given", "expected"), [(False, False), ("False", False), ("true", True), (True, True)]
)
def test_a_rendered_dry_run_is_a_flag(given: bool | str, expected: bool) -> None:
    operator = CleanupVersionsOperator(task_id="t", bucket="b", dry_run=given)  # type: ignore[arg-type]
    assert operator.is_dry_run is expected
    assert operator.dry_run == given  # kept as given; rendered at run time


def test_a_dataset_stage_needs_its_dataset() -> None:
    with pytest.raises(TypeError, match="dataset"):
        QualityCheckOperator(task_id="t", bucket="b")  # type: ignore[call-arg]


REQUIRED = {
    "dataset": "orders",
    "view": "funnel_daily",
    "week_start": "2026-11-16",
    "first_day": "2026-11-01",
    "last_day": "2026-11-02",
}
"""A value for each argument some stage operator requires, the lake's own left out."""


def required_arguments(operator_class: type[LakeOperator]) -> dict[str, str]:
    """The operator's required keyword arguments but ``bucket``: what a DAG task must pass itself."""
    names = {
        name
        for cls in operator_class.__mro__
        if "__init__" in vars(cls) and cls.__module__.startswith("airlake.")
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty
    }
    return {name: REQUIRED[name] for name in sorted(names - {"bucket"})}


@pytest.mark.parametrize("operator_class", stage_operators(), ids=lambda operator: operator.__name__)
def test_every_operator_takes_the_lake_from_default_args(operator_class: type[LakeOperator]) -> None:
    from airflow.sdk import DAG

    lake = {"bucket": "lake-bucket", "database": "lake_db", "kms_key_id": "alias/lake"}
    with DAG("lake_from_default_args", schedule=None, default_args=lake):
        operator = operator_class(task_id="t", **required_arguments(operator_class))
    assert (operator.bucket, operator.database, operator.kms_key_id) == tuple(lake.values())
    with DAG("own_lake", schedule=None, default_args=lake):
        own = operator_class(
            task_id="t", bucket="own", database="own_db", **required_arguments(operator_class)
        )
    assert (own.bucket, own.database) == ("own", "own_db")  # a task's own arguments win


@pytest.mark.parametrize("operator_class", stage_operators(), ids=lambda operator: operator.__name__)
def test_every_operator_writes_with_its_kms_key(operator_class: type[LakeOperator]) -> None:
    arguments = required_arguments(operator_class)
    operator = operator_class(task_id="t", bucket="b", kms_key_id="alias/lake", **arguments)
    assert operator.lake_store().sse == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/lake"}
    plain = operator_class(task_id="t", bucket="b", **arguments)
    assert plain.lake_store().sse == {"ServerSideEncryption": "AES256"}
