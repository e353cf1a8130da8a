"""The weekly maintenance DAG with dag.test() on a lake the clickstream pipeline filled."""

from __future__ import annotations

import importlib
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from include.demo import publish
from tests.dags.test_dataset_pipelines import run_dataset_dag
from tests.helpers import run_dag_test

DAY = date(2026, 11, 20)
IA_MIN_BYTES = 128 * 1024
# clickstream's contract: Standard-IA after 30 days, Glacier after 90; on 2027-06-06 the day is 198 days old
COLD_AT = datetime(2027, 6, 6, 3, tzinfo=UTC)


def _maintenance() -> Any:
    return importlib.import_module("airlake_maintenance").lake_maintenance_weekly


def _classes(s3: Any, bucket: str, keys: list[str]) -> dict[str, str]:
    return {key: s3.head_object(Bucket=bucket, Key=key).get("StorageClass", "STANDARD") for key in keys}


def _lifecycle_rule_ids(s3: Any, bucket: str) -> list[str]:
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except s3.exceptions.ClientError as exc:
        if "NoSuchLifecycleConfiguration" in str(exc):
            return []
        raise
    return [rule["ID"] for rule in rules]


def test_dry_run_changes_nothing_then_a_run_tiers_by_partition_date_and_reports_the_bucket(
    pipeline_env,
) -> None:
    env, lake = pipeline_env, pipeline_env["lake"]
    s3, glue = env["clients"]["s3"], env["clients"]["glue"]
    publish.publish_clickstream(DAY, env["clients"]["kinesis"])
    assert run_dataset_dag("clickstream").state == "success"
    live = glue.get_partition(
        DatabaseName=env["glue_database"], TableName="clickstream", PartitionValues=[str(DAY)]
    )
    live_prefix = live["Partition"]["StorageDescriptor"]["Location"].split("/", 3)[3]
    tiered = [o for o in lake.list("raw/clickstream/ingest_date=2026-11-20/") if o.size >= IA_MIN_BYTES] + [
        o for o in lake.list(live_prefix) if o.size >= IA_MIN_BYTES
    ]
    small = [o for o in lake.list(live_prefix) if o.size < IA_MIN_BYTES]
    assert tiered, "the day's raw part must be big enough for the 128 KiB rule"
    before = {o.key: o.size for o in lake.list("")}

    dry = run_dag_test(_maintenance(), logical_date=COLD_AT, run_after=COLD_AT, run_conf={"dry_run": True})
    assert dry.state == "success"
    assert set(_classes(s3, lake.bucket, [o.key for o in tiered]).values()) == {"STANDARD"}
    assert _lifecycle_rule_ids(s3, lake.bucket) == []

    later = COLD_AT.replace(hour=4)
    run = run_dag_test(_maintenance(), logical_date=later, run_after=later, run_conf={"dry_run": False})
    assert run.state == "success"
    # 198 days after its date, the day's data is in Glacier though it was uploaded today
    assert set(_classes(s3, lake.bucket, [o.key for o in tiered]).values()) == {"GLACIER"}
    assert set(_classes(s3, lake.bucket, [o.key for o in small]).values()) <= {"STANDARD"}
    for obj in tiered:
        assert s3.head_object(Bucket=lake.bucket, Key=obj.key)["ServerSideEncryption"] == "AES256"
    if any(o.key.startswith(live_prefix) for o in tiered):
        partition = glue.get_partition(
            DatabaseName=env["glue_database"], TableName="clickstream", PartitionValues=[str(DAY)]
        )
        assert partition["Partition"]["Parameters"].get("airlake.archived") == "true"
    rule_ids = _lifecycle_rule_ids(s3, lake.bucket)
    assert any(rule_id.startswith("airlake:raw/clickstream") for rule_id in rule_ids)
    # no data object was lost or changed in size by the moves
    after = {o.key: o.size for o in lake.list("") if not o.key.startswith(("_manifests/", "reports/"))}
    assert after == {k: v for k, v in before.items() if not k.startswith(("_manifests/", "reports/"))}

    # the storage report adds up to a direct listing of the bucket, per zone and storage class (the
    # reports zone aside: this run's report replaced the dry run's after its listing)
    [report_key] = [o.key for o in lake.list("reports/storage/") if o.key.endswith("report.json")]
    report = lake.get_json(report_key)
    listed: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket):
        for item in page.get("Contents", []):
            zone = item["Key"].split("/", 1)[0]
            if zone != "reports":
                entry = listed[(zone, item.get("StorageClass", "STANDARD"))]
                entry[0] += 1
                entry[1] += item["Size"]
    reported = {
        (zone["zone"], storage_class): [split["objects"], split["bytes"]]
        for zone in report["by_zone"]
        if zone["zone"] != "reports"
        for storage_class, split in zone["by_storage_class"].items()
    }
    assert reported == dict(listed)
    assert ("raw", "GLACIER") in reported
    assert report["totals"]["monthly_cost_usd"] > 0
    assert lake.head(report_key)["ServerSideEncryption"] == "AES256"

    # reprocessing the archived day: restore_archived brings the live version back before curate merges
    publish.publish_clickstream(DAY, env["clients"]["kinesis"])  # the same events again: all duplicates
    rerun = run_dataset_dag(
        "clickstream", datetime(2026, 11, 25, 12, tzinfo=UTC), run_conf={"start_date": str(DAY)}
    )
    assert rerun.state == "success"
    archived_live = [o.key for o in tiered if o.key.startswith(live_prefix)]
    for key in archived_live:
        assert 'ongoing-request="false"' in s3.head_object(Bucket=lake.bucket, Key=key)["Restore"]
    if archived_live:
        partition = glue.get_partition(
            DatabaseName=env["glue_database"], TableName="clickstream", PartitionValues=[str(DAY)]
        )["Partition"]
        assert partition["Parameters"].get("airlake.archived") == "false"
