"""Warehouse load against a real PostgreSQL 15 and a moto S3 lake: idempotence, upserts, dedup, atomicity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
import sqlfluff

from airlake.contracts import get_contract
from airlake.load import ensure_target_table, load_partitions, redshift_copy_sql
from airlake.load.statements import create_table_sql
from tests.plugins.airlake.load.load_helpers import (
    UTC,
    checksum,
    fetch,
    make_contract,
    put_parquet,
    row,
)


@pytest.fixture
def conn(pg_database: str):
    with psycopg.connect(pg_database, autocommit=True) as connection:
        yield connection


def test_create_and_reload_is_idempotent(conn, lake):
    contract = make_contract()
    assert ensure_target_table(conn, contract) == []
    assert ensure_target_table(conn, contract) == []  # second call: nothing to do
    files = [
        put_parquet(lake, contract, "curated/o/dt=2026-11-20/v=1/part-0.parquet", [row(1), row(2, note="")]),
        put_parquet(lake, contract, "curated/o/dt=2026-11-21/v=1/part-0.parquet", [row(3, day=21)]),
    ]
    first = load_partitions(conn, contract, lake, files)
    assert first["staged"] == 3 and first["deduplicated"] == 3
    assert (first["inserted"], first["updated"]) == (3, 0)
    before = checksum(conn)
    second = load_partitions(conn, contract, lake, files)
    assert (second["inserted"], second["updated"]) == (0, 3)
    assert checksum(conn) == before
    # NULL and empty string survive the CSV stream distinctly; NOT NULL and the primary key exist
    assert fetch(conn, "select order_id, note from orders_t order by 1") == [(1, None), (2, ""), (3, None)]
    pk = fetch(
        conn, "select count(*) from pg_constraint where conrelid = 'orders_t'::regclass and contype = 'p'"
    )
    assert pk == [(1,)]
    assert fetch(conn, "select amount from orders_t where order_id = 1") == [(Decimal("11.50"),)]


def test_update_of_existing_key_replaces_row(conn, lake):
    contract = make_contract()
    ensure_target_table(conn, contract)
    key = "curated/o/dt=2026-11-20/v=1/part-0.parquet"
    load_partitions(conn, contract, lake, [put_parquet(lake, contract, key, [row(1), row(2)])])
    key2 = "curated/o/dt=2026-11-20/v=2/part-0.parquet"
    result = load_partitions(
        conn, contract, lake, [put_parquet(lake, contract, key2, [row(1, "paid", hour=5), row(2)])]
    )
    assert (result["inserted"], result["updated"]) == (0, 2)
    assert fetch(conn, "select order_id, status, updated_at from orders_t order by 1") == [
        (1, "paid", dt.datetime(2026, 11, 20, 15, tzinfo=UTC)),
        (2, "placed", dt.datetime(2026, 11, 20, 11, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(("keep", "expected"), [("latest", "shipped"), ("first", "placed")])
def test_duplicates_in_staging_resolved_by_rule(conn, lake, keep, expected):
    contract = make_contract(keep=keep)
    ensure_target_table(conn, contract)
    files = [
        put_parquet(lake, contract, "a/part-0.parquet", [row(1, "paid", hour=2), row(1, "placed", hour=1)]),
        put_parquet(lake, contract, "b/part-0.parquet", [row(1, "shipped", hour=3), row(2)]),
    ]
    result = load_partitions(conn, contract, lake, files)
    assert (result["staged"], result["deduplicated"], result["duplicates"]) == (4, 2, 2)
    assert fetch(conn, "select status from orders_t where order_id = 1") == [(expected,)]


@pytest.mark.parametrize(("keep", "expected"), [("latest", "day21"), ("first", "day20")])
def test_ties_of_the_order_column_go_by_event_date_not_file_order(conn, lake, keep, expected):
    """Redshift's COPY keeps no arrival order: ties fall to the event date on both warehouses."""
    contract = make_contract(keep=keep)
    ensure_target_table(conn, contract)
    same_update = {"updated_at": dt.datetime(2026, 11, 22, 9, tzinfo=UTC)}
    later = put_parquet(lake, contract, "a/p.parquet", [row(1, "day21", day=21, **same_update)])
    earlier = put_parquet(lake, contract, "b/p.parquet", [row(1, "day20", day=20, **same_update)])
    load_partitions(conn, contract, lake, [later, earlier])  # the later event date arrives first
    assert fetch(conn, "select status from orders_t") == [(expected,)]


