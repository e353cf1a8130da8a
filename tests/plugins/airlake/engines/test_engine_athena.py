"""AthenaEngine against moto: moto does not run Athena SQL, so only the submission is checked."""

from __future__ import annotations

import uuid

import boto3
import pytest

from airlake.engines import QueryEngineError
from airlake.engines.athena import AthenaEngine


@pytest.fixture
def athena(local_services):
    return boto3.client("athena", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")


def test_submit_sends_database_workgroup_and_output_location(athena, lake) -> None:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    workgroup = f"airlake-{uuid.uuid4().hex[:8]}"
    output = f"s3://{lake.bucket}/athena-results/"
    athena.create_work_group(
        Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": output}}
    )
    engine = AthenaEngine(
        AthenaHook(aws_conn_id="aws_default", log_query=False),
        "airlake_db",
        output_location=output,
        workgroup=workgroup,
        sleep_time=0,
    )
    sql = "select dt, count(*) as n from orders group by dt"

    query_id = engine.submit(sql)

    assert query_id and engine.query_execution_id == query_id  # kept for on_kill
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Query"] == sql
    assert execution["QueryExecutionContext"]["Database"] == "airlake_db"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{output}{query_id}.csv"
    assert execution["WorkGroup"] == workgroup
    engine.wait(query_id)  # moto reports every query SUCCEEDED
    assert engine.bytes_scanned is not None  # DataScannedInBytes of the query
    engine.on_kill()  # StopQueryExecution on the kept id: accepted


def test_scan_estimate_needs_the_catalog() -> None:
    engine = AthenaEngine(object(), "db", output_location="s3://b/r/")  # type: ignore[arg-type]
    with pytest.raises(QueryEngineError, match="needs glue and s3"):
        engine.estimate_scan_bytes(["db.orders"])
