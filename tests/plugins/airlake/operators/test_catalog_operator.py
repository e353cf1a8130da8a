"""CatalogOperator end to end against the session's moto server: curate manifest in, Glue catalog out."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from airlake.assets import curated_asset
from airlake.catalog import ParquetSchemaError, SchemaEvolutionError
from airlake.contracts import get_contract
from airlake.lake import manifest_key
from airlake.operators.catalog import CatalogOperator
from airlake.pipeline import GLUE_DATABASE
from tests.plugins.airlake.catalog.catalog_helpers import (
    VERSION_1,
    VERSION_2,
    location,
    parquet_bytes,
    partitions_of,
    retyped,
    sample_table,
    version_key,
    write_curate_run,
)

RUN_1 = "scheduled__2026-11-21T00:00:00+00:00"
RUN_2 = "scheduled__2026-11-22T00:00:00+00:00"
DAYS = ["2026-11-19", "2026-11-20"]


def _operator(lake, database: str, **kwargs: Any) -> CatalogOperator:
    return CatalogOperator(
        task_id="catalog", dataset="orders", bucket=lake.bucket, database=database, **kwargs
    )


def _run(operator: CatalogOperator, run_id: str) -> dict[str, Any]:
    return operator.execute({"run_id": run_id})  # type: ignore[arg-type]


def test_template_fields_are_the_arguments() -> None:
    operator = CatalogOperator(task_id="catalog", dataset="orders", bucket="b", database=GLUE_DATABASE)
    assert set(operator.template_fields) >= {"dataset", "bucket", "database", "aws_conn_id", "region_name"}
    for name in operator.template_fields:
        assert hasattr(operator, name), name
    assert operator.database == GLUE_DATABASE  # kept as given; rendered at run time


def test_first_run_creates_table_and_partitions(lake, glue, database) -> None:
    contract = get_contract("orders")
    write_curate_run(lake, contract, RUN_1, DAYS, VERSION_1)

    result = _run(_operator(lake, database), RUN_1)

    assert result == {
        "database": database,
        "table": "orders",
        "table_change": "created",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "crawler": None,
    }
    table = glue.get_table(DatabaseName=database, Name="orders")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        (c.name, c.glue_type) for c in contract.columns
    ]
    assert table["PartitionKeys"][0]["Name"] == "dt"
    assert partitions_of(glue, database, "orders") == {
        day: location(lake.bucket, "orders", day, VERSION_1) for day in DAYS
    }
    written = lake.get_json(manifest_key("orders", RUN_1, "catalog"))
    assert written["stage"] == "catalog"
    assert written["status"] == "complete"
    assert written["table_change"]["action"] == "created"
    assert written["partitions"] == {"created": DAYS, "updated": [], "unchanged": []}
    assert written["schema_checked_file"] == (
        f"s3://{lake.bucket}/curated/orders/dt={DAYS[0]}/v={VERSION_1}/part-00000.parquet"
    )
    assert [o["dt"] for o in written["outputs"]] == DAYS
    assert written["inputs"] == [{"key": manifest_key("orders", RUN_1, "curate")}]


def test_rerun_is_a_no_op_and_next_version_moves_one_partition(lake, glue, database) -> None:
    contract = get_contract("orders")
    write_curate_run(lake, contract, RUN_1, DAYS, VERSION_1)
    _run(_operator(lake, database), RUN_1)

    again = _run(_operator(lake, database), RUN_1)
    assert (again["table_change"], again["created"], again["updated"], again["unchanged"]) == (
        "unchanged",
        0,
        0,
        2,
    )

    live = partitions_of(glue, database, "orders")
    write_curate_run(lake, contract, RUN_2, DAYS[1:], VERSION_2, live=live)
    result = _run(_operator(lake, database), RUN_2)

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 0)
    assert partitions_of(glue, database, "orders") == {
        DAYS[0]: location(lake.bucket, "orders", DAYS[0], VERSION_1),
        DAYS[1]: location(lake.bucket, "orders", DAYS[1], VERSION_2),
    }
    assert lake.get_json(manifest_key("orders", RUN_2, "catalog"))["partitions"]["updated"] == [
        {
            "dt": DAYS[1],
            "previous_location": live[DAYS[1]],
            "location": live[DAYS[1]].replace(VERSION_1, VERSION_2),
        }
    ]


def test_run_without_partitions_still_ensures_the_table(lake, glue, database) -> None:
    write_curate_run(lake, get_contract("orders"), RUN_1, [], VERSION_1)
    result = _run(_operator(lake, database), RUN_1)
    assert (result["table_change"], result["created"]) == ("created", 0)
    assert partitions_of(glue, database, "orders") == {}


def test_file_not_matching_the_table_is_not_registered(lake, glue, database) -> None:
    contract = get_contract("orders")
    schema = contract.arrow_schema()
    wrong = schema.set(schema.get_field_index("quantity"), pa.field("quantity", pa.string()))
    write_curate_run(lake, contract, RUN_1, DAYS, VERSION_1, schema=wrong)

    with pytest.raises(ParquetSchemaError, match="column 'quantity': expected int, found string"):
        _run(_operator(lake, database), RUN_1)

    assert partitions_of(glue, database, "orders") == {}
    assert not lake.exists(manifest_key("orders", RUN_1, "catalog"))


def test_incompatible_contract_change_fails_the_task(lake, glue, database, monkeypatch) -> None:
    contract = get_contract("orders")
    write_curate_run(lake, contract, RUN_1, DAYS, VERSION_1)
    _run(_operator(lake, database), RUN_1)

    narrowed = retyped(contract, "amount", "int")
    monkeypatch.setattr("airlake.contracts.get_contract", lambda name, folder=None: narrowed)
    with pytest.raises(SchemaEvolutionError, match=r"column 'amount': decimal\(12,2\) -> int \(narrowing"):
        _run(_operator(lake, database), RUN_1)


def test_missing_curate_manifest_fails_clearly(lake, database) -> None:
    with pytest.raises(FileNotFoundError, match=r"no curate manifest .*/_manifests/orders/.*/curate\.json"):
        _run(_operator(lake, database), RUN_1)


@pytest.mark.parametrize("status", ["failed", None])
def test_a_curate_record_that_is_not_complete_publishes_nothing(lake, database, status) -> None:
    """The one rule of catalog, quality and load: complete means status 'complete' (none is not)."""
    document = write_curate_run(lake, get_contract("orders"), RUN_1, DAYS, VERSION_1)
    if status is None:
        del document["status"]
    else:
        document["status"] = status
    lake.put_json(manifest_key("orders", RUN_1, "curate"), document)

    with pytest.raises(ValueError, match=f"has status {status!r}, not 'complete'"):
        _run(_operator(lake, database), RUN_1)
    assert not lake.exists(manifest_key("orders", RUN_1, "catalog"))


def test_crawler_option_creates_and_starts_a_crawler(lake, glue, database) -> None:
    write_curate_run(lake, get_contract("orders"), RUN_1, DAYS, VERSION_1)
    operator = _operator(
        lake, database, use_crawler=True, crawler_role="AirlakeCrawler", wait_for_crawler=False
    )

    result = _run(operator, RUN_1)

    name = f"airlake-{database}-orders"
    assert result["crawler"] == name
    crawler = glue.get_crawler(Name=name)["Crawler"]
    assert crawler["DatabaseName"] == database
    assert crawler["Role"] == "AirlakeCrawler"
    assert crawler["Targets"]["S3Targets"][0]["Path"] == f"s3://{lake.bucket}/curated/orders/"
    assert crawler["State"] == "RUNNING"  # moto never finishes a crawl
    assert glue.get_table(DatabaseName=database, Name="orders")["Table"]["Name"] == "orders"
    assert partitions_of(glue, database, "orders") == {}  # left to the crawler
    assert _run(operator, RUN_1)["crawler"] == name  # already running: the current crawl is used


def test_crawler_option_needs_a_role(lake, database) -> None:
    write_curate_run(lake, get_contract("orders"), RUN_1, DAYS, VERSION_1)
    with pytest.raises(ValueError, match="crawler_role"):
        _run(_operator(lake, database, use_crawler=True, wait_for_crawler=False), RUN_1)


@pytest.mark.parametrize(
    ("variable", "expected"),
    [pytest.param(True, None, id="variable-set"), pytest.param(False, "airlake", id="default")],
)
def test_database_template_renders_from_the_variable(
    lake, glue, database, monkeypatch, variable: bool, expected: str | None
) -> None:
    from airflow.sdk.execution_time.context import VariableAccessor

    if variable:
        monkeypatch.setenv("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", database)
    else:
        monkeypatch.delenv("AIRFLOW_VAR_AIRLAKE_GLUE_DATABASE", raising=False)
    operator = CatalogOperator(
        task_id="catalog", dataset="orders", bucket=lake.bucket, database=GLUE_DATABASE
    )

    operator.render_template_fields({"var": {"value": VariableAccessor(deserialize_json=False)}})  # type: ignore[typeddict-item]

    assert operator.database == (expected or database)
    if variable:
        write_curate_run(lake, get_contract("orders"), RUN_1, DAYS, VERSION_1)
        assert _run(operator, RUN_1)["database"] == database
        assert set(partitions_of(glue, database, "orders")) == set(DAYS)


def test_the_asset_event_names_the_changed_days_and_the_dates_their_files_hold(lake, database) -> None:
    contract = get_contract("fx_rates")
    days = ["2026-11-21", "2026-11-24"]
    write_curate_run(lake, contract, RUN_1, days, VERSION_1)
    rates = {  # 11-24's partition holds its own rates and a correction of 11-21's, published on 11-24
        "2026-11-21": [dt.date(2026, 11, 21)] * 3,
        "2026-11-24": [dt.date(2026, 11, 24), dt.date(2026, 11, 21), dt.date(2026, 11, 24)],
    }
    for day, rate_dates in rates.items():
        table = sample_table(contract.arrow_schema())
        table = table.set_column(table.schema.get_field_index("rate_date"), "rate_date", pa.array(rate_dates))
        lake.put_bytes(version_key("fx_rates", day, VERSION_1), parquet_bytes(table))
    asset = curated_asset("fx_rates")
    events: defaultdict[Any, SimpleNamespace] = defaultdict(SimpleNamespace)
    operator = CatalogOperator(
        task_id="catalog", dataset="fx_rates", bucket=lake.bucket, database=database, outlets=[asset]
    )

    operator.execute({"run_id": RUN_1, "outlet_events": events})  # type: ignore[arg-type]

    assert events[asset].extra == {
        "dataset": "fx_rates",
        "partitions": days,
        "dates": {"rate_date": [["2026-11-21", "2026-11-21"], ["2026-11-21", "2026-11-24"]]},
    }
    operator.execute({"run_id": RUN_1, "outlet_events": events})  # a rerun changes nothing
    assert events[asset].extra == {"dataset": "fx_rates", "partitions": []}

    orders = curated_asset("orders")
    write_curate_run(lake, get_contract("orders"), RUN_2, ["2026-11-22"], VERSION_2)
    _operator(lake, database, outlets=[orders]).execute({"run_id": RUN_2, "outlet_events": events})  # type: ignore[arg-type]
    assert events[orders].extra == {"dataset": "orders", "partitions": ["2026-11-22"]}  # no date columns
