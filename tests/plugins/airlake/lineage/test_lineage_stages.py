"""The stages' lineage builders (:mod:`airlake.lineage.stages`): from the values their operators hold, what
operators report after real runs against moto and PostgreSQL, and the events a dag.test() run writes through
the file transport."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from airlake import lineage
from airlake.contracts import get_contract
from airlake.lake import manifest_key
from airlake.lineage import Lineage
from tests.plugins.airlake.catalog.catalog_helpers import VERSION_1, write_curate_run
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1
from tests.plugins.airlake.lineage.lineage_helpers import ATHENA, REGION, as_json, dataset_ids, subset
from tests.plugins.airlake.load.load_helpers import parquet_bytes, write_curate_manifest


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
    [source] = [as_json(d) for d in result.inputs]
    [raw] = [as_json(d) for d in result.outputs]
    assert dataset_ids([source]) == [(f"s3://{lake.bucket}", "landing/products")]
    assert subset(source) == landing
    assert dataset_ids([raw]) == [(f"s3://{lake.bucket}", "raw/products")]
    assert subset(raw) == _keys(lake, "raw/products/") == sorted(summary["parts"])
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
    [raw] = [as_json(d) for d in result.inputs]
    curated, quarantine = (as_json(d) for d in result.outputs)
    bucket = f"s3://{lake.bucket}"
    assert dataset_ids([raw]) == [(bucket, "raw/orders")]
    assert subset(raw) == sorted(parts)
    assert dataset_ids([curated, quarantine]) == [(bucket, "curated/orders"), (bucket, "quarantine/orders")]
    written = _keys(lake, "curated/orders/")  # the first run: every curated object is this run's
    assert subset(curated) == written
    assert {key.rsplit("/", 1)[0] + "/" for key in written} == {
        p["location"].removeprefix(f"{bucket}/") for p in summary["partitions"]
    }
    assert subset(quarantine) == _keys(lake, "quarantine/orders/") == [summary["quarantine"]]
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
    [curated] = [as_json(d) for d in result.inputs]
    [table] = [as_json(d) for d in result.outputs]
    manifest = lake.get_json(manifest_key("orders", RUN_1, "curate"))
    files = sorted(f["key"] if isinstance(f, dict) else f for p in manifest["partitions"] for f in p["files"])
    assert dataset_ids([curated]) == [(f"s3://{lake.bucket}", "curated/orders")]
    assert subset(curated) == files
    assert dataset_ids([table]) == [(ATHENA, f"AwsDataCatalog.{database}.orders")]
    published = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]
    assert subset(table) == sorted(p["Values"][0] for p in published) == days
    assert table["facets"]["symlinks"]["identifiers"][0]["name"] == "curated/orders"

    again = CatalogOperator(task_id="catalog", dataset="orders", bucket=lake.bucket, database=database)
    again.execute({"run_id": RUN_1})  # type: ignore[arg-type]
    [table] = [as_json(d) for d in again.get_openlineage_facets_on_complete(None).outputs]
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
    [curated] = [as_json(d) for d in result.inputs]
    [target] = [as_json(d) for d in result.outputs]
    assert subset(curated) == sorted(key for keys in partitions.values() for key in keys)
    host_port, database = pg_database.removeprefix("postgresql://").split("@", 1)[1].split("/")
    assert dataset_ids([target]) == [(f"postgres://{host_port}", f"{database}.public.orders")]
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
    assert dataset_ids(ingest["inputs"]) == [(bucket, "landing/products")]
    assert subset(ingest["inputs"][0]) == sorted(delivery.keys)
    raw = _keys(lake, "raw/products/")
    assert dataset_ids(ingest["outputs"]) == [(bucket, "raw/products")]
    assert subset(ingest["outputs"][0]) == raw

    curate = complete["dataset_products.curate"]
    assert dataset_ids(curate["inputs"]) == [(bucket, "raw/products")]
    assert subset(curate["inputs"][0]) == raw
    assert dataset_ids(curate["outputs"]) == [(bucket, "curated/products"), (bucket, "quarantine/products")]
    curated = _keys(lake, "curated/products/")
    assert subset(curate["outputs"][0]) == curated
    assert subset(curate["outputs"][1]) == _keys(lake, "quarantine/products/")

    quality = complete["dataset_products.quality"]
    assert dataset_ids(quality["inputs"]) == [(bucket, "curated/products")]
    assertions = quality["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [a["assertion"] for a in assertions] == [c.kind for c in get_contract("products").quality.checks]
    assert all(a["success"] for a in assertions)

    catalog = complete["dataset_products.catalog"]
    assert dataset_ids(catalog["outputs"]) == [(ATHENA, f"AwsDataCatalog.{glue_database}.products")]
    published = glue.get_partitions(DatabaseName=glue_database, TableName="products")["Partitions"]
    assert subset(catalog["outputs"][0]) == sorted(p["Values"][0] for p in published)

    load = complete["dataset_products.load"]
    assert subset(load["inputs"][0]) == curated
    host_port, database = pg_database.removeprefix("postgresql://").split("@", 1)[1].split("/")
    assert dataset_ids(load["outputs"]) == [(f"postgres://{host_port}", f"{database}.public.products")]
    parquet_rows = sum(
        pq.read_metadata(
            io.BytesIO(lake.client.get_object(Bucket=lake.bucket, Key=k)["Body"].read())
        ).num_rows
        for k in curated
    )
    assert load["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == parquet_rows
