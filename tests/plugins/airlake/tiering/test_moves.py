"""Tiering by partition date: backfilled (old date, fresh upload) objects end in their class."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airlake.contracts import get_contract
from airlake.tiering import apply_moves, build_rule_set, move_object, plan_moves
from airlake.tiering.objects import partition_date, to_date, to_timedelta
from tests.plugins.airlake.tiering.conftest import (
    SMALL,
    TODAY,
    curated_key,
    put,
    raw_key,
    read,
    storage_class,
    version_id,
)

ORDERS = get_contract("orders").tiering  # Standard-IA after 30 days, Glacier after 180


def _day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def _policies(*datasets: str) -> Any:
    return build_rule_set([get_contract(d) for d in datasets or ("orders",)]).policies


def test_partition_dates_in_keys() -> None:
    assert partition_date("raw/o/ingest_date=2026-01-02/run=x/p", "ingest_date").isoformat() == "2026-01-02"
    assert partition_date("curated/o/dt=2026-01-02/v=1/p", "dt").isoformat() == "2026-01-02"
    assert partition_date("curated/o/dt=2026-01-02/v=1/p", "ingest_date") is None
    assert partition_date("raw/o/ingest_date=2026-13-02/run=x/p", "ingest_date") is None
    assert partition_date("raw/o/_SUCCESS", "ingest_date") is None
    assert to_date("2026-01-02T00:00:00+00:00").isoformat() == "2026-01-02"
    with pytest.raises(ValueError, match="expected a date YYYY-MM-DD"):
        to_date("yesterday")
    assert (to_timedelta("90"), to_timedelta(1.5, "hours")) == (timedelta(seconds=90), timedelta(minutes=90))
    assert to_timedelta(timedelta(days=2), "hours") == timedelta(days=2)


def test_backfilled_raw_partitions_move_by_their_date(lake) -> None:
    hot = put(lake, raw_key("orders", _day(ORDERS.standard_ia_after_days - 1)))
    warm = put(lake, raw_key("orders", _day(ORDERS.standard_ia_after_days)), ContentType="application/gzip")
    cold = put(lake, raw_key("orders", _day(ORDERS.glacier_after_days + 200)), Metadata={"rows": "42"})
    tiny = put(lake, raw_key("orders", _day(ORDERS.glacier_after_days + 200), part=1), size=SMALL)
    other = put(lake, raw_key("payments", _day(400)))  # not in the policies given

    plan = plan_moves(lake.client, lake.bucket, _policies(), TODAY)

    assert {(m.key, m.from_class, m.to_class) for m in plan.moves} == {
        (warm.key, "STANDARD", "STANDARD_IA"),
        (cold.key, "STANDARD", "GLACIER"),
    }
    assert plan.kept_small == 1
    results = apply_moves(lake.client, lake.bucket, plan.moves, default_sse=lake.sse)

    assert {r["key"]: r["method"] for r in results} == {warm.key: "copy", cold.key: "copy"}
    assert storage_class(lake, hot.key) == "STANDARD"
    assert storage_class(lake, warm.key) == "STANDARD_IA"
    assert storage_class(lake, cold.key) == "GLACIER"
    assert storage_class(lake, tiny.key) == "STANDARD"
    assert storage_class(lake, other.key) == "STANDARD"
    for moved in (warm, cold):
        head = lake.client.head_object(Bucket=lake.bucket, Key=moved.key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentLength"] == len(moved.body)
    assert lake.client.head_object(Bucket=lake.bucket, Key=warm.key)["ContentType"] == "application/gzip"
    assert lake.client.head_object(Bucket=lake.bucket, Key=cold.key)["Metadata"] == {"rows": "42"}
    assert read(lake, warm.key) == warm.body  # Standard-IA reads directly

    # a rerun finds nothing left to do
    assert plan_moves(lake.client, lake.bucket, _policies(), TODAY).moves == []


def test_warm_objects_go_on_to_glacier_but_never_back(lake) -> None:
    warm = put(lake, raw_key("orders", _day(ORDERS.glacier_after_days)), StorageClass="STANDARD_IA")
    archived = put(lake, raw_key("orders", _day(40)), StorageClass="GLACIER")  # colder than its date says

    plan = plan_moves(lake.client, lake.bucket, _policies(), TODAY)

    assert [(m.key, m.from_class, m.to_class) for m in plan.moves] == [(warm.key, "STANDARD_IA", "GLACIER")]
    assert archived.key not in {m.key for m in plan.moves}


def test_kms_encryption_and_tags_are_kept(lake) -> None:
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/airlake-test"}
    obj = put(lake, raw_key("orders", _day(60)), Tagging="team=shop")
    lake.client.copy_object(
        Bucket=lake.bucket, Key=obj.key, CopySource={"Bucket": lake.bucket, "Key": obj.key}, **kms
    )

    result = move_object(lake.client, lake.bucket, obj.key, "STANDARD_IA", default_sse=lake.sse)

    head = lake.client.head_object(Bucket=lake.bucket, Key=obj.key)
    assert result["method"] == "copy"
    assert (head["StorageClass"], head["ServerSideEncryption"]) == ("STANDARD_IA", "aws:kms")
    assert head["SSEKMSKeyId"].endswith("alias/airlake-test")
    assert lake.client.get_object_tagging(Bucket=lake.bucket, Key=obj.key)["TagSet"] == [
        {"Key": "team", "Value": "shop"}
    ]
    assert read(lake, obj.key) == obj.body


def test_large_objects_are_copied_in_parts(lake) -> None:
    """Above the threshold the copy is multipart (parts of >= 5 MiB, the last one smaller)."""
    big = put(lake, raw_key("orders", _day(400)), size=6 * 1024 * 1024 + 123, Tagging="team=shop")
    small = put(lake, raw_key("orders", _day(400), part=1), size=300 * 1024)
    plan = plan_moves(lake.client, lake.bucket, _policies(), TODAY)

    results = apply_moves(
        lake.client,
        lake.bucket,
        plan.moves,
        default_sse=lake.sse,
        multipart_threshold=1024 * 1024,
        part_size=5 * 1024 * 1024,
    )

    by_key = {r["key"]: r for r in results}
    assert (by_key[big.key]["method"], by_key[big.key]["parts"]) == ("multipart", 2)
    assert by_key[small.key]["method"] == "copy"
    head = lake.client.head_object(Bucket=lake.bucket, Key=big.key)
    assert (head["StorageClass"], head["ServerSideEncryption"]) == ("GLACIER", "AES256")
    assert head["ETag"].strip('"').endswith("-2")
    lake.client.restore_object(Bucket=lake.bucket, Key=big.key, RestoreRequest={"Days": 1})
    assert read(lake, big.key) == big.body
    # (moto refuses GetObjectTagging on archived objects until restored; S3 does not)
    assert lake.client.get_object_tagging(Bucket=lake.bucket, Key=big.key)["TagSet"] == [
        {"Key": "team", "Value": "shop"}
    ]
    assert lake.client.list_multipart_uploads(Bucket=lake.bucket).get("Uploads", []) == []


def test_an_object_changed_since_the_plan_is_left_alone(lake) -> None:
    obj = put(lake, raw_key("orders", _day(60)))
    [move] = plan_moves(lake.client, lake.bucket, _policies(), TODAY).moves
    put(lake, obj.key)  # rewritten in between (raw never is; the guard costs nothing)

    [result] = apply_moves(lake.client, lake.bucket, [move], default_sse=lake.sse)

    assert (result["method"], result["reason"]) == ("skipped", "changed since planned")
    assert storage_class(lake, obj.key) == "STANDARD"


def test_curated_moves_only_the_live_version(lake) -> None:
    dt = _day(400)
    old, live_v = version_id(dt, 1), version_id(dt, 2)
    superseded = put(lake, curated_key("orders", dt, old))
    live_obj = put(lake, curated_key("orders", dt, live_v))
    unpublished = put(lake, curated_key("orders", _day(300), version_id(_day(300))))
    live = {"orders": {dt: f"s3://{lake.bucket}/curated/orders/dt={dt}/v={live_v}/"}}
    curated = [p for p in _policies() if p.zone == "curated"]

    plan = plan_moves(lake.client, lake.bucket, curated, TODAY, live=live)

    assert [(m.key, m.to_class) for m in plan.moves] == [(live_obj.key, "GLACIER")]
    assert plan.archived("curated", "orders") == {dt: "GLACIER"}
    assert {superseded.key, unpublished.key}.isdisjoint(m.key for m in plan.moves)
    # without catalog knowledge every version would move
    assert len(plan_moves(lake.client, lake.bucket, curated, TODAY).moves) == 3


def test_invalid_copy_settings_are_refused(lake) -> None:
    obj = put(lake, raw_key("orders", _day(60)))
    with pytest.raises(ValueError, match="part_size must be at least 5242880"):
        move_object(lake.client, lake.bucket, obj.key, "GLACIER", default_sse=lake.sse, part_size=1024)
    with pytest.raises(ValueError, match="multipart_threshold must be between 0 and 5368709120"):
        move_object(
            lake.client,
            lake.bucket,
            obj.key,
            "GLACIER",
            default_sse=lake.sse,
            multipart_threshold=6 * 1024**3,
        )
