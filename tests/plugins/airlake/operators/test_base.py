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
