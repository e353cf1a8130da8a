"""OpenLineage of the stages: dataset naming (as the providers name the same things), the conversion to the
provider's types, what operators report after real runs against moto and PostgreSQL, and the events a
dag.test() run writes through the file transport."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from airflow.sdk import Connection
from openlineage.client.serde import Serde

from airlake import lineage
from airlake.contracts import get_contract
from airlake.lake import manifest_key
from airlake.lineage import Lineage, LineageDataset
from tests.plugins.airlake.catalog.catalog_helpers import VERSION_1, write_curate_run
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1
from tests.plugins.airlake.load.load_helpers import parquet_bytes, write_curate_manifest

REGION = "us-east-1"
ATHENA = "awsathena://athena.us-east-1.amazonaws.com"


def _as_json(dataset: Any) -> dict[str, Any]:
    return json.loads(Serde.to_json(dataset))


def _subset(dataset: dict[str, Any]) -> Any:
    """The ``subset`` facet's condition of a serialized input or output dataset: locations or dt values."""
    facets = {**dataset.get("inputFacets", {}), **dataset.get("outputFacets", {})}
    condition = facets["subset"].get("inputCondition") or facets["subset"].get("outputCondition")
    if condition["type"] == "location":
        return sorted(condition["locations"])
    return sorted(p["dimensions"]["dt"] for p in condition["partitions"])


