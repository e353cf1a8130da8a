"""
### Dataset pipelines, generated from the contracts

One DAG per dataset contract in `include/contracts/` (add a YAML file, get a DAG; no Python).

**Which data a run processes.** The schedule is the contract's (`@daily` for the demo) as a
`CronDataIntervalTimetable`: the scheduled or backfilled run for 2026-11-20 covers exactly
`[2026-11-20T00:00Z, 2026-11-21T00:00Z)`, so a backfill of past days reads exactly those days and
gives the same lake as the daily runs did. A contract with a source event queue
(`source.events_queue`, `source.run_on_message`) also runs within a minute of a new landing file or
message (`airlake.events`); the cron stays as the fallback. A run triggered from the UI with
**First day / Last day** processes those UTC days instead, whatever its logical date; without them, the last complete interval.

Stages, one reusable operator each:

1. **plan**: checks the params (dates, full refresh allowed for this source) and logs the plan; a
   **dry run** stops here;
2. **ingest**: source -> `raw/<dataset>/ingest_date=.../run=.../` (gzip, SSE), a manifest under
   `_manifests/` and a checkpoint under `_state/`; beside it, **restore_archived** brings back the
   run's days that tiering moved to Glacier (curate merges new rows into them), waiting until they
   are readable;
3. **curate**: raw -> typed, de-duplicated Parquet in a new version `curated/<dataset>/dt=.../v=.../`
   of every partition the run touches (one identical to the live version is not rewritten); rejects
   to `quarantine/` with their reasons. It consumes the run's raw run **and every earlier one not yet
   published**, so a run that failed after ingest is published by the next one. It runs in the
   Airflow worker, or with the contract's `curate: {engine: athena}` (or the form's **Curate engine**
   for one run) as SQL on the query engine (Athena; DuckDB locally), with the same outputs;
4. **quality**: the contract's checks on the new versions (day-based ones over the interval's days and
   every day the run writes); a failure stops the run before anything is published;
5. **catalog**: the Glue table (schema evolution checked) and the partitions pointed at their new
   versions, the atomic publish Athena (DuckDB locally) reads; updates the asset `curated.<dataset>`,
   which schedules the views that read it;
6. **load**: the run's files into the warehouse table (staging, de-dup, MERGE; one transaction).

**A new DAG starts paused.** To recover a failed run, fix the cause and wait for the next run, or
clear the failed run from `curate` with its downstream tasks; every attempt's record is kept under
`_manifests/<dataset>/<run>/<stage>/attempt=<n>.json`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

# Airflow modules this file's operators and tasks build on, named here so that the DAG processor imports
# them once, in its manager, before it forks a parser for the file ([dag_processor]
# parsing_pre_import_modules): boto3 and the providers are then not imported again by every parse.
# tests/dags/test_dag_integrity.py checks that nothing from Airflow is left to import at parse time. The
# processor's serialiser imports the modules of ExternalTaskSensor and TriggerDagRunOperator for the DAGs
# it serialises (its dependency detector): named too, so that no parse of the file imports them (~2.5 ms
# and more; tests/dags/test_dataset_dags_parse.py checks the parse and the serialisation together).
import airflow.providers.amazon.aws.hooks.glue_catalog
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.amazon.aws.operators.base_aws
import airflow.providers.standard.operators.trigger_dagrun
import airflow.providers.standard.sensors.external_task
import airflow.sdk.definitions.decorators  # noqa: F401 - named for the pre-import (the comment above)
from airflow.sdk import DAG, get_parsing_context, task

from airlake.assets import curated_asset
from airlake.contracts import load_contracts
from airlake.events import dataset_schedule
from airlake.operators.catalog import CatalogOperator
from airlake.operators.ingest import IngestOperator
from airlake.operators.load import WarehouseLoadOperator
from airlake.operators.quality import QualityCheckOperator
from airlake.operators.tiering import GlacierRestoreOperator
from airlake.pipeline import (
    WAREHOUSE_POOL,
    check_params_once,
    copy_params_directly,
    curate_engine_param,
    curate_task,
    interval_params,
    lake_dag_args,
)

if TYPE_CHECKING:
    from airlake.contracts import Contract

FIRST_DAY = "{{ ti.xcom_pull(task_ids='plan')['days'][0] }}"
LAST_DAY = "{{ ti.xcom_pull(task_ids='plan')['days'][-1] }}"


@task
def plan(dataset: str, **context: Any) -> dict[str, Any]:
    """Refuse bad params before any data moves; stop a dry run after logging what it would do."""
    import logging
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airlake.contracts import get_contract
    from airlake.events import event_run_interval
    from airlake.intervals import IntervalParamError
    from airlake.pipeline import plan_run

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None and end is None:  # an asset-triggered run: the day it was triggered in
        start, end = event_run_interval(context) or (None, None)
    try:
        planned = plan_run(
            get_contract(dataset), context.get("params"), start, end, today=datetime.now(UTC).date()
        )
    except IntervalParamError as exc:
        raise AirflowFailException(str(exc)) from exc
    logging.getLogger(__name__).info("Plan: %s", planned)
    if planned["dry_run"]:
        raise AirflowSkipException(f"dry run: would process {planned['days']} ({planned['mode']})")
    return planned


def dataset_dag(contract: Contract) -> DAG:
    """The pipeline DAG of one dataset contract."""
    with DAG(
        dag_id=f"dataset_{contract.name}",
        description=contract.description.split(".")[0][:200],
        schedule=dataset_schedule(contract),  # the cron, or it or a source event (airlake.events)
        tags=["airlake", "dataset", contract.source.kind, *contract.tags],
        params={**interval_params(), "curate_engine": curate_engine_param(contract)},
        doc_md=f"{__doc__}\n\n#### {contract.name}\n\n{contract.description}",
        **lake_dag_args(contract.owner, deadline=timedelta(hours=3)),
    ) as dag:
        copy_params_directly(dag)  # each task's copies of the DAG's Params (3 a task) made directly
        name = contract.name
        # bucket and database come from default_args (airlake.pipeline.default_args)
        ingest = IngestOperator(task_id="ingest", dataset=name)
        curate = curate_task(contract, task_id="curate")  # worker or athena: the contract's or the run's
        quality = QualityCheckOperator(task_id="quality", dataset=name)
        catalog = CatalogOperator(task_id="catalog", dataset=name, outlets=[curated_asset(name)])
        load = WarehouseLoadOperator(task_id="load", dataset=name, pool=WAREHOUSE_POOL)
        restore = GlacierRestoreOperator(
            task_id="restore_archived",
            dataset=name,
            zone="curated",
            first_day=FIRST_DAY,
            last_day=LAST_DAY,
            poke_interval=60,
        )
        plan(name) >> [ingest, restore] >> curate >> quality >> catalog >> load
    # its 7 tasks' copies of the 5 Params checked once, not 14 times, and once for all the file's DAGs
    return check_params_once(dag, _param_checks)


# A task's runner parses this file to find its own DAG: build only that one then (Airflow's parsing
# context; the DAG processor and tests get every DAG). The contracts are still all read and validated.
_param_checks: dict[tuple[str, str, str], bool] = {}  # every DAG here has the same form (check_params_once)
_wanted = get_parsing_context().dag_id
for _contract in load_contracts().values():
    if _wanted is None or _wanted == f"dataset_{_contract.name}":
        globals()[f"dataset_{_contract.name}"] = dataset_dag(_contract)
