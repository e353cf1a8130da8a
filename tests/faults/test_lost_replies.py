"""Gap 2 of issue 18: a create, publish or complete whose reply was lost after AWS applied it is resent by
the retry, and "already exists, and is what I wanted" is success; only a real conflict fails."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airlake.aws import MultipartConflictError, multipart_etag
from airlake.contracts import get_contract
from airlake.operators.catalog import CatalogOperator
from airlake.store import LakeStore, file_sha256
from airlake.tiering.lifecycle import apply_lifecycle, get_lifecycle
from tests.plugins.airlake.catalog.catalog_helpers import VERSION_1, partitions_of, write_curate_run

DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]
MULTIPART_SIZE = 9 * 1024 * 1024
"""Above the transfer manager's 8 MiB threshold: upload_file sends it in two parts."""


def test_lost_replies_of_database_table_and_partition_creation_are_success(
    lake, glue, database, fault_proxy, chaos_conn
) -> None:
    contract = get_contract("orders")
    manifest = write_curate_run(lake, contract, "run-1", DAYS, VERSION_1)
    proxy = fault_proxy()
    for operation in ("glue:CreateDatabase", "glue:CreateTable", "glue:BatchCreatePartition"):
        proxy.script(operation, "lost", status=500)
    operator = CatalogOperator(
        task_id="catalog",
        dataset="orders",
        bucket=lake.bucket,
        database=database,
        aws_conn_id=chaos_conn(proxy),
    )

    result = operator.execute({"run_id": "run-1"})  # once: no task retry

    assert (result["table_change"], result["created"], result["updated"]) == ("created", 3, 0)
    assert partitions_of(glue, database, "orders") == {p["dt"]: p["location"] for p in manifest["partitions"]}
    assert (
        glue.get_table(DatabaseName=database, Name="orders")["Table"]["Parameters"]["airlake.contract"]
        == "orders"
    )
    assert proxy.stats.summary()["by_operation"] == {
        "lost glue:BatchCreatePartition": 1,
        "lost glue:CreateDatabase": 1,
        "lost glue:CreateTable": 1,
    }
    assert proxy.stats.retries == 3


def _big_file(tmp_path: Path) -> Path:
    path = tmp_path / "part-00000.parquet"
    path.write_bytes(os.urandom(MULTIPART_SIZE))
    return path


def test_a_lost_reply_of_complete_multipart_upload_is_success(
    lake, fault_proxy, chaos_conn, tmp_path
) -> None:
    path = _big_file(tmp_path)
    proxy = fault_proxy()
    proxy.script("s3:CompleteMultipartUpload", "lost", status=500)
    store = LakeStore(S3Hook(aws_conn_id=chaos_conn(proxy)), lake.bucket)
    key = f"curated/orders/dt=2026-11-20/v={VERSION_1}/part-00000.parquet"

    store.put_file(key, path)

    assert store.download(key, tmp_path / "back") == file_sha256(path)
    assert lake.head(key)["ServerSideEncryption"] == "AES256"
    assert proxy.stats.by_operation == {"lost s3:CompleteMultipartUpload": 1}
    assert proxy.stats.operations["s3:UploadPart"] == 2
    assert proxy.stats.retries == 1


def _uploaded_parts(client, bucket: str, key: str, body: bytes) -> tuple[str, list[dict]]:
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, ServerSideEncryption="AES256")
    part = client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)
    return upload["UploadId"], [{"PartNumber": 1, "ETag": part["ETag"]}]


def test_a_completion_whose_upload_is_gone_and_another_object_is_there_is_a_conflict(
    lake, fault_proxy, chaos_conn
) -> None:
    client = LakeStore(S3Hook(aws_conn_id=chaos_conn(fault_proxy())), lake.bucket).client
    key = f"curated/conflict/{uuid.uuid4().hex}.bin"
    upload_id, parts = _uploaded_parts(client, lake.bucket, key, b"ours")

    def complete() -> dict:
        return client.complete_multipart_upload(
            Bucket=lake.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )

    first = complete()
    again = complete()  # the resend after a lost reply: NoSuchUpload from S3, and the object is ours
    assert again["ETag"] == first["ETag"] == multipart_etag([parts[0]["ETag"]])
    lake.put_bytes(key, b"theirs")  # another writer replaced it

    with pytest.raises(MultipartConflictError, match=r"wanted ETag .*-1\", found \"[0-9a-f]{32}\""):
        complete()


