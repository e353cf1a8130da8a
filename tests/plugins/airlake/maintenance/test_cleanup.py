"""Cleanup deletes exactly the expired non-live versions; the live one and those in grace stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlake.lake import curated_version_prefix, manifest_key, parse_curated_version_prefix
from airlake.maintenance import clean_dataset, cleanup_expired_versions, delete_prefix
from tests.plugins.airlake.maintenance.conftest import DATASET, CuratedOrders, order_rows, version_at

NOW = datetime(2026, 11, 30, tzinfo=UTC)
GRACE = timedelta(hours=72)  # cutoff 2026-11-27
V = {day: version_at(datetime(2026, 11, day, 5, tzinfo=UTC)) for day in (20, 21, 22, 28, 29)}


def _prefix(dt: str, day: int) -> str:
    return curated_version_prefix(DATASET, dt, V[day])


@pytest.fixture
def versions(orders: CuratedOrders) -> CuratedOrders:
    """
    dt=2026-11-01: V20, V21 (live), V22 (abandoned attempt), V29 (attempt still in grace)
    dt=2026-11-02: V20 (live, the only one)
    dt=2026-11-03: V20, V28 (live since the 28th: V20 still in grace)
    dt=2026-11-04: V20, never published (unknown to the catalog)
    """
    layout = {
        "2026-11-01": ([20, 21, 22, 29], 21),
        "2026-11-02": ([20], 20),
        "2026-11-03": ([20, 28], 28),
        "2026-11-04": ([20], None),
    }
    for index, (dt, (days, live)) in enumerate(layout.items()):
        for day in days:
            rows = order_rows(dt, 100 * index + day, 3 + day % 4)
            orders.write(dt, V[day], [rows[:2], rows[2:]])  # two files of different sizes
        if live:
            orders.publish(dt, V[live])
    return orders


def test_cleanup_parses_the_prefixes_it_lists() -> None:
    assert parse_curated_version_prefix(_prefix("2026-11-01", 20)) == (DATASET, "2026-11-01", V[20])


@pytest.mark.parametrize("prefix", ["", "curated/", "curated/orders", "curated/orders/"])
def test_delete_prefix_refuses_wide_prefixes(lake, prefix: str) -> None:
    with pytest.raises(ValueError, match="refusing to delete"):
        delete_prefix(lake, prefix)


def test_cleanup_deletes_exactly_the_expired_versions(versions: CuratedOrders, lake, glue, database) -> None:
    before = versions.objects()
    expired = {_prefix("2026-11-01", 20), _prefix("2026-11-01", 22)}
    expected_bytes = sum(size for key, size in before.items() if key.startswith(tuple(expired)))
    live_before = {dt: versions.live(dt) for dt in ("2026-11-01", "2026-11-02", "2026-11-03")}

    dry = cleanup_expired_versions(
        lake, glue, database, [DATASET], grace=GRACE, now=NOW, dry_run=True, run_id="r1"
    )
    assert versions.objects() == before  # a dry run deletes nothing
    assert not lake.exists(manifest_key(DATASET, "r1", "cleanup"))
    assert {d["prefix"] for d in dry["datasets"][DATASET]["deleted"]} == expired
    assert (dry["versions"], dry["objects"], dry["bytes"]) == (2, 4, expected_bytes)

    result = cleanup_expired_versions(lake, glue, database, [DATASET], grace=GRACE, now=NOW, run_id="r1")
    assert result["dry_run"] is False
    assert (result["versions"], result["objects"], result["bytes"]) == (2, 4, expected_bytes)
    deleted = result["datasets"][DATASET]["deleted"]
    assert {(d["dt"], d["version"]) for d in deleted} == {("2026-11-01", V[20]), ("2026-11-01", V[22])}
    for entry in deleted:
        assert entry["bytes"] == sum(size for key, size in before.items() if key.startswith(entry["prefix"]))
        assert entry["objects"] == 2

    after = versions.objects()
    assert after == {key: size for key, size in before.items() if not key.startswith(tuple(expired))}
    # the live versions, the attempt in grace, the superseded version in grace and the unknown
    # partition are all still there, and the catalog did not move
    for dt, day in [
        ("2026-11-01", 21),
        ("2026-11-01", 29),
        ("2026-11-02", 20),
        ("2026-11-03", 20),
        ("2026-11-03", 28),
        ("2026-11-04", 20),
    ]:
        assert any(key.startswith(_prefix(dt, day)) for key in after), (dt, day)
    assert {dt: versions.live(dt) for dt in live_before} == live_before

    manifest = lake.get_json(manifest_key(DATASET, "r1", "cleanup"))
    assert manifest["status"] == "complete" and manifest["stage"] == "cleanup"
    assert {o["prefix"] for o in manifest["outputs"]} == expired
    assert sum(o["bytes_deleted"] for o in manifest["outputs"]) == expected_bytes
    assert manifest["bytes_written"] == 0

    # rerunning deletes nothing more, and the manifest of the run keeps what the first attempt deleted
    again = cleanup_expired_versions(lake, glue, database, [DATASET], grace=GRACE, now=NOW, run_id="r1")
    assert again["versions"] == 0 and versions.objects() == after
    assert {o["prefix"] for o in lake.get_json(manifest_key(DATASET, "r1", "cleanup"))["outputs"]} == expired


def test_unpublished_partitions_only_when_asked(versions: CuratedOrders, lake, glue, database) -> None:
    result = cleanup_expired_versions(
        lake, glue, database, [DATASET], grace=GRACE, now=NOW, include_unpublished=True
    )
    assert _prefix("2026-11-04", 20) in {d["prefix"] for d in result["datasets"][DATASET]["deleted"]}
    assert result["versions"] == 3


def test_a_dataset_without_a_table_is_left_alone(versions: CuratedOrders, lake, glue) -> None:
    before = versions.objects()
    result = cleanup_expired_versions(lake, glue, "no_such_database", [DATASET], grace=GRACE, now=NOW)
    assert result["versions"] == 0 and versions.objects() == before


def test_a_version_that_became_live_meanwhile_is_kept(versions: CuratedOrders, lake) -> None:
    """The catalog was read with V21 live; just before deleting, dt=2026-11-01 points at V22."""
    stale = {"2026-11-01": f"s3://{lake.bucket}/{_prefix('2026-11-01', 21)}"}
    now_live = f"s3://{lake.bucket}/{_prefix('2026-11-01', 22)}"
    result = clean_dataset(lake, DATASET, stale, grace=GRACE, now=NOW, current_location=lambda dt: now_live)
    assert [d["version"] for d in result["deleted"]] == [V[20]]
    assert result["skipped"] == [
        {"dt": "2026-11-01", "version": V[22], "prefix": _prefix("2026-11-01", 22), "reason": "live now"}
    ]
    assert any(key.startswith(_prefix("2026-11-01", 22)) for key in versions.objects())


def test_deletes_page_by_page(lake, monkeypatch) -> None:
    from airlake.maintenance import cleanup

    monkeypatch.setattr(cleanup, "DELETE_BATCH", 3)
    prefix = _prefix("2026-11-09", 20)
    for n in range(7):
        lake.put_bytes(f"{prefix}part-{n:05d}.parquet", b"x" * (n + 1))
    calls: list[int] = []
    original = lake.delete
    monkeypatch.setattr(lake, "delete", lambda keys: (calls.append(len(keys)), original(keys)))
    assert delete_prefix(lake, prefix) == (7, 28)
    assert calls == [3, 3, 1]
    assert list(lake.list(prefix)) == []


def test_a_dataset_partitioned_by_another_column_is_cleaned_by_its_own_folders(lake, glue, database) -> None:
    """The contract names ``day``: Glue's partition key says so, and the ``day=`` versions are the ones
    listed and deleted (a ``dt=`` regex would find none and delete nothing)."""
    from tests.plugins.airlake.maintenance.conftest import CuratedOrders

    orders = CuratedOrders(lake, glue, database, column="day")
    assert [
        k["Name"] for k in glue.get_table(DatabaseName=database, Name=DATASET)["Table"]["PartitionKeys"]
    ] == ["day"]
    for day in (20, 21):
        orders.write("2026-11-01", V[day], [order_rows("2026-11-01", day, 3)])
    orders.publish("2026-11-01", V[21])
    old = curated_version_prefix(DATASET, "2026-11-01", V[20], column="day")
    live = curated_version_prefix(DATASET, "2026-11-01", V[21], column="day")
    assert old.startswith("curated/orders/day=2026-11-01/")

    result = cleanup_expired_versions(lake, glue, database, [DATASET], grace=GRACE, now=NOW)

    assert [d["prefix"] for d in result["datasets"][DATASET]["deleted"]] == [old]
    assert result["datasets"][DATASET]["deleted"][0]["dt"] == "2026-11-01"
    remaining = orders.objects()
    assert remaining and all(key.startswith(live) for key in remaining)
