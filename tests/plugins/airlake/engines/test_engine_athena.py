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


class _WorkGroups:
    """Athena's GetWorkGroup / UpdateWorkGroup for one workgroup (moto has no UpdateWorkGroup)."""

    def __init__(self, cutoff: int | None) -> None:
        self.configuration = {} if cutoff is None else {"BytesScannedCutoffPerQuery": cutoff}
        self.updates: list[dict] = []

    def get_work_group(self, WorkGroup: str) -> dict:
        return {"WorkGroup": {"Name": WorkGroup, "Configuration": dict(self.configuration)}}

    def update_work_group(self, WorkGroup: str, ConfigurationUpdates: dict) -> None:
        self.updates.append({"WorkGroup": WorkGroup, **ConfigurationUpdates})
        self.configuration.update(ConfigurationUpdates)


class _Hook:
    def __init__(self, client: _WorkGroups) -> None:
        self.client = client

    def get_conn(self) -> _WorkGroups:
        return self.client


@pytest.mark.parametrize(
    ("current", "budget", "manage", "updates"),
    [
        (None, 50_000_000, True, [{"WorkGroup": "views", "BytesScannedCutoffPerQuery": 50_000_000}]),
        (10**12, 1_000, True, [{"WorkGroup": "views", "BytesScannedCutoffPerQuery": 10_000_000}]),
        (20_000_000, 50_000_000, True, []),  # already as tight: left alone
        (None, 50_000_000, False, []),  # not managed: a warning only
    ],
)
def test_scan_limit_sets_the_workgroup_cutoff(current, budget, manage, updates) -> None:
    client = _WorkGroups(current)
    engine = AthenaEngine(
        _Hook(client),  # type: ignore[arg-type]
        "db",
        output_location="s3://b/r/",
        workgroup="views",
        manage_workgroup_cutoff=manage,
    )
    engine.apply_scan_limit(budget)
    assert client.updates == updates


def test_every_query_of_a_factory_built_athena_engine_is_encrypted_with_the_lakes_key(athena, lake) -> None:
    """The engine a task builds writes what each query writes (results; curate's CTAS and UNLOAD files)
    with the lake's SSE-KMS key; a query's own encryption still wins."""
    from airlake.engines.factory import build_query_engine
    from airlake.store import LakeStore

    kms_store = LakeStore(lake.hook, lake.bucket, kms_key_id="alias/airlake-lake")
    output = f"s3://{lake.bucket}/athena-results/"
    engine = build_query_engine(
        "athena",
        glue=None,
        store=kms_store,
        database="airlake_db",
        hook_parameters={"aws_conn_id": "aws_default", "log_query": False},
        athena_output_location=output,
        workgroup="primary",
    )

    query_id = engine.submit("select 1")
    configuration = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": "alias/airlake-lake",
    }
    own = engine.submit("select 2", encryption={"EncryptionOption": "SSE_S3"})
    assert athena.get_query_execution(QueryExecutionId=own)["QueryExecution"]["ResultConfiguration"][
        "EncryptionConfiguration"
    ] == {"EncryptionOption": "SSE_S3"}