def _ids(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


# --------------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------------


class TestNaming:
    def test_lake_datasets_are_zone_and_dataset_in_the_bucket_namespace(self) -> None:
        raw = lineage.zone_dataset("lake", "raw", "orders", locations=["raw/orders/a.gz"], rows=2)
        assert (raw.namespace, raw.name, raw.locations, raw.rows) == (
            "s3://lake",
            "raw/orders",
            ("raw/orders/a.gz",),
            2,
        )
        assert lineage.s3_dataset("lake", "/landing/products/").name == "landing/products"

    def test_glue_tables_are_named_as_athena_names_them(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from airflow.providers.amazon.aws.hooks.athena_sql import AthenaSQLHook

        athena = json.dumps({"conn_type": "aws", "extra": {"region_name": REGION}})
        monkeypatch.setenv("AIRFLOW_CONN_ATHENA_DEFAULT", athena)

        table = lineage.table_dataset(
            REGION, "airlake", "orders", storage=("lake", "curated/orders/"), partitions=["2", "1", "2"]
        )
        provider = AthenaSQLHook().get_openlineage_database_info(
            Connection.from_json(athena, conn_id="athena")
        )
        assert table.namespace == f"{provider.scheme}://{provider.authority}" == ATHENA
        assert table.name == f"{provider.database}.airlake.orders" == "AwsDataCatalog.airlake.orders"
        assert table.symlink == ("s3://lake", "curated/orders")
        assert table.partitions == ("1", "2")
        assert lineage.athena_namespace(None) == "awsathena://athena.amazonaws.com"

    def test_qualified_tables_default_to_the_database(self) -> None:
        names = [t.name for t in lineage.qualified_tables(REGION, ["other.a", "b"], "airlake")]
        assert names == ["AwsDataCatalog.other.a", "AwsDataCatalog.airlake.b"]

    def test_postgres_is_named_as_the_postgres_provider_names_it(self) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        connection = Connection(
            conn_id="wh", conn_type="postgres", host="127.0.0.1", port=5433, schema="warehouse", login="u"
        )
        provider = PostgresHook().get_openlineage_database_info(connection)
        assert lineage.database_namespace(connection) == f"postgres://{provider.authority}"
        assert lineage.database_namespace(connection) == "postgres://127.0.0.1:5433"
        no_port = Connection(conn_id="wh", conn_type="postgres", host="db", schema="warehouse")
        assert lineage.database_namespace(no_port) == "postgres://db:5432"
        assert lineage.database_table(connection, "orders").name == "warehouse.public.orders"
        assert lineage.database_table(connection, "sales.orders").name == "warehouse.sales.orders"

    @pytest.mark.parametrize(
        ("host", "extra"),
        [
            pytest.param("airlake.abc123xyz.us-east-1.redshift.amazonaws.com", {}, id="cluster-host"),
            pytest.param("10.0.0.7", {}, id="ip"),
            pytest.param("ignored", {"iam": True, "cluster_identifier": "airlake"}, id="iam-cluster"),
        ],
    )
    def test_redshift_is_named_as_redshift_sql_hook_names_it(self, host: str, extra: dict[str, Any]) -> None:
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        connection = Connection(
            conn_id="wh", conn_type="redshift", host=host, port=5439, schema="dev", extra=json.dumps(extra)
        )
        hook = RedshiftSQLHook(redshift_conn_id="wh", aws_conn_id=None, region_name=REGION)
        if extra.get("iam"):
            provider = f"airlake.{REGION}:5439"  # AwsBaseHook(aws_conn_id).region_name, offline here
        else:
            provider = hook.get_openlineage_database_info(connection).authority
        assert lineage.database_namespace(connection, REGION) == f"redshift://{provider}"
        assert lineage.database_table(connection, "orders", region=REGION).name == "dev.public.orders"

    @pytest.mark.parametrize(
        ("dataset", "described", "expected"),
        [
            pytest.param("products", {}, ("s3://lake", "landing/products"), id="files"),
            pytest.param(
                "clickstream", {}, ("kinesis://kinesis.us-east-1.amazonaws.com", "clickstream"), id="kinesis"
            ),
            pytest.param("payments", {}, ("sqs://sqs.us-east-1.amazonaws.com", "payments"), id="sqs"),
            pytest.param(
                "fx_rates",
                {"url": "http://127.0.0.1:8765/v1/rates?date=2026-11-20&api_key=***"},
                ("http://127.0.0.1:8765", "/v1/rates"),
                id="http",
            ),
        ],
    )
    def test_source_datasets(
        self, dataset: str, described: dict[str, Any], expected: tuple[str, str]
    ) -> None:
        contract = get_contract(dataset)
        if contract.source.kind == "kinesis":
            expected = (expected[0], contract.source.stream_name)
        if contract.source.kind == "sqs":
            expected = (expected[0], contract.source.queue_name)
        source = lineage.source_dataset(contract, described, bucket="lake", region=REGION, keys=["k1"])
        assert (source.namespace, source.name) == expected

    def test_database_source_is_the_source_table(self) -> None:
        contract = get_contract("orders")
        connection = Connection(
            conn_id="shop_db", conn_type="postgres", host="127.0.0.1", port=5433, schema="shop"
        )
        source = lineage.source_dataset(contract, {}, bucket="lake", region=REGION, connection=connection)
        assert (source.namespace, source.name) == ("postgres://127.0.0.1:5433", "shop.public.orders")


# --------------------------------------------------------------------------------------------------
# Conversion to the provider's OperatorLineage
# --------------------------------------------------------------------------------------------------


class TestOperatorLineage:
    def test_nothing_recorded_is_empty_lineage(self) -> None:
        from airflow.providers.openlineage.extractors import OperatorLineage

        assert lineage.operator_lineage(None) == OperatorLineage()

    def test_facets(self) -> None:
        recorded = Lineage(
            inputs=(
                lineage.zone_dataset(
                    "lake", "raw", "orders", locations=["raw/orders/p0.gz"], rows=3, files=1
                ),
                LineageDataset("s3://lake", "curated/orders/dt=1/v=1", dropped=True, files=2),
                LineageDataset(
                    "s3://lake",
                    "curated/orders",
                    assertions=({"assertion": "not_null", "success": False, "column": "id", "actual": "4"},),
                ),
            ),
            outputs=(
                lineage.table_dataset(
                    REGION, "db", "orders", storage=("lake", "curated/orders"), partitions=["1"]
                ),
                lineage.zone_dataset("lake", "curated", "orders", locations=["k"], rows=5, size=9, files=1),
            ),
        )
        result = lineage.operator_lineage(recorded)
        raw, dropped, checked = (_as_json(d) for d in result.inputs)
        table, curated = (_as_json(d) for d in result.outputs)

        assert _subset(raw) == ["raw/orders/p0.gz"]
        assert raw["inputFacets"]["inputStatistics"]["rowCount"] == 3
        assert dropped["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"
        assert "inputStatistics" not in dropped["inputFacets"]
        [assertion] = checked["inputFacets"]["dataQualityAssertions"]["assertions"]
        assert assertion == {**assertion, "assertion": "not_null", "success": False, "column": "id"}
        assert _ids([table]) == [(ATHENA, "AwsDataCatalog.db.orders")]
        assert table["facets"]["symlinks"]["identifiers"] == [
            {"namespace": "s3://lake", "name": "curated/orders", "type": "TABLE"}
        ]
        assert _subset(table) == ["1"]
        assert curated["outputFacets"]["outputStatistics"] == {
            **curated["outputFacets"]["outputStatistics"],
            "rowCount": 5,
            "size": 9,
            "fileCount": 1,
        }

    def test_a_failing_builder_records_nothing_and_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        class BrokenStore:
            bucket = "lake"

            def get_json(self, key: str) -> Any:
                raise ConnectionError("S3 is down")

        with caplog.at_level(logging.WARNING, logger="airlake.lineage"):
            assert lineage.curate_lineage(BrokenStore(), "orders", {"manifest": "m"}) is None  # type: ignore[arg-type]
        assert "curate_lineage failed" in caplog.text


class TestStageBuilders:
    """The builders of the stages not run against moto below, from the values their operators hold."""

    def test_materialise_reads_the_tables_of_its_sql_and_writes_the_view_day(self) -> None:
        sql = "WITH o AS (SELECT * FROM orders) SELECT * FROM o JOIN other.fx_rates r ON true"
        result = {
            "dt": "2026-11-20",
            "rows": 4,
            "bytes": 99,
            "location": "s3://lake/analytics/daily_revenue/dt=2026-11-20/v=1/",
        }
        recorded = lineage.materialise_lineage("lake", "airlake", "daily_revenue", sql, result, region=REGION)
        assert recorded is not None
        assert [(d.namespace, d.name) for d in recorded.inputs] == [
            (ATHENA, "AwsDataCatalog.airlake.orders"),
            (ATHENA, "AwsDataCatalog.other.fx_rates"),
        ]
        written, table = recorded.outputs
        assert (written.name, written.locations, written.rows) == (
            "analytics/daily_revenue",
            ("analytics/daily_revenue/dt=2026-11-20/v=1/",),
            4,
        )
        assert (table.name, table.partitions, table.symlink) == (
            "AwsDataCatalog.airlake.daily_revenue",
            ("2026-11-20",),
            ("s3://lake", "analytics/daily_revenue"),
        )

    def test_report_reads_the_view_tables_and_writes_the_week(self) -> None:
        queries = ["SELECT * FROM daily_revenue", "SELECT * FROM funnel_daily JOIN daily_revenue USING (dt)"]
        keys = {"json": "reports/business/week=2026-11-16/report.json", "html": "x/report.html"}
        recorded = lineage.report_lineage("lake", "airlake", queries, keys.values(), region=REGION)
        assert recorded is not None
        assert [d.name for d in recorded.inputs] == [
            "AwsDataCatalog.airlake.daily_revenue",
            "AwsDataCatalog.airlake.funnel_daily",
        ]
        [report] = recorded.outputs
        assert (report.name, report.locations) == ("reports/business", tuple(sorted(keys.values())))

    def test_quality_asserts_each_contract_check_on_the_files_checked(self) -> None:
        from airlake.quality.checks import CheckResult

        contract = get_contract("products")
        results = [
            CheckResult(check=f"check{i}", passed=i != 1, observed=i, detail="")
            for i, _ in enumerate(contract.quality.checks)
        ]
        keys = {"2026-11-20": ["curated/products/dt=2026-11-20/v=1/part-00000.parquet"], "2026-11-19": ["a"]}
        recorded = lineage.quality_lineage(contract, "lake", keys, results)
        assert recorded is not None
        [checked] = recorded.inputs
        assert checked.locations == ("a", "curated/products/dt=2026-11-20/v=1/part-00000.parquet")
        assert [(a["assertion"], a["column"], a["success"]) for a in checked.assertions] == [
            ("unique", "product_id", True),
            ("not_null", "name", False),
            ("range", "price", True),
            ("accepted_values", "currency", True),
            ("row_count_min", None, True),
        ]

    def test_cleanup_drops_each_deleted_version_and_a_dry_run_nothing(self) -> None:
        deleted = {"prefix": "curated/orders/dt=2026-11-19/v=1/", "objects": 2, "bytes": 10}
        results = {"orders": {"deleted": [deleted]}, "products": {"deleted": []}}
        recorded = lineage.cleanup_lineage("lake", results, dry_run=False)
        assert recorded is not None
        [dropped] = recorded.inputs
        assert (dropped.name, dropped.dropped, dropped.files) == ("curated/orders/dt=2026-11-19/v=1", True, 2)
        assert lineage.cleanup_lineage("lake", results, dry_run=True) == Lineage()

    def test_compaction_reads_the_old_versions_and_writes_the_new_ones(self) -> None:
        entry = {
            "dt": "2026-11-19",
            "previous_location": "s3://lake/curated/orders/dt=2026-11-19/v=1",
            "location": "s3://lake/curated/orders/dt=2026-11-19/v=2/",
            "files": ["curated/orders/dt=2026-11-19/v=2/part-00000.parquet"],
            "rows": 7,
            "bytes_after": 70,
        }
        results = {"orders": {"compacted": [entry]}, "products": {"compacted": []}}
        recorded = lineage.compaction_lineage("lake", "airlake", results, dry_run=False, region=REGION)
        assert recorded is not None
        [read] = recorded.inputs
        written, table = recorded.outputs
        assert read.locations == ("curated/orders/dt=2026-11-19/v=1/",)
        assert (written.locations, written.rows) == (tuple(entry["files"]), 7)
        assert (table.name, table.partitions) == ("AwsDataCatalog.airlake.orders", ("2026-11-19",))
        assert lineage.compaction_lineage("lake", "db", results, dry_run=True, region=REGION) == Lineage()

    def test_storage_report_writes_its_two_files(self) -> None:
        recorded = lineage.storage_report_lineage("lake", ["reports/storage/d/report.json", "r.html"])
        assert recorded is not None
        assert [(d.name, d.locations) for d in recorded.outputs] == [
            ("reports/storage", ("r.html", "reports/storage/d/report.json"))
        ]


# --------------------------------------------------------------------------------------------------
# Operators against moto and PostgreSQL: lineage names exactly what the run read and wrote
# --------------------------------------------------------------------------------------------------


def _keys(lake: Any, prefix: str) -> list[str]:
    return sorted(obj.key for obj in lake.list(prefix))


def test_ingest_reports_the_landing_files_read_and_the_raw_parts_written(lake) -> None:
    from airlake.operators.ingest import IngestOperator

    run_id = "scheduled__2026-11-20T00:00:00+00:00"
    landing = ["landing/products/2026-11-20/a.csv", "landing/products/2026-11-20/b.csv"]
    for key in landing:
        lake.put_bytes(key, b"product_id,name\np-1,x\n")
    operator = IngestOperator(task_id="ingest", dataset="products", bucket=lake.bucket)
    context = {
        "run_id": run_id,
        "data_interval_start": datetime(2026, 11, 20, tzinfo=UTC),
        "data_interval_end": datetime(2026, 11, 21, tzinfo=UTC),
    }
    summary = operator.execute(context)  # type: ignore[arg-type]

    result = operator.get_openlineage_facets_on_complete(None)
    [source] = [_as_json(d) for d in result.inputs]
    [raw] = [_as_json(d) for d in result.outputs]
    assert _ids([source]) == [(f"s3://{lake.bucket}", "landing/products")]
    assert _subset(source) == landing
    assert _ids([raw]) == [(f"s3://{lake.bucket}", "raw/products")]
    assert _subset(raw) == _keys(lake, "raw/products/") == sorted(summary["parts"])
    assert raw["outputFacets"]["outputStatistics"]["rowCount"] == summary["rows"] == 2

    rerun = IngestOperator(task_id="ingest", dataset="products", bucket=lake.bucket)
    assert rerun.execute(context)["skipped"]  # type: ignore[arg-type]
    empty = rerun.get_openlineage_facets_on_complete(None)
    assert (empty.inputs, empty.outputs) == ([], [])  # raw is never rewritten: nothing read or written


def test_curate_reports_the_raw_parts_read_and_the_versions_and_rejects_written(lake) -> None:
    from airlake.operators.curate import CurateOperator

    parts = land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl([*ORDERS_DAY_1, "not json"]))])
    operator = CurateOperator(
        task_id="curate",
        dataset="orders",
        bucket=lake.bucket,
        live_locations=Catalog().lookup,
        reject_rate_max=0.5,
    )
    assert operator.get_openlineage_facets_on_complete(None).outputs == []  # before execute: nothing
    summary = operator.execute(
        {
            "run_id": RUN_1,
            "data_interval_start": datetime(2026, 11, 20, tzinfo=UTC),
            "data_interval_end": datetime(2026, 11, 21, tzinfo=UTC),
        }
    )  # type: ignore[arg-type]

    result = operator.get_openlineage_facets_on_complete(None)
    [raw] = [_as_json(d) for d in result.inputs]
    curated, quarantine = (_as_json(d) for d in result.outputs)
    bucket = f"s3://{lake.bucket}"
    assert _ids([raw]) == [(bucket, "raw/orders")]
    assert _subset(raw) == sorted(parts)
    assert _ids([curated, quarantine]) == [(bucket, "curated/orders"), (bucket, "quarantine/orders")]
    written = _keys(lake, "curated/orders/")  # the first run: every curated object is this run's
    assert _subset(curated) == written
    assert {key.rsplit("/", 1)[0] + "/" for key in written} == {
        p["location"].removeprefix(f"{bucket}/") for p in summary["partitions"]
    }
    assert _subset(quarantine) == _keys(lake, "quarantine/orders/") == [summary["quarantine"]]
    rows = summary["rows"]
    assert raw["inputFacets"]["inputStatistics"]["rowCount"] == rows["read"]
    assert curated["outputFacets"]["outputStatistics"]["rowCount"] == rows["output"]
    assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == rows["quarantined"] == 1


