"""Curated partitions of the orders dataset written as curate leaves them, published in moto Glue."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.catalog import ensure_database, ensure_table, publish_partitions, table_input
from airlake.contracts import get_contract
from airlake.curate.versions import format_version
from airlake.lake import curated_version_prefix

DATASET = "orders"


def order_rows(dt: str, start: int, count: int) -> list[dict[str, Any]]:
    """Distinct, typed orders of one day (every other one with a coupon)."""
    day = date.fromisoformat(dt)
    rows = []
    for n in range(start, start + count):
        ordered = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(seconds=37 * n)
        rows.append(
            {
                "order_id": n,
                "customer_id": 1000 + n % 7,
                "product_id": f"p-{n % 5}",
                "quantity": 1 + n % 3,
                "amount": Decimal(f"{n}.{n % 100:02d}"),
                "currency": ("EUR", "USD", "GBP")[n % 3],
                "country": "DE",
                "status": ("placed", "paid", "shipped")[n % 3],
                "ordered_at": ordered,
                "updated_at": ordered + timedelta(minutes=5),
                "coupon_code": None if n % 2 else f"C{n}",
            }
        )
    return rows


def version_at(moment: datetime) -> str:
    return format_version(moment)


class CuratedOrders:
    """Writes versions of orders partitions (one Parquet file per chunk of rows) and publishes them."""

    def __init__(self, store: Any, glue: Any, database: str, *, column: str = "dt") -> None:
        self.store, self.glue, self.database = store, glue, database
        contract = get_contract(DATASET)
        partitioning = contract.partitioning.model_copy(update={"column": column})
        self.contract = contract.model_copy(update={"partitioning": partitioning})
        self.column = column
        ensure_database(glue, database)
        ensure_table(glue, database, self.contract, store.bucket)

    def write(
        self, dt: str, version: str, files: list[list[dict[str, Any]]], *, schema: pa.Schema | None = None
    ) -> str:
        """One version: a zstd Parquet file per list of rows; its s3:// location."""
        schema = schema or self.contract.arrow_schema()
        prefix = curated_version_prefix(DATASET, dt, version, column=self.column)
        for index, rows in enumerate(files):
            table = pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            self.store.put_bytes(f"{prefix}part-{index:05d}.parquet", buffer.getvalue())
        return f"s3://{self.store.bucket}/{prefix}"

    def publish(self, dt: str, version: str) -> None:
        prefix = curated_version_prefix(DATASET, dt, version, column=self.column)
        location = f"s3://{self.store.bucket}/{prefix}"
        storage = table_input(self.contract, self.store.bucket)["StorageDescriptor"]
        publish_partitions(
            self.glue, self.database, DATASET, [{"dt": dt, "location": location, "version": version}], storage
        )

    def live(self, dt: str) -> str | None:
        try:
            partition = self.glue.get_partition(
                DatabaseName=self.database, TableName=DATASET, PartitionValues=[dt]
            )
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return partition["Partition"]["StorageDescriptor"]["Location"]

    def objects(self, prefix: str = "curated/") -> dict[str, int]:
        return {obj.key: obj.size for obj in self.store.list(prefix)}

    def read_rows(self, location: str) -> list[dict[str, Any]]:
        """Every row of a version (all its Parquet files), sorted by order id."""
        prefix = location.split(f"s3://{self.store.bucket}/", 1)[1]
        tables = [
            pq.read_table(
                io.BytesIO(self.store.client.get_object(Bucket=self.store.bucket, Key=key)["Body"].read())
            )
            for key in sorted(self.objects(prefix))
            if key.endswith(".parquet")
        ]
        return sorted(pa.concat_tables(tables).to_pylist(), key=lambda row: row["order_id"])


@pytest.fixture
def orders(lake, glue, database) -> CuratedOrders:
    return CuratedOrders(lake, glue, database)
