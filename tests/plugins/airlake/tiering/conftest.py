"""Fixtures of the tiering tests: objects with a partition date in the key, a Glue table with live versions."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from airlake.store import LakeStore

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
BIG = 200 * 1024
"""Above the 128 KiB Standard-IA minimum: objects this size move."""
SMALL = 4 * 1024
"""Below it: they stay in Standard."""


@dataclass(frozen=True)
class Put:
    key: str
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def put(store: LakeStore, key: str, size: int = BIG, **extra: Any) -> Put:
    """An object of ``size`` random bytes, encrypted like every lake write (plus ``extra`` put arguments)."""
    body = os.urandom(size)
    args = {**store.sse, **extra}
    store.client.put_object(Bucket=store.bucket, Key=key, Body=body, **args)
    return Put(key, body)


def read(store: LakeStore, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def storage_class(store: LakeStore, key: str) -> str:
    return store.client.head_object(Bucket=store.bucket, Key=key).get("StorageClass") or "STANDARD"


def raw_key(dataset: str, day: str, part: int = 0, run: str = "backfill") -> str:
    return f"raw/{dataset}/ingest_date={day}/run={run}/part-{part:05d}.jsonl.gz"


def version_id(day: str, n: int = 0) -> str:
    """A version id written on ``day`` (curate's format: UTC timestamp with microseconds)."""
    return f"{day.replace('-', '')}T0{n}0000000000Z"


def curated_key(dataset: str, day: str, version: str, part: int = 0) -> str:
    return f"curated/{dataset}/dt={day}/v={version}/part-{part:05d}.parquet"


@pytest.fixture
def s3(lake: LakeStore) -> Any:
    return lake.client


@pytest.fixture
def publish(glue: Any, database: str, lake: LakeStore) -> Callable[[str, Mapping[str, str]], None]:
    """Create the dataset's Glue table (from its contract) and point partitions ``{dt: version}`` at them."""
    return publisher(glue, database, lake)


def publisher(glue: Any, database: str, lake: LakeStore) -> Callable[[str, Mapping[str, str]], None]:
    """What the ``publish`` fixture gives (for test modules outside this folder)."""
    from airlake.catalog import ensure_database, ensure_table, get_table, publish_partitions
    from airlake.contracts import get_contract

    def _publish(dataset: str, versions: Mapping[str, str]) -> None:
        ensure_database(glue, database)
        ensure_table(glue, database, get_contract(dataset), lake.bucket)
        table = get_table(glue, database, dataset)
        assert table is not None
        publish_partitions(
            glue,
            database,
            dataset,
            [
                {"dt": dt, "location": f"s3://{lake.bucket}/curated/{dataset}/dt={dt}/v={v}/", "version": v}
                for dt, v in versions.items()
            ],
            table["StorageDescriptor"],
        )

    return _publish


def partition_parameters(glue: Any, database: str, table: str, dt: str) -> dict[str, str]:
    partition = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[dt])["Partition"]
    return dict(partition.get("Parameters") or {})


def partition_location(glue: Any, database: str, table: str, dt: str) -> str:
    partition = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[dt])["Partition"]
    return partition["StorageDescriptor"]["Location"]
