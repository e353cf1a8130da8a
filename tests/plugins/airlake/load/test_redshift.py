"""Redshift load path: the COPY manifest on (moto) S3, the statement sequence through a recording DB-API
connection (parsed with sqlfluff's redshift dialect), stl_load_errors reporting, and the same statements
run on the real PostgreSQL with the COPY played by COPY FROM STDIN."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlfluff

from airlake.lake import copy_manifest_key
from airlake.load import ensure_target_table, load_manifest, load_partitions, write_copy_manifest
from airlake.load.csv_copy import copy_parquet_from_stdin
from airlake.load.redshift import RedshiftCopyError, copy_iam_role, copy_manifest, redact
from tests.plugins.airlake.load.load_helpers import (
    ROLE,
    RecordingConnection,
    fetch,
    inline_params,
    make_contract,
    put_parquet,
    row,
)

RUN_ID = "scheduled__2026-11-21T00:00:00+00:00"


def _kind(sql: str) -> str:
    """A short name for a statement of the load, from its text."""
    text = " ".join(line for line in sql.splitlines() if not line.startswith("--")).strip().lower()
    patterns = [
        ("catalog", r"information_schema\.columns"),
        ("create target", r"^create table if not exists"),
        ("add column", r"^alter table \"airlake_stage_\w+\" add column \"airlake_seq\""),
        ("evolve target", r"^alter table \"public\"\.\"orders_t\" add column"),
        ("create staging", r"^create temp table \"airlake_stage_\w+\" \(like"),
        ("copy", r"^copy \"airlake_stage_\w+\""),
        ("count duplicate keys", r"^select count\(\*\) as duplicate_keys"),
        ("count matched", r"^select count\(\*\).*inner join"),
        ("count staged", r"^select count\(\*\).*from \"airlake_stage_"),
        ("dedup", r"^create temp table \"airlake_dedup_\w+\" as"),
        ("count deduplicated", r"^select count\(\*\).*from \"airlake_dedup_"),
        ("merge", r"^merge into"),
        ("delete", r"^delete from"),
        ("insert", r"^insert into"),
        ("drop", r"^drop table if exists"),
        ("load errors", r"stl_load_errors"),
    ]
    for name, pattern in patterns:
        if re.search(pattern, text, re.DOTALL):
            return name
    raise AssertionError(f"unexpected statement: {sql}")


def _story(conn: RecordingConnection) -> list[str]:
    return [_kind(event[1]) if event[0] == "execute" else event[0] for event in conn.events]


# --------------------------------------------------------------------------------------------------
# (a) the manifest
# --------------------------------------------------------------------------------------------------


def test_manifest_lists_exactly_the_run_files_with_sizes_and_is_encrypted(lake):
    contract = make_contract()
    day20 = [
        put_parquet(lake, contract, f"curated/orders_t/dt=2026-11-20/v=2/part-{i:05d}.parquet", rows)
        for i, rows in enumerate([[row(1), row(2)], [row(3)]])
    ]
    day21 = [put_parquet(lake, contract, "curated/orders_t/dt=2026-11-21/v=2/part-00000.parquet", [row(4)])]
    # neighbours a prefix COPY would also load: an older version and an unpublished leftover
    put_parquet(lake, contract, "curated/orders_t/dt=2026-11-20/v=1/part-00000.parquet", [row(9)])
    put_parquet(lake, contract, "curated/orders_t/dt=2026-11-20/v=2/part-00002.parquet.tmp", [row(9)])
    files = day20 + day21

    uri = write_copy_manifest(lake, "orders_t", RUN_ID, files)

    key = copy_manifest_key("orders_t", RUN_ID)
    assert key == "_manifests/orders_t/scheduled__2026-11-21T00_00_00_00_00/redshift_copy.manifest"
    assert uri == f"s3://{lake.bucket}/{key}"
    document = json.loads(lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read())
    assert [entry["url"] for entry in document["entries"]] == [f"s3://{lake.bucket}/{k}" for k in files]
    for entry, file_key in zip(document["entries"], files, strict=True):
        body = lake.client.get_object(Bucket=lake.bucket, Key=file_key)["Body"].read()
        assert entry["mandatory"] is True
        assert entry["meta"] == {"content_length": len(body)}
    assert lake.head(key)["ServerSideEncryption"] == "AES256"


def test_manifest_refuses_missing_duplicate_and_no_files(lake):
    contract = make_contract()
    key = put_parquet(lake, contract, "curated/orders_t/dt=2026-11-20/v=1/p.parquet", [row(1)])
    with pytest.raises(FileNotFoundError, match=r"missing\.parquet"):
        copy_manifest(lake, [key, "curated/orders_t/dt=2026-11-20/v=1/missing.parquet"])
    with pytest.raises(ValueError, match="twice"):
        copy_manifest(lake, [key, key])
    with pytest.raises(ValueError, match="at least one"):
        copy_manifest(lake, [])


# --------------------------------------------------------------------------------------------------
# (b) the statement sequence
# --------------------------------------------------------------------------------------------------

MANIFEST_URI = "s3://airlake-prod/_manifests/orders_t/run1/redshift_copy.manifest"


@pytest.mark.parametrize(
    ("mode", "apply"),
    [
        pytest.param("merge", ["count matched", "merge"], id="merge"),
        pytest.param("partition_replace", ["delete", "insert"], id="partition_replace"),
        pytest.param("append", ["insert"], id="append"),
    ],
)
def test_statements_parse_as_redshift_and_run_in_one_transaction(mode: str, apply: list[str]):
    contract = make_contract(mode=mode)
    conn = RecordingConnection(counts={"staged": 5, "deduplicated": 4, "matched": 1})

    created = ensure_target_table(conn, contract, redshift=True)
    result = load_manifest(conn, contract, manifest_uri=MANIFEST_URI, iam_role=ROLE, files=3)

    assert created == []
    assert _story(conn) == [
        *["catalog", "create target", "commit"],
        *["create staging", "add column", "copy", "count staged", "count duplicate keys"],
        *["dedup", "count deduplicated"],
        *apply,
        *["drop", "drop", "commit"],
    ]
    # every statement ran with autocommit off: the load's statements are one transaction, one COMMIT
    assert all(event[3] is False for event in conn.events if event[0] == "execute")
    for event in conn.events:
        if event[0] == "execute":
            sqlfluff.parse(inline_params(event[1], event[2]), dialect="redshift")  # raises if unparsable
    by_kind = {_kind(sql): sql for sql in conn.statements}
    create, copy = by_kind["create target"], by_kind["copy"]
    assert 'diststyle key distkey ("order_id")' in create and 'compound sortkey ("ordered_at")' in create
    assert f"from '{MANIFEST_URI}'" in copy and f"iam_role '{ROLE}'" in copy
    assert '("order_id", "status", "amount", "note", "ordered_at", "updated_at")' in copy
    assert "format as parquet\nmanifest;" in copy
    assert (result["staged"], result["deduplicated"], result["duplicates"], result["files"]) == (5, 4, 1, 3)
    if mode == "merge":
        assert (result["updated"], result["inserted"]) == (1, 3)


@pytest.mark.parametrize(
    ("mode", "apply"),
    [
        pytest.param("merge", ["count matched", "merge"], id="merge"),
        pytest.param("partition_replace", ["delete", "insert"], id="partition_replace"),
    ],
)
def test_a_load_unique_by_key_skips_the_dedup_and_applies_from_staging(mode: str, apply: list[str]):
    contract = make_contract(mode=mode)
    conn = RecordingConnection(counts={"staged": 5, "duplicate_keys": 0, "matched": 2})
    ensure_target_table(conn, contract, redshift=True)

    result = load_manifest(conn, contract, manifest_uri=MANIFEST_URI, iam_role=ROLE, files=3)

    assert _story(conn)[3:] == [
        *["create staging", "add column", "copy", "count staged", "count duplicate keys"],
        *apply,
        *["drop", "drop", "commit"],
    ]
    by_kind = {_kind(sql): sql for sql in conn.statements}
    for kind in apply:
        sqlfluff.parse(by_kind[kind], dialect="redshift")
        assert "airlake_stage_" in by_kind[kind] and "airlake_dedup_" not in by_kind[kind]
    assert (result["staged"], result["deduplicated"], result["duplicates"]) == (5, 5, 0)
    if mode == "merge":
        assert (result["updated"], result["inserted"]) == (2, 3)


def test_existing_target_gains_new_nullable_columns_in_redshift_types():
    contract = make_contract(extra_column=True)
    existing = [(name, "NO") for name in make_contract().column_names]
    conn = RecordingConnection(columns=existing)
    assert ensure_target_table(conn, contract, redshift=True) == ["coupon_code"]
    assert _story(conn) == ["catalog", "evolve target", "commit"]
    assert conn.statements[1].endswith('add column "coupon_code" varchar(65535);')
    sqlfluff.parse(conn.statements[1], dialect="redshift")


def test_new_not_null_column_is_refused_and_rolled_back():
    contract = make_contract()
    conn = RecordingConnection(columns=[("order_id", "NO")])
    with pytest.raises(ValueError, match="'status' is NOT NULL"):
        ensure_target_table(conn, contract, redshift=True)
    assert _story(conn) == ["catalog", "rollback"]


# --------------------------------------------------------------------------------------------------
# (c) a failed COPY
# --------------------------------------------------------------------------------------------------

FAILED_FILE = "s3://airlake-prod/curated/orders_t/dt=2026-11-20/v=2/part-00001.parquet"


def test_copy_failure_names_file_line_column_and_reason(caplog, capsys):
    conn = RecordingConnection(
        copy_error=(
            "{'S': 'ERROR', 'C': 'XX000', 'M': 'Load into table \"airlake_stage_x\" failed. Check "
            "stl_load_errors system table for details.', 'F': '../src/pg/src/backend/commands/copy.c'}"
        ),
        load_errors=[
            (4711, FAILED_FILE + "   ", 17, "amount    ", "numeric(12,2)", 1207, "Invalid digit, Value 'x'"),
            (4711, FAILED_FILE, 18, "amount", "numeric(12,2)", 1207, "Invalid digit, Value 'y'"),
        ],
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RedshiftCopyError) as raised:
        load_manifest(conn, make_contract(), manifest_uri=MANIFEST_URI, iam_role=ROLE, files=2)
    message = str(raised.value)
    assert f"{FAILED_FILE} line 17, column 'amount' (numeric(12,2)): Invalid digit, Value 'x'" in message
    assert "line 18" in message and "Load into table" in message
    assert MANIFEST_URI in message
    # the load was rolled back before the errors were read (Redshift refuses statements in an aborted
    # transaction); nothing was committed
    story = _story(conn)
    assert story == ["create staging", "add column", "copy", "rollback", "load errors", "rollback"]
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    logged = caplog.text + "".join(capsys.readouterr())
    assert "COPY s3://" in logged and ROLE not in logged


def test_copy_failure_before_reading_rows_redacts_the_role():
    conn = RecordingConnection(
        copy_error=f"Not authorized to get credentials of role {ROLE}",
        load_errors=[],
    )
    with pytest.raises(RedshiftCopyError) as raised:
        load_manifest(conn, make_contract(), manifest_uri=MANIFEST_URI, iam_role=ROLE, files=1)
    message = str(raised.value)
    assert ROLE not in message and "123456789012" not in message
    assert "arn:aws:iam::***:role/***" in message and "no row for it" in message


def test_copy_iam_role_comes_from_the_extra_and_is_never_echoed():
    assert copy_iam_role({"copy_iam_role": ROLE, "iam_role": "other"}, "rs") == ROLE
    assert copy_iam_role({"iam_role": ROLE}, "rs") == ROLE
    with pytest.raises(ValueError, match="no IAM role for COPY"):
        copy_iam_role({}, "rs")
    bad = "arn:aws:iam::123456789012:user/someone"
    with pytest.raises(ValueError, match="not an IAM role ARN") as raised:
        copy_iam_role({"iam_role": bad}, "rs")
    assert bad not in str(raised.value)
    assert redact(f"role {ROLE} and arn:aws-cn:iam::210987654321:role/x") == (
        "role arn:aws:iam::***:role/*** and arn:aws:iam::***:role/***"
    )


# --------------------------------------------------------------------------------------------------
# The Redshift statements on the real PostgreSQL, COPY played by COPY FROM STDIN
# --------------------------------------------------------------------------------------------------

_MANIFEST_COPY = re.compile(
    r"copy (?P<table>\"\w+\") \((?P<columns>[^)]*)\)\s+from 's3://(?P<bucket>[^/]+)/(?P<key>[^']+)'"
    r"\s+iam_role '[^']+'\s+format as parquet\s+manifest;"
)


class _ManifestCopyCursor:
    """A psycopg cursor that runs a Redshift manifest COPY as Redshift would load it: every listed file
    (size checked against the manifest), in the contract's column order, with no arrival order."""

    def __init__(self, cursor: psycopg.Cursor[Any], store: Any, contract: Any) -> None:
        self._cursor, self._store, self._contract = cursor, store, contract

    def execute(self, sql: str, params: Any = None) -> Any:
        match = _MANIFEST_COPY.search(sql)
        if match is None:
            return self._cursor.execute(sql, params)
        assert match["bucket"] == self._store.bucket
        assert [c.strip().strip('"') for c in match["columns"].split(",")] == list(
            self._contract.column_names
        )
        staging = match["table"].strip('"')
        entries = self._store.get_json(match["key"])["entries"]
        with tempfile.TemporaryDirectory() as tmp:
            for index, entry in enumerate(entries):
                key = entry["url"].removeprefix(f"s3://{self._store.bucket}/")
                path = Path(tmp) / f"{index}.parquet"
                self._store.download(key, path)
                assert entry["mandatory"] and entry["meta"]["content_length"] == path.stat().st_size
                copy_parquet_from_stdin(self._cursor, staging, self._contract, path, 0)
        self._cursor.execute(f'update "{staging}" set airlake_seq = null')  # COPY leaves it NULL
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _ManifestCopyConnection:
    def __init__(self, conn: psycopg.Connection[Any], store: Any, contract: Any) -> None:
        self._conn, self._store, self._contract = conn, store, contract

    def cursor(self) -> _ManifestCopyCursor:
        return _ManifestCopyCursor(self._conn.cursor(), self._store, self._contract)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._conn, name, value)


