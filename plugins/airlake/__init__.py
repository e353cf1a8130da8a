"""Airlake: a data lake on AWS run by Apache Airflow 3, runnable offline against local stand-ins."""

from __future__ import annotations

__version__ = "0.1.0"
