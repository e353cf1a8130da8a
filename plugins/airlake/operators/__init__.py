"""One thin operator per pipeline stage on :class:`~airlake.operators.base.LakeOperator`; the logic lives in
plain, Airflow-free modules."""

from __future__ import annotations

from airlake.operators.base import LakeOperator, glue_client_of

__all__ = ["LakeOperator", "glue_client_of"]
