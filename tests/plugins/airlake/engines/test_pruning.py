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


def test_glue_expression_names_the_selection_key() -> None:
    selection = PartitionSelection(((Constraint("=", ("2026-11-20",)),),), key="day")
    assert selection.glue_expression() == "(day = '2026-11-20')"
    assert PartitionSelection(((Constraint("=", ("x",)),),), key="Day; drop").glue_expression() is None


def test_each_table_is_pruned_on_its_own_partition_key() -> None:
    sql = (
        "select * from t join u on t.k = u.k join v on t.k = v.k "
        "where t.day = '2026-11-20' and u.dt = '2026-11-20' and v.dt = '2026-11-20'"
    )
    selections = partition_selections(sql, "db", keys={"db.t": "day", "db.u": "day", "db.v": None})
    assert selections["db.t"] == PartitionSelection(((Constraint("=", ("2026-11-20",)),),), key="day")
    assert selections["db.u"] is None  # its key is day: the dt predicate does not prune it
    assert selections["db.v"] is None  # not partitioned


def test_constants_are_literals_or_computed_once() -> None:
    sql = "select * from t where dt >= 'a''b' and dt < cast(date(date '2026-11-17' + interval '1' day) as varchar)"
    selection = _selection(sql)
    assert selection == PartitionSelection(((Constraint(">=", ("a'b",)), Constraint("<", ("2026-11-18",))),))


DAY_COLUMNS = [{"Name": "event_id", "Type": "string"}, {"Name": "amount", "Type": "bigint"}]


@pytest.fixture
def by_day(lake, glue, database) -> dict[str, int]:
    """Table ``events`` partitioned by ``day`` (not dt), 5 days of one file each: ``{day: rows}``."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from airlake.catalog import ensure_database, parquet_storage_descriptor, publish_partitions

    ensure_database(glue, database)
    storage = parquet_storage_descriptor(DAY_COLUMNS, f"s3://{lake.bucket}/curated/events/")
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "events",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "PartitionKeys": [{"Name": "day", "Type": "string"}],
            "StorageDescriptor": storage,
        },
    )
    days = {f"2026-11-{d}": d - 15 for d in range(17, 22)}  # 11-17 .. 11-21: 2 .. 6 rows
    entries = []
    for day, rows in days.items():
        table = pa.table({"event_id": [f"{day}-{i}" for i in range(rows)], "amount": list(range(rows))})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        prefix = f"curated/events/day={day}/v=v1/"
        lake.put_bytes(f"{prefix}part-00000.parquet", buffer.getvalue())
        entries.append({"dt": day, "location": f"s3://{lake.bucket}/{prefix}"})
    publish_partitions(glue, database, "events", entries, storage)
    return days


def test_a_table_partitioned_by_another_column_reads_only_its_day(lake, glue, database, by_day) -> None:
    sql = f"select day, count(*) as events, sum(amount) as amount from events where day = '{DS}' group by day"
    with DuckDBEngine(glue, lake, database) as engine:
        estimates = check_scan_budget(engine, sql, limit_bytes=10**9)
        result = engine.run(sql)
        cached = sorted(p.parent.name for p in engine.cache_dir.rglob("*.parquet"))
        assert engine.files_read == {f"{database}.events": 1}
        assert engine.downloads == 1

    assert result.to_pylist() == [{"day": DS, "events": by_day[DS], "amount": sum(range(by_day[DS]))}]
    assert cached == [f"day={DS}"]
    assert estimates == {f"{database}.events": sum(o.size for o in lake.list(f"curated/events/day={DS}/"))}


def _count_calls(*clients: Any) -> dict[str, int]:
    """``{operation: calls}`` made by the clients from now on (botocore's before-call events)."""
    calls: dict[str, int] = {}

    def count(model: Any, **_kwargs: Any) -> None:
        calls[model.name] = calls.get(model.name, 0) + 1

    for client in clients:
        client.meta.events.register(f"before-call.{client.meta.service_model.endpoint_prefix}", count)
    return calls


def test_a_budgeted_query_asks_glue_and_s3_once(lake, glue, database, history) -> None:
    sql = render_sql("athena/funnel_daily.sql", ds=DS, params={})
    with DuckDBEngine(glue, lake, database) as engine:
        calls = _count_calls(glue, lake.client)
        check_scan_budget(engine, sql, limit_bytes=10**9)
        first = engine.run(sql)
        assert calls == {"GetTable": 1, "GetPartitions": 1, "ListObjectsV2": 1, "GetObject": 1}
        calls.clear()
        again = engine.run(sql)  # the next query asks again (a moved pointer would be seen)
        assert calls == {"GetTable": 1, "GetPartitions": 1, "ListObjectsV2": 1}  # the file is cached
    assert again.to_pylist() == first.to_pylist() and first.num_rows == 1


def test_constant_predicates_are_computed_on_the_engines_connection(
    lake, glue, database, history, monkeypatch
) -> None:
    import duckdb

    sql = render_sql("athena/product_popularity_weekly.sql", ds=DS, params={})
    with DuckDBEngine(glue, lake, database) as engine:

        def no_new_connection(*_args: Any, **_kwargs: Any) -> Any:
            raise AssertionError("a throwaway DuckDB connection was opened")

        monkeypatch.setattr(duckdb, "connect", no_new_connection)
        engine.run(sql)  # its week bounds are constant expressions (date_trunc)
        assert engine.files_read[f"{database}.clickstream"] == 7  # pruned to the ISO week


def test_partitions_asked_ahead_serve_only_their_selection(
    lake, glue, database, history, monkeypatch
) -> None:
    import threading

    import airlake.engines.base as base

    name = f"{database}.clickstream"
    day = PartitionSelection(((Constraint("=", (DS,)),),), "dt")
    other = PartitionSelection(((Constraint("=", (HISTORY[0],)),),), "dt")
    catalog = base.CatalogSnapshot(glue, lake)
    calls = _count_calls(glue, lake.client)
    catalog.prefetch({name: day})
    assert [p.dt for p in catalog.partitions(name, other)] == [HISTORY[0]]  # not the one asked ahead
    served = catalog.partitions(name, day)
    files = catalog.objects(served[0].location)
    assert calls == {"GetPartitions": 2, "ListObjectsV2": 1}  # the day's partition and files asked ahead only
    assert [p.dt for p in served] == [DS]
    assert [key for _bucket, key, _size in files] == [
        o.key for o in lake.list(served[0].location.split("/", 3)[3])
    ]

    asked: list[str] = []
    live_partitions = base.live_partitions

    def fails_ahead(*args: Any) -> Any:
        asked.append(threading.current_thread().name)
        if len(asked) == 1:
            raise base.QueryEngineError("Glue did not answer")
        return live_partitions(*args)

    monkeypatch.setattr(base, "live_partitions", fails_ahead)
    again = base.CatalogSnapshot(glue, lake)
    again.prefetch({name: day})
    assert again.partitions(name, day) == served  # the failed answer asked again
    assert asked == ["airlake-catalog-ahead", threading.main_thread().name]
