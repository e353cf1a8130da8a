"""The Glue database and the table of a contract (:mod:`airlake.catalog.database`, :mod:`airlake.catalog.tables`):
layout, schema evolution, create_table, against the session's moto server."""

from __future__ import annotations

import pytest

from airlake.catalog import (
    COLUMN_PARAM_NULLABLE,
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    CatalogError,
    SchemaEvolutionError,
    ensure_database,
    ensure_table,
    table_input,
)
from airlake.contracts import Column, get_contract
from tests.plugins.airlake.catalog.catalog_helpers import (
    BUCKET,
    DEMO_DATASETS,
    retyped,
    table_of,
    with_columns,
    without,
)

# --------------------------------------------------------------------------------------------------
# Database and table layout
# --------------------------------------------------------------------------------------------------


def test_ensure_database_is_idempotent(glue, database) -> None:
    assert ensure_database(glue, database) is True
    assert ensure_database(glue, database) is False
    assert glue.get_database(Name=database)["Database"]["Name"] == database


@pytest.mark.parametrize("dataset", [pytest.param(name, id=name) for name in DEMO_DATASETS])
def test_table_created_from_each_demo_contract(glue, database, dataset: str) -> None:
    contract = get_contract(dataset)
    ensure_database(glue, database)

    change = ensure_table(glue, database, contract, BUCKET)

    assert change.action == "created"
    table = table_of(glue, database, dataset)
    sd = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        (c.name, contract.glue_type(c)) for c in contract.columns
    ]
    assert [c.get("Comment") for c in sd["Columns"]] == [c.description for c in contract.columns]
    assert [c["Parameters"][COLUMN_PARAM_NULLABLE] for c in sd["Columns"]] == [
        str(c.nullable).lower() for c in contract.columns
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("dt", "string")]
    assert sd["Location"] == f"s3://{BUCKET}/curated/{dataset}/"
    assert sd["InputFormat"] == PARQUET_INPUT_FORMAT
    assert sd["OutputFormat"] == PARQUET_OUTPUT_FORMAT
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["airlake.contract"] == dataset
    assert table["Parameters"]["airlake.schema_hash"] == contract.schema_hash
    assert table["Owner"] == contract.owner

    assert ensure_table(glue, database, contract, BUCKET).action == "unchanged"
    assert table_of(glue, database, dataset)["VersionId"] == table["VersionId"]


@pytest.mark.parametrize(
    ("column", "glue_type"),
    [
        pytest.param("order_id", "bigint", id="bigint"),
        pytest.param("quantity", "int", id="int"),
        pytest.param("amount", "decimal(12,2)", id="decimal"),
        pytest.param("ordered_at", "timestamp", id="timestamptz-as-timestamp"),
        pytest.param("status", "string", id="string"),
    ],
)
def test_table_input_types(column: str, glue_type: str) -> None:
    columns = {
        c["Name"]: c for c in table_input(get_contract("orders"), BUCKET)["StorageDescriptor"]["Columns"]
    }
    assert columns[column]["Type"] == glue_type


def test_table_moved_to_another_bucket_is_updated(glue, database, orders_table) -> None:
    change = ensure_table(glue, database, get_contract("orders"), "other-bucket")
    assert change.action == "updated"
    assert change.details == ("Location",)
    assert (
        table_of(glue, database, "orders")["StorageDescriptor"]["Location"]
        == "s3://other-bucket/curated/orders/"
    )


def test_table_of_another_contract_is_refused(glue, database) -> None:
    ensure_database(glue, database)
    orders = get_contract("orders")
    ensure_table(glue, database, orders, BUCKET)
    impostor = orders.model_copy(update={"name": "payments"})
    glue.create_table(
        DatabaseName=database,
        TableInput={**table_input(orders, BUCKET), "Name": "payments"},
    )
    with pytest.raises(CatalogError, match="belongs to contract 'orders', not 'payments'"):
        ensure_table(glue, database, impostor, BUCKET)


# --------------------------------------------------------------------------------------------------
# Schema evolution
# --------------------------------------------------------------------------------------------------


def test_added_optional_column_evolves_the_table(glue, database, orders_table) -> None:
    orders = get_contract("orders")
    evolved = with_columns(
        orders,
        [*orders.columns, Column(name="loyalty_tier", type="string", description="Tier of the customer.")],
    )

    change = ensure_table(glue, database, evolved, BUCKET)

    assert change.action == "updated"
    assert change.added_columns == ("loyalty_tier",)
    assert change.previous_schema_hash == orders.schema_hash
    table = table_of(glue, database, "orders")
    columns = table["StorageDescriptor"]["Columns"]
    assert columns[:-1] == orders_table["StorageDescriptor"]["Columns"]  # others untouched, in order
    assert columns[-1] == {
        "Name": "loyalty_tier",
        "Type": "string",
        "Comment": "Tier of the customer.",
        "Parameters": {COLUMN_PARAM_NULLABLE: "true"},
    }
    assert table["PartitionKeys"] == orders_table["PartitionKeys"]
    assert table["Parameters"]["airlake.schema_hash"] == evolved.schema_hash
    assert ensure_table(glue, database, evolved, BUCKET).action == "unchanged"


