"""The local stack's executor: Airflow's LocalExecutor, with the libraries every task imports loaded once.

LocalExecutor forks its workers from the scheduler when it starts, and each worker forks a process for
every task it runs. So whatever the scheduler has imported before then, each task has for free. Airflow's
scheduler has not imported boto3, the amazon provider, OpenLineage, DuckDB, psycopg or sqlglot, so
every task process imported them again: ~1.1 s of CPU per task start (measured under load 20), ~400
task starts in the demo, on 2 cores shared by the scheduler, moto and PostgreSQL.

Only third-party libraries are preloaded, never Airlake's own code (``plugins/airlake``, ``dags/``):
an edit there still reaches the next task, as with Airflow's LocalExecutor. env.sh selects it::

    AIRFLOW__CORE__EXECUTOR=include.local_stack.executor.PreloadingLocalExecutor
"""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

PRELOADED_MODULES = (
    # what the lake operators build on (the DAG files name them for the DAG processor's pre-import too)
    "airflow.providers.amazon.aws.hooks.s3",
    "airflow.providers.amazon.aws.hooks.glue_catalog",
    "airflow.providers.amazon.aws.operators.base_aws",
    "airflow.providers.openlineage.plugins.listener",
    "boto3",
    "botocore.session",
    # what the stages compute and check with
    "duckdb",
    "psycopg",
    "sqlglot",
    "pydantic",
    "yaml",
)
"""Imported in the scheduler before the executor forks its workers: third-party modules only, and none that
starts a thread when imported. pyarrow does (jemalloc's background thread) and numpy does (OpenBLAS): a
process forked from a multithreaded one can inherit a lock that no thread will release (jemalloc's known
fork deadlocks), so they stay out. (The task hangs seen in the first runs with them preloaded came from
the execution API's first-request stall, services/airflow.py, which a run without this executor showed too.)"""


def preload(modules: tuple[str, ...] = PRELOADED_MODULES) -> list[str]:
    """Import ``modules``; return those that could not be imported (logged, never fatal: a task that
    needs one imports it itself, as it would without this executor)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # an optional provider or a broken install must not stop the scheduler
            log.warning("preload: could not import %s; tasks will import it themselves", name, exc_info=True)
            missing.append(name)
    return missing


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers (forked at :meth:`start`) begin with :data:`PRELOADED_MODULES` imported."""

    def start(self) -> None:
        preload()
        super().start()
