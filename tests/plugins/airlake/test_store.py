"""LakeStore and the client settings it gives its hook (airlake.aws)."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airlake.store import LakeStore


def test_a_hook_whose_client_was_built_before_gets_the_lake_settings(local_services) -> None:
    hook = S3Hook(aws_conn_id="aws_default")
    early = hook.get_conn()  # built with botocore's defaults

    store = LakeStore(hook, "airlake-any")

    assert early.meta.config.retries == {"mode": "standard"}
    assert store.client is hook.get_conn() is not early
    assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}
    assert (store.client.meta.config.connect_timeout, store.client.meta.config.read_timeout) == (10, 60)


def test_two_stores_on_one_hook_share_one_configured_client(local_services) -> None:
    hook = S3Hook(aws_conn_id="aws_default")

    first, second = LakeStore(hook, "airlake-a"), LakeStore(hook, "airlake-b")

    assert first.client is second.client
    assert first.client.meta.events is second.client.meta.events
