"""The binary COPY path (ADBC PostgreSQL driver) against a real PostgreSQL 15: the same rows as the CSV
path in every mode, UTC instants under any session time zone, the caller's search_path, errors that name
the file, and a password that never reaches a message."""

from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.load import ensure_target_table, load_partitions
from airlake.load import postgres as postgres_load
from airlake.load.arrow_copy import adbc_connection, conninfo_of
from tests.plugins.airlake.load.load_helpers import UTC, checksum, fetch, make_contract, put_parquet, row


@pytest.fixture
def conn(pg_database: str):
    with psycopg.connect(pg_database, autocommit=True) as connection:
        yield connection


def test_binary_and_csv_loads_agree_in_every_mode(conn, lake):
    old, new = make_contract(), make_contract(extra_column=True)
    odd = row(2, note='a,"b"\nc\\N', amount=Decimal("-1234567890.01"))
    files = [
        put_parquet(lake, old, "dt=2026-11-20/v=1/p.parquet", [row(1), odd, row(4, note="")]),
        put_parquet(lake, new, "dt=2026-11-21/v=1/p.parquet", [row(3, day=21, coupon_code="XMAS")]),
    ]
    for mode in ("merge", "partition_replace", "append"):
        results, contents = [], []
        for copy_format in ("binary", "csv"):
            table = f"public.agree_{mode}_{copy_format}"
            contract = make_contract(mode=mode, table=table, extra_column=True)
            ensure_target_table(conn, contract)
            load_partitions(conn, contract, lake, files[:1], copy_format=copy_format)
            results.append(load_partitions(conn, contract, lake, files, copy_format=copy_format))
            contents.append(fetch(conn, f"select * from {table} order by order_id, updated_at"))
        assert {k: v for k, v in results[0].items() if k != "table"} == {
            k: v for k, v in results[1].items() if k != "table"
        }
        assert contents[0] == contents[1]
        assert len(contents[0]) == (7 if mode == "append" else 4)
    by_id = {r[0]: r for r in fetch(conn, "select * from public.agree_merge_binary")}
    assert by_id[2][2:4] == (Decimal("-1234567890.01"), 'a,"b"\nc\\N')  # exact decimal, text as sent
    assert by_id[4][3] == "" and by_id[1][3] is None  # empty string and NULL stay distinct
    assert (by_id[3][6], by_id[1][6]) == ("XMAS", None)  # a column the older file lacks is NULL


def test_a_load_unique_by_key_copies_straight_and_repeats_fall_back(conn, lake):
    contract = make_contract(mode="partition_replace", keep="latest")
    ensure_target_table(conn, contract)
    unique = put_parquet(lake, contract, "dt=2026-11-20/v=1/p.parquet", [row(1), row(2)])
    repeated = put_parquet(lake, contract, "dt=2026-11-21/v=1/p.parquet", [row(1, "paid", day=21)])
    first = load_partitions(conn, contract, lake, [unique])
    assert (first["dedup_skipped"], first["inserted"]) == (True, 2)
    second = load_partitions(conn, contract, lake, [unique, repeated])
    assert (second["dedup_skipped"], second["staged"], second["deduplicated"]) == (False, 3, 2)
    assert fetch(conn, "select order_id, status from orders_t order by 1") == [(1, "paid"), (2, "placed")]


def test_instants_are_utc_when_the_load_session_runs_in_new_york(pg_database, lake):
    with psycopg.connect(pg_database, autocommit=True, options="-c TimeZone=America/New_York") as conn:
        assert "America/New_York" in conninfo_of(conn)  # the ADBC session gets the same settings
        with adbc_connection(conn) as arrow_conn, arrow_conn.cursor() as cursor:
            cursor.execute("select current_setting('TimeZone')")
            assert cursor.fetchone() == ("America/New_York",)
        contract = make_contract(mode="append")
        ensure_target_table(conn, contract)
        late = row(1, hour=3) | {"ordered_at": dt.datetime(2026, 11, 21, 2, 30, tzinfo=UTC)}
        load_partitions(conn, contract, lake, [put_parquet(lake, contract, "a/p.parquet", [late])])
        conn.execute("set timezone = 'UTC'")
        assert fetch(conn, "select ordered_at, updated_at from orders_t") == [
            (dt.datetime(2026, 11, 21, 2, 30, tzinfo=UTC), dt.datetime(2026, 11, 20, 13, tzinfo=UTC))
        ]
        # partition_replace deletes by the UTC date (2026-11-21), not New York's (2026-11-20 21:30)
        replace = make_contract(mode="partition_replace", table="public.orders_r")
        ensure_target_table(conn, replace)
        key = put_parquet(lake, replace, "dt=2026-11-21/v=1/p.parquet", [late])
        load_partitions(conn, replace, lake, [key])
        assert load_partitions(conn, replace, lake, [key])["deleted"] == 1