def test_catalog_reports_the_files_catalogued_and_the_partitions_published(lake, glue, database) -> None:
    from airlake.operators.catalog import CatalogOperator

    days = ["2026-11-19", "2026-11-20"]
    write_curate_run(lake, get_contract("orders"), RUN_1, days, VERSION_1)
    operator = CatalogOperator(task_id="catalog", dataset="orders", bucket=lake.bucket, database=database)
    operator.execute({"run_id": RUN_1})  # type: ignore[arg-type]

    result = operator.get_openlineage_facets_on_complete(None)
    [curated] = [_as_json(d) for d in result.inputs]
    [table] = [_as_json(d) for d in result.outputs]
    manifest = lake.get_json(manifest_key("orders", RUN_1, "curate"))
    files = sorted(f["key"] if isinstance(f, dict) else f for p in manifest["partitions"] for f in p["files"])
    assert _ids([curated]) == [(f"s3://{lake.bucket}", "curated/orders")]
    assert _subset(curated) == files
    assert _ids([table]) == [(ATHENA, f"AwsDataCatalog.{database}.orders")]
    published = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]
    assert _subset(table) == sorted(p["Values"][0] for p in published) == days
    assert table["facets"]["symlinks"]["identifiers"][0]["name"] == "curated/orders"

    again = CatalogOperator(task_id="catalog", dataset="orders", bucket=lake.bucket, database=database)
    again.execute({"run_id": RUN_1})  # type: ignore[arg-type]
    [table] = [_as_json(d) for d in again.get_openlineage_facets_on_complete(None).outputs]
    assert "subset" not in table["outputFacets"]  # every partition already there: none published