def test_unqualified_table_is_found_in_the_current_schema(conn, lake):
    contract = make_contract(table="orders_t", extra_column=True)
    assert ensure_target_table(conn, make_contract(table="orders_t")) == []
    assert ensure_target_table(conn, contract) == ["coupon_code"]
    assert ensure_target_table(conn, contract) == []


def test_failure_midway_leaves_target_unchanged(conn, lake):
    contract = make_contract()
    ensure_target_table(conn, contract)
    load_partitions(conn, contract, lake, [put_parquet(lake, contract, "a/part-0.parquet", [row(1), row(2)])])
    before = checksum(conn)
    good = put_parquet(lake, contract, "b/part-0.parquet", [row(1, "cancelled", hour=9), row(5)])
    lake.put_bytes("b/part-1.parquet", b"PAR1 this is not parquet")
    with pytest.raises(RuntimeError, match=r"b/part-1\.parquet"):
        load_partitions(conn, contract, lake, [good, "b/part-1.parquet"])
    assert checksum(conn) == before
    assert not conn.info.transaction_status  # idle: nothing left open
    leftovers = fetch(
        conn, "select count(*) from pg_class where relname like 'airlake_%%' and relpersistence = 't'"
    )
    assert leftovers == [(0,)]


def test_added_optional_column_evolves_table(conn, lake):
    old = make_contract()
    ensure_target_table(conn, old)
    old_file = put_parquet(lake, old, "old/part-0.parquet", [row(1)])
    load_partitions(conn, old, lake, [old_file])
    new = make_contract(extra_column=True)
    assert ensure_target_table(conn, new) == ["coupon_code"]
    assert ensure_target_table(conn, new) == []
    new_file = put_parquet(lake, new, "new/part-0.parquet", [row(2, coupon_code="XMAS")])
    # files written before the column existed still load (the column is NULL for them)
    result = load_partitions(conn, new, lake, [old_file, new_file])
    assert result["deduplicated"] == 2
    assert fetch(conn, "select order_id, coupon_code from orders_t order by 1") == [(1, None), (2, "XMAS")]


def test_partition_replace_replaces_event_dates(conn, lake):
    contract = make_contract(mode="partition_replace", keep="first")
    ensure_target_table(conn, contract)
    day20 = put_parquet(lake, contract, "dt=2026-11-20/v=1/p.parquet", [row(1), row(2)])
    day21 = put_parquet(lake, contract, "dt=2026-11-21/v=1/p.parquet", [row(3, day=21)])
    load_partitions(conn, contract, lake, [day20, day21])
    before = checksum(conn)
    assert load_partitions(conn, contract, lake, [day20, day21])["deleted"] == 3
    assert checksum(conn) == before
    # a new version of dt=2026-11-20 holds the full partition: order 2 is gone, 4 is new, 21st untouched
    day20v2 = put_parquet(lake, contract, "dt=2026-11-20/v=2/p.parquet", [row(1, "paid"), row(4)])
    result = load_partitions(conn, contract, lake, [day20v2])
    assert (result["deleted"], result["inserted"]) == (2, 2)
    assert fetch(conn, "select order_id, status from orders_t order by 1") == [
        (1, "paid"),
        (3, "placed"),
        (4, "placed"),
    ]


def test_append_inserts(conn, lake):
    contract = make_contract(mode="append")
    ensure_target_table(conn, contract)
    key = put_parquet(lake, contract, "a/p.parquet", [row(1), row(2)])
    load_partitions(conn, contract, lake, [key])
    assert load_partitions(conn, contract, lake, [key])["inserted"] == 2
    assert fetch(conn, "select count(*) from orders_t") == [(4,)]


def test_project_contracts_create_on_postgres(conn):
    for name in ("orders", "clickstream"):
        contract = get_contract(name)
        ensure_target_table(conn, contract)
        assert "diststyle" in create_table_sql(contract, redshift=True)


