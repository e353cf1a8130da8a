"""What every Airlake DAG shares: where the lake is, retries, pools, deadlines and the trigger-form params.

Kept import-light (no provider, boto3 or pandas imports): DAG files import it at parse time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import DAG, BaseOperator, DeadlineAlert, Param

    from airlake.contracts import Contract

LAKE_BUCKET = "{{ var.value.airlake_bucket }}"
"""The lake bucket: Airflow Variable ``airlake_bucket``."""
GLUE_DATABASE = "{{ var.value.get('airlake_glue_database', 'airlake') }}"
"""The Glue database: Variable ``airlake_glue_database``, default ``airlake``."""
START_DATE = datetime(2026, 11, 1, tzinfo=UTC)
QUERY_ENGINE = "{{ var.value.get('airlake_query_engine', 'duckdb') }}"
"""The engine of views, reports and SQL curate: Variable ``airlake_query_engine`` (``duckdb`` or ``athena``)."""
ATHENA_WORKGROUP = "{{ var.value.get('airlake_athena_workgroup', 'primary') }}"
"""Athena's workgroup when the query engine is ``athena``: Variable ``airlake_athena_workgroup``."""
ATHENA_OUTPUT = "{{ var.value.get('airlake_athena_output', '') }}"
"""``s3://...`` for Athena's result files: Variable ``airlake_athena_output`` (required with athena)."""

POOLS_FILE = Path(__file__).resolve().parents[2] / "include" / "airflow" / "pools.json"
"""The pools every environment creates (``airflow pools import``): the local stack, compose, AWS."""
QUERY_POOL = "airlake_query"
"""Athena (DuckDB locally) queries: bounded so views do not exhaust the workgroup's concurrency."""
WAREHOUSE_POOL = "airlake_warehouse"
"""Warehouse loads: bounded so COPY/MERGE transactions do not queue up on Redshift."""

PARAM_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
"""The JSON Schema dialect of every trigger-form :class:`~airflow.sdk.Param` (:func:`form_param`)."""


@cache
def pools() -> dict[str, dict[str, Any]]:
    """The pools file: name -> {slots, description}."""
    return json.loads(POOLS_FILE.read_text())


def lake_dag_args(owner: str, *, deadline: timedelta | None = None) -> dict[str, Any]:
    """
    What every scheduled Airlake DAG is built with beside its schedule: the lake's start date, no
    catch-up (backfills are explicit), one run at a time (runs of a DAG write the same partitions), the
    :func:`default_args` of its owner and, when given, a :func:`deadline_alert` ``deadline`` after queueing.
    """
    args: dict[str, Any] = {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": default_args(owner),
    }
    if deadline is not None:
        args["deadline"] = deadline_alert(deadline)
    return args


def query_task_args() -> dict[str, Any]:
    """The arguments of a task that queries the lake (a view, the business report): the query pool (the
    engine, Athena's workgroup and result location are :class:`~airlake.operators.query.QueryOperator`'s
    defaults)."""
    return {"pool": QUERY_POOL}


def form_param(*args: Any, **schema: Any) -> Param:
    """
    A trigger-form :class:`~airflow.sdk.Param` whose JSON Schema names its dialect, draft-07.

    Why: Airflow resolves every Param of a DAG again and again while the file is parsed and serialised
    (each task carries the DAG's params, and the serialiser's ``__eq__`` and ``repr`` of each task's
    params resolve them all: ~375 ``jsonschema.validate`` calls for ``airlake_datasets.py``), and every
    call first checks the schema against its dialect's metaschema. Without ``$schema`` that is draft
    2020-12, whose metaschema takes 2-3x as long to check (the API server validates each run's conf the
    same way). The keywords the forms use (``type``, ``format``, ``enum``, ``minimum``, ``title``,
    ``description``) mean the same in both. (A Param subclass that remembered its validations cannot be
    used: the serialiser accepts only ``airflow.sdk.definitions.param.Param`` itself.)
    """
    from airflow.sdk import Param

    return Param(*args, **{"$schema": PARAM_SCHEMA_DIALECT, **schema})