@pytest.fixture
def pg(pg_database: str):
    with psycopg.connect(pg_database, autocommit=True) as connection:
        yield connection


@pytest.mark.parametrize("mode", ["merge", "partition_replace", "append"])
def test_redshift_statements_on_postgres_give_the_rows_of_the_postgres_path(pg, lake, mode):
    via_stdin = make_contract(mode=mode, table="public.orders_pg")
    via_copy = make_contract(mode=mode, table="public.orders_rs")
    first = [
        [row(1), row(2, note=""), row(1, "paid", hour=3)],  # a duplicate in the same file
        [row(3, day=21), row(2, "shipped", hour=5)],  # ... and across files
    ]
    second = [[row(1, "cancelled", hour=9), row(4)]]
    for run, batches in enumerate([first, second]):
        files = [
            put_parquet(lake, via_stdin, f"curated/orders/run{run}/part-{i:05d}.parquet", rows)
            for i, rows in enumerate(batches)
        ]
        ensure_target_table(pg, via_stdin)
        ensure_target_table(pg, via_copy)
        expected = load_partitions(pg, via_stdin, lake, files)
        uri = write_copy_manifest(lake, "orders", f"run{run}", files)
        got = load_manifest(
            _ManifestCopyConnection(pg, lake, via_copy),
            via_copy,
            manifest_uri=uri,
            iam_role=ROLE,
            files=len(files),
        )
        assert {k: v for k, v in got.items() if k != "table"} == {
            k: v for k, v in expected.items() if k != "table"
        }
    columns = "order_id, status, amount, note, ordered_at, updated_at"
    rows_rs = fetch(pg, f"select {columns} from orders_rs order by 1, 6")
    assert rows_rs == fetch(pg, f"select {columns} from orders_pg order by 1, 6")
    if mode == "merge":
        assert [(r[0], r[1]) for r in rows_rs] == [
            (1, "cancelled"),
            (2, "shipped"),
            (3, "placed"),
            (4, "placed"),
        ]
    assert not pg.info.transaction_status  # idle: the load committed, nothing left open
    with closing(pg.cursor()) as cursor:
        cursor.execute(
            "select count(*) from pg_class where relname like 'airlake_%%' and relpersistence = 't'"
        )
        assert cursor.fetchone() == (0,)
