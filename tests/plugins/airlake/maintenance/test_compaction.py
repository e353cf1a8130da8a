"""Compaction keeps the rows, lowers the file count, publishes the new version, and reruns as a no-op."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.catalog import PARAM_VERSION
from airlake.curate.duck import ParquetLayout
from airlake.curate.versions import split_location, version_of_location
from airlake.lake import curated_version_prefix, manifest_key, s3_uri
from airlake.maintenance import CompactionError, CompactionPolicy, compact_dataset, plan_compaction
from tests.plugins.airlake.maintenance.conftest import DATASET, CuratedOrders, order_rows, version_at

V1 = version_at(datetime(2026, 11, 20, 5, tzinfo=UTC))
MANY, SINGLE, OLD_SCHEMA = "2026-11-20", "2026-11-21", "2026-11-22"


@pytest.fixture
def partitions(orders: CuratedOrders) -> dict[str, list[dict]]:
    """dt MANY: 5 small files; dt SINGLE: one file; dt OLD_SCHEMA: 3 files written before coupon_code."""
    rows = {
        MANY: order_rows(MANY, 0, 50),
        SINGLE: order_rows(SINGLE, 100, 10),
        OLD_SCHEMA: order_rows(OLD_SCHEMA, 200, 12),
    }
    orders.write(MANY, V1, [rows[MANY][i : i + 10] for i in range(0, 50, 10)])
    orders.write(SINGLE, V1, [rows[SINGLE]])
    old = orders.contract.arrow_schema()
    old = old.remove(old.get_field_index("coupon_code"))
    orders.write(OLD_SCHEMA, V1, [rows[OLD_SCHEMA][i : i + 4] for i in range(0, 12, 4)], schema=old)
    for dt in rows:
        orders.publish(dt, V1)
    rows[OLD_SCHEMA] = [{**row, "coupon_code": None} for row in rows[OLD_SCHEMA]]  # as readers see them
    return rows


def _live(orders: CuratedOrders) -> dict[str, str | None]:
    return {dt: orders.live(dt) for dt in (MANY, SINGLE, OLD_SCHEMA)}


def test_plan_picks_partitions_with_many_or_small_files(partitions, orders: CuratedOrders) -> None:
    plans = plan_compaction(orders.store, DATASET, _live(orders))
    assert [(p.dt, len(p.files), p.target_files) for p in plans] == [(MANY, 5, 1), (OLD_SCHEMA, 3, 1)]
    assert plans[0].reasons == ("5 file(s) < 33554432 bytes",)
    assert plans[0].bytes == sum(size for key, size in orders.objects().items() if f"dt={MANY}/" in key)

    # by file count only: more than 4 files
    plans = plan_compaction(
        orders.store, DATASET, _live(orders), CompactionPolicy(max_files=4, small_file_bytes=0)
    )
    assert [(p.dt, p.reasons) for p in plans] == [(MANY, ("5 files > 4",))]
    # a file count the target size cannot lower is left alone
    tiny = ParquetLayout(max_file_bytes=100)
    assert plan_compaction(orders.store, DATASET, _live(orders), CompactionPolicy(layout=tiny)) == []
    with pytest.raises(ValueError):
        plan_compaction(orders.store, DATASET, _live(orders), CompactionPolicy(max_files=0))


def test_tiered_partitions_are_left_alone(partitions, orders: CuratedOrders) -> None:
    """A partition whose files tiering moved to a colder class is not read back nor rewritten."""
    client, bucket = orders.store.client, orders.store.bucket
    for key in orders.objects(f"curated/{DATASET}/dt={MANY}/"):
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            StorageClass="GLACIER",
            ServerSideEncryption="AES256",
        )
    assert [p.dt for p in plan_compaction(orders.store, DATASET, _live(orders))] == [OLD_SCHEMA]


def test_compaction_keeps_rows_and_publishes(
    partitions, orders: CuratedOrders, lake, glue, database, tmp_path
) -> None:
    before = orders.objects()
    result = compact_dataset(lake, glue, database, orders.contract, tmp_path / "work", run_id="weekly_1")

    assert [entry["dt"] for entry in result["compacted"]] == [MANY, OLD_SCHEMA]
    assert result["skipped"] == []
    for entry in result["compacted"]:
        dt = entry["dt"]
        location = orders.live(dt)
        assert location == entry["location"]  # the Glue partition points at the new version
        version = version_of_location(location)
        assert version == entry["version"] and version > V1
        partition = glue.get_partition(DatabaseName=database, TableName=DATASET, PartitionValues=[dt])
        assert partition["Partition"]["Parameters"][PARAM_VERSION] == version
        assert (entry["files_before"], entry["files_after"]) == ((5, 1) if dt == MANY else (3, 1))
        assert orders.read_rows(location) == sorted(partitions[dt], key=lambda row: row["order_id"])
        assert entry["rows"] == len(partitions[dt])
        # the new version is ONE prefix with one file; the old one is untouched (cleanup's job)
        prefix = split_location(location)[1]
        assert list(orders.objects(prefix)) == [f"{prefix}part-00000.parquet"]
        assert all(key in orders.objects() for key in before)
    assert version_of_location(orders.live(SINGLE)) == V1

    manifest = lake.get_json(manifest_key(DATASET, "weekly_1", "compact"))
    assert manifest["rows"] == {"read": 62, "written": 62}
    assert len(manifest["inputs"]) == 8 and len(manifest["outputs"]) == 2
    assert all(lake.head(o["key"])["ServerSideEncryption"] == "AES256" for o in manifest["outputs"])

    # rerun: nothing to do, nothing written, catalog unchanged
    keys, live = orders.objects(), _live(orders)
    again = compact_dataset(lake, glue, database, orders.contract, tmp_path / "work", run_id="weekly_2")
    assert again["planned"] == [] and again["compacted"] == []
    assert orders.objects() == keys and _live(orders) == live


def test_dry_run_only_plans(partitions, orders: CuratedOrders, lake, glue, database, tmp_path) -> None:
    keys, live = orders.objects(), _live(orders)
    result = compact_dataset(lake, glue, database, orders.contract, tmp_path, dry_run=True, run_id="r")
    assert [p["dt"] for p in result["planned"]] == [MANY, OLD_SCHEMA]
    assert result["compacted"] == [] and result["manifest"] is None
    assert orders.objects() == keys and _live(orders) == live
    assert not lake.exists(manifest_key(DATASET, "r", "compact"))


def test_partition_moved_meanwhile_keeps_the_newer_data(
    partitions, orders: CuratedOrders, lake, glue, database, tmp_path, monkeypatch
) -> None:
    """A curate run published dt MANY while it was being compacted: the rewrite is dropped."""
    newer = version_at(datetime(2026, 11, 25, tzinfo=UTC))
    moved = orders.write(MANY, newer, [order_rows(MANY, 0, 60)])
    import airlake.catalog

    real = airlake.catalog.current_location

    def curate_publishes_first(glue_, database_, table, dt):
        if dt == MANY:
            orders.publish(MANY, newer)
        return real(glue_, database_, table, dt)

    monkeypatch.setattr(airlake.catalog, "current_location", curate_publishes_first)
    keys = orders.objects()
    result = compact_dataset(lake, glue, database, orders.contract, tmp_path)
    assert result["skipped"] == [{"dt": MANY, "reason": "partition moved", "location": moved}]
    assert [entry["dt"] for entry in result["compacted"]] == [OLD_SCHEMA]
    assert orders.live(MANY) == moved
    # the dropped rewrite left nothing behind in dt MANY
    assert {k for k in orders.objects() if f"dt={MANY}/" in k} == {k for k in keys if f"dt={MANY}/" in k}


def test_a_column_the_contract_does_not_have_fails_before_publishing(
    orders: CuratedOrders, lake, glue, database, tmp_path
) -> None:
    import pyarrow as pa

    schema = orders.contract.arrow_schema().append(pa.field("surprise", pa.string()))
    rows = [{**row, "surprise": "x"} for row in order_rows(MANY, 0, 4)]
    location = orders.write(MANY, V1, [rows[:2], rows[2:]], schema=schema)
    orders.publish(MANY, V1)
    with pytest.raises(CompactionError, match="surprise"):
        compact_dataset(lake, glue, database, orders.contract, tmp_path)
    assert orders.live(MANY) == location
    assert len(orders.objects()) == 2


def test_plan_reads_keys_by_the_contracts_partition_column(orders: CuratedOrders) -> None:
    """A contract partitioned by ``day`` has ``day=`` folders: they are planned, ``dt=`` ones are not there."""
    store, rows = orders.store, order_rows(MANY, 0, 20)
    prefix = curated_version_prefix(DATASET, MANY, V1, column="day")
    for index in range(4):
        table = pa.Table.from_pylist(rows[index * 5 : index * 5 + 5], schema=orders.contract.arrow_schema())
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        store.put_bytes(f"{prefix}part-{index:05d}.parquet", buffer.getvalue())
    live = {MANY: s3_uri(store.bucket, prefix)}

    plans = plan_compaction(store, DATASET, live, partition_column="day")

    assert [(p.dt, len(p.files), p.location) for p in plans] == [(MANY, 4, live[MANY])]
    assert plan_compaction(store, DATASET, live) == []
