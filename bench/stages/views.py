"""views: the materialised views of sql/athena over the curated clickstream (and products).

- ``airlake``: :func:`airlake.analytics.materialise_view` with
  :class:`airlake.engines.duckdb_engine.DuckDBEngine` (memory_limit 1GB, as MaterialiseOperator), over
  the Glue catalog of the bench's moto: Glue lookups, registration of the live partitions, sqlglot
  transpilation, the query, the zstd Parquet result PUT, the Glue table and partition publish. The
  engine's download cache is warm (filled untimed in setup), so moto's GET cost stays out; it is the
  ``emulator`` stage's business.
- ``duckdb`` (anchor): the same rendered SQL, transpiled to DuckDB once (untimed), run by a plain
  DuckDB connection over the same local Parquet files (views with ``read_parquet(...,
  hive_partitioning = true)``), the result written as zstd Parquet.

Input bytes are the Parquet bytes of the live partitions of the tables the view reads, as
``engine.bytes_scanned`` counts them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.stack import BUCKET, DATABASE, glue_client, reset_moto, s3_client

Work = Callable[[], dict[str, Any]]
DS = "2026-11-20"
VIEWS = ("funnel_daily", "product_popularity_weekly")
PRODUCTS_DT = "2026-11-10"
PRODUCTS_VERSION = "20261110T000000000000Z"


def _render(view: str) -> str:
    from airlake.sql_text import render_sql

    return render_sql(f"athena/{view}.sql", ds=DS, params={})


def prepare_setup(params: dict[str, Any]) -> Work:
    """Untimed: publish the curated lake of one size in moto + Glue, and warm the engine's cache."""

    def work() -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from airlake.catalog.glue import ensure_database, ensure_table, publish_partitions, table_input
        from airlake.contracts import get_contract
        from airlake.engines.duckdb_engine import DuckDBEngine
        from airlake.lake import curated_version_prefix
        from bench.generate import products_rows
        from bench.localstore import LocalStore

        endpoint = os.environ["AIRLAKE_BENCH_MOTO"]
        reset_moto(endpoint)
        s3, glue = s3_client(endpoint), glue_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        ensure_database(glue, DATABASE)
        lake = LocalStore(Path(params["lake_root"]))
        manifest = lake.get_json(params["manifest"])
        clickstream = get_contract("clickstream")
        ensure_table(glue, DATABASE, clickstream, BUCKET)
        for output in manifest["outputs"]:
            if output["kind"] == "curated":
                s3.upload_file(str(lake.root / output["key"]), BUCKET, output["key"])
        storage = table_input(clickstream, BUCKET)["StorageDescriptor"]
        entries = [
            {"dt": p["dt"], "location": p["location"].replace(f"s3://{lake.bucket}/", f"s3://{BUCKET}/")}
            for p in manifest["partitions"]
        ]
        publish_partitions(glue, DATABASE, "clickstream", entries, storage)

        products = get_contract("products")
        rows = [{**row, "price": Decimal(row["price"])} for row in products_rows()]
        table = pa.Table.from_pylist(rows, schema=products.arrow_schema())
        local = Path(params["cache_dir"]).parent / "products.parquet"
        pq.write_table(table, local, compression="zstd")
        prefix = curated_version_prefix("products", PRODUCTS_DT, PRODUCTS_VERSION)
        s3.upload_file(str(local), BUCKET, f"{prefix}part-00000.parquet")
        ensure_table(glue, DATABASE, products, BUCKET)
        publish_partitions(
            glue,
            DATABASE,
            "products",
            [{"dt": PRODUCTS_DT, "location": f"s3://{BUCKET}/{prefix}"}],
            table_input(products, BUCKET)["StorageDescriptor"],
        )
        sizes: dict[str, int] = {}
        with DuckDBEngine(glue, s3, DATABASE, cache_dir=params["cache_dir"]) as engine:
            for name in ("clickstream", "products"):
                sizes[name] = engine.register(f"{DATABASE}.{name}")
        return {"table_bytes": sizes}

    return work


def prepare_airlake(params: dict[str, Any]) -> Work:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.analytics import materialise_view
    from airlake.engines.duckdb_engine import DuckDBEngine
    from airlake.store import LakeStore

    glue = glue_client(os.environ["AIRLAKE_BENCH_MOTO"])
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), BUCKET)
    store.client  # noqa: B018 - build the boto3 client before the clock starts
    sql = _render(params["view"])

    def work() -> dict[str, Any]:
        with DuckDBEngine(glue, store, DATABASE, cache_dir=params["cache_dir"], memory_limit="1GB") as engine:
            result = materialise_view(
                engine, glue, store, database=DATABASE, view=params["view"], sql=sql, ds=DS
            )
        return {
            "rows_out": result["rows"],
            "bytes_scanned": result["bytes_scanned"],
            "output_bytes": result["bytes"],
        }

    return work


def prepare_duckdb(params: dict[str, Any]) -> Work:
    import duckdb
    import pyarrow.parquet as pq

    from airlake.engines.duckdb_engine import to_duckdb_sql

    cache = Path(params["cache_dir"]) / DATABASE
    sql = to_duckdb_sql(_render(params["view"]))
    out = Path(params["run_dir"]) / "result.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def work() -> dict[str, Any]:
        for table in ("clickstream", "products"):
            files = f"'{cache / table}/*/*.parquet'"
            con.execute(
                f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet({files}, hive_partitioning = true, "
                "hive_types = {'dt': VARCHAR})"
            )
        result = con.sql(sql).to_arrow_table()
        pq.write_table(result, out, compression="zstd")
        return {"rows_out": result.num_rows, "output_bytes": out.stat().st_size}

    return work


def describe() -> dict[str, str]:
    return {
        "airlake": "airlake.analytics.materialise_view + DuckDBEngine over moto Glue (warm file cache)",
        "duckdb": "DuckDB, the same SQL (transpiled) over the same local Parquet files",
    }
