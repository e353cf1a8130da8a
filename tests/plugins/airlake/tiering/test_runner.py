"""A whole tiering run: lifecycle merged, backfills moved, curated archive flagged, superseded tagged, recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airlake.catalog import PARAM_ARCHIVED, archived_partitions, mark_restored
from airlake.contracts import get_contract
from airlake.tiering import build_rule_set, record_key, run_tiering
from airlake.tiering.lifecycle import get_lifecycle, rule_stem
from tests.plugins.airlake.tiering.conftest import (
    NOW,
    TODAY,
    curated_key,
    partition_parameters,
    put,
    raw_key,
    read,
    storage_class,
    version_id,
)

RUN = "scheduled__2026-11-20T00:00:00+00:00"
FOREIGN = {
    "ID": "logs-expiry",
    "Status": "Enabled",
    "Filter": {"Prefix": "logs/"},
    "Expiration": {"Days": 14},
}
OLD, WARM, FRESH = (
    (TODAY - timedelta(days=400)).isoformat(),
    (TODAY - timedelta(days=60)).isoformat(),
    (TODAY - timedelta(days=5)).isoformat(),
)


@pytest.fixture
def backfilled(lake, publish) -> dict[str, Any]:
    """orders backfilled today: raw and curated partitions a year old, two months old and fresh."""
    lake.client.put_bucket_lifecycle_configuration(
        Bucket=lake.bucket, LifecycleConfiguration={"Rules": [FOREIGN]}
    )
    objects = {
        "raw_old": put(lake, raw_key("orders", OLD)),
        "raw_warm": put(lake, raw_key("orders", WARM)),
        "raw_fresh": put(lake, raw_key("orders", FRESH)),
        "superseded": put(lake, curated_key("orders", OLD, version_id(OLD, 1))),
        "cur_old": put(lake, curated_key("orders", OLD, version_id(OLD, 2))),
        "cur_warm": put(lake, curated_key("orders", WARM, version_id(WARM))),
        "cur_fresh": put(lake, curated_key("orders", FRESH, version_id(FRESH))),
    }
    publish("orders", {OLD: version_id(OLD, 2), WARM: version_id(WARM), FRESH: version_id(FRESH)})
    return objects


def _run(lake, glue, database, **kwargs: Any) -> dict[str, Any]:
    args = {"now": NOW, "run_id": RUN, **kwargs}
    return run_tiering(lake, build_rule_set([get_contract("orders")]), glue=glue, database=database, **args)


def test_a_run_tiers_the_bucket_and_a_rerun_changes_nothing(lake, glue, database, backfilled) -> None:
    objects = backfilled

    summary = _run(lake, glue, database)

    # lifecycle: Airlake's rules added next to the foreign one
    rules = get_lifecycle(lake.client, lake.bucket)["Rules"]
    assert rules[0] == FOREIGN
    assert {rule_stem(r["ID"]) for r in rules[1:]} == {
        "raw/orders:transition",
        "curated/orders:transition",
        "quarantine:expire",
        "curated-superseded:expire",
        "bucket:abort-multipart",
    }
    # backfilled objects sit in the class their partition date calls for
    classes = {name: storage_class(lake, obj.key) for name, obj in objects.items()}
    assert classes == {
        "raw_old": "GLACIER",
        "raw_warm": "STANDARD_IA",
        "raw_fresh": "STANDARD",
        "superseded": "STANDARD",  # never archived: it is deleted soon
        "cur_old": "GLACIER",
        "cur_warm": "STANDARD_IA",
        "cur_fresh": "STANDARD",
    }
    assert read(lake, objects["cur_warm"].key) == objects["cur_warm"].body
    # the archived curated partition is flagged in Glue, the others are not
    assert archived_partitions(glue, database, "orders", [OLD, WARM, FRESH], at=NOW) == [OLD]
    # the superseded version is tagged for lifecycle expiry
    tags = lake.client.get_object_tagging(Bucket=lake.bucket, Key=objects["superseded"].key)["TagSet"]
    assert tags == [{"Key": "airlake:superseded", "Value": "true"}]

    assert summary["moves"]["objects"] == summary["moves"]["moved"] == 4
    assert summary["moves"]["by_target"] == {
        "raw/orders:GLACIER": {"objects": 1, "bytes": len(objects["raw_old"].body)},
        "raw/orders:STANDARD_IA": {"objects": 1, "bytes": len(objects["raw_warm"].body)},
        "curated/orders:GLACIER": {"objects": 1, "bytes": len(objects["cur_old"].body)},
        "curated/orders:STANDARD_IA": {"objects": 1, "bytes": len(objects["cur_warm"].body)},
    }
    assert summary["catalog"]["flagged_archived"] == {"orders": [OLD]}
    assert summary["superseded"] == {"orders": 1}
    assert (
        summary["record"]
        == record_key(RUN)
        == "_manifests/_tiering/scheduled__2026-11-20T00_00_00_00_00/tiering.json"
    )
    record = lake.get_json(summary["record"])
    assert record["status"] == "complete" and record["today"] == TODAY.isoformat()
    assert {(o["key"], o["from"], o["to"], o["dt"]) for o in record["outputs"]} == {
        (objects["raw_old"].key, "STANDARD", "GLACIER", OLD),
        (objects["raw_warm"].key, "STANDARD", "STANDARD_IA", WARM),
        (objects["cur_old"].key, "STANDARD", "GLACIER", OLD),
        (objects["cur_warm"].key, "STANDARD", "STANDARD_IA", WARM),
    }
    assert record["bytes_written"] == summary["moves"]["bytes"]
    assert len(record["lifecycle"]["added"]) == 5

    again = _run(lake, glue, database)

    assert again["lifecycle"]["added"] == again["lifecycle"]["changed"] == again["lifecycle"]["removed"] == []
    assert again["moves"]["objects"] == 0
    assert again["catalog"] == {"flagged_archived": {}, "flags_cleared": {}}
    record = lake.get_json(summary["record"])
    assert record["attempts"] == 2 and len(record["outputs"]) == 4  # the first attempt's moves are kept


def test_dry_run_writes_nothing(lake, glue, database, backfilled) -> None:
    summary = _run(lake, glue, database, dry_run=True)

    assert summary["dry_run"] is True and summary["record"] is None
    assert summary["moves"]["objects"] == 4 and summary["moves"]["moved"] == 0
    assert len(summary["lifecycle"]["added"]) == 5
    assert summary["catalog"]["flagged_archived"] == {"orders": [OLD]}
    assert get_lifecycle(lake.client, lake.bucket)["Rules"] == [FOREIGN]
    assert {storage_class(lake, obj.key) for obj in backfilled.values()} == {"STANDARD"}
    assert archived_partitions(glue, database, "orders", at=NOW) == []
    assert lake.get_json(record_key(RUN)) is None


def test_a_restored_partition_stays_readable_until_its_copies_expire(
    lake, glue, database, backfilled
) -> None:
    _run(lake, glue, database)
    until = NOW + timedelta(days=7)
    lake.client.restore_object(Bucket=lake.bucket, Key=backfilled["cur_old"].key, RestoreRequest={"Days": 7})
    mark_restored(glue, database, "orders", {OLD: until})

    _run(lake, glue, database, now=NOW + timedelta(days=3), run_id="scheduled__2026-11-23")
    assert partition_parameters(glue, database, "orders", OLD)[PARAM_ARCHIVED] == "false"

    later = _run(lake, glue, database, now=until + timedelta(days=1), run_id="scheduled__2026-11-28")
    assert later["catalog"]["flagged_archived"] == {"orders": [OLD]}
    assert partition_parameters(glue, database, "orders", OLD)[PARAM_ARCHIVED] == "true"


def test_a_republished_partition_loses_its_flag(lake, glue, database, backfilled, publish) -> None:
    _run(lake, glue, database)
    fresh_version = version_id(TODAY.isoformat())
    put(lake, curated_key("orders", OLD, fresh_version))
    publish("orders", {OLD: fresh_version})  # reprocessed: a new, hot version is live

    assert archived_partitions(glue, database, "orders", [OLD], at=NOW) == []
    summary = _run(lake, glue, database, run_id="manual__reprocessed")
    # the new version is as old as its dt: it goes to Glacier again, flagged first
    assert summary["catalog"]["flagged_archived"] == {"orders": [OLD]}
    assert storage_class(lake, curated_key("orders", OLD, fresh_version)) == "GLACIER"