def test_load_reports_the_files_loaded_and_the_warehouse_table(lake, pg_database, monkeypatch) -> None:
    from airlake.operators.load import WarehouseLoadOperator

    contract = get_contract("orders")
    moment = datetime(2026, 11, 20, 9, tzinfo=UTC)
    row = {
        "order_id": 1,
        "customer_id": 7,
        "product_id": "p-1",
        "quantity": 1,
        "amount": Decimal("9.99"),
        "currency": "EUR",
        "country": "DE",
        "status": "placed",
        "ordered_at": moment,
        "updated_at": moment,
        "coupon_code": None,
    }
    partitions = {}
    for day, ids in (("2026-11-19", [1, 2]), ("2026-11-20", [3])):
        key = f"curated/orders/dt={day}/v=20261121T000000000000Z/part-00000.parquet"
        lake.put_bytes(key, parquet_bytes(contract, [{**row, "order_id": i} for i in ids]))
        partitions[day] = [key]
    write_curate_manifest(lake, "orders", RUN_1, partitions)
    monkeypatch.setenv(
        "AIRFLOW_CONN_LINEAGE_WAREHOUSE", pg_database.replace("postgresql://", "postgres://", 1)
    )
    operator = WarehouseLoadOperator(
        task_id="load", dataset="orders", bucket=lake.bucket, warehouse_conn_id="lineage_warehouse"
    )
    operator.execute({"run_id": RUN_1})  # type: ignore[arg-type]

    result = operator.get_openlineage_facets_on_complete(None)
    [curated] = [_as_json(d) for d in result.inputs]
    [target] = [_as_json(d) for d in result.outputs]
    assert _subset(curated) == sorted(key for keys in partitions.values() for key in keys)
    host_port, database = pg_database.removeprefix("postgresql://").split("@", 1)[1].split("/")
    assert _ids([target]) == [(f"postgres://{host_port}", f"{database}.public.orders")]
    with psycopg.connect(pg_database) as conn:
        loaded = conn.execute("select count(*) from public.orders").fetchone()[0]
    assert target["outputFacets"]["outputStatistics"]["rowCount"] == loaded == 3


