"""IngestOperator against the session's moto server: poison files, fail-fast vs retried errors."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ReadTimeoutError

from airlake.lake import manifest_key, quarantine_files_prefix, state_key
from airlake.operators.curate import CurateOperator
from airlake.operators.ingest import IngestOperator
from tests.helpers import read_object
from tests.plugins.airlake.curate.curate_helpers import Catalog

HEADER = "product_id,name,category,price,currency,updated_at,brand\n"
GOOD = (
    HEADER
    + "p1,Mug,kitchen,12.50,EUR,2026-11-20T08:00:00Z,Acme\n"
    + "p2,Pen,office,1.20,EUR,2026-11-20T09:00:00Z,\n"
    + "p3,Cup,kitchen,3.00,USD,2026-11-20T10:00:00Z,Acme\n"
).encode()
_MANY = (
    HEADER + "".join(f"p{i},name {i * 7919},misc,{i}.00,EUR,2026-11-20T08:00:00Z,\n" for i in range(3000))
).encode()
TRUNCATED = gzip.compress(_MANY, mtime=0)[: len(gzip.compress(_MANY, mtime=0)) // 2]
DAY = date(2026, 11, 20)


def _context(run_id: str, day: date = DAY) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "run_id": run_id,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1),
        "params": {},
    }


def _read_location(lake, location: str) -> list[dict[str, Any]]:
    """Rows of the Parquet files of one curated version (``s3://bucket/prefix/``)."""
    import pyarrow.parquet as pq

    prefix = location.split("/", 3)[3]
    keys = sorted(obj.key for obj in lake.list(prefix) if obj.key.endswith(".parquet"))
    return [row for key in keys for row in pq.read_table(io.BytesIO(read_object(lake, key))).to_pylist()]


def _operator(bucket: str) -> IngestOperator:
    return IngestOperator(task_id="ingest", dataset="products", bucket=bucket)


def test_template_fields_are_the_arguments() -> None:
    operator = IngestOperator(task_id="ingest", dataset="products", bucket="{{ var.value.airlake_bucket }}")
    assert set(operator.template_fields) >= {"dataset", "bucket", "kms_key_id", "aws_conn_id"}
    for name in operator.template_fields:
        assert hasattr(operator, name), name


def test_poison_beside_good_files_lands_and_curates_the_good_ones(lake, tmp_path) -> None:
    lake.put_bytes("landing/products/2026-11-20/good.csv", GOOD)
    lake.put_bytes("landing/products/2026-11-20/bad.csv.gz", TRUNCATED)

    summary = _operator(lake.bucket).execute(_context("r1"))  # type: ignore[arg-type]

    assert summary["rows"] == 3
    assert [(p["source_key"], p["reason"]) for p in summary["poison_files"]] == [
        ("landing/products/2026-11-20/bad.csv.gz", "corrupt_compression")
    ]
    curated = CurateOperator(
        task_id="curate", dataset="products", bucket=lake.bucket, live_locations=Catalog().lookup
    ).execute(_context("r1"))  # type: ignore[arg-type]
    rows = [row for partition in curated["partitions"] for row in _read_location(lake, partition["location"])]
    assert sorted(row["product_id"] for row in rows) == ["p1", "p2", "p3"]


def test_a_run_whose_every_file_is_poison_fails_without_retry_naming_them(lake) -> None:
    lake.put_bytes("landing/products/2026-11-20/bad.csv.gz", TRUNCATED)
    lake.put_bytes("landing/products/2026-11-20/plain.csv.gz", GOOD)

    with pytest.raises(AirflowFailException) as failed:
        _operator(lake.bucket).execute(_context("r1"))  # type: ignore[arg-type]

    message = str(failed.value)
    assert "products run r1: all 2 new file(s) are unreadable" in message
    assert f"s3://{lake.bucket}/landing/products/2026-11-20/bad.csv.gz" in message
    assert "[corrupt_compression]" in message and "[not_gzip]" in message
    # written before failing: quarantine, manifest, checkpoint
    prefix = quarantine_files_prefix("products", DAY, "r1")
    assert len(list(lake.list(prefix))) == 4  # two files, two reason records
    manifest = lake.get_json(manifest_key("products", "r1", "ingest"))
    assert manifest["input_counts"] == {"landed": 0, "poison": 2} and manifest["outputs"] == []
    claimed = lake.get_json(state_key("products", "ingest"))["checkpoint"]["files"]
    assert set(claimed) == {
        "landing/products/2026-11-20/bad.csv.gz",
        "landing/products/2026-11-20/plain.csv.gz",
    }
    # a clear of the same run says the same; the next run lands nothing new and does not fail
    with pytest.raises(AirflowFailException, match="all 2 new file"):
        _operator(lake.bucket).execute(_context("r1"))  # type: ignore[arg-type]
    nothing = _operator(lake.bucket).execute(_context("r2", DAY + timedelta(days=1)))  # type: ignore[arg-type]
    assert (nothing["rows"], nothing["parts"], nothing["poison_files"]) == (0, [], [])


def test_a_deterministic_error_fails_at_once(lake) -> None:
    with pytest.raises(
        AirflowFailException, match=r"products: ingest failed and is not retried.*NoSuchBucket"
    ):
        _operator(f"{lake.bucket}-missing").execute(_context("r1"))  # type: ignore[arg-type]


def test_a_transient_error_is_left_to_airflow_retries(lake, monkeypatch) -> None:
    import airlake.ingest.runner

    def timeout(*args: Any, **kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url=f"https://{lake.bucket}.s3.amazonaws.com")

    monkeypatch.setattr(airlake.ingest.runner, "run_ingest", timeout)
    with pytest.raises(ReadTimeoutError):
        _operator(lake.bucket).execute(_context("r1"))  # type: ignore[arg-type]
