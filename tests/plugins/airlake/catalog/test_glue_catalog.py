"""Glue catalog from contracts, against the session's moto server: tables, evolution, partitions, Parquet check."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.catalog import (
    COLUMN_PARAM_NULLABLE,
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    CatalogError,
    ParquetSchemaError,
    PartitionPublishError,
    S3TailFile,
    SchemaEvolutionError,
    check_parquet_schema,
    crawler_config,
    ensure_database,
    ensure_table,
    get_table,
    live_location_lookup,
    publish_partitions,
    read_parquet_metadata,
    read_parquet_schema,
    table_input,
)
from airlake.contracts import Column, get_contract
from tests.plugins.airlake.catalog.catalog_helpers import (
    VERSION_1,
    VERSION_2,
    location,
    parquet_bytes,
    partitions_of,
    retyped,
    sample_table,
    version_key,
    with_columns,
    without,
)

DEMO_DATASETS = ("clickstream", "fx_rates", "orders", "payments", "products")
BUCKET = "airlake-lake"


def _table(glue: Any, database: str, name: str) -> dict[str, Any]:
    table = get_table(glue, database, name)
    assert table is not None
    return table


@pytest.fixture
def orders_table(glue, database) -> dict[str, Any]:
    """The orders table, created from its contract."""
    ensure_database(glue, database)
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    return _table(glue, database, "orders")


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
    table = _table(glue, database, dataset)
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
    assert _table(glue, database, dataset)["VersionId"] == table["VersionId"]


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
        _table(glue, database, "orders")["StorageDescriptor"]["Location"]
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
    table = _table(glue, database, "orders")
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
    names = [c["Name"] for c in _table(glue, database, "orders")["StorageDescriptor"]["Columns"]]
    assert names == [*orders.column_names, "channel"]


def test_integer_widening_evolves_the_table(glue, database, orders_table) -> None:
    change = ensure_table(glue, database, retyped(get_contract("orders"), "quantity", "bigint"), BUCKET)
    assert change.action == "updated"
    assert change.widened_columns == (("quantity", "int", "bigint"),)
    columns = {c["Name"]: c["Type"] for c in _table(glue, database, "orders")["StorageDescriptor"]["Columns"]}
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
    assert _table(glue, database, "orders") == orders_table  # nothing written


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


# --------------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------------

DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]


def _entries(days: list[str], version: str) -> list[dict[str, Any]]:
    return [
        {"dt": day, "version": version, "location": location(BUCKET, "orders", day, version)} for day in days
    ]


def test_publish_registers_exactly_the_given_partitions(glue, database, orders_table) -> None:
    report = publish_partitions(
        glue, database, "orders", _entries(DAYS, VERSION_1), orders_table["StorageDescriptor"]
    )

    assert report == {"created": DAYS, "updated": [], "unchanged": []}
    assert partitions_of(glue, database, "orders") == {
        day: location(BUCKET, "orders", day, VERSION_1) for day in DAYS
    }
    partition = glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[DAYS[0]])[
        "Partition"
    ]
    sd = partition["StorageDescriptor"]
    assert sd["Columns"] == orders_table["StorageDescriptor"]["Columns"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert partition["Parameters"] == {"airlake.version": VERSION_1}


def test_republishing_is_a_no_op(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    before = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]

    report = publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)

    assert report == {"created": [], "updated": [], "unchanged": DAYS}
    assert glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"] == before


def test_new_version_moves_only_its_partition(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    others = {
        day: glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[day])["Partition"]
        for day in DAYS[:2]
    }

    new = location(BUCKET, "orders", DAYS[2], VERSION_2)
    report = publish_partitions(
        glue,
        database,
        "orders",
        [{"dt": DAYS[2], "version": VERSION_2, "location": new, "previous_location": None}],
        sd,
    )

    assert report == {
        "created": [],
        "updated": [
            {
                "dt": DAYS[2],
                "previous_location": location(BUCKET, "orders", DAYS[2], VERSION_1),
                "location": new,
            }
        ],
        "unchanged": [],
    }
    assert partitions_of(glue, database, "orders")[DAYS[2]] == new
    for day, partition in others.items():
        assert (
            glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[day])["Partition"]
            == partition
        )


def test_mixed_publish_creates_moves_and_keeps(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS[:2], VERSION_1), sd)
    entries = _entries(DAYS[:1], VERSION_1) + _entries(DAYS[1:], VERSION_2)

    report = publish_partitions(glue, database, "orders", entries, sd)

    assert report["created"] == [DAYS[2]]
    assert [u["dt"] for u in report["updated"]] == [DAYS[1]]
    assert report["unchanged"] == [DAYS[0]]


def test_publish_many_partitions_in_batches(glue, database, orders_table) -> None:
    days = [f"2026-{month:02d}-{day:02d}" for month in range(1, 8) for day in range(1, 31)][:205]
    sd = orders_table["StorageDescriptor"]
    assert len(publish_partitions(glue, database, "orders", _entries(days, VERSION_1), sd)["created"]) == 205
    report = publish_partitions(glue, database, "orders", _entries(days, VERSION_2), sd)
    assert len(report["updated"]) == 205
    assert set(partitions_of(glue, database, "orders").values()) == {
        location(BUCKET, "orders", day, VERSION_2) for day in days
    }


def test_trailing_slash_does_not_matter(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS[:1], VERSION_1), sd)
    entry = {"dt": DAYS[0], "location": location(BUCKET, "orders", DAYS[0], VERSION_1).rstrip("/")}
    assert publish_partitions(glue, database, "orders", [entry], sd)["unchanged"] == [DAYS[0]]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([{"location": "s3://b/x/"}], "without a 'dt'", id="no-dt"),
        pytest.param([{"dt": "2026-11-20", "location": "/tmp/x"}], "s3:// URI", id="not-s3"),
        pytest.param(
            [{"dt": "2026-11-20", "location": "s3://b/a/"}, {"dt": "2026-11-20", "location": "s3://b/b/"}],
            "given twice",
            id="two-locations",
        ),
    ],
)
def test_publish_rejects_bad_entries(entries, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        publish_partitions(None, "db", "t", entries, {})


class _RefusingGlue:
    """A Glue client stub whose batch calls report errors for some partitions, recording its calls."""

    def __init__(self, existing: dict[str, str]) -> None:
        self.existing = existing
        self.calls: list[tuple[str, int]] = []

    def batch_get_partition(self, *, DatabaseName, TableName, PartitionsToGet):
        found = [p["Values"] for p in PartitionsToGet if p["Values"][0] in self.existing]
        return {
            "Partitions": [
                {"Values": v, "StorageDescriptor": {"Location": self.existing[v[0]]}} for v in found
            ]
        }

    def batch_create_partition(self, *, DatabaseName, TableName, PartitionInputList):
        self.calls.append(("create", len(PartitionInputList)))
        return {
            "Errors": [
                {
                    "PartitionValues": PartitionInputList[0]["Values"],
                    "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException",
                        "ErrorMessage": "Partition already exists.",
                    },
                }
            ]
        }

    def batch_update_partition(self, *, DatabaseName, TableName, Entries):
        self.calls.append(("update", len(Entries)))
        return {
            "Errors": [
                {
                    "PartitionValueList": Entries[-1]["PartitionValueList"],
                    "ErrorDetail": {
                        "ErrorCode": "EntityNotFoundException",
                        "ErrorMessage": "Partition not found.",
                    },
                }
            ]
        }


@pytest.mark.parametrize(
    ("existing", "failing", "code"),
    [
        pytest.param({}, "2026-11-18", "AlreadyExistsException", id="create"),
        pytest.param(
            {day: "s3://b/old/" for day in DAYS}, "2026-11-20", "EntityNotFoundException", id="update"
        ),
    ],
)
def test_batch_errors_raise_with_partition_values(existing, failing: str, code: str) -> None:
    with pytest.raises(PartitionPublishError) as raised:
        publish_partitions(_RefusingGlue(existing), "db", "orders", _entries(DAYS, VERSION_1), {})
    assert f"['{failing}']: {code}" in str(raised.value)
    assert set(raised.value.errors) == {(failing,)}


class _RacedGlue(_RefusingGlue):
    """batch_get_partition finds nothing at first; the create then meets partitions already there (the
    first, lost reply of the same batch, or another publisher) at the locations in ``appeared``."""

    def __init__(self, appeared: dict[str, str]) -> None:
        super().__init__({})
        self.appeared = appeared

    def batch_create_partition(self, *, DatabaseName, TableName, PartitionInputList):
        self.calls.append(("create", len(PartitionInputList)))
        self.existing = dict(self.appeared)
        return {
            "Errors": [
                {
                    "PartitionValues": p["Values"],
                    "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException",
                        "ErrorMessage": "Partition exists.",
                    },
                }
                for p in PartitionInputList
                if p["Values"][0] in self.appeared
            ]
        }


def test_partitions_already_created_at_the_wanted_location_are_success() -> None:
    entries = _entries(DAYS, VERSION_1)
    glue = _RacedGlue({e["dt"]: e["location"] for e in entries})

    report = publish_partitions(glue, "db", "orders", entries, {})

    assert report == {"created": DAYS, "updated": [], "unchanged": []}


def test_a_partition_already_created_elsewhere_is_a_conflict_naming_both_locations() -> None:
    entries = _entries(DAYS, VERSION_1)
    theirs = location(BUCKET, "orders", "2026-11-19", VERSION_2)
    glue = _RacedGlue({"2026-11-18": entries[0]["location"], "2026-11-19": theirs})

    with pytest.raises(PartitionPublishError) as raised:
        publish_partitions(glue, "db", "orders", entries, {})

    assert set(raised.value.errors) == {("2026-11-19",)}
    assert raised.value.errors[("2026-11-19",)] == (
        f"exists at another location: wanted {entries[1]['location']}, found {theirs}"
    )


def test_batches_hold_at_most_100_partitions() -> None:
    class Accepting(_RefusingGlue):
        def batch_create_partition(self, **kwargs):
            super().batch_create_partition(**kwargs)
            return {}

    glue = Accepting({})
    days = [f"2026-01-01-{n:03d}" for n in range(250)]
    publish_partitions(glue, "db", "orders", _entries(days, VERSION_1), {})
    assert glue.calls == [("create", 100), ("create", 100), ("create", 50)]


def test_live_location_lookup(glue, database) -> None:
    assert live_location_lookup(glue, database, "orders")("2026-11-20") is None  # no database yet
    ensure_database(glue, database)
    assert live_location_lookup(glue, database, "orders")("2026-11-20") is None  # no table yet
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    sd = _table(glue, database, "orders")["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)

    lookup = live_location_lookup(glue, database, "orders")
    assert lookup(DAYS[1]) == location(BUCKET, "orders", DAYS[1], VERSION_1)
    assert lookup("2026-11-21") is None

    publish_partitions(glue, database, "orders", _entries(DAYS[1:2], VERSION_2), sd)
    assert live_location_lookup(glue, database, "orders")(DAYS[1]) == location(
        BUCKET, "orders", DAYS[1], VERSION_2
    )


def test_partition_reads_page_select_and_treat_a_missing_table_as_empty(glue, database) -> None:
    from airlake.catalog import get_partitions, live_locations, partition_locations, table_partitions

    assert table_partitions(glue, database, "orders") == {}  # no database yet
    ensure_database(glue, database)
    assert get_partitions(glue, database, "orders", DAYS) == {}  # no table yet
    assert live_locations(glue, database, "orders") == {}
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    sd = _table(glue, database, "orders")["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    located = {day: location(BUCKET, "orders", day, VERSION_1) for day in DAYS}

    assert partition_locations(table_partitions(glue, database, "orders")) == located
    selected = table_partitions(glue, database, "orders", expression=f"dt >= '{DAYS[1]}'")
    assert sorted(selected) == DAYS[1:]
    assert partition_locations(get_partitions(glue, database, "orders", [DAYS[0], "2026-11-30"])) == {
        DAYS[0]: located[DAYS[0]]
    }
    assert live_locations(glue, database, "orders") == located


# --------------------------------------------------------------------------------------------------
# Parquet schema check
# --------------------------------------------------------------------------------------------------


def _put_parquet(lake, table: pa.Table, key: str = version_key("orders", "2026-11-20", VERSION_1)) -> str:
    lake.put_bytes(key, parquet_bytes(table))
    return key


def test_written_file_matching_the_table_passes(lake, glue, database, orders_table) -> None:
    key = _put_parquet(lake, sample_table(get_contract("orders").arrow_schema()))
    schema = read_parquet_schema(lake.client, lake.bucket, key)
    check_parquet_schema(schema, orders_table["StorageDescriptor"]["Columns"], file=key)


def test_file_with_a_different_column_type_is_caught(lake, glue, database, orders_table) -> None:
    schema = get_contract("orders").arrow_schema()
    wrong = schema.set(schema.get_field_index("amount"), pa.field("amount", pa.float64()))
    key = _put_parquet(lake, sample_table(wrong))
    uri = f"s3://{lake.bucket}/{key}"

    with pytest.raises(ParquetSchemaError) as raised:
        check_parquet_schema(
            read_parquet_schema(lake.client, lake.bucket, key),
            orders_table["StorageDescriptor"]["Columns"],
            file=uri,
        )

    assert str(raised.value).splitlines() == [
        f"Parquet file {uri} does not match the Glue table:",
        "  - column 'amount': expected decimal(12,2), found double",
    ]


@pytest.mark.parametrize(
    ("mutate", "expected_line"),
    [
        pytest.param(
            lambda s: s.remove(s.get_field_index("status")),
            "  - column 'status': expected string, found (missing)",
            id="missing",
        ),
        pytest.param(
            lambda s: s.append(pa.field("extra", pa.int64())),
            "  - column 'extra': expected (not in table), found bigint",
            id="extra",
        ),
        pytest.param(
            lambda s: s.set(s.get_field_index("quantity"), pa.field("quantity", pa.int64())),
            "  - column 'quantity': expected int, found bigint",
            id="int64-for-int",
        ),
        pytest.param(
            lambda s: s.set(s.get_field_index("ordered_at"), pa.field("ordered_at", pa.string())),
            "  - column 'ordered_at': expected timestamp, found string",
            id="string-for-timestamp",
        ),
    ],
)
def test_schema_mismatches(orders_table, mutate, expected_line: str) -> None:
    schema = mutate(get_contract("orders").arrow_schema())
    with pytest.raises(ParquetSchemaError) as raised:
        check_parquet_schema(schema, orders_table["StorageDescriptor"]["Columns"], file="f.parquet")
    assert str(raised.value).splitlines()[1:] == [expected_line]


def test_partition_column_in_the_file_can_be_ignored(orders_table) -> None:
    schema = get_contract("orders").arrow_schema().append(pa.field("dt", pa.string()))
    check_parquet_schema(schema, orders_table["StorageDescriptor"]["Columns"], ignore=["dt"])


@pytest.mark.parametrize("dataset", [pytest.param(name, id=name) for name in DEMO_DATASETS])
def test_contract_arrow_schema_matches_its_table(dataset: str) -> None:
    contract = get_contract(dataset)
    check_parquet_schema(
        contract.arrow_schema(), table_input(contract, BUCKET)["StorageDescriptor"]["Columns"]
    )


def test_footer_of_a_large_file_is_read_from_its_tail(lake) -> None:
    schema = get_contract("orders").arrow_schema()
    key = _put_parquet(lake, sample_table(schema, rows=5000))
    size = lake.head(key)["ContentLength"]

    with S3TailFile(lake.client, lake.bucket, key, tail_bytes=64) as handle:
        read = pq.read_schema(handle)
        assert handle.size == size
        assert handle.requests == 2  # the tail, then the rest of the footer
        assert len(handle._data) < size

    assert read.names == schema.names
    buffer = io.BytesIO(lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read())
    assert read_parquet_schema(lake.client, lake.bucket, key).equals(pq.read_schema(buffer))
    assert read_parquet_metadata(lake.client, lake.bucket, key).num_rows == 5000


def test_missing_file_is_a_clear_error(lake) -> None:
    with pytest.raises(CatalogError, match=r"cannot read the Parquet footer of s3://.*/nope\.parquet"):
        read_parquet_schema(lake.client, lake.bucket, "nope.parquet")
    with pytest.raises(CatalogError, match=r"cannot read the Parquet footer of s3://.*/nope\.parquet"):
        read_parquet_metadata(lake.client, lake.bucket, "nope.parquet")


# --------------------------------------------------------------------------------------------------
# Crawler option
# --------------------------------------------------------------------------------------------------


def test_crawler_config_targets_the_curated_prefix() -> None:
    config = crawler_config(
        get_contract("orders"), BUCKET, "airlake", name="airlake-orders", role="CrawlerRole"
    )
    assert config["Targets"] == {
        "S3Targets": [{"Path": f"s3://{BUCKET}/curated/orders/", "Exclusions": ["**/_*", "**/.*"]}]
    }
    assert config["DatabaseName"] == "airlake"
    assert config["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    assert '"TableLevelConfiguration": 3' in config["Configuration"]


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
