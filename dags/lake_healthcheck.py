"""
### Lake health check

Writes a small object to the lake bucket through the Amazon provider's `S3Hook` (server-side
encrypted), reads it back and checks it. Trigger it after changing connections: it proves that
`aws_default` reaches S3 (moto locally, AWS in production) and that the bucket in the Airflow
Variable `airlake_bucket` is writable.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

DEFAULT_ARGS = {"owner": "airlake", "retries": 1, "retry_delay": timedelta(seconds=30)}


@dag(
    schedule=None,
    catchup=False,
    tags=["airlake", "ops"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def lake_healthcheck() -> None:
    @task
    def write_probe(bucket: str, probe_id: str) -> str:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airlake.lake import safe_run_id
        from airlake.store import LakeStore

        store = LakeStore(S3Hook(aws_conn_id="aws_default"), bucket)
        store.ensure_bucket()
        key = f"_health/{safe_run_id(probe_id)}.txt"
        store.put_bytes(key, f"airlake health probe {probe_id}".encode(), content_type="text/plain")
        return key

    @task
    def read_probe(bucket: str, key: str, probe_id: str) -> dict[str, str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id="aws_default")
        body = hook.read_key(key, bucket)
        encryption = (hook.head_object(key, bucket) or {}).get("ServerSideEncryption", "")
        if body != f"airlake health probe {probe_id}" or not encryption:
            raise RuntimeError(f"s3://{bucket}/{key}: read back {body!r} with encryption {encryption!r}")
        return {"key": key, "encryption": encryption}

    bucket = "{{ var.value.airlake_bucket }}"
    key = write_probe(bucket, "{{ run_id }}")
    read_probe(bucket, key, "{{ run_id }}")


lake_healthcheck()
