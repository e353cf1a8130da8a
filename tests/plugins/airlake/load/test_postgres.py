"""The event dates of a load's files: from the Parquet statistics when they prove them, else read by
DuckDB; the same answer either way, and a partition replace deletes exactly those dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.load import ensure_target_table, load_partitions
from airlake.load.postgres import _event_dates, _file_event_dates
from tests.plugins.airlake.load.load_helpers import UTC, fetch, make_contract, put_parquet, row


def _write(path: Path, rows: list[dict], *, statistics: bool = True, row_group_size: int = 2) -> Path:
    table = pa.Table.from_pylist(rows, schema=make_contract().arrow_schema())
    pq.write_table(table, path, write_statistics=statistics, row_group_size=row_group_size)
    return path


def test_statistics_prove_a_one_day_file_and_defer_the_rest_to_duckdb(tmp_path):
    contract = make_contract()
    late = row(3) | {"ordered_at": dt.datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)}
    one_day = _write(tmp_path / "a.parquet", [row(1), row(2), late])
    two_days = _write(tmp_path / "b.parquet", [row(4), row(5), row(6, day=22)])
    unknown = _write(tmp_path / "c.parquet", [row(7, day=23)], statistics=False)
    assert _file_event_dates(one_day, "ordered_at") == {"2026-11-20"}
    assert _file_event_dates(two_days, "ordered_at") is None  # row groups of two days
    assert _file_event_dates(unknown, "ordered_at") is None  # no statistics
    assert _event_dates(contract, [one_day, two_days, unknown]) == ("2026-11-20", "2026-11-22", "2026-11-23")
    assert _event_dates(contract, [one_day]) == ("2026-11-20",)
    assert _event_dates(contract, []) == ()


@pytest.fixture
def conn(pg_database: str):
    with psycopg.connect(pg_database, autocommit=True) as connection:
        yield connection


def test_a_file_spanning_days_replaces_each_of_them(conn, lake):
    contract = make_contract(mode="partition_replace")
    ensure_target_table(conn, contract)
    spans = put_parquet(lake, contract, "x/p.parquet", [row(1), row(2, day=21), row(3, day=22)])
    load_partitions(conn, contract, lake, [spans])
    assert load_partitions(conn, contract, lake, [spans])["deleted"] == 3
    day21 = put_parquet(lake, contract, "dt=2026-11-21/v=2/p.parquet", [row(4, day=21)])
    assert load_partitions(conn, contract, lake, [day21])["deleted"] == 1
    assert fetch(conn, "select order_id from orders_t order by 1") == [(1,), (3,), (4,)]