def test_added_column_in_the_middle_is_appended(glue, database, orders_table) -> None:
    orders = get_contract("orders")
    columns = list(orders.columns)
    columns.insert(2, Column(name="channel", type="string"))
    ensure_table(glue, database, with_columns(orders, columns), BUCKET)
    names = [c["Name"] for c in table_of(glue, database, "orders")["StorageDescriptor"]["Columns"]]
    assert names == [*orders.column_names, "channel"]


def test_integer_widening_evolves_the_table(glue, database, orders_table) -> None:
    change = ensure_table(glue, database, retyped(get_contract("orders"), "quantity", "bigint"), BUCKET)
    assert change.action == "updated"
    assert change.widened_columns == (("quantity", "int", "bigint"),)
    columns = {
        c["Name"]: c["Type"] for c in table_of(glue, database, "orders")["StorageDescriptor"]["Columns"]
    }
    assert columns["quantity"] == "bigint"


@pytest.mark.parametrize(
    ("make_contract", "column", "old_type", "new_type", "problem"),
    [
        pytest.param(
            lambda c: retyped(c, "amount", "int"),
            "amount",
            "decimal(12,2)",
            "int",
            "narrowing",
            id="decimal-to-int",
        ),
        pytest.param(
            lambda c: retyped(c, "amount", "decimal(10,2)"),
            "amount",
            "decimal(12,2)",
            "decimal(10,2)",
            "narrowing",
            id="decimal-precision-narrowed",
        ),
        pytest.param(
            lambda c: retyped(c, "order_id", "int"),
            "order_id",
            "bigint",
            "int",
            "narrowing",
            id="bigint-to-int",
        ),
        pytest.param(
            lambda c: retyped(c, "currency", "bigint"),
            "currency",
            "string",
            "bigint",
            "changed type",
            id="string-to-bigint",
        ),
        pytest.param(
            lambda c: without(c, "status"),
            "status",
            "string",
            "(dropped)",
            "dropped required column",
            id="dropped",
        ),
        pytest.param(
            lambda c: without(c, "coupon_code"),
            "coupon_code",
            "string",
            "(dropped)",
            "dropped column",
            id="dropped-optional",
        ),
        pytest.param(
            lambda c: with_columns(c, [*c.columns, Column(name="region", type="string", nullable=False)]),
            "region",
            "(absent)",
            "string",
            "must be nullable",
            id="added-required",
        ),
    ],
)
def test_incompatible_change_fails_naming_column_and_types(
    glue, database, orders_table, make_contract, column: str, old_type: str, new_type: str, problem: str
) -> None:
    with pytest.raises(SchemaEvolutionError) as raised:
        ensure_table(glue, database, make_contract(get_contract("orders")), BUCKET)

    message = str(raised.value)
    assert f"{database}.orders" in message
    assert f"column {column!r}: {old_type} -> {new_type}" in message
    assert problem in message
    assert [(c.column, c.old_type, c.new_type) for c in raised.value.changes] == [
        (column, old_type, new_type)
    ]
    assert table_of(glue, database, "orders") == orders_table  # nothing written


def test_every_incompatible_change_is_listed(glue, database, orders_table) -> None:
    broken = without(
        retyped(retyped(get_contract("orders"), "amount", "int"), "currency", "bigint"), "status"
    )
    with pytest.raises(SchemaEvolutionError) as raised:
        ensure_table(glue, database, broken, BUCKET)
    assert {c.column for c in raised.value.changes} == {"amount", "currency", "status"}


def test_changed_partition_column_fails(glue, database, orders_table) -> None:
    orders = get_contract("orders")
    moved = orders.model_copy(
        update={"partitioning": orders.partitioning.model_copy(update={"column": "day"})}
    )
    with pytest.raises(SchemaEvolutionError, match=r"partition keys.*dt string -> day string"):
        ensure_table(glue, database, moved, BUCKET)


def test_create_table_meeting_another_table_of_that_name_names_what_differs(glue, database) -> None:
    from airlake.catalog import create_table, ensure_database, parquet_storage_descriptor

    ensure_database(glue, database)
    table = {
        "Name": "view_a",
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": parquet_storage_descriptor(
            [{"Name": "n", "Type": "bigint"}], "s3://b/analytics/a/"
        ),
    }
    create_table(glue, database, table)
    create_table(glue, database, table)  # as a resend after a lost reply: already there as wanted

    other = {**table, "StorageDescriptor": {**table["StorageDescriptor"], "Location": "s3://b/elsewhere/"}}
    with pytest.raises(CatalogError) as raised:
        create_table(glue, database, other)

    assert str(raised.value) == (
        f"create_table {database}.view_a: another table of that name is there "
        "(Location: wanted 's3://b/elsewhere/', found 's3://b/analytics/a/')"
    )
