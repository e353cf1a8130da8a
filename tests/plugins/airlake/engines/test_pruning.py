"""Partition pruning: a view reads only the partitions its dt predicates select, with the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from airlake.engines import check_scan_budget
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.engines.pruning import Constraint, PartitionSelection, partition_selections
from airlake.sql_text import render_sql

DS = "2026-11-20"
HISTORY = [(date(2026, 9, 1) + timedelta(days=i)).isoformat() for i in range(90)]  # 09-01 .. 11-29


def _events(dt: str) -> list[dict[str, Any]]:
    at = datetime.fromisoformat(dt).replace(tzinfo=UTC)
    kinds = ["page_view", "product_view", "add_to_cart", "purchase"]
    return [
        {
            "event_id": f"{dt}-e{i}",
            "session_id": f"{dt}-s{i % 3}",
            "event_type": kinds[i % 4],
            "product_id": None if i % 4 == 0 else f"SKU-{i % 5}",
            "platform": "web",
            "event_time": at + timedelta(minutes=i),
        }
        for i in range(8 + int(dt[-2:]) % 5)
    ]


@pytest.fixture
def history(curated) -> dict[str, list[dict[str, Any]]]:
    """90 days of clickstream, one file per day, live in Glue."""
    partitions = {dt: _events(dt) for dt in HISTORY}
    curated.publish("clickstream", partitions, "v1")
    curated.publish("products", {"2026-11-01": []}, "v1")
    return partitions


def _rows(table: Any) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: tuple(str(v) for v in row.values()))


@pytest.mark.parametrize("view", ["funnel_daily", "product_popularity_weekly"])
def test_a_daily_view_reads_only_the_days_it_selects(lake, glue, database, history, view) -> None:
    sql = render_sql(f"athena/{view}.sql", ds=DS, params={})
    days = [DS] if view == "funnel_daily" else [f"2026-11-{d}" for d in range(16, 23)]  # ISO week
    with DuckDBEngine(glue, lake, database, prune_partitions=False) as everything:
        expected = _rows(everything.run(sql))
        assert everything.files_read[f"{database}.clickstream"] == len(HISTORY)
    with DuckDBEngine(glue, lake, database) as engine:
        actual = _rows(engine.run(sql))
        cached = sorted(
            p.parent.name for p in (engine.cache_dir / database / "clickstream").rglob("*.parquet")
        )
        estimates = check_scan_budget(engine, sql, limit_bytes=10**9)
        downloads = engine.downloads

    assert actual == expected and len(actual) > 0
    assert cached == [f"dt={day}" for day in days]  # only the day's (week's) files were downloaded
    products = 1 if view == "product_popularity_weekly" else 0  # no dt predicate: every partition
    assert downloads == len(days) + products
    day_bytes = sum(obj.size for day in days for obj in lake.list(f"curated/clickstream/dt={day}/"))
    assert estimates[f"{database}.clickstream"] == day_bytes  # the budget counts only those


def test_a_selection_of_no_partition_is_an_empty_result(lake, glue, database, history) -> None:
    with DuckDBEngine(glue, lake, database) as engine:
        result = engine.run("select count(*) as n from clickstream where dt = '2030-01-01'")
        assert result.column("n").to_pylist() == [0]
        assert engine.downloads == 0


def _selection(sql: str, table: str = "db.t") -> PartitionSelection | None:
    return partition_selections(sql, "db")[table]


@pytest.mark.parametrize(
    ("where", "selected"),
    [
        ("dt = '2026-11-20'", ["2026-11-20"]),
        ("'2026-11-20' = dt", ["2026-11-20"]),
        ("dt in ('2026-11-19', '2026-11-21')", ["2026-11-19", "2026-11-21"]),
        ("dt between '2026-11-19' and '2026-11-21'", ["2026-11-19", "2026-11-20", "2026-11-21"]),
        ("dt >= '2026-11-21' and x > 1", ["2026-11-21", "2026-11-22"]),
        ("dt > '2026-11-21'", ["2026-11-22"]),
        ("dt <= '2026-11-18'", ["2026-11-17", "2026-11-18"]),
        ("dt < cast(date(date '2026-11-17' + interval '1' day) as varchar)", ["2026-11-17"]),
        ("dt = cast(date '2026-11-20' as varchar) and (dt <> 'x')", ["2026-11-20"]),
    ],
)
def test_dt_predicates_select_partitions(where: str, selected: list[str]) -> None:
    days = [f"2026-11-{d}" for d in range(17, 23)]
    selection = _selection(f"select * from t where {where}")
    assert selection is not None
    assert [day for day in days if selection.matches(day)] == selected


@pytest.mark.parametrize(
    "sql",
    [
        "select * from t",
        "select * from t where dt = '2026-11-20' or x = 1",  # OR: not a conjunct
        "select * from t where substr(dt, 1, 7) = '2026-11'",  # a function of dt
        "select * from t join u on t.k = u.k where dt = '2026-11-20'",  # unqualified dt in a join
        "select * from t where dt = cast(current_date as varchar)",  # volatile
        "select * from t where dt = x",  # not a constant
        "select * from t where dt = '2026-11-20' union all select * from t",  # second reference
        "with c as (select * from t) select * from c where dt = '2026-11-20'",  # CTE output
        "select * from t where dt > 5",  # not a string comparison
    ],
)
def test_predicates_that_cannot_be_used_select_everything(sql: str) -> None:
    assert _selection(sql) is None


def test_qualified_predicates_in_a_join_prune_each_table() -> None:
    sql = "select * from t as a left join db.u as b on a.k = b.k where a.dt = '2026-11-20' and b.dt in ('x')"
    selections = partition_selections(sql, "db")
    assert selections["db.t"] == PartitionSelection(((Constraint("=", ("2026-11-20",)),),))
    assert selections["db.u"] == PartitionSelection(((Constraint("in", ("x",)),),))


def test_glue_expression_quotes_only_plain_values() -> None:
    selection = PartitionSelection(((Constraint(">=", ("2026-11-16",)), Constraint("<", ("2026-11-23",))),))
    assert selection.glue_expression() == "(dt >= '2026-11-16' and dt < '2026-11-23')"
    assert PartitionSelection(((Constraint("=", ("a'b",)),),)).glue_expression() is None
