"""One thin operator per pipeline stage; the logic lives in plain, Airflow-free modules."""

from __future__ import annotations
