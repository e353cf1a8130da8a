from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.files import LandingFilesSource
from airlake.lake import state_key

CSV = b'product_id,name,price\np1,"Mug, large",12.50\np2,"Two\nline",3.00\np3,Pen,1.20\n'


def _source(lake, file_format: str = "csv") -> LandingFilesSource:
    return LandingFilesSource(store=lake, landing_prefix="landing/products/", file_format=file_format)


def test_plain_and_gzip_csv_land_compressed_with_exact_row_counts(lake, make_ctx) -> None:
    lake.put_bytes("landing/products/2026-11-20/a.csv", CSV)
    lake.put_bytes("landing/products/2026-11-20/b.csv.gz", gzip.compress(CSV))

    summary = run_ingest(_source(lake), lake, make_ctx(dataset="products"))

    assert summary["rows"] == 6  # three records per file; the quoted newline is one record
    assert len(summary["parts"]) == 2
    for key in summary["parts"]:
        assert key.endswith(".csv.gz")
        body = lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
        assert gzip.decompress(body) == CSV
        assert lake.head(key)["ServerSideEncryption"] == "AES256"
    manifest = lake.get_json(summary["manifest"])
    assert manifest["rows"] == {"read": 6, "landed": 6}
    assert {item["key"] for item in manifest["inputs"]} == {
        "landing/products/2026-11-20/a.csv",
        "landing/products/2026-11-20/b.csv.gz",
    }
    assert all(len(item["sha256"]) == 64 for item in manifest["outputs"])


def test_each_file_is_ingested_once_and_new_files_are_never_missed(lake, make_ctx) -> None:
    from datetime import date

    lake.put_bytes("landing/products/d1.csv", CSV)
    first = run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 20), dataset="products"))
    rerun = run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 20), dataset="products"))
    lake.put_bytes("landing/products/d2.csv", CSV)
    second = run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 21), dataset="products"))
    third = run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 22), dataset="products"))

    assert (first["rows"], rerun["skipped"], rerun["parts"]) == (3, True, first["parts"])
    assert second["rows"] == 3 and "ingest_date=2026-11-21" in second["parts"][0]
    assert third["rows"] == 0 and third["parts"] == []
    state = lake.get_json(state_key("products", "ingest"))
    assert set(state["checkpoint"]["files"]) == {"landing/products/d1.csv", "landing/products/d2.csv"}


def test_a_replaced_file_is_ingested_again(lake, make_ctx) -> None:
    from datetime import date

    lake.put_bytes("landing/products/d1.csv", CSV)
    run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 20), dataset="products"))
    lake.put_bytes("landing/products/d1.csv", CSV + b"p4,Cup,2.00\n")
    again = run_ingest(_source(lake), lake, make_ctx(day=date(2026, 11, 21), dataset="products"))
    assert again["rows"] == 4


@pytest.mark.parametrize(
    ("file_format", "name", "payload", "rows"),
    [
        pytest.param("jsonl", "e.jsonl", b'{"a":1}\n{"a":2}\n\n', 2, id="jsonl"),
        pytest.param("jsonl", "e.jsonl.gz", gzip.compress(b'{"a":1}\n'), 1, id="jsonl-gzip"),
    ],
)
def test_jsonl_files(lake, make_ctx, file_format: str, name: str, payload: bytes, rows: int) -> None:
    lake.put_bytes(f"landing/products/{name}", payload)
    summary = run_ingest(_source(lake, file_format), lake, make_ctx(dataset="products"))
    assert summary["rows"] == rows
    assert summary["parts"][0].endswith(".jsonl.gz")


def test_parquet_files_are_kept_as_they_are(lake, make_ctx) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(5))}), buffer)
    lake.put_bytes("landing/products/p.parquet", buffer.getvalue())
    summary = run_ingest(_source(lake, "parquet"), lake, make_ctx(dataset="products"))
    body = lake.client.get_object(Bucket=lake.bucket, Key=summary["parts"][0])["Body"].read()
    assert summary["rows"] == 5 and body == buffer.getvalue()


def test_unexpected_file_types_are_reported_not_lost(lake, make_ctx) -> None:
    lake.put_bytes("landing/products/readme.txt", b"hello")
    source = _source(lake)
    summary = run_ingest(source, lake, make_ctx(dataset="products"))
    assert summary["rows"] == 0
    assert source.skipped == [
        {"key": "landing/products/readme.txt", "reason": "not a csv file (expected suffix .csv, .csv.gz)"}
    ]
    manifest = lake.get_json(summary["manifest"])
    assert manifest["skipped_inputs"] == source.skipped
    state = lake.get_json(state_key("products", "ingest"))
    assert state["checkpoint"] is None  # nothing claimed: the file is not marked as taken
