"""The raw log and its records: attempts kept, what "published" means, versions and scratch of dead attempts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airlake.contracts import get_contract
from airlake.curate import CurateOptions, new_version_id, run_curate
from airlake.curate.partitions import resolve_live
from airlake.curate.spill import remove_stale_scratch, scratch_dir
from airlake.lake import curated_version_prefix, manifest_attempt_key, manifest_key
from airlake.manifest import Manifest, manifest_attempts, read_manifest, unpublished_raw_runs
from tests.plugins.airlake.curate.curate_helpers import Catalog, jsonl, land_run, read_partition
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1, RUN_2, order

RUN_3 = "scheduled__2026-11-22T00:00:00+00:00"


def _catalogued(lake, run_id: str) -> None:
    """What the catalog task leaves when it published the run's curate record."""
    Manifest(dataset="orders", run_id=run_id, stage="catalog").write(lake)


def _curate(lake, run_id: str, catalog: Catalog, tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    summary = run_curate(
        get_contract("orders"), lake, run_id=run_id, live_location=catalog.lookup, work_dir=work, **kwargs
    ).summary
    return summary


# -- records: append-only per attempt ---------------------------------------------------------------


def test_every_attempt_is_kept_and_readers_take_the_latest_or_the_latest_with_a_status(lake) -> None:
    lake.put_json(manifest_key("orders", RUN_1, "curate"), {"run_id": RUN_1, "status": "complete", "n": 0})
    first = Manifest(dataset="orders", run_id=RUN_1, stage="curate", extra={"n": 1})
    first.write(lake, "complete")
    second = Manifest(dataset="orders", run_id=RUN_1, stage="curate", extra={"n": 2})
    second.write(lake, "failed")

    assert [r["n"] for r in manifest_attempts(lake, "orders", RUN_1, "curate")] == [0, 1, 2]  # legacy kept
    assert [first.attempt, second.attempt] == [2, 3]
    assert read_manifest(lake, "orders", RUN_1, "curate")["n"] == 2
    assert read_manifest(lake, "orders", RUN_1, "curate", status="complete")["n"] == 1
    assert lake.get_json(manifest_attempt_key("orders", RUN_1, "curate", 2))["n"] == 1


# -- the raw log: what is published -----------------------------------------------------------------


def test_a_raw_run_is_published_by_its_own_catalog_or_by_a_later_run_that_consumed_it(
    lake, catalog, tmp_path
) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1[:2]))])
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(ORDERS_DAY_1[2:4]))], ingest_date=date(2026, 11, 21))
    land_run(lake, "orders", RUN_3, [(".jsonl.gz", jsonl(ORDERS_DAY_1[4:6]))], ingest_date=date(2026, 11, 22))
    _curate(lake, RUN_1, catalog, tmp_path)
    _catalogued(lake, RUN_1)
    assert [r.run_id for r in unpublished_raw_runs(lake, "orders")] == [RUN_2, RUN_3]

    _curate(lake, RUN_2, catalog, tmp_path)  # RUN_2 fails after curate (no catalog record)
    consumed = _curate(lake, RUN_3, catalog, tmp_path, backlog=True)
    assert consumed["raw_runs"] == [RUN_2, RUN_3]
    assert [r.run_id for r in unpublished_raw_runs(lake, "orders")] == [RUN_2, RUN_3]  # not yet published
    _catalogued(lake, RUN_3)
    assert unpublished_raw_runs(lake, "orders") == []


def test_a_catalog_attempt_publishes_only_the_curate_attempt_it_followed(lake, catalog, tmp_path) -> None:
    """RUN_3 consumed RUN_2 in an attempt after its catalog ran: RUN_2 is still unpublished."""
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(ORDERS_DAY_1[:2]))], ingest_date=date(2026, 11, 21))
    _curate(lake, RUN_2, catalog, tmp_path)  # failed later: no catalog record
    land_run(lake, "orders", RUN_3, [(".jsonl.gz", jsonl(ORDERS_DAY_1[2:4]))], ingest_date=date(2026, 11, 22))
    _curate(lake, RUN_3, catalog, tmp_path)  # without the backlog
    _catalogued(lake, RUN_3)
    _curate(lake, RUN_3, catalog, tmp_path, backlog=True)  # a clear of RUN_3's curate, not yet catalogued
    assert [r.run_id for r in unpublished_raw_runs(lake, "orders")] == [RUN_2]


