"""Kill points (issue 18): a stage of the second daily run of ``orders`` runs in a forked child process
and is SIGKILLed at a stage boundary (mid curated upload, after the curated upload and before the
manifest, after the manifest and before the Glue publish, in the middle of the warehouse COPY). Then
readers see the old run or the new one, never a mix: every Glue partition's files are exactly the
old or the new run's (names and sha256), the query engine (DuckDB over the live partitions) returns
exactly the old or the new rows, and the warehouse table has exactly the old or the new checksum.
Rerunning the killed task and what follows converges to a clean run: the same partition files, rows
and warehouse checksum, as many versions per partition as the clean run (the killed attempt's partial
version removed by the rerun), and no scratch folder of the killed process left."""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from airlake.engines.duckdb_engine import DuckDBEngine
from airlake.operators.catalog import CatalogOperator
from airlake.operators.curate import CurateOperator
from airlake.operators.load import WarehouseLoadOperator
from airlake.store import LakeStore
from tests.faults.test_chaos import RUN_1, RUN_2, _context, _lake_state, _new_lake, _orders_run_2
from tests.plugins.airlake.curate.curate_helpers import jsonl, land_run

WAREHOUSE_CONN = "airlake_kill_warehouse"
DAYS = {RUN_1: date(2026, 11, 20), RUN_2: date(2026, 11, 21)}
STAGES = ("curate", "catalog", "load")


def _curate(store: LakeStore, database: str, run_id: str) -> None:
    operator = CurateOperator(task_id="curate", dataset="orders", bucket=store.bucket, database=database)
    operator.execute(_context(run_id, DAYS[run_id]))  # type: ignore[arg-type]


def _catalog(store: LakeStore, database: str, run_id: str) -> None:
    operator = CatalogOperator(task_id="catalog", dataset="orders", bucket=store.bucket, database=database)
    operator.execute({"run_id": run_id})  # type: ignore[arg-type]


def _load(store: LakeStore, database: str, run_id: str) -> None:
    operator = WarehouseLoadOperator(
        task_id="load", dataset="orders", bucket=store.bucket, warehouse_conn_id=WAREHOUSE_CONN
    )
    operator.execute({"run_id": run_id})  # type: ignore[arg-type]


_RUNNERS: dict[str, Callable[[LakeStore, str, str], None]] = {
    "curate": _curate,
    "catalog": _catalog,
    "load": _load,
}


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scratch folders go to this test's own temp dir: a stage running in another xdist worker sweeps
    the shared temp dir of dead runs' scratch (as it should), which would remove the killed child's
    folder before this test looks for it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _run(store: LakeStore, database: str, run_id: str, stages: tuple[str, ...] = STAGES) -> None:
    for stage in stages:
        _RUNNERS[stage](store, database, run_id)


def _land_run_2(store: LakeStore) -> None:
    land_run(store, "orders", RUN_2, [(".jsonl.gz", jsonl(_orders_run_2()))], ingest_date=DAYS[RUN_2])


@pytest.fixture
def warehouse(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh PostgreSQL database as the warehouse connection the load operator uses; its DSN."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{WAREHOUSE_CONN.upper()}", pg_database.replace("postgresql://", "postgres://")
    )
    return pg_database


@pytest.fixture(autouse=True)
def no_orphan_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rerun comes seconds after the kill, not a day: without this, the 15 minutes by which a version
    must be older than the running attempt to count as left behind (``ORPHAN_GRACE``, kept for
    compaction) would keep the killed attempt's version until a later run."""
    from airlake.curate import CurateOptions

    monkeypatch.setitem(CurateOptions.__init__.__kwdefaults__, "orphan_grace", timedelta(0))


def _warehouse_checksum(dsn: str) -> tuple[int, str]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select count(*), md5(coalesce(string_agg(t::text, '|' order by t.order_id), '')) "
            "from public.orders as t"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _query_rows(store: LakeStore, glue: Any, database: str) -> list[tuple[Any, ...]]:
    """Every row the query engine sees through the catalog's live partitions."""
    with DuckDBEngine(glue, store, database) as engine:
        table = engine.run("select * from orders order by order_id")
    return [tuple(row.values()) for row in table.to_pylist()]


def _versions(store: LakeStore) -> dict[str, int]:
    """``dt -> number of version prefixes`` under curated/orders/ (live, superseded or left behind)."""
    found: dict[str, set[str]] = {}
    for item in store.list("curated/orders/"):
        dt, version = item.key.split("/")[2:4]
        found.setdefault(dt, set()).add(version)
    return {dt: len(versions) for dt, versions in sorted(found.items())}


def _snapshot(store: LakeStore, glue: Any, database: str, dsn: str) -> dict[str, Any]:
    return {
        "lake": _lake_state(store, glue, database),
        "rows": _query_rows(store, glue, database),
        "warehouse": _warehouse_checksum(dsn),
    }