def check_params_once(dag: DAG, checks: dict[tuple[str, str, str], bool] | None = None) -> DAG:
    """
    Let the tasks of ``dag`` share one check of each of their Params while the file is parsed, and
    return the DAG.

    Why: every task carries a copy of the DAG's Params, and Airflow's serialiser resolves each task's
    copies twice (its ``params == {}`` test and ``str(params)`` both call ``ParamsDict.dump``, each a
    ``jsonschema.validate`` per Param, ~85 % of it checking the schema against its metaschema): 70 of
    the 75 validations of a 7-task dataset DAG check a (schema, value) pair already checked. Each task's
    params become a :class:`~airlake.shared_params.SharedCheckParams` of the same :class:`~airflow.sdk.Param` objects, whose
    ``dump`` validates a pair once for the whole DAG and reuses the outcome; the serialised DAG is the
    same (the serialiser reads the Param objects, and the class itself is not serialised), and
    ``validate()``, what a run's params are checked with, still validates every Param.

    ``checks``: the outcomes to share, for the DAGs of one file built alike (``airlake_datasets.py``'s
    DAGs have the same form, so its 5 DAGs check each (schema, value) once instead of once each); by
    default the DAG's own.
    """
    from airflow.sdk.definitions.param import ParamsDict  # not at import: it starts provider discovery

    from airlake.shared_params import SharedCheckParams

    checked: dict[tuple[str, str, str], bool] = {} if checks is None else checks
    for node in dag.tasks:
        params = getattr(node, "params", None)
        if params and type(params) is ParamsDict:  # a mapped task's partial params stay as they are
            node.params = SharedCheckParams(params, checked)
    return dag


def copy_params_directly(dag: DAG) -> DAG:
    """
    Let Airflow copy ``dag``'s Params for each task built after this call without ``copy.deepcopy``'s
    machinery, and return the DAG: call it first thing in the DAG's ``with`` block.

    Why: every task starts with a deep copy of the DAG's Params, made again by each ``apply_defaults``
    wrapper of its class chain (three for a lake operator), ~0.05 ms each for the dataset DAGs' 5 Params
    mostly spent reconstructing each Param the generic way. The DAG's params become a
    :class:`~airlake.shared_params.DirectCopyParams` of the same Param objects, whose deep copy is the same
    plain ParamsDict of new Params with copied values and schemas, made directly (~0.015 ms). The DAG's
    Params, their validation and the serialised DAG are unchanged.
    """
    from airflow.sdk.definitions.param import ParamsDict  # not at import: it starts provider discovery

    from airlake.shared_params import DirectCopyParams

    if type(dag.params) is ParamsDict:
        # as Airflow's own converter sets it (assigning would validate the same Params again)
        object.__setattr__(dag, "params", DirectCopyParams(dag.params, dag.params.suppress_exception))
    return dag


def default_args(owner: str) -> dict[str, Any]:
    """
    Retries with exponential backoff (sources and AWS APIs fail transiently, code rarely does), the
    failure callback that alerts on failed quality checks and reject budgets (:mod:`airlake.alerts`),
    and where the lake is: every :class:`~airlake.operators.base.LakeOperator` of the DAG takes its
    ``bucket`` and ``database`` from here unless the task passes its own.
    """
    from airlake.alerts import task_failed

    return {
        "owner": owner,
        "bucket": LAKE_BUCKET,
        "database": GLUE_DATABASE,
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": task_failed,
    }


CURATE_ENGINES = ("worker", "athena")
"""Where curate runs: in the Airflow worker, or as SQL on the query engine (``curate.engine``)."""
CURATE_ENGINE = "{{ params.get('curate_engine') or 'contract' }}"
"""The curate task's engine: the run's trigger-form choice (:func:`curate_engine_param`), else the contract's."""


