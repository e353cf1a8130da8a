"""A poison file never stops the lake: unreadable landing files are quarantined whole, the rest lands."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.files import UNREADABLE, LandingFilesSource, poison_reason
from airlake.lake import quarantine_files_prefix, raw_run_prefix, state_key
from tests.helpers import read_object

GOOD = b"product_id,name,price\np1,Mug,12.50\np2,Pen,1.20\np3,Cup,3.00\n"
MANY = b"product_id,name,price\n" + b"".join(f"p{i},name {i * 7919},{i}.00\n".encode() for i in range(4000))
TRUNCATED_GZ = gzip.compress(MANY, mtime=0)[:-4000]
DAY_1, DAY_2, DAY_3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


def _parquet(rows: int = 5) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(rows))}), buffer)
    return buffer.getvalue()


def _source(
    lake, file_format: str = "csv", compression: str = "auto", prefix: str = "landing/products/"
) -> LandingFilesSource:
    return LandingFilesSource(
        store=lake, landing_prefix=prefix, file_format=file_format, compression=compression
    )


@pytest.fixture(scope="module")
def shared_lake(local_services):
    """One bucket for the many small cases below (each under its own landing prefix and dataset name):
    creating a bucket per case costs more than the case."""
    import uuid

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import LakeStore

    store = LakeStore(S3Hook(aws_conn_id="aws_default"), f"airlake-test-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    return store


def _raw_rows(lake, keys: list[str]) -> int:
    """Data rows of the landed CSV parts (one header line each; GOOD has no quoted newlines)."""
    return sum(gzip.decompress(read_object(lake, key)).count(b"\n") - 1 for key in keys)


def test_a_poison_file_beside_good_ones_is_quarantined_and_never_stops_a_run(lake, make_ctx) -> None:
    lake.put_bytes("landing/products/2026-11-20/a.csv", GOOD)
    lake.put_bytes("landing/products/2026-11-20/b.csv.gz", gzip.compress(GOOD))
    lake.put_bytes("landing/products/2026-11-20/broken.csv.gz", TRUNCATED_GZ)
    poison_key = "landing/products/2026-11-20/broken.csv.gz"
    etag = lake.head(poison_key)["ETag"].strip('"')

    first = run_ingest(_source(lake), lake, make_ctx(day=DAY_1, run_id="r1", dataset="products"))

    # the good files landed, every row of them, and nothing else did
    assert first["rows"] == 6 and len(first["parts"]) == 2
    assert _raw_rows(lake, first["parts"]) == 6
    raw = sorted(obj.key for obj in lake.list(raw_run_prefix("products", DAY_1, "r1")))
    assert raw == sorted(first["parts"])
    # the poison file is in quarantine whole, encrypted, with its reason record beside it
    prefix = quarantine_files_prefix("products", DAY_1, "r1")
    quarantined = f"{prefix}2026-11-20/broken.csv.gz"
    assert sorted(obj.key for obj in lake.list(prefix)) == [quarantined, f"{quarantined}.reason.json"]
    assert read_object(lake, quarantined) == TRUNCATED_GZ
    assert lake.head(quarantined)["ServerSideEncryption"] == "AES256"
    record = lake.get_json(f"{quarantined}.reason.json")
    assert {k: record[k] for k in ("source_key", "etag", "size", "sha256", "reason")} == {
        "source_key": poison_key,
        "etag": etag,
        "size": len(TRUNCATED_GZ),
        "sha256": hashlib.sha256(TRUNCATED_GZ).hexdigest(),
        "reason": "corrupt_compression",
    }
    assert f"s3://{lake.bucket}/{poison_key}" in record["message"] and "truncated" in record["message"]
    # named in the summary and the manifest, with counts
    assert [(p["source_key"], p["reason"], p["quarantine_key"]) for p in first["poison_files"]] == [
        (poison_key, "corrupt_compression", quarantined)
    ]
    manifest = lake.get_json(first["manifest"])
    assert [item["source_key"] for item in manifest["poison_files"]] == [poison_key]
    assert manifest["input_counts"] == {"landed": 2, "poison": 1}
    assert manifest["rows"] == {"read": 6, "landed": 6}
    assert poison_key not in {item["key"] for item in manifest["inputs"]}
    # the checkpoint claims it by key and ETag
    claimed = lake.get_json(state_key("products", "ingest"))["checkpoint"]["files"]
    assert claimed[poison_key] == etag and len(claimed) == 3

    # a later run neither lands nor stops on it again
    second = run_ingest(_source(lake), lake, make_ctx(day=DAY_2, run_id="r2", dataset="products"))
    assert (second["rows"], second["parts"], second["poison_files"]) == (0, [], [])
    assert not list(lake.list(quarantine_files_prefix("products", DAY_2, "r2")))

    # a corrected re-upload (new ETag) lands
    lake.put_bytes(poison_key, gzip.compress(MANY))
    third = run_ingest(_source(lake), lake, make_ctx(day=DAY_3, run_id="r3", dataset="products"))
    assert third["rows"] == 4000 and third["poison_files"] == []
    assert _raw_rows(lake, third["parts"]) == 4000


def test_a_retried_run_rewrites_its_own_quarantine_and_leaves_no_orphans(lake, make_ctx) -> None:
    """A crash after quarantining but before the manifest: the retry writes the same keys, nothing more."""
    lake.put_bytes("landing/products/bad.csv.gz", TRUNCATED_GZ)
    ctx = make_ctx(day=DAY_1, run_id="r1", dataset="products")
    prefix = quarantine_files_prefix("products", DAY_1, "r1")
    lake.put_bytes(f"{prefix}gone.csv.gz", b"left by an earlier try")  # e.g. a file since re-uploaded
    summary = run_ingest(_source(lake), lake, ctx)
    assert sorted(obj.key for obj in lake.list(prefix)) == [
        f"{prefix}bad.csv.gz",
        f"{prefix}bad.csv.gz.reason.json",
    ]
    assert summary["parts"] == [] and [p["reason"] for p in summary["poison_files"]] == [
        "corrupt_compression"
    ]


_RANDOM = random.Random(13).randbytes(20_000)  # noqa: S311 - test bytes, not secrets


@pytest.mark.parametrize(
    ("name", "payload", "file_format", "compression", "reason", "says"),
    [
        pytest.param(
            "t.csv.gz", TRUNCATED_GZ, "csv", "auto", "corrupt_compression", "truncated", id="truncated-gzip"
        ),
        pytest.param(
            "c.csv.gz",
            gzip.compress(GOOD, mtime=0)[:-8] + b"\0\0\0\0" + gzip.compress(GOOD, mtime=0)[-4:],
            "csv",
            "auto",
            "corrupt_compression",
            "CRC check failed",
            id="gzip-crc-mismatch",
        ),
        pytest.param(
            "m.csv.gz",
            b"\x1f\x8bnot really gzip at all",
            "csv",
            "auto",
            "corrupt_compression",
            "corrupt",
            id="gzip-magic-on-non-gzip",
        ),
        pytest.param("p.csv.gz", GOOD, "csv", "auto", "not_gzip", "named .gz", id="gz-name-on-plain-bytes"),
        pytest.param(
            "d.csv", GOOD, "csv", "gzip", "not_gzip", "declares gzip", id="declared-gzip-plain-bytes"
        ),
        pytest.param(
            "double.jsonl.gz",
            gzip.compress(gzip.compress(b'{"a":1}\n')),
            "jsonl",
            "auto",
            "not_declared_format",
            "compressed twice",
            id="gzip-twice",
        ),
        pytest.param("x.csv", _RANDOM, "csv", "auto", "undecodable", "not utf-8 text", id="binary-in-csv"),
        pytest.param(
            "w.csv",
            b"PK\x03\x04\x14\x00\x06\x00" + _RANDOM,
            "csv",
            "auto",
            "not_declared_format",
            "zip",
            id="xlsx-named-csv",
        ),
        pytest.param(
            "q.csv",
            _parquet(),
            "csv",
            "auto",
            "not_declared_format",
            "a Parquet file",
            id="parquet-named-csv",
        ),
        pytest.param(
            "n.parquet",
            GOOD,
            "parquet",
            "auto",
            "not_declared_format",
            "cannot be read as Parquet",
            id="parquet-that-is-not-parquet",
        ),
        pytest.param(
            "h.parquet",
            _parquet(1000)[:-100],
            "parquet",
            "auto",
            "not_declared_format",
            "Parquet",
            id="truncated-parquet",
        ),
        pytest.param(
            "u16.csv",
            "id,name\n1,Ann\n2,Bob\n".encode("utf-16"),
            "csv",
            "auto",
            "undecodable",
            "utf-8",
            id="utf-16-declared-utf-8",
        ),
        pytest.param(
            "kr.csv",
            ("id,city\n" + "1,서울특별시 강남구\n" * 50).encode("cp949"),
            "csv",
            "auto",
            "undecodable",
            "another encoding",
            id="cp949-declared-utf-8",
        ),
    ],
)
def test_each_kind_of_poison_file_is_quarantined_with_its_reason(
    shared_lake,
    make_ctx,
    request,
    name: str,
    payload: bytes,
    file_format: str,
    compression: str,
    reason: str,
    says: str,
) -> None:
    lake, case = shared_lake, request.node.callspec.id
    landing = f"landing/{case}/"
    good_name, good = {"csv": ("good.csv", GOOD), "jsonl": ("good.jsonl", b'{"a":1}\n{"a":2}\n')}.get(
        file_format, ("good.parquet", _parquet(3))
    )
    if compression == "gzip":
        good_name, good = good_name + ".gz", gzip.compress(good)
    lake.put_bytes(f"{landing}{good_name}", good)
    lake.put_bytes(f"{landing}{name}", payload)

    summary = run_ingest(_source(lake, file_format, compression, landing), lake, make_ctx(dataset=case))

    assert summary["rows"] == (2 if file_format == "jsonl" else 3) and len(summary["parts"]) == 1
    [poison] = summary["poison_files"]
    assert (poison["source_key"], poison["reason"]) == (f"{landing}{name}", reason)
    assert says in poison["message"] and name in poison["message"]
    assert read_object(lake, poison["quarantine_key"]) == payload
    record = json.loads(read_object(lake, poison["quarantine_key"] + ".reason.json"))
    assert record["reason"] == reason and record["sha256"] == hashlib.sha256(payload).hexdigest()
    claimed = lake.get_json(state_key(case, "ingest"))["checkpoint"]["files"]
    assert claimed[f"{landing}{name}"] == lake.head(f"{landing}{name}")["ETag"].strip('"')


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        pytest.param(
            "latin1.csv", "id,name\n1,Müller\n2,Ann\n3,Bob\n".encode("latin-1"), id="a-few-bad-bytes"
        ),
        pytest.param("nul.csv", b"id,name\n1,A\x00nn\n2,Bob\n3,Cy\n", id="a-nul-byte"),
        pytest.param("bom.csv", b"\xef\xbb\xbfid,name\n1,Ann\n2,Bob\n3,Cy\n", id="utf-8-bom"),
        pytest.param(
            "sniffed.csv", gzip.compress(b"id,name\n1,Ann\n2,Bob\n3,Cy\n"), id="gzip-without-gz-name"
        ),
        pytest.param("empty.csv", b"", id="empty"),
    ],
)
def test_text_with_row_level_problems_is_not_poison(
    shared_lake, make_ctx, request, name: str, payload: bytes
) -> None:
    """A bad byte is its row's problem (the curate reader quarantines the row), not the whole file's."""
    lake, case = shared_lake, request.node.callspec.id
    lake.put_bytes(f"landing/{case}/{name}", payload)
    summary = run_ingest(_source(lake, prefix=f"landing/{case}/"), lake, make_ctx(dataset=case))
    assert summary["poison_files"] == []
    assert summary["rows"] == (0 if name == "empty.csv" else 3) and len(summary["parts"]) == 1


def test_a_file_deleted_between_listing_and_reading_is_skipped_not_claimed(lake, make_ctx) -> None:
    lake.put_bytes("landing/products/a.csv", GOOD)
    lake.put_bytes("landing/products/b.csv", GOOD)
    source = _source(lake)
    real_download = lake.download

    def download(key, path):
        if key.endswith("b.csv"):
            lake.delete([key])
        return real_download(key, path)

    lake.download = download  # type: ignore[method-assign]
    summary = run_ingest(source, lake, make_ctx(dataset="products"))
    assert summary["rows"] == 3 and summary["poison_files"] == []
    assert [item["key"] for item in source.skipped] == ["landing/products/b.csv"]
    claimed = lake.get_json(state_key("products", "ingest"))["checkpoint"]["files"]
    assert set(claimed) == {"landing/products/a.csv"}


def _raised_by(action) -> BaseException:
    try:
        action()
    except Exception as error:
        return error
    raise AssertionError("expected an error")


@pytest.mark.parametrize(
    ("error", "reason", "says"),
    [
        pytest.param(
            _raised_by(lambda: list(csv.reader(io.StringIO('a,"' + "x" * 200_000 + '"\n')))),
            "field_too_large",
            "field larger than field limit",
            id="csv-field-limit",
        ),
        pytest.param(
            _raised_by(lambda: list(csv.reader(['a,"b"c'], strict=True))),
            "malformed",
            "CSV",
            id="csv-other",
        ),
        pytest.param(
            _raised_by(lambda: gzip.decompress(TRUNCATED_GZ)), "corrupt_compression", "truncated", id="eof"
        ),
        pytest.param(
            _raised_by(lambda: b"\xff\xfe\xfa".decode("utf-8")), "undecodable", "utf-8", id="unicode"
        ),
        pytest.param(
            _raised_by(lambda: pq.ParquetFile(io.BytesIO(GOOD))), "not_declared_format", "Parquet", id="arrow"
        ),
    ],
)
def test_poison_reasons_name_the_problem(error: BaseException, reason: str, says: str) -> None:
    """What the strict counter may raise maps to a reason code and a message that says what is wrong."""
    assert isinstance(error, UNREADABLE)
    code, message = poison_reason(error)
    assert code == reason and says in message
