"""materialise_view against the session's moto server: one Parquet version, Glue table + partition."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.analytics import MaterialiseError, materialise_view
from airlake.catalog import PARQUET_SERDE, arrow_to_glue_type
from airlake.engines import ScanBudgetExceeded
from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.lake import manifest_key
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.test_engine_duckdb import DS

RUN_ID = "scheduled__2026-11-21T00:00:00+00:00"


def _sql(view: str, ds: str = DS) -> str:
    return render_sql(f"athena/{view}.sql", ds=ds, params={})


def _sorted(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    return table.sort_by([(key, "ascending") for key in keys]).to_pylist()


def _keys_under(lake, prefix: str) -> list[str]:
    return sorted(obj.key for obj in lake.list(prefix))


def _read(lake, key: str) -> pa.Table:
    body = lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def test_materialise_daily_sales(engine, shop, glue, lake, database) -> None:
    sql = _sql("daily_sales")
    result = materialise_view(
        engine, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS, run_id=RUN_ID
    )

    expected = engine.run(sql)
    assert result["view"] == "daily_sales"
    assert result["dt"] == DS
    assert result["rows"] == expected.num_rows > 0
    assert result["bytes_scanned"] > 0
    prefix = f"analytics/daily_sales/dt={DS}/"
    keys = _keys_under(lake, prefix)
    assert keys == [f"{prefix}v={result['version']}/part-00000.parquet"]
    assert result["location"] == f"s3://{lake.bucket}/{prefix}v={result['version']}/"
    head = lake.client.head_object(Bucket=lake.bucket, Key=keys[0])
    assert head["ServerSideEncryption"] == "AES256"
    assert (
        pq.ParquetFile(io.BytesIO(lake.client.get_object(Bucket=lake.bucket, Key=keys[0])["Body"].read()))
        .metadata.row_group(0)
        .column(0)
        .compression
        == "ZSTD"
    )

    written = _read(lake, keys[0])
    assert "dt" not in written.column_names  # the partition value lives in the path
    keys_of_rows = ["country", "currency"]
    assert _sorted(written, keys_of_rows) == _sorted(expected.drop_columns(["dt"]), keys_of_rows)

    table = glue.get_table(DatabaseName=database, Name="daily_sales")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert table["PartitionKeys"][0]["Type"] == "string"
    storage = table["StorageDescriptor"]
    assert storage["Location"] == f"s3://{lake.bucket}/analytics/daily_sales/"
    assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    types = {c["Name"]: c["Type"] for c in storage["Columns"]}
    assert list(types) == ["country", "currency", "orders", "cancelled_orders", "revenue", "revenue_eur"]
    assert types == {f.name: arrow_to_glue_type(f.type) for f in expected.schema if f.name != "dt"}
    assert types["revenue_eur"] == "double"
    assert types["revenue"].startswith("decimal(")
    partition = glue.get_partition(DatabaseName=database, TableName="daily_sales", PartitionValues=[DS])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == result["location"]

    manifest = lake.get_json(manifest_key("analytics_daily_sales", RUN_ID, "materialise"))
    assert manifest["status"] == "complete"
    assert manifest["rows"] == {"written": result["rows"]}
    assert {i["table"] for i in manifest["inputs"]} == {f"{database}.orders", f"{database}.fx_rates"}


def test_rematerialise_moves_the_pointer_and_keeps_the_old_version(
    engine, shop, glue, lake, database
) -> None:
    sql = _sql("daily_sales")
    first = materialise_view(engine, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS)
    second = materialise_view(engine, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS)

    assert second["version"] > first["version"]
    assert second["location"] != first["location"]
    assert second["previous_location"] == first["location"]
    assert second["table_change"] == "unchanged"
    assert len(_keys_under(lake, f"analytics/daily_sales/dt={DS}/")) == 2  # the old file remains
    partition = glue.get_partition(DatabaseName=database, TableName="daily_sales", PartitionValues=[DS])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == second["location"]
    assert partition["Partition"]["Parameters"]["airlake.version"] == second["version"]


def test_view_table_reads_back_through_duckdb(engine, shop, glue, lake, database) -> None:
    sql = _sql("daily_sales")
    expected = engine.run(sql)
    materialise_view(engine, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS)
    materialise_view(engine, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS)  # 2 versions
    other_day = "2026-11-19"
    materialise_view(
        engine,
        glue,
        lake,
        database=database,
        view="daily_sales",
        sql=_sql("daily_sales", other_day),
        ds=other_day,
    )

    with DuckDBEngine(glue, lake, database) as reader:
        back = reader.run(f"select * from daily_sales where dt = '{DS}'")
        everything = reader.run("select dt, count(*) as n from daily_sales group by dt")
    columns = expected.column_names
    keys = ["country", "currency"]
    assert _sorted(back.select(columns), keys) == _sorted(expected, keys)  # live version only, no duplicates
    assert sorted(everything.column("dt").to_pylist()) == [other_day, DS]


def test_scan_budget_refuses(engine, shop, glue, lake, database) -> None:
    with pytest.raises(
        ScanBudgetExceeded,
        match=r"refusing to run the query: it would scan up to .* above the limit of 10 bytes",
    ):
        materialise_view(
            engine,
            glue,
            lake,
            database=database,
            view="daily_sales",
            sql=_sql("daily_sales"),
            ds=DS,
            scan_limit_bytes=10,
        )
    assert _keys_under(lake, "analytics/") == []
    assert glue.get_tables(DatabaseName=database, Expression="daily_sales")["TableList"] == []

    result = materialise_view(
        engine,
        glue,
        lake,
        database=database,
        view="daily_sales",
        sql=_sql("daily_sales"),
        ds=DS,
        scan_limit_bytes=10**9,
    )
    assert result["rows"] > 0


def test_refuses_bad_names_and_foreign_dt(engine, shop, glue, lake, database) -> None:
    with pytest.raises(MaterialiseError, match="view name"):
        materialise_view(engine, glue, lake, database=database, view="Daily-Sales", sql="select 1", ds=DS)
    with pytest.raises(MaterialiseError, match="not only"):
        materialise_view(
            engine,
            glue,
            lake,
            database=database,
            view="daily_sales",
            sql=_sql("daily_sales"),
            ds="2026-11-19",
        )


def test_one_engine_materialises_a_daily_view_of_a_day_partitioned_table(
    engine, by_day, glue, lake, database
) -> None:
    from tests.plugins.airlake.engines.test_pruning import _count_calls

    days = sorted(by_day)[-3:]
    calls: dict[str, int] = {}
    for number, day in enumerate(days, start=1):
        sql = f"select day as dt, count(*) as events from events where day = '{day}' group by day"
        if number == len(days):  # the view's table exists: each Glue answer is asked once
            calls = _count_calls(glue, lake.client)
        result = materialise_view(
            engine,
            glue,
            lake,
            database=database,
            view="events_daily",
            sql=sql,
            ds=day,
            scan_limit_bytes=10**9,
        )
        assert result["rows"] == 1
        assert engine.files_read == {f"{database}.events": 1}  # only its day
        assert engine.downloads == number
        assert _read(lake, f"{result['location'].split('/', 3)[3]}part-00000.parquet").to_pylist() == [
            {"events": by_day[day]}
        ]

    assert calls["GetTable"] == 2  # the source and the view, once each
    assert calls["GetPartitions"] == calls["ListObjectsV2"] == 1
    # the view's partition is read once, for its new version and for the publish after it
    assert calls.get("BatchGetPartition", 0) + calls.get("GetPartition", 0) == 1
    assert calls.get("BatchCreatePartition", 0) + calls.get("BatchUpdatePartition", 0) == 1
    assert calls["PutObject"] == 1  # the result, one PUT
    assert "GetDatabase" not in calls  # the view's table exists, so does its database
    with DuckDBEngine(glue, lake, database) as reader:
        back = reader.run("select dt, events from events_daily order by dt").to_pylist()
    assert back == [{"dt": day, "events": by_day[day]} for day in days]
