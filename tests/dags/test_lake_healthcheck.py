"""The health-check DAG: an encrypted S3 round trip, and the Athena workgroup's bytes-scanned cutoff.

Both against the session's moto server (S3 and Athena workgroups): one DAG run with the athena engine
and a workgroup that has a cutoff; the other cases call the check and the task's own callable.
"""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import run_dag_test

CUTOFF = 10_000_000_000  # 10 GB


@pytest.fixture(scope="module")
def healthcheck() -> Any:
    return importlib.import_module("lake_healthcheck")


@pytest.fixture
def athena(local_services: Any) -> Any:
    import boto3

    return boto3.client("athena", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")


def new_workgroup(athena: Any, configuration: dict[str, Any]) -> str:
    name = f"airlake-{uuid.uuid4().hex[:10]}"
    athena.create_work_group(Name=name, Configuration=configuration, Description="airlake tests")
    return name


def xcom(run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, key="return_value", dag_ids=run.dag_id, task_ids=task_id
        )
        row = session.scalars(query).first()
        assert row is not None, f"{task_id} pushed no return value"
        return XComModel.deserialize_value(row)


def test_lake_healthcheck_round_trips_an_object_and_reports_the_cutoff(
    lake, airflow_db, athena, healthcheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    workgroup = new_workgroup(
        athena, {"BytesScannedCutoffPerQuery": CUTOFF, "EnforceWorkGroupConfiguration": True}
    )
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_BUCKET", lake.bucket)
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_QUERY_ENGINE", "athena")
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_ATHENA_WORKGROUP", workgroup)
    dag = healthcheck.lake_healthcheck()

    moment = datetime(2026, 11, 21, 12, tzinfo=UTC)
    run = run_dag_test(dag, logical_date=moment, run_after=moment, run_conf={"cutoff_max_bytes": CUTOFF})

    assert run.state == "success"
    [probe] = list(lake.list("_health/"))
    body = lake.client.get_object(Bucket=lake.bucket, Key=probe.key)["Body"].read().decode()
    assert body == f"airlake health probe {run.run_id}"
    assert lake.head(probe.key)["ServerSideEncryption"] == "AES256"
    assert xcom(run, "check_athena_cutoff") == {
        "engine": "athena",
        "workgroup": workgroup,
        "state": "ENABLED",
        "bytes_scanned_cutoff_per_query": CUTOFF,
        "cutoff": "10.0 GB",
        "enforce_configuration": True,
        "max_bytes": CUTOFF,
        "status": "ok",
    }


def test_a_workgroup_without_a_cutoff_fails(athena, healthcheck) -> None:
    workgroup = new_workgroup(athena, {"EnforceWorkGroupConfiguration": True})
    with pytest.raises(
        healthcheck.WorkgroupCutoffError, match=f"{workgroup} has no per-query data usage control"
    ):
        healthcheck.workgroup_cutoff_report(athena, workgroup)


def test_a_cutoff_looser_than_the_maximum_fails(athena, healthcheck) -> None:
    workgroup = new_workgroup(
        athena, {"BytesScannedCutoffPerQuery": 2 * CUTOFF, "EnforceWorkGroupConfiguration": False}
    )
    report = healthcheck.workgroup_cutoff_report(athena, workgroup)
    assert (report["bytes_scanned_cutoff_per_query"], report["cutoff"]) == (2 * CUTOFF, "20.0 GB")
    assert report["enforce_configuration"] is False
    with pytest.raises(healthcheck.WorkgroupCutoffError, match=r"20000000000 bytes \(20.0 GB\), looser than"):
        healthcheck.workgroup_cutoff_report(athena, workgroup, max_bytes=CUTOFF)


def _check_task(healthcheck: Any) -> Any:
    return healthcheck.lake_healthcheck().get_task("check_athena_cutoff").python_callable


def test_the_task_fails_at_once_without_a_cutoff_and_names_the_workgroup(athena, healthcheck) -> None:
    """Through the provider's AthenaHook (aws_default -> moto): no retry of a deterministic failure."""
    from airflow.sdk.exceptions import AirflowFailException

    check = _check_task(healthcheck)
    unset = new_workgroup(athena, {})
    with pytest.raises(AirflowFailException, match=f"workgroup {unset} has no per-query data usage control"):
        check("athena", unset, params={"cutoff_max_bytes": None})
    with pytest.raises(AirflowFailException, match="workgroup nope-missing does not exist"):
        check("athena", "nope-missing", params={})
    guarded = new_workgroup(athena, {"BytesScannedCutoffPerQuery": CUTOFF})
    assert (
        check("athena", guarded, params={"cutoff_max_bytes": None})["bytes_scanned_cutoff_per_query"]
        == CUTOFF
    )


def test_the_task_passes_without_athena(healthcheck) -> None:
    report = _check_task(healthcheck)("duckdb", "primary", params={})
    assert report == {
        "engine": "duckdb",
        "status": "not_applicable",
        "reason": "query engine duckdb: no workgroup",
    }