def test_a_completion_of_an_aborted_upload_fails_naming_it(lake, fault_proxy, chaos_conn) -> None:
    client = LakeStore(S3Hook(aws_conn_id=chaos_conn(fault_proxy())), lake.bucket).client
    key = f"curated/aborted/{uuid.uuid4().hex}.bin"
    upload_id, parts = _uploaded_parts(client, lake.bucket, key, b"ours")
    client.abort_multipart_upload(Bucket=lake.bucket, Key=key, UploadId=upload_id)

    with pytest.raises(
        MultipartConflictError, match=rf"{upload_id} .*no object is there.*aborted or expired"
    ):
        client.complete_multipart_upload(
            Bucket=lake.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )


RULE = {
    "ID": "airlake:curated/orders:transition@00000000",
    "Status": "Enabled",
    "Filter": {"Prefix": "curated/orders/"},
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
}


def test_a_lifecycle_write_whose_every_reply_was_lost_is_success_when_the_bucket_has_the_rules(
    lake, fault_proxy, chaos_conn
) -> None:
    proxy = fault_proxy()
    proxy.script("s3:PutBucketLifecycleConfiguration", "lost", status=503, times=2)
    no_retries = {"config_kwargs": {"retries": {"total_max_attempts": 2}}}  # both attempts lose their reply
    store = LakeStore(S3Hook(aws_conn_id=chaos_conn(proxy, **no_retries)), lake.bucket)

    diff = apply_lifecycle(store.client, lake.bucket, [RULE])

    assert diff.added == ("curated/orders:transition",)
    assert [rule["ID"] for rule in get_lifecycle(lake.client, lake.bucket)["Rules"]] == [RULE["ID"]]
    assert proxy.stats.by_operation == {"lost s3:PutBucketLifecycleConfiguration": 2}


def test_a_lost_reply_of_a_view_tables_creation_is_success(glue, database, fault_proxy, chaos_conn) -> None:
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airlake.analytics.materialise import ensure_view_table, view_table_input
    from airlake.aws import lake_client
    from airlake.catalog import ensure_database

    ensure_database(glue, database)
    proxy = fault_proxy()
    proxy.script("glue:CreateTable", "lost", status=503)
    columns = [{"Name": "revenue", "Type": "double"}]
    chaos_glue = lake_client(GlueCatalogHook(aws_conn_id=chaos_conn(proxy)))

    assert ensure_view_table(chaos_glue, database, view_table_input("daily_sales", "b", columns)) == "created"

    assert glue.get_table(DatabaseName=database, Name="daily_sales")["Table"]["StorageDescriptor"][
        "Columns"
    ] == [{"Name": "revenue", "Type": "double"}]
    assert proxy.stats.by_operation == {"lost glue:CreateTable": 1}


def test_a_connection_dropped_after_the_partitions_were_created_is_success(
    lake, glue, database, fault_proxy, chaos_conn
) -> None:
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airlake.aws import lake_client
    from airlake.catalog import ensure_database, ensure_table, get_table, publish_partitions

    contract = get_contract("orders")
    ensure_database(glue, database)
    ensure_table(glue, database, contract, lake.bucket)
    manifest = write_curate_run(lake, contract, "run-1", DAYS, VERSION_1)
    proxy = fault_proxy()
    proxy.script("glue:BatchCreatePartition", "drop")
    chaos_glue = lake_client(GlueCatalogHook(aws_conn_id=chaos_conn(proxy)))
    template = get_table(glue, database, "orders")["StorageDescriptor"]

    report = publish_partitions(chaos_glue, database, "orders", manifest["partitions"], template)

    assert report == {"created": DAYS, "updated": [], "unchanged": []}
    assert partitions_of(glue, database, "orders") == {p["dt"]: p["location"] for p in manifest["partitions"]}
    assert proxy.stats.by_operation == {"drop glue:BatchCreatePartition": 1}
    assert proxy.stats.retries == 1
