"""Glacier restore before a read, and the Glue flags of archived partitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airlake.catalog import (
    PARAM_ARCHIVED,
    PARAM_RESTORED_UNTIL,
    PARAM_STORAGE_CLASS,
    archived_partitions,
    clear_archived,
    mark_archived,
    mark_restored,
)
from airlake.tiering import check_restores, plan_restores
from airlake.tiering.restore import (
    RestoreError,
    RestoreTimeout,
    finish_restore,
    pending,
    request_restores,
    restore_status,
    start_restores,
    wait_for_restores,
)
from tests.plugins.airlake.tiering.conftest import (
    NOW,
    curated_key,
    partition_location,
    partition_parameters,
    put,
    raw_key,
    read,
    version_id,
)


@pytest.mark.parametrize(
    ("head", "readable", "ongoing", "expiry"),
    [
        pytest.param({}, True, False, None, id="standard"),
        pytest.param({"StorageClass": "STANDARD_IA"}, True, False, None, id="standard-ia"),
        pytest.param({"StorageClass": "GLACIER_IR"}, True, False, None, id="instant-retrieval"),
        pytest.param({"StorageClass": "GLACIER"}, False, False, None, id="archived"),
        pytest.param(
            {"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'},
            False,
            True,
            None,
            id="restoring",
        ),
        pytest.param(
            {
                "StorageClass": "GLACIER",
                "Restore": 'ongoing-request="false", expiry-date="Fri, 27 Nov 2026 07:35:52 GMT"',
            },
            True,
            False,
            datetime(2026, 11, 27, 7, 35, 52, tzinfo=UTC),
            id="restored",
        ),
    ],
)
def test_restore_status_from_head_object(
    head: dict[str, str], readable: bool, ongoing: bool, expiry: datetime | None
) -> None:
    status = restore_status("k", head)
    assert (status.readable, status.ongoing, status.expiry) == (readable, ongoing, expiry)


def test_an_archived_raw_partition_is_restored_before_it_is_read(lake) -> None:
    s3 = lake.client
    archived = [put(lake, raw_key("orders", "2025-03-02", part), StorageClass="GLACIER") for part in (0, 1)]
    hot = put(lake, raw_key("orders", "2025-03-02", 2))
    outside = put(lake, raw_key("orders", "2025-03-04"), StorageClass="GLACIER")
    with pytest.raises(ClientError, match="InvalidObjectState"):
        read(lake, archived[0].key)

    planned = plan_restores(s3, lake.bucket, "orders", "raw", date(2025, 3, 1), date(2025, 3, 3))

    assert [obj.key for obj in planned] == [a.key for a in archived]
    keys = [obj.key for obj in planned]
    assert pending(check_restores(s3, lake.bucket, keys)) == keys
    assert request_restores(s3, lake.bucket, keys, days=3) == {key: "requested" for key in keys}
    statuses = check_restores(s3, lake.bucket, keys)
    assert pending(statuses) == []
    assert all(s.expiry and s.expiry > datetime.now(UTC) + timedelta(days=2) for s in statuses.values())
    assert [read(lake, a.key) for a in archived] == [a.body for a in archived]
    # asking again is safe: a finished restore is extended, nothing fails
    assert request_restores(s3, lake.bucket, keys[:1]) == {keys[0]: "restored"}
    assert read(lake, hot.key) == hot.body
    with pytest.raises(ClientError, match="InvalidObjectState"):
        read(lake, outside.key)


def test_curated_restores_only_the_live_version(lake) -> None:
    live_v, old_v = version_id("2025-03-02", 2), version_id("2025-03-02", 1)
    live_obj = put(lake, curated_key("orders", "2025-03-02", live_v), StorageClass="GLACIER")
    put(lake, curated_key("orders", "2025-03-02", old_v), StorageClass="GLACIER")
    live = {"2025-03-02": f"s3://{lake.bucket}/curated/orders/dt=2025-03-02/v={live_v}/", "2025-03-03": None}

    planned = plan_restores(
        lake.client, lake.bucket, "orders", "curated", date(2025, 3, 1), date(2025, 3, 3), live=live
    )

    assert [obj.key for obj in planned] == [live_obj.key]


def test_restore_requests_already_running_or_no_longer_needed() -> None:
    class FakeS3:
        def restore_object(self, *, Key: str, **_: Any) -> dict[str, Any]:
            code = {"a": "RestoreAlreadyInProgress", "b": "InvalidObjectState", "c": "AccessDenied"}[Key]
            raise ClientError({"Error": {"Code": code, "Message": code}}, "RestoreObject")

    assert request_restores(FakeS3(), "bkt", ["a", "b"]) == {"a": "in_progress", "b": "not_archived"}
    with pytest.raises(RestoreError, match="restore_object s3://bkt/c failed"):
        request_restores(FakeS3(), "bkt", ["c"])
    with pytest.raises(ValueError, match="restore tier must be one of Expedited, Standard, Bulk"):
        request_restores(FakeS3(), "bkt", ["a"], tier="Fast")


def test_a_vanished_object_cannot_be_restored(lake) -> None:
    with pytest.raises(RestoreError, match="no longer exists"):
        check_restores(lake.client, lake.bucket, ["raw/orders/ingest_date=2025-01-01/run=x/gone"])


def test_glue_flags_are_set_cleared_and_expire(lake, glue, database, publish) -> None:
    versions = {"2025-03-01": version_id("2025-03-01"), "2025-03-02": version_id("2025-03-02")}
    publish("orders", versions)
    location = partition_location(glue, database, "orders", "2025-03-01")
    dts = sorted(versions)
    assert archived_partitions(glue, database, "orders", dts, at=NOW) == []

    assert mark_archived(glue, database, "orders", ["2025-03-01", "2099-01-01"]) == ["2025-03-01"]
    assert mark_archived(glue, database, "orders", ["2025-03-01"]) == []  # already flagged: no write

    params = partition_parameters(glue, database, "orders", "2025-03-01")
    assert params[PARAM_ARCHIVED] == "true" and params[PARAM_STORAGE_CLASS] == "GLACIER"
    assert params["airlake.version"] == versions["2025-03-01"]  # publish's parameters kept
    assert partition_location(glue, database, "orders", "2025-03-01") == location
    assert archived_partitions(glue, database, "orders", dts, at=NOW) == ["2025-03-01"]
    assert archived_partitions(glue, database, "orders", at=NOW) == ["2025-03-01"]  # every partition

    until = NOW + timedelta(days=7)
    assert mark_restored(glue, database, "orders", {"2025-03-01": until}) == ["2025-03-01"]
    params = partition_parameters(glue, database, "orders", "2025-03-01")
    assert (params[PARAM_ARCHIVED], params[PARAM_RESTORED_UNTIL]) == ("false", until.isoformat())
    assert archived_partitions(glue, database, "orders", dts, at=NOW) == []
    assert archived_partitions(glue, database, "orders", dts, at=until + timedelta(seconds=1)) == [
        "2025-03-01"
    ]

    assert clear_archived(glue, database, "orders", dts) == ["2025-03-01"]
    assert PARAM_ARCHIVED not in partition_parameters(glue, database, "orders", "2025-03-01")
    assert archived_partitions(glue, database, "missing_table", dts, at=NOW) == []


def test_curated_partitions_are_found_by_the_contracts_partition_column(lake) -> None:
    by_day = put(
        lake,
        f"curated/orders/day=2025-03-02/v={version_id('2025-03-02', 1)}/part-0.parquet",
        StorageClass="GLACIER",
    )
    days = (date(2025, 3, 1), date(2025, 3, 3))

    planned = plan_restores(lake.client, lake.bucket, "orders", "curated", *days, date_key="day")

    assert [obj.key for obj in planned] == [by_day.key]
    assert plan_restores(lake.client, lake.bucket, "orders", "curated", *days) == []


def test_a_raw_restore_planned_requested_waited_and_recorded_without_airflow(lake) -> None:
    archived = put(lake, raw_key("orders", "2025-03-02"), StorageClass="GLACIER")
    put(lake, raw_key("orders", "2025-03-02", 1))
    days = (date(2025, 3, 1), date(2025, 3, 3))

    keys = [obj.key for obj in plan_restores(lake.client, lake.bucket, "orders", "raw", *days)]
    assert keys == [archived.key]
    assert start_restores(lake.client, lake.bucket, keys, days=2, tier="Bulk") == []  # moto restores at once
    assert start_restores(lake.client, lake.bucket, []) == []
    summary = finish_restore(
        lake,
        keys,
        dataset="orders",
        zone="raw",
        first_day="2025-03-01",
        last_day="2025-03-03",
        run_id="manual__1",
        date_key="ingest_date",
        tier="Bulk",
        days=2,
    )

    assert (summary["objects"], summary["partitions"], summary["catalog_flags_cleared"]) == (
        1,
        ["2025-03-02"],
        [],
    )
    assert summary["restored_until"] is not None
    record = lake.get_json(summary["record"])
    assert summary["record"] == "_manifests/orders/manual__1/restore-raw.json"
    assert (record["keys"], record["tier"], record["days"]) == ([archived.key], "Bulk", 2)
    assert read(lake, archived.key) == archived.body


def test_waiting_checks_only_what_is_pending_until_the_deadline(lake, monkeypatch) -> None:
    from airlake.tiering import restore

    checked: list[list[str]] = []
    rounds = iter([["a", "b"], ["b"], []])

    def fake_pending(statuses: Any) -> list[str]:
        return next(rounds)

    def fake_check(client: Any, bucket: str, keys: list[str]) -> dict[str, Any]:
        checked.append(list(keys))
        return {}

    monkeypatch.setattr(restore, "pending", fake_pending)
    monkeypatch.setattr(restore, "check_restores", fake_check)
    slept: list[float] = []
    wait_for_restores(
        None, "b", ["a", "b", "c"], poke_interval=5, max_wait=timedelta(hours=1), sleep=slept.append
    )
    assert (checked, slept) == ([["a", "b", "c"], ["a", "b"], ["b"]], [5, 5, 5])

    monkeypatch.setattr(restore, "pending", lambda statuses: ["x"])
    clock = iter([0.0, 10.0, 61.0])
    with pytest.raises(
        RestoreTimeout, match=r"1 object\(s\) of s3://b still not restored after 0:01:00 \(e.g. x\)"
    ):
        wait_for_restores(
            None,
            "b",
            ["x"],
            poke_interval=5,
            max_wait=timedelta(minutes=1),
            sleep=lambda _s: None,
            clock=lambda: next(clock),
        )