def curate_task(contract: Contract, **kwargs: Any) -> BaseOperator:
    """
    The dataset DAG's curate task: an :class:`~airlake.operators.curate_athena.EngineCurateOperator`,
    which curates inside the Airflow worker or, by the contract's ``curate.engine`` or the run's
    ``curate_engine`` param, as SQL on the query engine (Athena on AWS, DuckDB locally). Both write the
    same versions, quarantine and manifest, so the tasks after it are the same.
    """
    from airlake.operators.curate_athena import EngineCurateOperator

    return EngineCurateOperator(dataset=contract.name, **kwargs)


def curate_engine_param(contract: Contract) -> Param:
    """The trigger form's choice of curate engine for one run (a big day on Athena, say)."""
    return form_param(
        "contract",
        type="string",
        enum=["contract", *CURATE_ENGINES],
        title="Curate engine",
        description=f"contract: {contract.name}'s curate.engine ({contract.curate.engine}); worker: in the "
        "Airflow worker; athena: as SQL on the query engine (Athena; DuckDB locally). Same results.",
    )


def deadline_alert(after: timedelta) -> DeadlineAlert:
    """
    Airflow 3's replacement for SLAs: when a run is still not done ``after`` it was queued, the triggerer
    runs :func:`airlake.alerts.deadline_missed` (an ERROR log line and an SNS alert).
    """
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=after,
        callback=AsyncCallback("airlake.alerts.deadline_missed", kwargs={"limit": str(after)}),
    )


def interval_params(*, start_required: bool = False) -> dict[str, Param]:
    """The trigger form's date range and run mode, validated by JSON Schema before the run is created."""
    date_type: Any = "string" if start_required else ["null", "string"]
    start = {"default": None} if not start_required else {}
    return {
        "start_date": form_param(
            **start,
            type=date_type,
            format="date",
            title="First day",
            description="Process these UTC days instead of the run's data interval (YYYY-MM-DD). "
            "Leave empty for the scheduled interval.",
        ),
        "end_date": form_param(
            None,
            type=["null", "string"],
            format="date",
            title="Last day (inclusive)",
            description="Last UTC day of the range; empty: the first day only.",
        ),
        "full_refresh": form_param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild the days' partitions from the source instead of merging new rows into "
            "them (database sources only: streams and landed files cannot be replayed).",
        ),
        "dry_run": dry_run_param("Check the params and log the plan; process nothing."),
    }


def dry_run_param(description: str) -> Param:
    """The trigger form's **Dry run** flag (off by default); ``description`` says what a dry run does."""
    return form_param(False, type="boolean", title="Dry run", description=description)


def dataset_param(names: Sequence[str]) -> Param:
    """A dataset picker: an enum of the contracts' names."""
    return form_param(
        names[0] if names else None,
        type="string",
        enum=list(names),
        title="Dataset",
        description="Which dataset contract to process.",
    )


def plan_run(
    contract: Contract,
    params: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    *,
    today: date,
) -> dict[str, Any]:
    """
    Check a run's params against the contract and say what it will do: the interval, its days, the
    mode. Raises :class:`~airlake.intervals.IntervalParamError` naming the param that is wrong.
    """
    from airlake.intervals import IntervalParamError, interval_dates, resolve_interval

    interval = resolve_interval(params, data_interval_start, data_interval_end, today=today)
    if interval.full_refresh and contract.source.kind != "database":
        raise IntervalParamError(
            f"param full_refresh: {contract.name} has a {contract.source.kind} source, which cannot replay "
            "past days; only database sources can be fully refreshed"
        )
    days = interval_dates(interval.start, interval.end)
    if contract.source.kind == "http" and len(days) > 1:
        raise IntervalParamError(
            f"param end_date: {contract.name}'s HTTP source is asked for one interval per run (its request "
            f"params are rendered from the interval's start); process {days[0]}..{days[-1]} as a backfill, "
            "one run per day"
        )
    return {
        "dataset": contract.name,
        **interval.as_dict(),
        "days": days,
        "source": contract.source.kind,
        "mode": "full_refresh" if interval.full_refresh else "incremental",
    }
