"""emulator: what moto adds when a stage reads its input from the local lake instead of a folder.

- ``moto_get``: ``LakeStore.download`` (one whole-object GET streamed to a file with its sha256) of
  the raw part curate reads, from the bench's moto server; the object is put there untimed.
- ``local_copy`` (anchor): the same download from a :class:`~bench.localstore.LocalStore`, which is
  what the curate and load measurements pay instead.

The difference is the emulator's share that the compute stages leave out; add it to a curate time for
the end-to-end figure on the local stack.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stack import BUCKET, reset_moto, s3_client

Work = Callable[[], dict[str, Any]]
KEY = "raw/clickstream/ingest_date=2026-11-23/run=bench/part-00000"


def prepare_moto_get(params: dict[str, Any]) -> Work:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import SSE_AES256, LakeStore

    endpoint = os.environ["AIRLAKE_BENCH_MOTO"]
    reset_moto(endpoint)
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    key = f"{KEY}.{params['format']}"
    client.upload_file(params["input"], BUCKET, key, ExtraArgs=dict(SSE_AES256))
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), BUCKET)
    store.client  # noqa: B018 - build the boto3 client before the clock starts
    target = Path(params["run_dir"]) / "raw"

    def work() -> dict[str, Any]:
        store.download(key, target)
        return {"output_bytes": target.stat().st_size}

    return work


def prepare_local_copy(params: dict[str, Any]) -> Work:
    from bench.localstore import LocalStore

    run_dir = Path(params["run_dir"])
    store = LocalStore(run_dir / "lake")
    key = f"{KEY}.{params['format']}"
    (run_dir / "lake" / key).parent.mkdir(parents=True, exist_ok=True)
    os.link(params["input"], run_dir / "lake" / key)
    target = run_dir / "raw"

    def work() -> dict[str, Any]:
        store.download(key, target)
        return {"output_bytes": target.stat().st_size}

    return work


def describe() -> dict[str, str]:
    return {
        "moto_get": "LakeStore.download of the raw part from moto (whole-object GET + sha256)",
        "local_copy": "the same download from the LocalStore folder the compute stages use",
    }
