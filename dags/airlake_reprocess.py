"""
### Reprocess a dataset for a date range (from the trigger form)

Pick a **dataset** (one of the contracts), a **first** and **last day**, **full refresh** or
incremental, and **dry run**. The form's JSON Schema refuses malformed dates and unknown datasets
before the run is created; the `plan` task then refuses ranges that make no sense (last day before
the first, days not complete yet, a full refresh of a source that cannot replay) before anything
runs. The dataset's own DAG then runs once for the whole range (`[first day, last day + 1)`), and
this run waits for it and fails if it fails. A dry run only plans.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Airflow modules this file's operators and tasks build on, named here so that the DAG processor imports
# them once, in its manager, before it forks a parser for the file ([dag_processor]
# parsing_pre_import_modules): boto3 and the providers are then not imported again by every parse.
# tests/dags/test_dag_integrity.py checks that nothing from Airflow is left to import at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401 - named for the pre-import (the comment above)
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

from airlake.contracts import contract_names
from airlake.pipeline import START_DATE, check_params_once, dataset_param, default_args, interval_params


@task(multiple_outputs=True)
def plan(**context: Any) -> dict[str, Any]:
    """Check the params against the dataset's contract; the conf the dataset's DAG runs with."""
    import logging
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException

    from airlake.contracts import get_contract
    from airlake.intervals import IntervalParamError
    from airlake.pipeline import plan_run

    params = dict(context["params"])
    try:
        planned = plan_run(
            get_contract(params["dataset"]), params, None, None, today=datetime.now(UTC).date()
        )
    except (IntervalParamError, KeyError) as exc:
        raise AirflowFailException(str(exc)) from exc
    logging.getLogger(__name__).info("Plan: %s", planned)
    return {"conf": {key: params.get(key) for key in ("start_date", "end_date", "full_refresh", "dry_run")}}


with DAG(
    dag_id="airlake_reprocess",
    description="Run one dataset's pipeline for a date range chosen in the trigger form",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    tags=["airlake", "ops", "backfill"],
    default_args=default_args("airlake"),
    # the datasets' names from the contract files' names (no model built: ~40 ms of the parse); the
    # contracts are validated by airlake_datasets.py's parse (an invalid one is its import error, naming
    # the file) and by this DAG's plan task
    params={"dataset": dataset_param(contract_names()), **interval_params(start_required=True)},
    doc_md=__doc__,
) as airlake_reprocess:
    planned = plan()
    TriggerDagRunOperator(
        task_id="run_dataset_pipeline",
        trigger_dag_id="dataset_{{ params.dataset }}",  # an enum of the contracts' names
        conf=planned["conf"],
        logical_date=None,
        wait_for_completion=True,
        poke_interval=5,
        failed_states=["failed"],
        retries=0,  # a retry would run the whole pipeline again: rerun it on purpose instead
        execution_timeout=timedelta(hours=6),  # e.g. when the dataset's DAG is left paused
    )
check_params_once(airlake_reprocess)
