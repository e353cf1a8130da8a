"""Builders shared by the catalog tests: contracts with changed schemas, Parquet files, curate manifests."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airlake.catalog import get_table
from airlake.contracts import Column, Contract
from airlake.lake import manifest_key

VERSION_1 = "20261121T051500123456Z"
VERSION_2 = "20261122T051500123456Z"


def with_columns(contract: Contract, columns: list[Column]) -> Contract:
    """The contract with another schema (as if its YAML file had been edited)."""
    return contract.model_copy(update={"columns": tuple(columns)})


def retyped(contract: Contract, name: str, new_type: str) -> Contract:
    return with_columns(
        contract, [c.model_copy(update={"type": new_type}) if c.name == name else c for c in contract.columns]
    )


def without(contract: Contract, name: str) -> Contract:
    return with_columns(contract, [c for c in contract.columns if c.name != name])


def _value(data_type: pa.DataType, row: int) -> Any:
    t = pa.types
    if t.is_string(data_type):
        return f"v{row}"
    if t.is_boolean(data_type):
        return row % 2 == 0
    if t.is_integer(data_type):
        return row + 1
    if t.is_floating(data_type):
        return row + 0.5
    if t.is_decimal(data_type):
        return Decimal(row + 1).scaleb(-data_type.scale).quantize(Decimal(1).scaleb(-data_type.scale))
    if t.is_date(data_type):
        return dt.date(2026, 11, 20)
    if t.is_timestamp(data_type):
        moment = dt.datetime(2026, 11, 20, 12) + dt.timedelta(seconds=row)
        return moment.replace(tzinfo=dt.UTC) if data_type.tz else moment
    raise AssertionError(f"no sample value for {data_type}")


def sample_table(schema: pa.Schema, rows: int = 3) -> pa.Table:
    return pa.Table.from_pylist(
        [{f.name: _value(f.type, row) for f in schema} for row in range(rows)], schema=schema
    )


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def version_key(dataset: str, day: str, version: str, part: int = 0) -> str:
    return f"curated/{dataset}/dt={day}/v={version}/part-{part:05d}.parquet"


def location(bucket: str, dataset: str, day: str, version: str) -> str:
    return f"s3://{bucket}/curated/{dataset}/dt={day}/v={version}/"


def write_curate_run(
    store: Any,
    contract: Contract,
    run_id: str,
    days: list[str],
    version: str,
    *,
    schema: pa.Schema | None = None,
    live: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the curate stage leaves for one run: a Parquet file per day and its manifest."""
    schema = schema or contract.arrow_schema()
    partitions = []
    for day in days:
        key = version_key(contract.name, day, version)
        body = parquet_bytes(sample_table(schema))
        store.put_bytes(key, body)
        partitions.append(
            {
                "dt": day,
                "version": version,
                "location": location(store.bucket, contract.name, day, version),
                "files": [key],
                "rows": 3,
                "bytes": len(body),
                "previous_location": (live or {}).get(day),
            }
        )
    document = {
        "dataset": contract.name,
        "run_id": run_id,
        "stage": "curate",
        "status": "complete",
        "partitions": partitions,
    }
    store.put_json(manifest_key(contract.name, run_id, "curate"), document)
    return document


def partitions_of(glue: Any, database: str, table: str) -> dict[str, str]:
    """{dt: location} of every partition of the table."""
    out: dict[str, str] = {}
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
        for partition in page["Partitions"]:
            out[partition["Values"][0]] = partition["StorageDescriptor"]["Location"]
    return out


BUCKET = "airlake-lake"
"""The bucket the catalog tests' tables point at (no object needs to be there)."""


def table_of(glue: Any, database: str, name: str) -> dict[str, Any]:
    """The Glue table, which must exist."""
    table = get_table(glue, database, name)
    assert table is not None
    return table


DEMO_DATASETS = ("clickstream", "fx_rates", "orders", "payments", "products")
"""The demo contracts, each checked for a table and an Arrow schema that match."""
