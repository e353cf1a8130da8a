"""Dataset contracts: the demo contracts load, bad contracts fail with file + field path + reason."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

from airlake.contracts import (
    CONTRACTS_DIR_ENV,
    DEFAULT_CONTRACTS_DIR,
    JSON_SCHEMA_PATH,
    PROJECT_ROOT,
    Contract,
    ContractError,
    DatabaseSource,
    FilesSource,
    HttpSource,
    KinesisSource,
    SqsSource,
    get_contract,
    json_schema,
    load_contract,
    load_contracts,
    render_json_schema,
)
from tests.plugins.airlake.contracts.contract_helpers import BASE, DEMO_DATASETS, mutate, write

# --------------------------------------------------------------------------------------------------
# Demo contracts
# --------------------------------------------------------------------------------------------------


def test_the_base_contract_of_these_tests_is_valid(tmp_path):
    contract = load_contract(write(tmp_path, BASE))
    assert contract.name == "widgets"
    assert contract.dedup.keys == ("widget_id",)  # defaults to the primary key
    assert contract.warehouse is not None
    assert contract.warehouse.keys == ("widget_id",)


def test_all_demo_contracts_load():
    contracts = load_contracts(DEFAULT_CONTRACTS_DIR)
    assert sorted(contracts) == list(DEMO_DATASETS)
    for name, contract in contracts.items():
        assert contract.name == name
        assert contract.owner
        assert contract.description
        assert contract.quality.checks
        assert contract.warehouse is not None


@pytest.mark.parametrize(
    ("name", "source_type", "primary_key", "event_time", "keep", "order_by", "mode"),
    [
        pytest.param("orders", DatabaseSource, ("order_id",), "ordered_at", "latest", "updated_at", "merge", id="orders"),
        pytest.param(
            "clickstream", KinesisSource, ("event_id",), "event_time", "first", "event_time", "partition_replace",
            id="clickstream",
        ),
        pytest.param("products", FilesSource, ("product_id",), "updated_at", "latest", "updated_at", "merge", id="products"),
        pytest.param(
            "fx_rates", HttpSource, ("rate_date", "base_currency", "quote_currency"), "published_at", "latest",
            "published_at", "merge", id="fx_rates",
        ),
        pytest.param("payments", SqsSource, ("payment_id",), "event_time", "latest", "event_time", "merge", id="payments"),
    ],
)  # fmt: skip
def test_demo_contract_shape(name, source_type, primary_key, event_time, keep, order_by, mode):
    contract = load_contracts(DEFAULT_CONTRACTS_DIR)[name]
    assert isinstance(contract.source, source_type)
    assert contract.primary_key == primary_key
    assert all(not contract.column(key).nullable for key in primary_key)
    assert contract.event_time == event_time
    assert contract.dedup.keys == primary_key
    assert (contract.dedup.keep, contract.dedup.order_by) == (keep, order_by)
    assert contract.warehouse is not None
    assert contract.warehouse.mode == mode
    assert contract.warehouse.keys == primary_key
    assert contract.partition_column == "dt"


def test_demo_contract_details():
    contracts = load_contracts(DEFAULT_CONTRACTS_DIR)
    orders = contracts["orders"]
    assert isinstance(orders.source, DatabaseSource)
    assert (orders.source.conn_id, orders.source.table, orders.source.watermark_column) == (
        "shop_db",
        "public.orders",
        "updated_at",
    )
    assert orders.column("amount").type == "decimal(12,2)"
    assert orders.column("coupon_code").added_in == datetime.date(2026, 11, 20)
    assert orders.column("coupon_code").nullable
    assert orders.warehouse is not None
    assert (orders.warehouse.sort_key, orders.warehouse.dist_key) == (("ordered_at",), "customer_id")

    fx = contracts["fx_rates"].source
    assert isinstance(fx, HttpSource)
    assert (fx.conn_id, fx.endpoint, fx.params) == (
        "fx_api",
        "/rates",
        {"date": "{{ data_interval_start | ds }}"},
    )
    assert (fx.pagination.style, fx.pagination.items_field) == ("page", "items")

    products = contracts["products"].source
    assert isinstance(products, FilesSource)
    assert (products.landing_prefix, products.format, products.compression) == (
        "landing/products/",
        "csv",
        "auto",
    )

    clicks = contracts["clickstream"].source
    assert isinstance(clicks, KinesisSource)
    assert clicks.stream_name == "airlake-clickstream"

    payments = contracts["payments"].source
    assert isinstance(payments, SqsSource)
    assert (payments.queue_name, payments.max_messages_per_batch) == ("airlake-payments", 10)


# --------------------------------------------------------------------------------------------------
# Loader: folder, environment override, cache
# --------------------------------------------------------------------------------------------------


def test_default_folder_is_include_contracts_of_the_project():
    assert DEFAULT_CONTRACTS_DIR == PROJECT_ROOT / "include" / "contracts"
    assert (PROJECT_ROOT / "plugins" / "airlake" / "contracts").is_dir()


def test_environment_variable_overrides_the_folder(tmp_path, monkeypatch):
    write(tmp_path, BASE)
    monkeypatch.setenv(CONTRACTS_DIR_ENV, str(tmp_path))
    assert list(load_contracts()) == ["widgets"]
    assert get_contract("widgets").name == "widgets"
    with pytest.raises(KeyError, match="no contract for dataset 'orders'"):
        get_contract("orders")


def test_files_are_read_once_until_they_change(tmp_path):
    path = write(tmp_path, BASE)
    first = load_contracts(tmp_path)
    again = load_contracts(tmp_path)
    assert again == first
    assert again["widgets"] is first["widgets"]  # served from the cache
    again.clear()  # callers get their own dict
    assert load_contracts(tmp_path)

    path.write_text(BASE.replace("owner: test-team", "owner: other-team"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_contracts(tmp_path)["widgets"].owner == "other-team"

    write(tmp_path, mutate("name: widgets", "name: gizmos"), stem="gizmos")
    assert sorted(load_contracts(tmp_path)) == ["gizmos", "widgets"]


def test_a_changed_contract_is_seen_even_with_the_same_size_and_mtime(tmp_path):
    """The cache is keyed on the file's content: a rewrite that keeps its size, mtime and inode (a
    coarse-mtime filesystem, a tool that restores timestamps) is still read as the new contract."""
    path = write(tmp_path, BASE)
    assert load_contracts(tmp_path)["widgets"].owner == "test-team"
    assert load_contract(path).owner == "test-team"
    before = path.stat()
    changed = BASE.replace("owner: test-team", "owner: team-test")
    assert len(changed) == len(BASE)
    with path.open("r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert load_contracts(tmp_path)["widgets"].owner == "team-test"
    assert load_contract(path).owner == "team-test"


def test_templates_and_hidden_files_are_ignored(tmp_path):
    write(tmp_path, BASE)
    write(tmp_path, "not: [a contract", stem="_template")
    write(tmp_path, "not: [a contract", stem=".#widgets")
    assert list(load_contracts(tmp_path)) == ["widgets"]


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ContractError, match="contracts folder not found"):
        load_contracts(tmp_path / "nowhere")


def test_import_stays_light_at_dag_parse_time():
    code = (
        "import sys; sys.path.insert(0, 'plugins');"
        "import airlake.contracts as c; c.load_contracts();"
        "heavy = [m for m in ('pyarrow', 'pandas', 'boto3', 'botocore', 'airflow') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_contract_names_are_the_loaded_contracts_names_without_building_the_models(tmp_path):
    from airlake.contracts import contract_names

    assert contract_names() == sorted(load_contracts()) == sorted(DEMO_DATASETS)
    write(tmp_path, BASE)
    write(tmp_path, "not: [a contract", stem="_template")
    assert contract_names(tmp_path) == list(load_contracts(tmp_path)) == ["widgets"]
    assert contract_names(tmp_path / "nowhere") == []
    code = (
        "import sys; sys.path.insert(0, 'plugins');"
        "from airlake.contracts import contract_names, ContractError; contract_names();"
        "built = [m for m in ('airlake.contracts.model', 'airlake.contracts.loader', 'yaml') if m in sys.modules];"
        "assert not built, built;"
        "from airlake.contracts import Contract, load_contracts; assert load_contracts()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


# --------------------------------------------------------------------------------------------------
# Model helpers and type mappings
# --------------------------------------------------------------------------------------------------


def test_column_helpers(tmp_path):
    contract = load_contract(write(tmp_path, BASE))
    assert contract.column_names == ("widget_id", "color", "price", "updated_at")
    assert contract.column("price").column_type.precision == 10
    with pytest.raises(KeyError, match="has no column 'weight'"):
        contract.column("weight")
    assert len(contract.schema_hash) == 64
    other = tmp_path / "other"
    other.mkdir()
    changed = load_contract(write(other, mutate("decimal(10,2)", "decimal(12,2)")))
    assert changed.schema_hash != contract.schema_hash


def test_decimal_spelling_is_normalised(tmp_path):
    contract = load_contract(write(tmp_path, mutate("decimal(10,2)", "decimal( 10 , 2 )")))
    assert contract.column("price").type == "decimal(10,2)"


@pytest.mark.parametrize(
    ("column", "glue", "postgres", "redshift", "duckdb"),
    [
        pytest.param(
            "price", "decimal(10,2)", "numeric(10,2)", "numeric(10,2)", "decimal(10,2)", id="decimal"
        ),
        pytest.param(
            "updated_at", "timestamp", "timestamptz", "timestamptz", "timestamptz", id="timestamptz"
        ),
        pytest.param("widget_id", "bigint", "bigint", "bigint", "bigint", id="bigint"),
        pytest.param("color", "string", "text", "varchar(65535)", "varchar", id="string"),
    ],
)
def test_sql_type_mappings(tmp_path, column, glue, postgres, redshift, duckdb):
    contract = load_contract(write(tmp_path, BASE))
    assert contract.glue_type(column) == glue
    assert contract.postgres_type(column) == postgres
    assert contract.redshift_type(contract.column(column)) == redshift
    assert contract.duckdb_type(column) == duckdb


def test_arrow_schema(tmp_path):
    pa = pytest.importorskip("pyarrow")
    contract = load_contract(write(tmp_path, BASE))
    schema = contract.arrow_schema()
    assert schema.names == list(contract.column_names)
    assert schema.field("price").type == pa.decimal128(10, 2)
    assert schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("widget_id").type == pa.int64()
    assert schema.field("color").type == pa.string()
    assert not schema.field("price").nullable
    assert schema.field("color").nullable


def test_arrow_types_of_every_type():
    pa = pytest.importorskip("pyarrow")
    from airlake.contracts.types import arrow_type

    assert arrow_type("int") == pa.int32()
    assert arrow_type("double") == pa.float64()
    assert arrow_type("boolean") == pa.bool_()
    assert arrow_type("date") == pa.date32()
    assert arrow_type("timestamp") == pa.timestamp("us")
    assert arrow_type("decimal(38,0)") == pa.decimal128(38, 0)


def test_contracts_are_frozen(tmp_path):
    contract = load_contract(write(tmp_path, BASE))
    with pytest.raises(ValueError, match="frozen"):
        contract.owner = "someone else"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------------------


def test_committed_json_schema_equals_the_generated_one():
    committed = JSON_SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(committed) == json_schema(), (
        "run: PYTHONPATH=plugins python -m airlake.contracts schema --write"
    )
    assert committed == render_json_schema()


def test_demo_contracts_validate_against_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    validator = jsonschema.Draft202012Validator(json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8")))
    for name in DEMO_DATASETS:
        data = yaml.safe_load((DEFAULT_CONTRACTS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        data = json.loads(json.dumps(data, default=str))  # YAML dates -> strings, as editors see them
        errors = [error.message for error in validator.iter_errors(data)]
        assert not errors, f"{name}: {errors}"


def test_json_schema_describes_the_contract():
    schema = json_schema()
    assert schema["title"] == "Airlake dataset contract"
    assert schema["additionalProperties"] is False
    assert {"name", "source", "schema", "primary_key", "event_time"} <= set(schema["required"])
    assert Contract.model_json_schema(by_alias=True)["properties"].keys() == schema["properties"].keys()


@pytest.mark.parametrize("name", DEMO_DATASETS)
def test_contracts_round_trip_through_json(name):
    contract = load_contracts(DEFAULT_CONTRACTS_DIR)[name]
    dumped = json.loads(contract.model_dump_json())
    assert "schema" in dumped  # serialised with the YAML key names
    assert Contract.model_validate(dumped) == contract