def test_redshift_copy_sql_parses():
    sql = redshift_copy_sql(
        "analytics.orders",
        "s3://airlake-prod/_manifests/orders/run1/load.manifest",
        "arn:aws:iam::123456789012:role/airlake-redshift",
        columns=["order_id", "amount"],
    )
    assert "format as parquet" in sql and "manifest" in sql
    assert 'copy "analytics"."orders" ("order_id", "amount")' in sql
    tree = sqlfluff.parse(sql, dialect="redshift")
    assert "copy_statement" in str(tree)
    assert [v for v in sqlfluff.lint(sql, dialect="redshift") if v["code"].startswith("PRS")] == []
    with pytest.raises(ValueError, match="IAM role"):
        redshift_copy_sql("orders", "s3://bucket/m.manifest", "role'; drop table x; --", columns=["a"])
    with pytest.raises(ValueError, match="manifest URI"):
        redshift_copy_sql("orders", "s3://bucket/it's", "arn:aws:iam::123456789012:role/r", columns=["a"])


def test_redshift_create_table_parses():
    sql = create_table_sql(get_contract("orders"), redshift=True)
    assert [v for v in sqlfluff.lint(sql, dialect="redshift") if v["code"].startswith("PRS")] == []


def test_a_load_unique_by_key_skips_the_dedup_with_the_same_contents(conn, lake):
    files = [
        put_parquet(lake, make_contract(), "dt=2026-11-20/v=1/p.parquet", [row(1), row(2, note='a,"b"\nc')]),
        put_parquet(lake, make_contract(), "dt=2026-11-21/v=1/p.parquet", [row(3, day=21)]),
    ]
    for mode in ("merge", "partition_replace", "append"):
        results, contents = [], []
        for always_dedup in (False, True):
            table = f"public.unique_{mode}_{int(always_dedup)}"
            contract = make_contract(mode=mode, table=table)
            ensure_target_table(conn, contract)
            load_partitions(
                conn, contract, lake, files[:1], always_dedup=always_dedup
            )  # a target row to replace
            results.append(load_partitions(conn, contract, lake, files, always_dedup=always_dedup))
            contents.append(fetch(conn, f"select * from {table} order by order_id, updated_at"))
        assert [r["dedup_skipped"] for r in results] == [True, False]
        assert {k: v for k, v in results[0].items() if k not in ("dedup_skipped", "table")} == {
            k: v for k, v in results[1].items() if k not in ("dedup_skipped", "table")
        }
        assert contents[0] == contents[1]
        assert len(contents[0]) == (5 if mode == "append" else 3)
    # quotes, commas and a newline survive the CSV stream
    for table in ("unique_merge_0", "unique_partition_replace_0"):  # staging, then straight into the target
        assert fetch(conn, f"select note from public.{table} where order_id = 2") == [('a,"b"\nc',)]
        assert fetch(conn, f"select note from public.{table} where order_id = 3") == [(None,)]


def test_repeated_keys_fall_back_to_the_dedup(conn, lake):
    contract = make_contract(mode="partition_replace", keep="latest")
    ensure_target_table(conn, contract)
    # the same key in two event dates: each file is unique, the load is not
    files = [
        put_parquet(lake, contract, "dt=2026-11-20/v=1/p.parquet", [row(1, "placed")]),
        put_parquet(lake, contract, "dt=2026-11-21/v=1/p.parquet", [row(1, "paid", day=21)]),
    ]
    result = load_partitions(conn, contract, lake, files)
    assert (result["dedup_skipped"], result["staged"], result["deduplicated"]) == (False, 2, 1)
    assert fetch(conn, "select order_id, status from orders_t") == [(1, "paid")]


def test_timestamps_are_utc_whatever_the_session_time_zone(conn, lake):
    contract = make_contract(mode="append")
    ensure_target_table(conn, contract)
    conn.execute("set timezone = 'America/New_York'")
    key = put_parquet(lake, contract, "a/p.parquet", [row(1, hour=3)])
    load_partitions(conn, contract, lake, [key])
    conn.execute("set timezone = 'UTC'")
    assert fetch(conn, "select ordered_at, updated_at from orders_t") == [
        (dt.datetime(2026, 11, 20, 10, tzinfo=UTC), dt.datetime(2026, 11, 20, 13, tzinfo=UTC))
    ]