@pytest.fixture(scope="module")
def clean(local_services: Any) -> dict[str, Any]:
    """What readers see after a clean run 1 (``old``) and after a clean run 2 (``new``)."""
    import uuid

    glue = boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = local_services.pg_database_dsn(name)
    patch = pytest.MonkeyPatch()
    patch.setenv(f"AIRFLOW_CONN_{WAREHOUSE_CONN.upper()}", dsn.replace("postgresql://", "postgres://"))
    try:
        store, database = _new_lake(local_services)
        _run(store, database, RUN_1)
        old = _snapshot(store, glue, database, dsn)
        _land_run_2(store)
        _run(store, database, RUN_2)
        new = {**_snapshot(store, glue, database, dsn), "versions": _versions(store)}
    finally:
        patch.undo()
        with psycopg.connect(local_services.pg_database_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    assert old["lake"]["partitions"].keys() < new["lake"]["partitions"].keys()  # run 2 adds a day
    assert old["rows"] != new["rows"] and old["warehouse"] != new["warehouse"]
    return {"old": old, "new": new}


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after_curated_uploads(count: int) -> Callable[[pytest.MonkeyPatch], None]:
    """Killed right after the ``count``-th curated object is uploaded (``count`` 0: never)."""

    def install(patch: pytest.MonkeyPatch) -> None:
        put_file = LakeStore.put_file
        uploaded = [0]

        def put_then_kill(self: LakeStore, key: str, *args: Any, **kwargs: Any) -> Any:
            result = put_file(self, key, *args, **kwargs)
            if key.startswith("curated/"):
                uploaded[0] += 1
                if uploaded[0] == count:
                    _kill_self()
            return result

        patch.setattr(LakeStore, "put_file", put_then_kill)

    return install


def _kill_before_complete_manifest(patch: pytest.MonkeyPatch) -> None:
    """Every curated version uploaded (and orphans cleaned), killed as the complete manifest is written."""
    from airlake.curate import runner

    write = runner._write

    def kill_on_complete(store: LakeStore, manifest: Any, status: str) -> str:
        if status == runner.COMPLETE:
            _kill_self()
        return write(store, manifest, status)

    patch.setattr(runner, "_write", kill_on_complete)


def _kill_before_publish(patch: pytest.MonkeyPatch) -> None:
    """The catalog task read the complete curate manifest; killed as it starts the Glue publish."""
    import airlake.catalog

    patch.setattr(airlake.catalog, "publish_partitions", lambda *args, **kwargs: _kill_self())


def _kill_mid_copy(patch: pytest.MonkeyPatch) -> None:
    """Killed while the load's binary COPY streams: as the driver takes the third batch."""
    import airlake.load.arrow_copy as arrow_copy

    to_driver = arrow_copy._to_driver

    def then_kill(*args: Any, **kwargs: Any) -> Any:
        for index, batch in enumerate(to_driver(*args, **kwargs)):
            if index == 2:
                _kill_self()
            yield batch

    patch.setattr(arrow_copy, "_to_driver", then_kill)


def _run_killed(
    install: Callable[[pytest.MonkeyPatch], None],
    store: LakeStore,
    database: str,
    stages: tuple[str, ...],
) -> int:
    """Run ``stages`` of run 2 in a forked child with the kill hook installed; the child's pid."""

    def child() -> None:
        code = 1
        try:
            install(pytest.MonkeyPatch())
            _run(store, database, RUN_2, stages)
            code = 0  # the hook never fired: the test fails on the exit code
        finally:
            os._exit(code)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -signal.SIGKILL, (
        f"the child was not killed at the boundary: {process.exitcode}"
    )
    assert process.pid is not None
    return process.pid


KILL_POINTS = {
    # name: (kill hook, stages the child runs, the stage it is killed in, what readers see after the kill)
    "mid_curated_upload": (_kill_after_curated_uploads(3), ("curate", "catalog"), "curate", "old"),
    "after_upload_before_manifest": (_kill_before_complete_manifest, ("curate", "catalog"), "curate", "old"),
    "after_manifest_before_publish": (_kill_before_publish, ("curate", "catalog"), "catalog", "old"),
    "mid_copy": (_kill_mid_copy, ("load",), "load", "new_lake_old_warehouse"),
    # the same kill, then the whole run cleared (curate again): it reuses the version the killed attempt wrote
    "after_manifest_before_publish_then_cleared": (
        _kill_before_publish,
        ("curate", "catalog"),
        "catalog",
        "old",
    ),
}
CLEARED = {"after_manifest_before_publish_then_cleared"}
"""Kill points whose rerun is the whole run (a clear of the DAG run), not the killed task's retry."""


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_kill_at_a_stage_boundary_leaves_old_or_new_and_the_rerun_converges(
    local_services: Any, glue: Any, warehouse: str, clean: dict[str, Any], point: str
) -> None:
    install, killed_stages, killed_in, expected = KILL_POINTS[point]
    # the killed task's retry, then what follows; or the whole run again
    rerun_stages = STAGES if point in CLEARED else STAGES[STAGES.index(killed_in) :]
    old, new = clean["old"], clean["new"]
    store, database = _new_lake(local_services)
    _run(store, database, RUN_1)
    _land_run_2(store)
    if killed_stages == ("load",):
        _run(store, database, RUN_2, ("curate", "catalog"))

    pid = _run_killed(install, store, database, killed_stages)

    seen = _snapshot(store, glue, database, warehouse)
    for dt, files in seen["lake"]["partitions"].items():  # each partition: a complete version, old or new
        assert files in (old["lake"]["partitions"].get(dt), new["lake"]["partitions"][dt]), dt
    assert seen["rows"] in (old["rows"], new["rows"])  # never a mix
    assert seen["warehouse"] in (old["warehouse"], new["warehouse"])
    lake_side = new if expected == "new_lake_old_warehouse" else old
    assert seen["lake"] == lake_side["lake"] and seen["rows"] == lake_side["rows"]
    assert seen["warehouse"] == old["warehouse"]
    scratch = f"airlake-{'load' if killed_in == 'load' else 'curate'}-orders-p{pid}-*"
    if killed_in in ("curate", "load"):  # SIGKILL skips every finally: the killed run's scratch is there
        assert list(Path(tempfile.gettempdir()).glob(scratch))

    _run(store, database, RUN_2, rerun_stages)

    assert _snapshot(store, glue, database, warehouse) == {
        key: new[key] for key in ("lake", "rows", "warehouse")
    }
    assert _versions(store) == new["versions"]  # the killed attempt's partial version is gone
    leftovers = list(Path(tempfile.gettempdir()).glob(scratch))
    assert leftovers == [], leftovers
