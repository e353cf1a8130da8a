"""
### Dataset pipelines, generated from the contracts

One DAG per dataset contract in `include/contracts/` (add a YAML file, get a DAG; no Python).
Each run processes one data interval of its contract's schedule: the daily run for 2026-11-20
covers `[2026-11-20T00:00Z, 2026-11-21T00:00Z)` (a `CronDataIntervalTimetable`, so backfills of
past days read exactly those days).

Stages: **ingest** (source -> `raw/<dataset>/ingest_date=.../run=.../`, with a manifest under
`_manifests/` and a checkpoint under `_state/`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable

from airlake.contracts import load_contracts
from airlake.operators.ingest import IngestOperator

LAKE_BUCKET = "{{ var.value.airlake_bucket }}"
START_DATE = datetime(2026, 11, 1)


def dataset_dag(contract) -> DAG:
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
        IngestOperator(task_id="ingest", dataset=contract.name, bucket=LAKE_BUCKET)
    return dag


for _contract in load_contracts().values():
    globals()[f"dataset_{_contract.name}"] = dataset_dag(_contract)
