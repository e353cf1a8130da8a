"""materialise_view on the Athena path (UNLOAD), offline: AthenaEngine over the fake Athena of the engines' tests.

The fake runs the SQL on the local engine and writes UNLOAD's files the way Athena lays them out
(extensionless names, ``dt=<value>/`` folders, several files); what real Athena's Parquet writer
does is not checked here (see tests/plugins/airlake/engines/athena_fake.py).
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.analytics import MaterialiseError, materialise_view
from airlake.analytics.materialise import result_column_names
from airlake.engines import QueryEngineError
from airlake.engines.athena import AthenaEngine
from airlake.lake import manifest_key
from airlake.sql_text import render_sql
from tests.plugins.airlake.engines.athena_fake import FakeAthenaHook
from tests.plugins.airlake.engines.test_engine_duckdb import DS

RUN_ID = "scheduled__2026-11-21T00:00:00+00:00"


@pytest.fixture
def fake_athena(glue, lake, database):
    hook = FakeAthenaHook(glue, lake, database, rows_per_file=4)  # several files per UNLOAD
    yield hook
    hook.close()


@pytest.fixture
def athena(fake_athena, lake, glue, database) -> AthenaEngine:
    return AthenaEngine(
        fake_athena,  # type: ignore[arg-type]
        database,
        output_location=f"s3://{lake.bucket}/athena-results/",
        glue=glue,
        s3=lake,
        sleep_time=0,
    )


def _read(lake, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()))


def _columns(glue, database: str, view: str) -> dict[str, str]:
    table = glue.get_table(DatabaseName=database, Name=view)["Table"]
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


@pytest.mark.usefixtures("shop")
def test_daily_sales_is_unloaded_by_athena_typed_and_copied_into_the_version(
    athena, fake_athena, glue, lake, database
) -> None:
    sql = render_sql("athena/daily_sales.sql", ds=DS, params={})
    expected = fake_athena.engine.run(sql).drop_columns(["dt"])

    result = materialise_view(
        athena, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS, run_id=RUN_ID
    )

    unload = next(q for q in fake_athena.queries.values() if q["query"].startswith("UNLOAD"))
    assert "partitioned_by = ARRAY['dt']" in unload["query"] and "compression = 'ZSTD'" in unload["query"]
    assert unload["result_configuration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert len(unload["files"]) == result["files"] > 1  # Athena's files, several
    prefix = f"analytics/daily_sales/dt={DS}/v={result['version']}/"
    keys = sorted(obj.key for obj in lake.list(f"analytics/daily_sales/dt={DS}/"))
    assert keys == [f"{prefix}part-{i:05d}.parquet" for i in range(result["files"])]  # staging removed
    assert result["location"] == f"s3://{lake.bucket}/{prefix}"
    for key in keys:
        assert lake.client.head_object(Bucket=lake.bucket, Key=key)["ServerSideEncryption"] == "AES256"
        assert _read_metadata_compression(lake, key) == "ZSTD"
    written = pa.concat_tables([_read(lake, key) for key in keys])
    order = [("country", "ascending"), ("currency", "ascending")]
    assert written.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()
    assert result["rows"] == expected.num_rows
    assert result["bytes"] == sum(obj.size for obj in lake.list(prefix))
    assert result["bytes_scanned"] > 0

    assert _columns(glue, database, "daily_sales") == {
        "country": "string",
        "currency": "string",
        "orders": "bigint",
        "cancelled_orders": "bigint",
        "revenue": "decimal(38,2)",  # GetQueryResults would have made it a string
        "revenue_eur": "double",
    }
    partition = glue.get_partition(DatabaseName=database, TableName="daily_sales", PartitionValues=[DS])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == result["location"]
    manifest = lake.get_json(manifest_key("analytics_daily_sales", RUN_ID, "materialise"))
    assert manifest["rows"] == {"written": expected.num_rows}
    assert sorted(item["key"] for item in manifest["outputs"]) == keys


def _read_metadata_compression(lake, key: str) -> str:
    body = lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
    return pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression


@pytest.mark.usefixtures("shop")
def test_a_foreign_dt_is_refused_and_nothing_is_left_or_published(athena, glue, lake, database) -> None:
    sql = "select dt, count(*) as n from orders where dt >= '2026-11-19' and dt <= '2026-11-20' group by dt"

    with pytest.raises(MaterialiseError, match=r"dt column holds \['2026-11-19'\], not only '2026-11-20'"):
        materialise_view(athena, glue, lake, database=database, view="by_day", sql=sql, ds=DS)

    assert list(lake.list("analytics/by_day/")) == []  # the UNLOAD's files were removed
    assert glue.get_tables(DatabaseName=database, Expression="by_day")["TableList"] == []


@pytest.mark.usefixtures("shop")
def test_a_failed_unload_leaves_no_file_and_publishes_nothing(
    athena, fake_athena, glue, lake, database
) -> None:
    fake_athena.fail_unload_after_write = True
    sql = render_sql("athena/daily_sales.sql", ds=DS, params={})

    with pytest.raises(QueryEngineError, match="GENERIC_INTERNAL_ERROR"):
        materialise_view(athena, glue, lake, database=database, view="daily_sales", sql=sql, ds=DS)

    unload = next(q for q in fake_athena.queries.values() if q["query"].startswith("UNLOAD"))
    assert unload["files"]  # Athena had written files before failing: removed
    assert list(lake.list("analytics/daily_sales/")) == []
    assert glue.get_tables(DatabaseName=database, Expression="daily_sales")["TableList"] == []


@pytest.mark.usefixtures("shop")
def test_an_empty_result_takes_its_types_from_the_result_metadata(athena, glue, lake, database) -> None:
    day = "2026-12-31"  # no order that day: UNLOAD writes no file
    sql = render_sql("athena/daily_sales.sql", ds=day, params={})

    result = materialise_view(athena, glue, lake, database=database, view="daily_sales", sql=sql, ds=day)

    assert result["rows"] == 0 and result["files"] == 1
    empty = _read(lake, f"analytics/daily_sales/dt={day}/v={result['version']}/part-00000.parquet")
    assert empty.num_rows == 0
    assert _columns(glue, database, "daily_sales")["revenue"] == "decimal(38,2)"  # ColumnInfo Precision/Scale
    assert _columns(glue, database, "daily_sales")["orders"] == "bigint"


def test_every_output_column_needs_a_name() -> None:
    assert result_column_names("select o.dt, count(*) as n, x from t as o") == ["dt", "n", "x"]
    with pytest.raises(MaterialiseError, match="needs a plain name"):
        result_column_names("select dt, count(*) from orders group by dt")
    with pytest.raises(MaterialiseError, match="needs a plain name"):
        result_column_names("select * from orders")
    with pytest.raises(MaterialiseError, match="repeat a name"):
        result_column_names("select a, b as a from t")
    with pytest.raises(MaterialiseError, match="exactly one SELECT"):
        result_column_names("select 1 as a; select 2 as b")
