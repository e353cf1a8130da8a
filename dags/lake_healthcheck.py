"""
### Lake health check

Writes a small object to the lake bucket through the Amazon provider's `S3Hook` (server-side
encrypted), reads it back and checks it. Trigger it after changing connections: it proves that
`aws_default` reaches S3 (moto locally, AWS in production) and that the bucket in the Airflow
Variable `airlake_bucket` is writable.

**Cost guard.** When the query engine (Variable `airlake_query_engine`) is `athena`, it also checks
that the Athena workgroup (Variable `airlake_athena_workgroup`, default `primary`) has a per-query
bytes-scanned cutoff (`BytesScannedCutoffPerQuery`): Athena then cancels any query of the workgroup
past it, whatever the SQL. A workgroup without one, disabled, or (param `cutoff_max_bytes`) with a
looser one fails the check; the task's return value reports the cutoff. With `duckdb` there is no
workgroup: the check reports so and passes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Airflow modules this file's operators and tasks build on, named here so that the DAG processor imports
# them once, in its manager, before it forks a parser for the file ([dag_processor]
# parsing_pre_import_modules): boto3 and the providers are then not imported again by every parse.
# tests/dags/test_dag_integrity.py checks that nothing from Airflow is left to import at parse time.
import airflow.sdk.definitions.decorators  # noqa: F401 - named for the pre-import (the comment above)
from airflow.sdk import dag, task

from airlake.pipeline import ATHENA_WORKGROUP, LAKE_BUCKET, QUERY_ENGINE, check_params_once, form_param

DEFAULT_ARGS = {"owner": "airlake", "retries": 1, "retry_delay": timedelta(seconds=30)}


class WorkgroupCutoffError(ValueError):
    """The workgroup cannot guard the cost of a query: deterministic, fix the workgroup."""


def _size(n: int) -> str:
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def workgroup_cutoff_report(client: Any, workgroup: str, *, max_bytes: int | None = None) -> dict[str, Any]:
    """
    The Athena workgroup's per-query bytes-scanned cutoff (GetWorkGroup), checked.

    :param client: a boto3 Athena client.
    :param workgroup: the workgroup the views and reports run in.
    :param max_bytes: when given, the cutoff must be at most this many bytes.
    :return: ``{engine, workgroup, state, bytes_scanned_cutoff_per_query, cutoff, enforce_configuration,
        max_bytes, status}``.
    :raises WorkgroupCutoffError: the workgroup is disabled, has no cutoff, or a looser one.
    """
    info = client.get_work_group(WorkGroup=workgroup).get("WorkGroup")
    if not info:  # AWS raises InvalidRequestException; moto answers with nothing
        raise WorkgroupCutoffError(f"Athena workgroup {workgroup} does not exist")
    configuration = info.get("Configuration") or {}
    cutoff = configuration.get("BytesScannedCutoffPerQuery")
    report: dict[str, Any] = {
        "engine": "athena",
        "workgroup": workgroup,
        "state": info.get("State", ""),
        "bytes_scanned_cutoff_per_query": None if cutoff is None else int(cutoff),
        "cutoff": None if cutoff is None else _size(int(cutoff)),
        # False: clients may override the result location and encryption (never the cutoff)
        "enforce_configuration": configuration.get("EnforceWorkGroupConfiguration"),
        "max_bytes": max_bytes,
        "status": "ok",
    }
    if report["state"] == "DISABLED":
        raise WorkgroupCutoffError(f"Athena workgroup {workgroup} is DISABLED: no query can run in it")
    if cutoff is None:
        raise WorkgroupCutoffError(
            f"Athena workgroup {workgroup} has no per-query data usage control "
            "(BytesScannedCutoffPerQuery): a query can scan without limit. Set one, e.g. "
            f"aws athena update-work-group --work-group {workgroup} "
            "--configuration-updates BytesScannedCutoffPerQuery=10000000000"
        )
    if max_bytes is not None and int(cutoff) > max_bytes:
        raise WorkgroupCutoffError(
            f"Athena workgroup {workgroup} cuts queries off at {int(cutoff)} bytes ({_size(int(cutoff))}), "
            f"looser than cutoff_max_bytes {max_bytes} ({_size(max_bytes)})"
        )
    return report


@dag(
    schedule=None,
    catchup=False,
    tags=["airlake", "ops"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={
        "cutoff_max_bytes": form_param(
            None,
            type=["null", "integer"],
            minimum=10_000_000,
            title="Largest Athena cutoff (bytes)",
            description="With the athena engine: fail when the workgroup's per-query bytes-scanned "
            "cutoff is above this. Empty: any cutoff passes, a missing one fails.",
        )
    },
)
def lake_healthcheck() -> None:
    @task
    def write_probe(bucket: str, probe_id: str) -> str:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airlake.lake import safe_run_id
        from airlake.store import LakeStore

        store = LakeStore(S3Hook(aws_conn_id="aws_default"), bucket)
        store.ensure_bucket()
        key = f"_health/{safe_run_id(probe_id)}.txt"
        store.put_bytes(key, f"airlake health probe {probe_id}".encode(), content_type="text/plain")
        return key

    @task
    def read_probe(bucket: str, key: str, probe_id: str) -> dict[str, str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id="aws_default")
        body = hook.read_key(key, bucket)
        encryption = (hook.head_object(key, bucket) or {}).get("ServerSideEncryption", "")
        if body != f"airlake health probe {probe_id}" or not encryption:
            raise RuntimeError(f"s3://{bucket}/{key}: read back {body!r} with encryption {encryption!r}")
        return {"key": key, "encryption": encryption}

    @task
    def check_athena_cutoff(
        engine: str, workgroup: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The cost guard of the athena engine: the workgroup's bytes-scanned cutoff, reported."""
        import logging

        engine = engine.strip().lower()
        if engine != "athena":
            return {
                "engine": engine,
                "status": "not_applicable",
                "reason": f"query engine {engine}: no workgroup",
            }

        from airflow.providers.amazon.aws.hooks.athena import AthenaHook
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.errors import is_deterministic

        limit = (params or {}).get("cutoff_max_bytes")
        client = AthenaHook(aws_conn_id="aws_default").get_conn()
        try:
            report = workgroup_cutoff_report(
                client, workgroup, max_bytes=None if limit is None else int(limit)
            )
        except Exception as error:
            if is_deterministic(error):  # no cutoff, unknown workgroup, access denied: retrying won't help
                raise AirflowFailException(str(error)) from error
            raise
        logging.getLogger(__name__).info(
            "Athena workgroup %s cuts off every query at %s bytes (%s)",
            workgroup,
            report["bytes_scanned_cutoff_per_query"],
            report["cutoff"],
        )
        return report

    bucket = LAKE_BUCKET
    key = write_probe(bucket, "{{ run_id }}")
    read_probe(bucket, key, "{{ run_id }}")
    check_athena_cutoff(QUERY_ENGINE, ATHENA_WORKGROUP)


check_params_once(lake_healthcheck())