# --------------------------------------------------------------------------------------------------
# dag.test() with the provider's listener and the file transport (as env.sh configures the local stack)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def lineage_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """OpenLineage on for one test: the file transport into tmp_path, and a fresh provider listener on the
    Task SDK's listener manager, which dag.test() calls in this process. A listener the plugin registered
    at start-up (OpenLineage configured in the environment) is set aside meanwhile: its client may already
    point elsewhere. Emission runs in a thread rather than in a fork of the test process."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener, get_openlineage_listener
    from airflow.sdk.listener import get_listener_manager

    path = tmp_path / "lineage" / "events.jsonl"  # the folder does not exist: auto_mkdir creates it
    transport = {
        "type": "file",
        "log_file_path": str(path),
        "append": True,
        "filesystem": "fsspec.implementations.local.LocalFileSystem",
        "fs_kwargs": {"auto_mkdir": True},
    }
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "airlake-test")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__DISABLED", "False")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD", "True")
    assert not ol_conf.is_disabled()  # the provider does not cache its settings under pytest
    manager = get_listener_manager()
    set_aside = [p for p in manager.pm.get_plugins() if isinstance(p, OpenLineageListener)]
    for plugin in set_aside:
        manager.pm.unregister(plugin)
    listener = get_openlineage_listener()
    manager.add_listener(listener)
    try:
        yield path
    finally:
        manager.pm.unregister(listener)
        for plugin in set_aside:
            manager.add_listener(plugin)