def test_the_backlog_curates_every_unpublished_row_once_with_the_live_rows(lake, catalog, tmp_path) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    failed = _curate(lake, RUN_1, catalog, tmp_path)  # its quality check failed: nothing published
    update = order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99")
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl([update]))], ingest_date=date(2026, 11, 21))

    summary = _curate(lake, RUN_2, catalog, tmp_path, backlog=True)

    assert summary["raw_runs"] == [RUN_1, RUN_2]
    assert summary["rows"]["read"] == len(ORDERS_DAY_1) + 1
    assert {p["dt"] for p in summary["partitions"]} == {p["dt"] for p in failed["partitions"]}
    manifest = lake.get_json(summary["manifest"])
    assert [item["raw_run"] for item in manifest["inputs"]] == [RUN_1, RUN_2]
    [day] = [p for p in manifest["partitions"] if p["dt"] == "2026-11-20"]
    assert {row["order_id"]: row["status"] for row in read_partition(lake, day)} == {
        1: "shipped",
        4: "placed",
        5: "cancelled",
        6: "shipped",
    }


def test_the_backlog_looks_back_a_bounded_number_of_days(lake, catalog, tmp_path) -> None:
    """A raw run that failed long ago (maybe archived by tiering since) is left to airlake_reprocess."""
    from datetime import UTC, datetime

    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1[:2]))])
    record = lake.get_json(manifest_key("orders", RUN_1, "ingest"))
    ingested = datetime.now(UTC) - timedelta(days=40)
    lake.put_json(manifest_key("orders", RUN_1, "ingest"), {**record, "finished_at": ingested.isoformat()})
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(ORDERS_DAY_1[2:4]))], ingest_date=date(2026, 11, 21))
    record = lake.get_json(manifest_key("orders", RUN_2, "ingest"))
    lake.put_json(
        manifest_key("orders", RUN_2, "ingest"), {**record, "finished_at": datetime.now(UTC).isoformat()}
    )

    assert _curate(lake, RUN_2, catalog, tmp_path, backlog=True)["raw_runs"] == [RUN_2]
    assert _curate(lake, RUN_2, catalog, tmp_path, backlog=True, backlog_days=60)["raw_runs"] == [
        RUN_1,
        RUN_2,
    ]


# -- reruns change nothing ----------------------------------------------------------------------------


def test_a_rerun_with_unchanged_inputs_uploads_nothing_and_reports_the_live_location(
    lake, catalog, tmp_path
) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    catalog.publish(_curate(lake, RUN_1, catalog, tmp_path))
    objects = sorted(obj.key for obj in lake.list("curated/"))

    again = _curate(lake, RUN_1, catalog, tmp_path)

    assert sorted(obj.key for obj in lake.list("curated/")) == objects
    assert all(p["unchanged"] for p in again["partitions"])
    assert {p["dt"]: p["location"] for p in again["partitions"]} == catalog.live
    manifest = lake.get_json(again["manifest"])
    assert manifest["unchanged"] == sorted(catalog.live) and manifest["bytes_written"] == 0


def test_a_full_refresh_rerun_compares_with_the_live_version_it_does_not_merge(
    lake, catalog, tmp_path
) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])

    def refresh() -> dict[str, Any]:
        nothing_merged = CurateOptions(compare_location=catalog.lookup)
        return _curate(lake, RUN_1, Catalog(), tmp_path, options=nothing_merged)

    catalog.publish(refresh())
    objects = sorted(obj.key for obj in lake.list("curated/"))
    again = refresh()

    assert sorted(obj.key for obj in lake.list("curated/")) == objects
    assert {p["dt"]: (p["unchanged"], p["location"]) for p in again["partitions"]} == {
        dt: (True, location) for dt, location in catalog.live.items()
    }
    assert all(p["previous_location"] is None for p in again["partitions"])


