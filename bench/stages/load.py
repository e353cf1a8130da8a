"""load: the curated Parquet files of a run -> the PostgreSQL warehouse table (the Redshift stand-in).

- ``airlake``: :func:`airlake.load.load_partitions` (clickstream: mode ``partition_replace``) into a
  freshly created target (``ensure_target_table``, untimed): per file a whole-object download from the
  store, DuckDB reading the event dates, an ADBC connection opened to the same server, then the delete
  of those dates and one binary ``COPY`` of every file's Arrow batches (the ADBC PostgreSQL driver
  encodes them in C; a helper thread reads the Parquet ahead) straight into the target while DuckDB
  checks in another thread that no key repeats (as curate writes them), committed in one transaction;
  files with a repeated key would be rolled back and loaded again through the staging table and the
  de-duplication. ``AIRLAKE_BENCH_LOAD_COPY=csv`` measures the earlier CSV path under the same name.
- ``airlake_csv`` (informative, when the runner lists it): the same load with ``copy_format="csv"``:
  pyarrow batches -> CSV (naive UTC timestamps, encoded by a helper thread) -> ``COPY ... FROM STDIN``
  through psycopg.
  The files are read from a :class:`~bench.localstore.LocalStore` holding the curate output (the
  emulator's GET cost is the ``emulator`` stage's business).
- ``psql`` (anchor): ``psql -c "\\copy <table> FROM '<rows.csv>' WITH (FORMAT csv)"`` of the same rows
  (exported untimed from the same Parquet files, with the arrival-order column Airlake's COPY adds)
  into an empty table shaped like Airlake's staging table (the target's columns + ``airlake_seq``).
- ``psql_sql`` (informative): the same ``\\copy`` into the staging table followed by the project's
  own statements (:func:`airlake.load.warehouse.load_statements`: de-duplication, partition delete,
  insert) in one transaction: the database work of ``airlake`` without its Python side (Parquet read,
  CSV encoding, COPY FROM STDIN through psycopg).

Input bytes are the Parquet bytes of the curated files for every engine (the same rows), so the
MB/s columns compare the same logical input.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

Work = Callable[[], dict[str, Any]]
PSQL = os.environ.get("AIRLAKE_BENCH_PSQL", "/usr/lib/postgresql/15/bin/psql")
ANCHOR_TABLE = "clickstream_anchor"
_COPIED = re.compile(r"COPY (\d+)")


def _connect() -> Any:
    import psycopg

    return psycopg.connect(os.environ["AIRLAKE_BENCH_PG_DSN"], autocommit=True)


def _fresh_target(conn: Any) -> Any:
    from airlake.contracts import get_contract
    from airlake.load import ensure_target_table

    contract = get_contract("clickstream")
    for table in ("clickstream", ANCHOR_TABLE, f"{ANCHOR_TABLE}_stage"):
        conn.execute(f'drop table if exists "{table}"')
    ensure_target_table(conn, contract)
    return contract


def _curated_files(lake_root: str, manifest_key: str) -> tuple[Any, list[str]]:
    from bench.localstore import LocalStore

    store = LocalStore(Path(lake_root))
    manifest = store.get_json(manifest_key)
    return store, [key for p in manifest["partitions"] for key in p["files"]]


def prepare_setup(params: dict[str, Any]) -> Work:
    """Untimed: the curated rows as one headerless CSV for the psql anchors, with the arrival order
    (``airlake_seq``) Airlake's COPY adds as last column."""

    def work() -> dict[str, Any]:
        import duckdb

        from airlake.contracts import get_contract

        store, keys = _curated_files(params["lake_root"], params["manifest"])
        files = ", ".join(f"'{store.root / key}'" for key in keys)
        names = ", ".join(get_contract("clickstream").column_names) + ", row_number() OVER () - 1"
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        target = Path(params["csv"])
        partial = target.with_suffix(".partial")
        rows = con.execute(
            f"COPY (SELECT {names} FROM read_parquet([{files}])) TO '{partial}' (FORMAT csv, HEADER false)"
        ).fetchall()[0][0]
        partial.replace(target)
        return {"rows": int(rows), "csv_bytes": target.stat().st_size}

    return work


