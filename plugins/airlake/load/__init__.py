"""Warehouse load: curated Parquet files of a run -> staging -> de-duplicated -> target table.

Plain functions over DB-API connections, testable without Airflow. The SQL text lives in
``sql/redshift/*.sql`` (Jinja templates in SQL that both Redshift and PostgreSQL 15 accept) and is the
same on both paths except for the COPY that fills the staging table: the offline path streams the
Parquet files into PostgreSQL with a binary ``COPY`` through the ADBC driver (:func:`load_partitions`),
the AWS path runs one Redshift ``COPY`` of a manifest of exactly the run's files (:func:`load_manifest`).

Modules: :mod:`.statements` (the SQL of a load), :mod:`.dbapi` (one transaction), :mod:`.warehouse`
(target table, staging -> dedup -> apply), :mod:`.arrow_copy` (Parquet -> Arrow -> binary ``COPY`` by
the ADBC PostgreSQL driver), :mod:`.csv_copy` (Parquet -> CSV ``COPY FROM STDIN``, the fallback),
:mod:`.postgres` (the offline path), :mod:`.redshift` (the AWS path).
"""

from __future__ import annotations

from airlake.load.postgres import load_partitions
from airlake.load.redshift import RedshiftCopyError, load_manifest, write_copy_manifest
from airlake.load.statements import SEQ_COLUMN, redshift_copy_sql
from airlake.load.warehouse import LoadResult, ensure_target_table

__all__ = [
    "SEQ_COLUMN",
    "LoadResult",
    "RedshiftCopyError",
    "ensure_target_table",
    "load_manifest",
    "load_partitions",
    "redshift_copy_sql",
    "write_copy_manifest",
]