def test_a_changed_row_still_writes_a_new_version_of_its_partition_only(lake, catalog, tmp_path) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    catalog.publish(_curate(lake, RUN_1, catalog, tmp_path))
    update = order(5, "paid", "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z", "7.00")
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl([*ORDERS_DAY_1[:1], update]))])

    summary = _curate(lake, RUN_2, catalog, tmp_path)

    [partition] = summary["partitions"]
    assert partition["dt"] == "2026-11-20" and not partition["unchanged"]
    assert partition["location"] != catalog.live["2026-11-20"]


def test_versions_of_a_killed_attempt_are_removed_by_the_next_successful_run(lake, catalog, tmp_path) -> None:
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    first = _curate(lake, RUN_1, catalog, tmp_path)
    catalog.publish(first)
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(ORDERS_DAY_1[:1]))], ingest_date=date(2026, 11, 21))
    unpublished = _curate(lake, RUN_2, catalog, tmp_path)  # complete, then its quality check failed
    killed = curated_version_prefix("orders", "2026-11-19", new_version_id())
    lake.put_bytes(killed + "part-00000.parquet", b"PAR1 half an upload")  # SIGKILL mid-upload
    update = order(4, "paid", "2026-11-20T23:59:59.999999Z", "2026-11-21T09:00:00Z", "0.01")
    land_run(lake, "orders", RUN_3, [(".jsonl.gz", jsonl([update]))], ingest_date=date(2026, 11, 22))

    summary = _curate(
        lake, RUN_3, catalog, tmp_path, options=CurateOptions(orphan_grace=timedelta(0))
    )  # the kill was just now

    assert not list(lake.list(killed))
    assert lake.get_json(summary["manifest"])["removed_versions"] == [killed]
    for kept in (*first["partitions"], *unpublished["partitions"]):  # live, and named by a complete record
        assert list(lake.list(kept["location"].split("/", 3)[3])), kept["location"]


# -- expensive work is not lost to a late lookup -------------------------------------------------------


def _throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}},
        "GetPartition",
    )


def test_a_throttled_live_lookup_is_retried_instead_of_losing_the_parse(
    lake, catalog, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("airlake.curate.partitions.time.sleep", lambda seconds: None)
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    calls: list[str] = []

    def flaky(dt: str) -> str | None:
        calls.append(dt)
        if calls.count(dt) < 3:
            raise RuntimeError(f"get_partition dt={dt} failed") from _throttled()
        return catalog.lookup(dt)

    summary = run_curate(
        get_contract("orders"), lake, run_id=RUN_1, live_location=flaky, work_dir=tmp_path / "w"
    ).summary
    assert summary["rows"]["written"] == 6
    assert sorted(set(calls)) == [p["dt"] for p in summary["partitions"]]


def test_a_deterministic_lookup_error_is_not_retried() -> None:
    calls: list[str] = []

    def broken(dt: str) -> str | None:
        calls.append(dt)
        raise ValueError("not a partition value")

    with pytest.raises(ValueError, match="not a partition value"):
        resolve_live(broken, ["2026-11-20"], pause=0)
    assert calls == ["2026-11-20"]


# -- local scratch of dead runs ------------------------------------------------------------------------


def test_scratch_of_dead_runs_is_removed_and_of_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"airlake-curate-orders-p{dead_pid}-abcd1234"
    (stale / "parts").mkdir(parents=True)
    (stale / "parts" / "spill.parquet").write_bytes(b"x" * 1024)
    alive = tmp_path / f"airlake-curate-orders-p{os.getppid()}-efgh5678"  # our parent: alive, older
    alive.mkdir()
    legacy = tmp_path / "airlake-curate-orders-zz9xk2l1"  # older code's name: no pid, judged by age
    legacy.mkdir()
    old = legacy.stat().st_mtime - 2 * 24 * 3600
    os.utime(legacy, (old, old))
    other = tmp_path / "not-ours"
    other.mkdir()

    with scratch_dir("orders", tmp_path) as work:
        assert Path(work).name.startswith(f"airlake-curate-orders-p{os.getpid()}-")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, Path(work).name, "not-ours"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "not-ours"])
    assert remove_stale_scratch(tmp_path) == []
