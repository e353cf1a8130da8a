"""The SQL path (Athena CTAS/INSERT, Trino SQL) run on DuckDB gives the same rows as the worker path."""

from __future__ import annotations

import json
import re
from datetime import UTC, date
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from airlake.contracts import get_contract
from airlake.curate import curate_sql, run_curate, to_duckdb
from tests.plugins.airlake.curate.curate_helpers import (
    json_line,
    jsonl,
    land_run,
    read_partition,
    read_rejects,
)
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1, RUN_2, bad_order_lines, order


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _lines_table(lines: list[str]) -> pa.Table:
    return pa.table({"line": lines, "seq": pa.array(range(1, len(lines) + 1), pa.int64())})


def _sql_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rows = con.sql(to_duckdb(sql)).to_arrow_table().to_pylist()
    for row in rows:
        for name in ("ordered_at", "updated_at"):
            row[name] = row[name].replace(tzinfo=UTC)  # Athena's timestamp is UTC without a zone
    return rows


def _worker_rows(lake, summary: dict[str, Any]) -> list[dict[str, Any]]:
    manifest = lake.get_json(summary["manifest"])
    return [{**row, "dt": p["dt"]} for p in manifest["partitions"] for row in read_partition(lake, p)]


def _lines() -> list[str]:
    bad = [case.values[0] for case in bad_order_lines()]
    records = [*ORDERS_DAY_1[:5], *bad, *ORDERS_DAY_1[5:]]
    return [r if isinstance(r, str) else json_line(r) for r in records]


def test_sql_is_trino_and_names_every_column() -> None:
    sql = curate_sql(get_contract("orders"))
    assert "from_iso8601_timestamp" in sql and "json_extract_scalar" in sql  # Athena functions
    assert re.search(r'PARTITION BY "dt", "order_id" ORDER BY "updated_at" DESC NULLS LAST', sql)
    assert sql.rstrip().endswith('ORDER BY "dt", "order_id"')


def test_sql_path_gives_the_worker_rows_and_rejects(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    lines = _lines()
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(lines))])
    summary = run_curate(
        contract,
        lake,
        run_id=RUN_1,
        live_location=catalog.lookup,
        work_dir=tmp_path / "w",
        reject_rate_max=1.0,
    ).summary
    con = _duckdb()
    con.register("raw_lines", _lines_table(lines))

    assert _sql_rows(con, curate_sql(contract)) == _worker_rows(lake, summary)

    sql_rejects = con.sql(to_duckdb(curate_sql(contract, rejects=True))).fetchall()
    worker_rejects = read_rejects(lake, summary["quarantine"])
    assert [(raw, line, reason, field) for raw, line, reason, field in sql_rejects] == [
        (r["raw"], r["line"], r["reason"], r["field"]) for r in worker_rejects
    ]


def test_sql_path_merges_with_existing_rows_like_the_worker(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    first = run_curate(
        contract, lake, run_id=RUN_1, live_location=catalog.lookup, work_dir=tmp_path / "w1"
    ).summary
    catalog.publish(first)
    day_2 = [
        order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99"),
        order(5, "placed", "2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z", "7.00"),
        order(8, "placed", "2026-11-21T11:00:00Z", "2026-11-21T11:00:00Z", "4.20"),
    ]
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(day_2))], ingest_date=date(2026, 11, 21))
    second = run_curate(
        contract, lake, run_id=RUN_2, live_location=catalog.lookup, work_dir=tmp_path / "w2"
    ).summary

    con = _duckdb()
    existing_rows = _worker_rows(lake, first)
    for row in existing_rows:
        for name in ("ordered_at", "updated_at"):
            row[name] = row[name].replace(tzinfo=None)
    con.register("live_rows", pa.Table.from_pylist(existing_rows))
    con.register("raw_lines", _lines_table([json.dumps(r) for r in day_2]))

    assert _sql_rows(con, curate_sql(contract, existing="live_rows")) == _worker_rows(lake, second)


@pytest.mark.parametrize("dataset", ["orders", "clickstream", "payments", "fx_rates", "products"])
def test_sql_of_every_demo_contract_transpiles_and_runs_on_duckdb(dataset: str) -> None:
    contract = get_contract(dataset)
    con = _duckdb()
    con.register("raw_lines", _lines_table(['{"x": 1}', "not json"]))
    assert con.sql(to_duckdb(curate_sql(contract))).fetchall() == []
    assert [r[2] for r in con.sql(to_duckdb(curate_sql(contract, rejects=True))).fetchall()] == [
        "missing_field",
        "not_json",
    ]
