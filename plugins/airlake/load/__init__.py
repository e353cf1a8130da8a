"""Warehouse load: curated Parquet files of a run -> staging -> de-duplicated -> target table.

Plain functions, testable without Airflow. The SQL text lives in ``sql/redshift/*.sql`` (Jinja
templates in SQL that both Redshift and PostgreSQL 15 accept); the offline path streams the Parquet
files into PostgreSQL with ``COPY ... FROM STDIN``, the AWS path uses :func:`redshift_copy_sql`.
"""

from __future__ import annotations

from airlake.load.warehouse import (
    SEQ_COLUMN,
    LoadResult,
    ensure_target_table,
    load_partitions,
    redshift_copy_sql,
)

__all__ = ["SEQ_COLUMN", "LoadResult", "ensure_target_table", "load_partitions", "redshift_copy_sql"]