def test_an_unqualified_table_lands_in_the_callers_search_path(conn, lake):
    conn.execute("create schema lake_sp")
    conn.execute("set search_path to lake_sp, public")
    contract = make_contract(mode="append", table="orders_sp")
    ensure_target_table(conn, contract)
    load_partitions(conn, contract, lake, [put_parquet(lake, contract, "a/p.parquet", [row(1), row(2)])])
    assert fetch(conn, "select count(*) from lake_sp.orders_sp") == [(2,)]


def test_a_caller_without_autocommit_is_left_idle_with_its_work_committed(pg_database, lake):
    contract = make_contract(mode="append")
    with psycopg.connect(pg_database) as conn:  # autocommit off
        ensure_target_table(conn, contract)
        conn.execute(  # left open: the load commits it, as when its transaction ran on this connection
            "insert into orders_t (order_id, status, amount, ordered_at, updated_at) "
            "values (9, 'placed', 1.00, now(), now())"
        )
        key = put_parquet(lake, contract, "a/p.parquet", [row(1)])
        assert load_partitions(conn, contract, lake, [key])["inserted"] == 1
        assert not conn.info.transaction_status
    with psycopg.connect(pg_database) as other:
        assert fetch(other, "select order_id from orders_t order by 1") == [(1,), (9,)]


def test_a_row_the_server_rejects_names_its_file_and_changes_nothing(conn, lake):
    contract = make_contract(mode="append")
    ensure_target_table(conn, contract)
    load_partitions(conn, contract, lake, [put_parquet(lake, contract, "a/p.parquet", [row(1)])])
    before = checksum(conn)
    good = put_parquet(lake, contract, "b/p0.parquet", [row(2), row(3)])
    # a file whose NOT NULL status is missing on its second row (written with a nullable schema)
    loose = pa.schema([f.with_nullable(True) for f in contract.arrow_schema()])
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row(4), row(5, status=None)], schema=loose), buffer)
    lake.put_bytes("b/p1.parquet", buffer.getvalue())
    with pytest.raises(RuntimeError, match=r"b/p1\.parquet.*not-null"):
        load_partitions(conn, contract, lake, [good, "b/p1.parquet"])
    assert checksum(conn) == before
    assert not conn.info.transaction_status


def test_the_password_reaches_the_driver_but_no_message(caplog):
    secret = "s3cret-Pa55"
    info = SimpleNamespace(
        get_parameters=lambda: {"host": "127.0.0.1", "port": "1", "dbname": "w", "user": "u"},
        password=secret,
        transaction_status=0,
        user="u",
        host="127.0.0.1",
        port=1,
        dbname="w",
    )

    class Closed:
        """A psycopg connection's surface, pointing at a port nothing listens on."""

        def __init__(self) -> None:
            self.info = info

        def execute(self, _sql: str) -> Any:
            return SimpleNamespace(fetchone=lambda: ("public",))

    fake = Closed()
    assert f"password={secret}" in conninfo_of(fake)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeError, match=r"u@127\.0\.0\.1:1/w") as raised, adbc_connection(fake):
        pass
    assert secret not in str(raised.value) and raised.value.__cause__ is None
    assert secret not in caplog.text


def test_without_the_driver_the_load_goes_by_csv(conn, lake, monkeypatch, caplog):
    monkeypatch.setattr(postgres_load, "adbc_available", lambda: False)
    contract = make_contract(mode="append")
    ensure_target_table(conn, contract)
    key = put_parquet(lake, contract, "a/p.parquet", [row(1)])
    with caplog.at_level(logging.WARNING):
        assert load_partitions(conn, contract, lake, [key])["inserted"] == 1
    assert "CSV COPY" in caplog.text
    assert fetch(conn, "select amount from orders_t") == [(Decimal("11.50"),)]
