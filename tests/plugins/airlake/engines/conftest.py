from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pytest

from airlake.catalog import ensure_database, ensure_table, publish_partitions, table_input
from airlake.contracts import get_contract
from airlake.lake import curated_version_prefix


class CuratedLake:
    """Writes curated Parquet partition versions the way curate does and publishes them in Glue."""

    def __init__(self, store: Any, glue: Any, database: str) -> None:
        self.store, self.glue, self.database = store, glue, database
        ensure_database(glue, database)

    def write(self, dataset: str, dt: str, version: str, rows: Sequence[dict[str, Any]]) -> str:
        """Write one partition version (one zstd Parquet file in the contract's schema); its location."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        contract = get_contract(dataset)
        schema = contract.arrow_schema()
        table = pa.Table.from_pylist(
            [{name: row.get(name) for name in schema.names} for row in rows], schema=schema
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        prefix = curated_version_prefix(dataset, dt, version)
        self.store.put_bytes(f"{prefix}part-00000.parquet", buffer.getvalue())
        return f"s3://{self.store.bucket}/{prefix}"

    def publish(self, dataset: str, partitions: dict[str, Sequence[dict[str, Any]]], version: str) -> None:
        """Write ``{dt: rows}`` as ``version`` and point the Glue partitions at it."""
        contract = get_contract(dataset)
        ensure_table(self.glue, self.database, contract, self.store.bucket)
        entries = [
            {"dt": dt, "location": self.write(dataset, dt, version, rows), "version": version}
            for dt, rows in partitions.items()
        ]
        storage = table_input(contract, self.store.bucket)["StorageDescriptor"]
        publish_partitions(self.glue, self.database, dataset, entries, storage)


@pytest.fixture
def curated(lake, glue, database) -> CuratedLake:
    return CuratedLake(lake, glue, database)
