"""One thin operator per pipeline stage on :class:`~airlake.operators.base.LakeOperator` (a stage on one
dataset: :class:`DatasetOperator`; a maintenance sweep over several: :class:`SweepOperator`; a stage that
queries the lake: :class:`~airlake.operators.query.QueryOperator`); the logic lives in plain, Airflow-free
modules."""

from __future__ import annotations

from airlake.operators.base import DatasetOperator, LakeOperator, SweepOperator, glue_client_of
from airlake.operators.query import QueryOperator

__all__ = ["DatasetOperator", "LakeOperator", "QueryOperator", "SweepOperator", "glue_client_of"]
