"""A contract switched to ``curate: {engine: athena}``: the dataset DAG's curate task is the SQL curate,
and curate -> quality -> catalog -> load of two daily runs gives the same lake (Glue partitions and
their files), quality results and warehouse table as the worker engine (locally the SQL runs on DuckDB)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airlake.contracts import CONTRACTS_DIR_ENV, DEFAULT_CONTRACTS_DIR, get_contract
from airlake.operators.catalog import CatalogOperator
from airlake.operators.curate_athena import EngineCurateOperator
from airlake.operators.load import WarehouseLoadOperator
from airlake.operators.quality import QualityCheckOperator
from airlake.pipeline import curate_task
from airlake.store import LakeStore
from tests.faults.test_chaos import (
    RUN_1,
    RUN_2,
    WAREHOUSE_CONN,
    _context,
    _orders_run_1,
    _orders_run_2,
    _warehouse,
    _warehouse_checksum,
)
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run

DAYS = ((RUN_1, "2026-11-20"), (RUN_2, "2026-11-21"))


def contracts_with_engine(folder: Path, engine: str) -> Path:
    """The demo contracts, with ``curate.engine`` of orders set to ``engine``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in DEFAULT_CONTRACTS_DIR.glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        if document["name"] == "orders":
            document["curate"] = {"engine": engine}
        (folder / path.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def pipeline(store: LakeStore, database: str) -> list[dict[str, Any]]:
    """Two daily runs of the orders stages, each operator executed once; the curate task as the DAG
    factory builds it for the contract."""
    results = []
    land_run(store, "orders", RUN_1, [(".jsonl.gz", jsonl(part)) for part in _orders_run_1()])
    for run_id, day in DAYS:
        if run_id == RUN_2:
            land_run(
                store,
                "orders",
                RUN_2,
                [(".jsonl.gz", jsonl(_orders_run_2()))],
                ingest_date=date(2026, 11, 21),
            )
        lake = {"bucket": store.bucket, "database": database}
        context = _context(run_id, date.fromisoformat(day))
        curate = curate_task(get_contract("orders"), task_id="curate", **lake)
        # its templates as a run without the form's choice renders them locally
        curate.curate_engine, curate.engine = "contract", "duckdb"  # type: ignore[attr-defined]
        summary = curate.execute(context)  # type: ignore[arg-type]
        quality = QualityCheckOperator(task_id="quality", dataset="orders", **lake)
        checked = quality.execute(context)  # type: ignore[arg-type]
        catalog = CatalogOperator(task_id="catalog", dataset="orders", **lake)
        published = catalog.execute({"run_id": run_id})  # type: ignore[arg-type]
        published.pop("database")
        load = WarehouseLoadOperator(
            task_id="load", dataset="orders", bucket=store.bucket, warehouse_conn_id=WAREHOUSE_CONN
        )
        load.execute({"run_id": run_id})  # type: ignore[arg-type]
        manifest = store.get_json(summary["manifest"])
        results.append(
            {
                "operator": type(curate).__name__,
                "engine": manifest.get("engine", "worker"),
                "rows": summary["rows"],
                "quality": checked,
                "catalog": published,
                "unchanged": manifest["unchanged"],
            }
        )
    return results


def lake_state(store: LakeStore, glue: Any, database: str) -> dict[str, list[tuple[str, str]]]:
    """Each Glue partition's files as readers see them: name and sha256 of the bytes."""
    partitions = {}
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName="orders"):
        for partition in page["Partitions"]:
            prefix = partition["StorageDescriptor"]["Location"].removeprefix(f"s3://{store.bucket}/")
            partitions[partition["Values"][0]] = [
                (
                    item.key.rsplit("/", 1)[1],
                    hashlib.sha256(
                        store.client.get_object(Bucket=store.bucket, Key=item.key)["Body"].read()
                    ).hexdigest(),
                )
                for item in store.list(prefix)
            ]
    return dict(sorted(partitions.items()))


def run_engine(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_services, glue) -> dict:
    monkeypatch.setenv(
        CONTRACTS_DIR_ENV, str(contracts_with_engine(tmp_path / f"contracts-{engine}", engine))
    )
    dsn = _warehouse(monkeypatch, local_services)
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), f"airlake-engine-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    database = f"airlake_{uuid.uuid4().hex[:10]}"
    results = pipeline(store, database)
    return {
        "results": results,
        "state": lake_state(store, glue, database),
        "warehouse": _warehouse_checksum(dsn),
    }


def test_an_athena_contract_runs_end_to_end_with_the_results_of_the_worker(
    local_services, glue, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = run_engine("worker", tmp_path, monkeypatch, local_services, glue)
    athena = run_engine("athena", tmp_path, monkeypatch, local_services, glue)

    assert [(r["operator"], r["engine"]) for r in worker["results"]] == [
        ("EngineCurateOperator", "worker")
    ] * 2
    assert [(r["operator"], r["engine"]) for r in athena["results"]] == [
        ("EngineCurateOperator", "duckdb")
    ] * 2
    for name in ("rows", "quality", "catalog", "unchanged"):
        assert [r[name] for r in athena["results"]] == [r[name] for r in worker["results"]], name
    assert athena["state"] == worker["state"]  # the same partitions, files and bytes
    assert athena["warehouse"] == worker["warehouse"]
    assert athena["warehouse"][0] == 130


def test_the_engine_is_the_runs_choice_else_the_contracts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTRACTS_DIR_ENV, str(contracts_with_engine(tmp_path / "c", "athena")))
    orders, payments = get_contract("orders"), get_contract("payments")
    task = curate_task(orders, task_id="curate", bucket="b")

    assert type(task) is EngineCurateOperator and task.dataset == "orders"
    assert {"curate_engine", "engine", "athena_output_location", "workgroup", "dataset"} <= set(
        task.template_fields
    )
    assert task.curate_engine == "{{ params.get('curate_engine') or 'contract' }}"  # the form's param
    assert task.engine == "{{ var.value.get('airlake_query_engine', 'duckdb') }}"
    for choice, contract, engine in [
        ("contract", orders, "athena"),
        ("contract", payments, "worker"),
        ("", payments, "worker"),
        ("worker", orders, "worker"),
        ("athena", payments, "athena"),
    ]:
        task.curate_engine = choice
        assert task.engine_of(contract) == engine, (choice, contract.name)
    task.curate_engine = "spark"
    with pytest.raises(ValueError, match="curate_engine must be"):
        task.engine_of(orders)


def test_a_run_can_curate_a_worker_contract_on_the_query_engine(lake) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(_orders_run_1()[0]))])
    task = curate_task(
        get_contract("orders"), task_id="curate", bucket=lake.bucket, live_locations=Catalog().lookup
    )
    task.curate_engine, task.engine = "athena", "duckdb"  # type: ignore[attr-defined]

    summary = task.execute(_context(RUN_1, date(2026, 11, 20)))  # type: ignore[arg-type]

    assert lake.get_json(summary["manifest"])["engine"] == "duckdb"
    assert summary["rows"]["written"] == len({(o["order_id"]) for o in _orders_run_1()[0]})


def test_an_unknown_query_engine_is_refused(tmp_path) -> None:
    operator = EngineCurateOperator(task_id="curate", dataset="orders", bucket="b", engine="spark")
    with pytest.raises(ValueError, match="engine must be one of"):
        operator.sql_engine(None, tmp_path)
