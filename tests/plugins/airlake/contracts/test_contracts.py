"""Dataset contracts: the demo contracts load, bad contracts fail with file + field path + reason."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
    clear_cache,
    get_contract,
    json_schema,
    load_contract,
    load_contracts,
    render_json_schema,
    scan_contracts,
)

DEMO_DATASETS = ("clickstream", "fx_rates", "orders", "payments", "products")

BASE = textwrap.dedent(
    """\
    name: widgets
    description: Widgets sold by the test shop.
    owner: test-team
    schedule: "@daily"
    tags: [test]
    source:
      kind: database
      conn_id: shop_db
      table: public.widgets
      watermark_column: updated_at
    schema:
      - name: widget_id
        type: bigint
        nullable: false
      - name: color
        type: string
      - name: price
        type: decimal(10,2)
        nullable: false
      - name: updated_at
        type: timestamptz
        nullable: false
    primary_key: [widget_id]
    event_time: updated_at
    dedup:
      keep: latest
      order_by: updated_at
    quality:
      checks:
        - kind: range
          column: price
          min: 0
        - kind: accepted_values
          column: color
          values: [red, green]
    tiering:
      standard_ia_after_days: 30
      glacier_after_days: 90
    warehouse:
      table: widgets
      mode: merge
    """
)

BASE_SOURCE = textwrap.dedent(
    """\
    source:
      kind: database
      conn_id: shop_db
      table: public.widgets
      watermark_column: updated_at
    """
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def write(folder: Path, text: str, stem: str = "widgets") -> Path:
    path = folder / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def mutate(old: str, new: str) -> str:
    assert old in BASE, f"{old!r} is not in the base contract"
    return BASE.replace(old, new, 1)


def with_source(block: str) -> str:
    return BASE.replace(BASE_SOURCE, textwrap.dedent(block), 1)


def error_lines(path: Path) -> list[str]:
    with pytest.raises(ContractError) as excinfo:
        load_contract(path)
    return str(excinfo.value).splitlines()


def assert_reported(lines: list[str], file_name: str, field_path: str, reason: str) -> None:
    prefix = f"{file_name}: {field_path}: " if field_path else f"{file_name}: "
    matching = [line for line in lines if prefix in line and reason in line]
    assert matching, f"no error line with {prefix!r} and {reason!r} in:\n" + "\n".join(lines)


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
# Bad contracts: each error names the file, the field path and what is wrong
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field_path", "reason"),
    [
        pytest.param(mutate("type: string", "type: strng"), "schema[1].type", "unknown type 'strng' (expected one of", id="unknown-type"),
        pytest.param(mutate("type: string", "type: String"), "schema[1].type", "type names are lowercase", id="uppercase-type"),
        pytest.param(mutate("decimal(10,2)", "decimal(39,2)"), "schema[2].type", "precision must be 1..38", id="decimal-precision"),
        pytest.param(mutate("decimal(10,2)", "decimal(4,5)"), "schema[2].type", "scale must be 0..precision", id="decimal-scale"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: [widget]"), "primary_key[0]", "unknown column 'widget' (not in schema; did you mean 'widget_id'?)", id="key-not-in-schema"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: [widget_id, color]"), "primary_key[1]", "primary key column 'color' is nullable", id="nullable-key"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: []"), "primary_key", "at least 1 item", id="empty-key"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "0 25 * * *"'), "schedule", "invalid cron expression '0 25 * * *'", id="bad-cron"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "0 0 * * * *"'), "schedule", "a cron expression has 5 fields", id="cron-six-fields"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "@dayly"'), "schedule", "unknown schedule preset '@dayly'", id="bad-preset"),
        pytest.param(mutate("name: widgets", "name: ../x"), "name", "invalid name '../x'", id="name-path-traversal"),
        pytest.param(mutate("name: widgets", "name: Widgets"), "name", "names are lowercase", id="name-uppercase"),
        pytest.param(mutate("name: widgets", "name: select"), "name", "reserved SQL word", id="name-reserved"),
        pytest.param(mutate("name: widgets", "name: x" + "y" * 63), "name", "at most 63", id="name-too-long"),
        pytest.param(mutate("  - name: color", "  - name: order"), "schema[1].name", "reserved SQL word", id="column-reserved"),
        pytest.param(mutate("  - name: color", "  - name: widget_id"), "schema[1].name", "duplicate column 'widget_id'", id="duplicate-column"),
        pytest.param(mutate("owner: test-team", "owner: test-team\nownr: someone"), "ownr", "unknown field 'ownr'", id="unknown-top-field"),
        pytest.param(mutate("  watermark_column: updated_at", "  watermark_column: updated_at\n  batch_row: 10"), "source.batch_row", "did you mean 'batch_rows'?", id="unknown-source-field"),
        pytest.param(mutate("    nullable: false\n  - name: color", "    nullable: false\n    nulable: true\n  - name: color"), "schema[0].nulable", "unknown field 'nulable'", id="unknown-column-field"),
        pytest.param(mutate("watermark_column: updated_at", "watermark_column: modified_at"), "source.watermark_column", "unknown column 'modified_at' (not in schema", id="watermark-missing"),
        pytest.param(mutate("watermark_column: updated_at", "watermark_column: color"), "source.watermark_column", "watermark column 'color' is nullable", id="watermark-nullable"),
        pytest.param(mutate("glacier_after_days: 90", "glacier_after_days: 40"), "tiering.glacier_after_days", "at least 30 days after standard_ia_after_days", id="tiering-glacier-too-early"),
        pytest.param(mutate("glacier_after_days: 90", "glacier_after_days: 90\n  expire_after_days: 60"), "tiering.expire_after_days", "must be greater than glacier_after_days (90)", id="tiering-expire-before-glacier"),
        pytest.param(mutate("standard_ia_after_days: 30", "standard_ia_after_days: 7"), "tiering.standard_ia_after_days", "greater than or equal to 30", id="tiering-ia-below-s3-minimum"),
        pytest.param(mutate("  kind: database", "  kind: db"), "source.kind", "unknown kind 'db'", id="unknown-source-kind"),
        pytest.param(mutate("  kind: database\n", ""), "source.kind", "required field missing", id="missing-source-kind"),
        pytest.param(mutate("owner: test-team\n", ""), "owner", "required field missing", id="missing-owner"),
        pytest.param(mutate("table: public.widgets", "table: widgets"), "source.table", "expected 'schema.table'", id="source-table-without-schema"),
        pytest.param(mutate("event_time: updated_at", "event_time: price"), "event_time", "expected timestamp, timestamptz or date", id="event-time-not-temporal"),
        pytest.param(mutate("  order_by: updated_at\n", ""), "dedup.order_by", "required when keep is 'latest'", id="dedup-latest-without-order-by"),
        pytest.param(mutate("  order_by: updated_at", "  order_by: updated"), "dedup.order_by", "unknown column 'updated'", id="dedup-order-by-missing"),
        pytest.param(mutate("event_time: updated_at", "event_time: updated_at\npartitioning:\n  column: color"), "partitioning.column", "clashes with schema column", id="partition-column-clash"),
        pytest.param(mutate("      column: price\n      min: 0", "      column: prize\n      min: 0"), "quality.checks[0].column", "unknown column 'prize'", id="check-column-missing"),
        pytest.param(mutate("values: [red, green]", "values: [red, yes]"), "quality.checks[1].values[1]", "YAML reads yes/no/on/off as booleans", id="accepted-values-yaml-boolean"),
        pytest.param(mutate("      min: 0", "      min: 10\n      max: 1"), "quality.checks[0].max", "smaller than min", id="range-inverted"),
        pytest.param(mutate("  mode: merge", "  mode: upsert"), "warehouse.mode", "expected 'merge', 'append' or 'partition_replace'", id="warehouse-mode"),
        pytest.param(mutate("  mode: merge", "  mode: merge\n  dist_key: colour"), "warehouse.dist_key", "unknown column 'colour'", id="warehouse-dist-key-missing"),
        pytest.param(mutate("  - name: color\n    type: string", "  - name: color\n    type: string\n    added_in: 2026-13-01"), "schema[1].added_in", "invalid date '2026-13-01'", id="added-in-bad-date"),
        pytest.param(mutate("  - name: color\n    type: string", "  - name: color\n    type: string\n    nullable: false\n    added_in: 2026-11-20"), "schema[1].nullable", "must be nullable", id="added-column-not-nullable"),
        pytest.param(mutate("tags: [test]", "tags: test"), "tags", "expected a list, got string 'test'", id="tags-not-a-list"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: ../landing/widgets/
              format: csv
            """), "source.landing_prefix", "'..' segments are not allowed", id="files-prefix-dotdot"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: /landing/widgets/
              format: csv
            """), "source.landing_prefix", "no leading '/'", id="files-prefix-absolute"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: landing/widgets/
              format: xml
            """), "source.format", "expected 'csv', 'jsonl' or 'parquet'", id="files-format"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: landing/widgets/
              format: jsonl
              csv: {delimiter: ";"}
            """), "source.csv", "apply to format csv only", id="files-csv-options-on-jsonl"),
        pytest.param(with_source("""\
            source:
              kind: http
              conn_id: widgets_api
              endpoint: https://api.example.com/widgets
            """), "source.endpoint", "the host comes from the Airflow connection", id="http-endpoint-url"),
        pytest.param(with_source("""\
            source:
              kind: http
              conn_id: widgets_api
              endpoint: /widgets
              pagination: {style: scroll}
            """), "source.pagination.style", "expected 'page' or 'cursor'", id="http-pagination-style"),
        pytest.param(with_source("""\
            source:
              kind: sqs
              queue_name: widgets
              max_messages_per_batch: 11
            """), "source.max_messages_per_batch", "less than or equal to 10", id="sqs-batch-over-limit"),
        pytest.param(with_source("""\
            source:
              kind: kinesis
              stream_name: widgets
              max_records_per_call: 20000
            """), "source.max_records_per_call", "less than or equal to 10000", id="kinesis-limit"),
    ],
)  # fmt: skip
def test_bad_contract_is_reported_with_file_path_and_reason(tmp_path, text, field_path, reason):
    lines = error_lines(write(tmp_path, text))
    assert_reported(lines, "widgets.yaml", field_path, reason)
    assert all(line.startswith(str(tmp_path / "widgets.yaml")) for line in lines)


def test_every_problem_is_listed_one_per_line_with_its_line_number(tmp_path):
    text = mutate("type: string", "type: strng").replace('schedule: "@daily"', 'schedule: "@dayly"')
    lines = error_lines(write(tmp_path, text))
    assert len(lines) == 2
    assert_reported(lines, "widgets.yaml", "schedule", "unknown schedule preset '@dayly'")
    assert_reported(lines, "widgets.yaml", "schema[1].type", "unknown type 'strng'")
    assert lines[0].endswith("(line 4)")  # in file order
    assert lines[1].endswith("(line 16)")  # the line of `type: strng`


def test_cross_field_problems_are_all_listed(tmp_path):
    text = mutate("primary_key: [widget_id]", "primary_key: [widget]").replace(
        "watermark_column: updated_at", "watermark_column: modified_at"
    )
    lines = error_lines(write(tmp_path, text))
    assert len(lines) == 2
    assert_reported(lines, "widgets.yaml", "source.watermark_column", "unknown column 'modified_at'")
    assert_reported(lines, "widgets.yaml", "primary_key[0]", "unknown column 'widget'")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(mutate("  conn_id: shop_db", "  conn_id: shop_db\n bad: [unclosed"), "invalid YAML:", id="syntax-error"),
        pytest.param(mutate("  conn_id: shop_db", "  conn_id: shop_db\n  conn_id: other_db"), "duplicate key 'conn_id' (first defined on line 8)", id="duplicate-key"),
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("- a\n- b\n", "expected a mapping of contract fields", id="not-a-mapping"),
    ],
)  # fmt: skip
def test_yaml_problems_name_the_file_and_the_line(tmp_path, text, reason):
    lines = error_lines(write(tmp_path, text))
    assert_reported(lines, "widgets.yaml", "", reason)
    if "YAML" in reason or "duplicate" in reason:
        assert "(line 9, column" in lines[0]


def test_file_stem_must_equal_the_dataset_name(tmp_path):
    lines = error_lines(write(tmp_path, BASE, stem="gadgets"))
    assert_reported(
        lines, "gadgets.yaml", "name", "dataset name 'widgets' does not match the file name 'gadgets.yaml'"
    )


def test_duplicate_dataset_name_across_files_names_both_files(tmp_path):
    write(tmp_path, BASE, stem="widgets")
    (tmp_path / "widgets.yml").write_text(BASE, encoding="utf-8")
    with pytest.raises(ContractError) as excinfo:
        load_contracts(tmp_path)
    lines = str(excinfo.value).splitlines()
    assert_reported(
        lines,
        "widgets.yaml",
        "name",
        f"duplicate dataset name 'widgets': also defined in {tmp_path}/widgets.yml",
    )
    assert_reported(
        lines,
        "widgets.yml",
        "name",
        f"duplicate dataset name 'widgets': also defined in {tmp_path}/widgets.yaml",
    )


def test_scan_keeps_valid_contracts_and_reports_invalid_ones(tmp_path):
    write(tmp_path, BASE)
    write(
        tmp_path,
        mutate("name: widgets", "name: gizmos").replace("type: string", "type: strng"),
        stem="gizmos",
    )
    scan = scan_contracts(tmp_path)
    assert list(scan.contracts) == ["widgets"]
    assert scan.files["widgets"] == tmp_path / "widgets.yaml"
    assert scan.error is not None
    assert_reported(str(scan.error).splitlines(), "gizmos.yaml", "schema[1].type", "unknown type")
    with pytest.raises(ContractError):
        load_contracts(tmp_path)


def test_contract_errors_are_value_errors_with_structured_issues(tmp_path):
    with pytest.raises(ValueError, match="unknown type") as excinfo:
        load_contract(write(tmp_path, mutate("type: string", "type: strng")))
    error = excinfo.value
    assert isinstance(error, ContractError)
    (issue,) = error.issues
    assert (issue.path, issue.line) == ("schema[1].type", 16)
    assert error.files == (str(tmp_path / "widgets.yaml"),)


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
