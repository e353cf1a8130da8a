"""Fixtures of the stream and API source tests: in-process moto (S3, Kinesis, SQS) and a lake behind S3Hook."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from airlake.ingest.base import IngestContext
from airlake.store import LakeStore

REGION = "us-east-1"
BUCKET = "airlake-sources-test"
DAY = date(2026, 11, 20)


class RecordingStore(LakeStore):
    """A LakeStore that records every part upload and can fail the ``fail_on_put``-th one (1-based)."""

    def __init__(self, hook: Any, bucket: str, *, fail_on_put: int | None = None) -> None:
        super().__init__(hook, bucket)
        self.fail_on_put = fail_on_put
        self.puts: list[str] = []

    def put_file(self, key: str, path: Path) -> None:
        if self.fail_on_put is not None and len(self.puts) + 1 == self.fail_on_put:
            self.puts.append(f"FAILED:{key}")
            raise OSError(f"injected failure uploading {key}")
        super().put_file(key, path)
        self.puts.append(key)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto for every AWS API; ``aws_default`` is a plain AWS connection (no endpoint_url)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": {"region_name": REGION}})
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def make_store(aws: None) -> Callable[..., RecordingStore]:
    """Stores on one moto bucket, built on the Amazon provider's S3Hook like the operators build them."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    def build(*, fail_on_put: int | None = None) -> RecordingStore:
        store = RecordingStore(S3Hook(aws_conn_id="aws_default"), BUCKET, fail_on_put=fail_on_put)
        store.ensure_bucket()
        return store

    return build


@pytest.fixture
def s3_lake(make_store: Callable[..., RecordingStore]) -> RecordingStore:
    return make_store()


@pytest.fixture
def ctx_for(tmp_path: Path) -> Callable[..., IngestContext]:
    """The IngestContext of ``run_id`` (daily interval of ``day``), its work dir under tmp_path."""

    def build(run_id: str, *, dataset: str = "events", day: date = DAY) -> IngestContext:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return IngestContext(
            dataset=dataset,
            run_id=run_id,
            ingest_date=day,
            interval_start=start,
            interval_end=start + timedelta(days=1),
            work_dir=tmp_path / "work" / run_id,
        )

    return build


def read_part(store: LakeStore, key: str) -> list[bytes]:
    body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    return gzip.decompress(body).splitlines()


@pytest.fixture
def landed() -> Callable[[LakeStore, list[str]], list[bytes]]:
    """Every line of the given raw parts, read back from S3, in part order."""

    def read(store: LakeStore, keys: list[str]) -> list[bytes]:
        return [line for key in keys for line in read_part(store, key)]

    return read


@pytest.fixture
def assert_encrypted() -> Callable[[LakeStore, list[str]], None]:
    def check(store: LakeStore, keys: list[str]) -> None:
        assert keys, "expected at least one raw part"
        for key in keys:
            assert store.head(key).get("ServerSideEncryption") == "AES256", key

    return check
