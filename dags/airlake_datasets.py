"""
### Dataset pipelines, generated from the contracts

One DAG per dataset contract in `include/contracts/` (add a YAML file, get a DAG; no Python).
Each run processes one data interval of its contract's schedule: the daily run for 2026-11-20
covers `[2026-11-20T00:00Z, 2026-11-21T00:00Z)` (a `CronDataIntervalTimetable`, so backfills of
past days read exactly those days).

Stages, one reusable operator each:

1. **ingest**: source -> `raw/<dataset>/ingest_date=.../run=.../` (gzip, SSE), a manifest under
   `_manifests/` and a checkpoint under `_state/`;
2. **curate**: raw -> typed, de-duplicated Parquet in a new version `curated/<dataset>/dt=.../v=.../`
   of every partition the run touches; rejects to `quarantine/` with their reasons;
3. **catalog**: the Glue table from the contract (schema evolution checked) and the partitions
   pointed at their new versions: the atomic publish Athena (DuckDB locally) reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airflow.sdk import DAG, CronDataIntervalTimetable

from airlake.contracts import load_contracts
from airlake.operators.catalog import GLUE_DATABASE, CatalogOperator
from airlake.operators.curate import CurateOperator
from airlake.operators.ingest import IngestOperator
from airlake.operators.load import WarehouseLoadOperator

if TYPE_CHECKING:
    from airlake.contracts import Contract

LAKE_BUCKET = "{{ var.value.airlake_bucket }}"
START_DATE = datetime(2026, 11, 1)


def dataset_dag(contract: Contract) -> DAG:
    """The pipeline DAG of one dataset contract."""
    with DAG(
        dag_id=f"dataset_{contract.name}",
        description=contract.description.split(".")[0][:200],
        schedule=CronDataIntervalTimetable(contract.schedule, timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["airlake", "dataset", contract.source.kind, *contract.tags],
        default_args={
            "owner": contract.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": True,
        },
        doc_md=f"{__doc__}\n\n#### {contract.name}\n\n{contract.description}",
    ) as dag:
        ingest = IngestOperator(task_id="ingest", dataset=contract.name, bucket=LAKE_BUCKET)
        curate = CurateOperator(
            task_id="curate", dataset=contract.name, bucket=LAKE_BUCKET, database=GLUE_DATABASE
        )
        catalog = CatalogOperator(
            task_id="catalog", dataset=contract.name, bucket=LAKE_BUCKET, database=GLUE_DATABASE
        )
        load = WarehouseLoadOperator(task_id="load", dataset=contract.name, bucket=LAKE_BUCKET)
        ingest >> curate >> catalog >> load
    return dag


for _contract in load_contracts().values():
    globals()[f"dataset_{_contract.name}"] = dataset_dag(_contract)
