"""ingest: a landing file -> the raw zone, on the bench's moto server.

- ``airlake``: :func:`airlake.ingest.runner.run_ingest` with the ``files`` source
  (:class:`~airlake.ingest.sources.files.LandingFilesSource`) and the raw writer, through the
  project's ``LakeStore`` (S3Hook): whole-object GET of the landing file, gzip -1 when it is not
  compressed yet, a streaming row count, sha256, the raw part PUT (SSE), the manifest and the
  checkpoint.
- ``boto3`` (anchor): ``upload_file`` of the same bytes (default transfer settings, SSE like the lake).

moto is emptied before every run (it keeps objects in memory) and the landing object is put there
untimed. Both sides pay the emulator: this stage measures what ingest costs on top of moving the bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stack import BUCKET, reset_moto, s3_client

DATASET = "clickstream"
RUN_ID = "bench__2026-11-23T00:00:00+00:00"
LANDING_PREFIX = f"landing/{DATASET}/"
Work = Callable[[], dict[str, Any]]


def _landing_key(fmt: str) -> str:
    return f"{LANDING_PREFIX}events.{fmt}"


def _fresh_bucket(endpoint: str) -> Any:
    reset_moto(endpoint)
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


def prepare_airlake(params: dict[str, Any]) -> Work:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.ingest.base import IngestContext
    from airlake.ingest.runner import run_ingest
    from airlake.ingest.sources.files import LandingFilesSource
    from airlake.store import SSE_AES256, LakeStore

    endpoint = os.environ["AIRLAKE_BENCH_MOTO"]
    fmt = params["format"]
    client = _fresh_bucket(endpoint)
    client.upload_file(params["input"], BUCKET, _landing_key(fmt), ExtraArgs=dict(SSE_AES256))
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), BUCKET)
    store.client  # noqa: B018 - build the boto3 client before the clock starts
    source = LandingFilesSource(
        store=store,
        landing_prefix=LANDING_PREFIX,
        file_format="jsonl" if fmt == "jsonl" else "csv",
        compression="auto",
    )
    start = datetime(2026, 11, 23, tzinfo=UTC)
    ctx = IngestContext(
        dataset=DATASET,
        run_id=RUN_ID,
        ingest_date=start.date(),
        interval_start=start,
        interval_end=start.replace(day=24),
        work_dir=Path(params["run_dir"]) / "scratch",
    )

    def work() -> dict[str, Any]:
        summary = run_ingest(source, store, ctx)
        raw = [obj for obj in store.list("raw/")]
        return {
            "rows_landed": summary["rows"],
            "parts": len(summary["parts"]),
            "output_bytes": sum(obj.size for obj in raw),
        }

    return work


def prepare_boto3(params: dict[str, Any]) -> Work:
    from airlake.store import SSE_AES256

    endpoint = os.environ["AIRLAKE_BENCH_MOTO"]
    client = _fresh_bucket(endpoint)
    key = _landing_key(params["format"])

    def work() -> dict[str, Any]:
        client.upload_file(params["input"], BUCKET, key, ExtraArgs=dict(SSE_AES256))
        return {"output_bytes": client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]}

    return work


def describe() -> dict[str, str]:
    return {
        "airlake": "airlake.ingest run_ingest + LandingFilesSource + RawWriter (LakeStore on moto)",
        "boto3": "boto3 upload_file of the same bytes to moto (SSE-S3)",
    }
