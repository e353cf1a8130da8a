"""Parquet footers checked against the Glue table (:mod:`airlake.catalog.parquet`)."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.catalog import (
    CatalogError,
    ParquetSchemaError,
    S3TailFile,
    check_parquet_schema,
    date_ranges,
    read_parquet_metadata,
    read_parquet_schema,
    table_input,
)
from airlake.contracts import get_contract
from tests.plugins.airlake.catalog.catalog_helpers import (
    BUCKET,
    DEMO_DATASETS,
    VERSION_1,
    parquet_bytes,
    sample_table,
    version_key,
)

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


def _footer(table: pa.Table, **options: object) -> pq.FileMetaData:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=2, **options)
    buffer.seek(0)
    return pq.read_metadata(buffer)


def test_date_ranges_are_the_first_and_last_day_over_every_row_group() -> None:
    days = [dt.date(2026, 11, 24), dt.date(2026, 11, 21), None, None, dt.date(2026, 11, 30)]
    table = pa.table(
        {
            "nested": pa.array([{"rate_date": 1}] * 5),  # a leaf named like the column is not it
            "rate_date": pa.array(days, pa.date32()),
            "blank": pa.array([None] * 5, pa.date32()),
        }
    )
    footer = _footer(table)
    assert footer.num_row_groups == 3  # the middle one holds only nulls: no min/max, nothing to add

    assert date_ranges(footer, ["rate_date", "blank", "absent"]) == {
        "rate_date": ("2026-11-21", "2026-11-30")
    }
    assert date_ranges(_footer(table, write_statistics=False), ["rate_date"]) == {}  # unknown, not empty