def test_a_dag_run_writes_complete_events_naming_what_each_stage_read_and_wrote(
    local_services, lake, airflow_db, pg_database, glue, lineage_events, monkeypatch
) -> None:
    import importlib

    from include.demo import publish
    from tests.helpers import run_dag_test

    glue_database = f"airlake_{lake.bucket.rsplit('-', 1)[1]}"
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_BUCKET", lake.bucket)
    monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", glue_database)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRLAKE_WAREHOUSE", pg_database.replace("postgresql://", "postgres://", 1)
    )
    delivery = publish.publish_products(date(2026, 11, 20), lake.client, lake.bucket)
    dag = importlib.import_module("airlake_datasets").dataset_products
    logical_date = datetime(2026, 11, 21, tzinfo=UTC)
    assert run_dag_test(dag, logical_date=logical_date, run_after=logical_date).state == "success"

    events = [json.loads(line) for line in lineage_events.read_text().splitlines()]
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    assert {e["job"]["namespace"] for e in events} == {"airlake-test"}
    bucket = f"s3://{lake.bucket}"

    ingest = complete["dataset_products.ingest"]
    assert _ids(ingest["inputs"]) == [(bucket, "landing/products")]
    assert _subset(ingest["inputs"][0]) == sorted(delivery.keys)
    raw = _keys(lake, "raw/products/")
    assert _ids(ingest["outputs"]) == [(bucket, "raw/products")]
    assert _subset(ingest["outputs"][0]) == raw

    curate = complete["dataset_products.curate"]
    assert _ids(curate["inputs"]) == [(bucket, "raw/products")]
    assert _subset(curate["inputs"][0]) == raw
    assert _ids(curate["outputs"]) == [(bucket, "curated/products"), (bucket, "quarantine/products")]
    curated = _keys(lake, "curated/products/")
    assert _subset(curate["outputs"][0]) == curated
    assert _subset(curate["outputs"][1]) == _keys(lake, "quarantine/products/")

    quality = complete["dataset_products.quality"]
    assert _ids(quality["inputs"]) == [(bucket, "curated/products")]
    assertions = quality["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [a["assertion"] for a in assertions] == [c.kind for c in get_contract("products").quality.checks]
    assert all(a["success"] for a in assertions)

    catalog = complete["dataset_products.catalog"]
    assert _ids(catalog["outputs"]) == [(ATHENA, f"AwsDataCatalog.{glue_database}.products")]
    published = glue.get_partitions(DatabaseName=glue_database, TableName="products")["Partitions"]
    assert _subset(catalog["outputs"][0]) == sorted(p["Values"][0] for p in published)

    load = complete["dataset_products.load"]
    assert _subset(load["inputs"][0]) == curated
    host_port, database = pg_database.removeprefix("postgresql://").split("@", 1)[1].split("/")
    assert _ids(load["outputs"]) == [(f"postgres://{host_port}", f"{database}.public.products")]
    parquet_rows = sum(
        pq.read_metadata(
            io.BytesIO(lake.client.get_object(Bucket=lake.bucket, Key=k)["Body"].read())
        ).num_rows
        for k in curated
    )
    assert load["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == parquet_rows
