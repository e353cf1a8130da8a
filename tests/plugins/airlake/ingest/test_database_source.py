from __future__ import annotations

from datetime import date

import psycopg
import pytest

from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.database import DatabaseSource
from airlake.lake import state_key
from tests.helpers import read_records

COLUMNS = ["order_id", "amount", "status", "updated_at"]


@pytest.fixture
def shop(pg_database: str) -> str:
    with psycopg.connect(pg_database) as conn:
        conn.execute(
            "create table public.orders (order_id bigint primary key, amount numeric(12, 2), "
            "status text, updated_at timestamptz not null)"
        )
    return pg_database


def _insert(dsn: str, rows: list[tuple]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "insert into public.orders values (%s, %s, %s, %s) on conflict (order_id) do update "
            "set amount = excluded.amount, status = excluded.status, updated_at = excluded.updated_at",
            rows,
        )


def _source(dsn: str, batch_rows: int = 2) -> DatabaseSource:
    return DatabaseSource(
        connect=lambda: psycopg.connect(dsn),
        table="public.orders",
        columns=COLUMNS,
        watermark_column="updated_at",
        key_columns=["order_id"],
        batch_rows=batch_rows,
    )


def test_incremental_runs_neither_skip_nor_repeat_rows(shop: str, lake, make_ctx) -> None:
    _insert(
        shop,
        [
            (1, "10.50", "placed", "2026-11-20 08:00+00"),
            (2, "99999999.99", "paid", "2026-11-20 09:00+00"),
            (3, "1.00", "placed", "2026-11-20 23:59:59+00"),
            (4, "5.00", "placed", "2026-11-21 00:00+00"),  # belongs to the next day's interval
        ],
    )
    day1 = run_ingest(_source(shop), lake, make_ctx(date(2026, 11, 20), dataset="orders"))
    _insert(
        shop, [(1, "10.50", "shipped", "2026-11-21 10:00+00"), (5, "7.25", "placed", "2026-11-21 11:00+00")]
    )
    day2 = run_ingest(_source(shop), lake, make_ctx(date(2026, 11, 21), dataset="orders"))
    rerun = run_ingest(_source(shop), lake, make_ctx(date(2026, 11, 21), dataset="orders"))

    first = read_records(lake, day1["parts"])
    second = read_records(lake, day2["parts"])
    assert [r["order_id"] for r in first] == [1, 2, 3]
    assert first[1]["amount"] == "99999999.99"  # decimals keep every digit
    assert [(r["order_id"], r["status"]) for r in second] == [(4, "placed"), (1, "shipped"), (5, "placed")]
    assert rerun["skipped"] and rerun["parts"] == day2["parts"]
    assert len(day1["parts"]) == 1  # batches of 2 rows stream into one part
    state = lake.get_json(state_key("orders", "ingest"))
    assert state["checkpoint"]["watermark"].startswith("2026-11-21T11:00:00")


def test_failed_upload_keeps_the_watermark_and_the_retry_lands_everything_once(
    shop: str, lake, make_ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(shop, [(i, "1.00", "placed", f"2026-11-20 {i:02d}:00+00") for i in range(1, 7)])
    ctx = make_ctx(date(2026, 11, 20), dataset="orders")
    original_put = type(lake).put_file
    calls = {"n": 0}

    def flaky_put(self, key, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("S3 went away")
        return original_put(self, key, path)

    monkeypatch.setattr(type(lake), "put_file", flaky_put)
    with pytest.raises(ConnectionError):
        run_ingest(_source(shop), lake, ctx, max_part_bytes=100)
    assert lake.get_json(state_key("orders", "ingest")) is None
    monkeypatch.setattr(type(lake), "put_file", original_put)

    retry = run_ingest(_source(shop), lake, ctx, max_part_bytes=100)
    landed = read_records(lake, retry["parts"])
    assert sorted(r["order_id"] for r in landed) == [1, 2, 3, 4, 5, 6]
    prefix = retry["parts"][0].rsplit("/", 1)[0] + "/"
    assert sorted(obj.key for obj in lake.list(prefix)) == sorted(retry["parts"])


def test_extract_sql_quotes_identifiers_and_binds_values(shop: str) -> None:
    sql = " ".join(_source(shop).extract_sql(has_low=True).split())
    assert 'from "public"."orders"' in sql
    assert '"updated_at" > %(low)s and "updated_at" < %(high)s' in sql
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        DatabaseSource(
            connect=lambda: None,
            table="orders; drop table x",
            columns=COLUMNS,
            watermark_column="updated_at",
            key_columns=["order_id"],
        ).extract_sql(has_low=False)


def test_values_without_a_json_form_fail_naming_table_and_column() -> None:
    from datetime import time
    from uuid import UUID

    from airlake.errors import is_transient
    from airlake.ingest.sources.database import _json_line

    line = _json_line(["id", "at"], [UUID("12345678-1234-5678-1234-567812345678"), time(8, 30)], table="t")
    assert line == b'{"id":"12345678-1234-5678-1234-567812345678","at":"08:30:00"}'
    with pytest.raises(TypeError, match=r"public\.orders: column 'blob' holds a memoryview value") as raised:
        _json_line(["id", "blob"], [1, memoryview(b"\x00\x01")], table="public.orders")
    assert not is_transient(raised.value)