def prepare_airlake(params: dict[str, Any], copy_format: str | None = None) -> Work:
    # first-use imports untimed, as the bench's method says (the anchors' imports are untimed too)
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import duckdb  # noqa: F401
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    import airlake.curate.spill  # noqa: F401 - load_partitions' scratch folder: ~0.4 s of first-use imports
    from airlake.load import load_partitions

    copy_format = copy_format or os.environ.get("AIRLAKE_BENCH_LOAD_COPY", "binary")

    conn = _connect()
    contract = _fresh_target(conn)
    store, files = _curated_files(params["lake_root"], params["manifest"])
    run_dir = Path(params["run_dir"])

    def work() -> dict[str, Any]:
        result = load_partitions(conn, contract, store, files, work_dir=run_dir, copy_format=copy_format)
        conn.close()
        return {"rows_loaded": result["inserted"], "staged": result["staged"], "files": result["files"]}

    return work


def prepare_airlake_csv(params: dict[str, Any]) -> Work:
    return prepare_airlake(params, copy_format="csv")


def _psql(*args: str) -> str:
    dsn = os.environ["AIRLAKE_BENCH_PG_DSN"]
    result = subprocess.run(
        [PSQL, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout


def _load_columns(contract: Any) -> str:
    from airlake.load.warehouse import SEQ_COLUMN

    return ", ".join([*contract.column_names, SEQ_COLUMN])


def prepare_psql(params: dict[str, Any]) -> Work:
    from airlake.load.warehouse import SEQ_COLUMN

    conn = _connect()
    contract = _fresh_target(conn)
    # the shape Airlake COPYs into: a table like the target plus the arrival-order column
    conn.execute(f'create table "{ANCHOR_TABLE}" (like "clickstream" including all)')
    conn.execute(f'alter table "{ANCHOR_TABLE}" add column "{SEQ_COLUMN}" bigint')
    conn.close()
    columns = _load_columns(contract)

    def work() -> dict[str, Any]:
        out = _psql("-c", f"\\copy {ANCHOR_TABLE} ({columns}) from '{params['csv']}' with (format csv)")
        return {"rows_loaded": int(_COPIED.search(out).group(1))}  # type: ignore[union-attr]

    return work


def prepare_psql_sql(params: dict[str, Any]) -> Work:
    from airlake.load.warehouse import load_statements

    conn = _connect()
    contract = _fresh_target(conn)
    conn.close()
    sql = load_statements(contract)
    columns = _load_columns(contract)
    statements = [
        sql.create_staging,
        sql.add_seq_column,
        f"\\copy {sql.staging} ({columns}) from '{params['csv']}' with (format csv)",
        sql.dedup,
        sql.delete_partitions or "",
        sql.insert or "",
        *sql.drop,
    ]
    script = "\n".join(
        [
            "begin;",
            *(s.strip().rstrip(";") + ("" if s.startswith("\\") else ";") for s in statements if s),
            "commit;",
        ]
    )
    script_path = Path(params["run_dir"]) / "load.sql"
    script_path.write_text(script + "\n")

    def work() -> dict[str, Any]:
        out = _psql("-f", str(script_path))
        inserted = re.findall(r"INSERT 0 (\d+)", out)
        return {"rows_loaded": int(inserted[-1]) if inserted else None}

    return work


def describe() -> dict[str, str]:
    return {
        "airlake": "airlake.load.load_partitions (unique by key: partition delete + ADBC binary COPY of Arrow)",
        "airlake_csv": "airlake.load.load_partitions(copy_format='csv'): partition delete + CSV COPY FROM STDIN",
        "psql": "psql \\copy of the same rows (CSV) into an empty table",
        "psql_sql": "psql \\copy into staging + load_statements() dedup/partition replace, one transaction",
    }
