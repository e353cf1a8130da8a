"""Engine parity: the same raw inputs curated by the worker path and by the SQL path (the local engine,
DuckDB on the Athena SQL) give the same curated rows, files, quarantine and manifest accounting."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from pydantic import ValidationError

from airlake.contracts import Contract, get_contract
from airlake.curate import CurateError, RejectRateExceeded, run_curate
from airlake.curate.sqlrun import LocalSqlCurate, run_curate_sql
from airlake.lake import manifest_key
from airlake.store import LakeStore
from tests.plugins.airlake.curate.curate_helpers import (
    Catalog,
    json_line,
    jsonl,
    land_run,
    make_contract,
    read_partition,
    read_rejects,
)
from tests.plugins.airlake.curate.test_curate import ORDERS_DAY_1, RUN_1, RUN_2, bad_order_lines, order

ROW_COUNTS = ("read", "accepted", "quarantined", "written", "duplicates_dropped", "existing", "output")


def sql_curate(
    store: LakeStore, contract: Contract, run_id: str, catalog: Catalog, work: Path, **kwargs: Any
):
    engine = LocalSqlCurate(work)
    try:
        return run_curate_sql(
            contract,
            store,
            run_id=run_id,
            live_location=catalog.lookup,
            work_dir=work,
            engine=engine,
            **kwargs,
        ).summary
    finally:
        engine.close()


def worker_curate(
    store: LakeStore, contract: Contract, run_id: str, catalog: Catalog, work: Path, **kwargs: Any
):
    return run_curate(
        contract, store, run_id=run_id, live_location=catalog.lookup, work_dir=work, **kwargs
    ).summary


@pytest.fixture
def twin(lake: LakeStore) -> LakeStore:
    """A second empty lake bucket: the SQL engine's, beside the worker's ``lake``."""
    store = LakeStore(S3Hook(aws_conn_id="aws_default"), f"{lake.bucket[:40]}-sql-{uuid.uuid4().hex[:6]}")
    store.ensure_bucket()
    return store


def outcome(store: LakeStore, summary: dict[str, Any]) -> dict[str, Any]:
    """What the consumers see of a curate run, with the bucket and the version ids left out."""
    manifest = store.get_json(summary["manifest"])
    rows = {
        p["dt"]: sorted(read_partition(store, p), key=lambda r: sorted((k, str(v)) for k, v in r.items()))
        for p in manifest["partitions"]
    }
    rejects = read_rejects(store, summary["quarantine"]) if summary["quarantine"] else []
    return {
        "rows": rows,
        "files": {p["dt"]: sorted(p["sha256"].values()) for p in manifest["partitions"]},
        "counts": {name: manifest["rows"][name] for name in ROW_COUNTS},
        "partitions": [
            {
                k: p[k]
                for k in ("dt", "rows", "rows_new", "rows_new_kept", "rows_existing", "rows_existing_kept")
            }
            for p in manifest["partitions"]
        ],
        "unchanged": manifest["unchanged"],
        "reasons": Counter(r["reason"] for r in rejects),
        "quarantine": manifest["quarantine"] and {k: manifest["quarantine"][k] for k in ("rows", "reasons")},
        "rejects": [
            (r["source"].rsplit("/", 1)[1], r["line"], r["reason"], r["field"], r["raw"]) for r in rejects
        ],
        "inputs": [(i["key"].rsplit("/", 1)[1], i["rows"], i["sha256"]) for i in manifest["inputs"]],
    }


def both(
    lake: LakeStore,
    twin: LakeStore,
    contract: Contract,
    runs: list[tuple[str, list[bytes], date]],
    tmp_path: Path,
    *,
    replace: bytes | None = None,
) -> list[list[dict[str, Any]]]:
    """Land the same runs in both lakes and curate each run by each engine, publishing in between; the
    outcomes of every run, worker first."""
    catalogs = {"worker": Catalog(), "sql": Catalog()}
    results = []
    for index, (run_id, parts, day) in enumerate(runs):
        pair = []
        for name, store, curate in (("worker", lake, worker_curate), ("sql", twin, sql_curate)):
            land_run(store, contract.name, run_id, [(".jsonl.gz", body) for body in parts], ingest_date=day)
            if replace is not None:
                _replace_first_part(store, contract.name, run_id, replace)
            summary = curate(
                store, contract, run_id, catalogs[name], tmp_path / f"{name}-{index}", reject_rate_max=1.0
            )
            catalogs[name].publish(summary)
            pair.append(outcome(store, summary))
        results.append(pair)
    return results


def _replace_first_part(store: LakeStore, dataset: str, run_id: str, body: bytes) -> None:
    """Put ``body`` as the run's first raw part, its size, checksum and count in the ingest manifest."""
    key = manifest_key(dataset, run_id, "ingest")
    ingest = store.get_json(key)
    part = ingest["outputs"][0]
    store.put_bytes(part["key"], body)
    lines = [line for line in gzip.decompress(body).splitlines() if line.strip()]
    part.update(bytes=len(body), sha256=hashlib.sha256(body).hexdigest(), rows=len(lines))
    store.put_json(key, ingest)


def _day_1_lines() -> list[str]:
    bad = [case.values[0] for case in bad_order_lines()]
    records = [*ORDERS_DAY_1[:5], *bad, *ORDERS_DAY_1[5:]]
    return [r if isinstance(r, str) else json_line(r) for r in records]


def test_orders_through_both_engines_give_the_same_rows_files_and_quarantine(lake, twin, tmp_path) -> None:
    contract = get_contract("orders")
    lines = _day_1_lines()
    day_2 = [
        order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99"),
        order(5, "placed", "2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z", "7.00"),  # older: live row stays
        order(8, "placed", "2026-11-21T11:00:00Z", "2026-11-21T11:00:00Z", "4.20"),
        "{broken",
    ]
    runs = [
        (RUN_1, [jsonl(lines[:9]), jsonl(lines[9:])], date(2026, 11, 20)),  # duplicates across two parts
        (RUN_2, [jsonl(day_2)], date(2026, 11, 21)),  # merged with the live rows of 11-20
    ]
    (worker_1, sql_1), (worker_2, sql_2) = both(lake, twin, contract, runs, tmp_path)

    assert sql_1 == worker_1
    assert sql_2 == worker_2
    assert sql_1["reasons"] == Counter(case.values[1] for case in bad_order_lines())
    assert sql_2["partitions"][-1]["dt"] == "2026-11-21"
    assert sql_2["counts"]["existing"] > 0  # the merge with live rows was exercised
    assert sql_2["reasons"] == Counter(not_json=1)


def test_a_rerun_of_the_sql_path_with_the_same_inputs_writes_no_new_version(twin, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(twin, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    first = sql_curate(twin, contract, RUN_1, catalog, tmp_path / "a")
    catalog.publish(first)
    again = sql_curate(twin, contract, RUN_1, catalog, tmp_path / "b")

    assert all(p["unchanged"] for p in again["partitions"])
    assert {p["dt"]: p["location"] for p in again["partitions"]} == catalog.live


def test_every_type_and_line_level_reject_matches_the_worker(lake, twin, tmp_path) -> None:
    contract = make_contract()
    good = {
        "widget_id": 1,
        "name": "a",
        "active": "true",
        "rank": 3,
        "weight": 1.5,
        "price": "12.30",
        "made_on": "2026-11-02",
        "local_time": "2026-11-20T10:00:00",
        "event_time": "2026-11-20T10:00:00+02:00",
        "color": "red",
    }
    records: list[Any] = [
        good,
        {**good, "widget_id": 2, "active": False, "rank": None, "weight": "2", "color": None},
        {**good, "widget_id": 3, "event_time": "2026-11-19T23:00:00Z", "made_on": None, "local_time": None},
        {**good, "widget_id": 1, "name": "newer", "event_time": "2026-11-20T11:00:00+02:00"},
        {**good, "widget_id": 4, "rank": 11},  # out_of_range
        {**good, "widget_id": 5, "color": "green"},  # not_accepted
        {**good, "widget_id": 6, "made_on": "2026-13-01"},  # bad_date
        {**good, "widget_id": 7, "active": "maybe"},  # wrong_type
        {**good, "widget_id": 8, "name": {"nested": 1}},  # wrong_type (not a scalar)
        {**good, "widget_id": 9, "price": "1234.5"},  # decimal_too_large
        {k: v for k, v in good.items() if k != "event_time"},  # missing_field
        '{"widget_id": 10, "name": "nul\\u0000", "price": "1.00", "event_time": "2026-11-20T10:00:00Z"}',
        "   ",  # blank: not a record
        "42",  # not_an_object
    ]
    # and a line with a byte invalid in UTF-8, which land_run cannot count: set in afterwards
    bad_bytes = gzip.compress(
        gzip.decompress(jsonl(records)) + b'{"widget_id": 11, "name": "\xff"}\n', mtime=0
    )
    [(worker, sql)] = both(
        lake, twin, contract, [(RUN_1, [jsonl(records)], date(2026, 11, 20))], tmp_path, replace=bad_bytes
    )

    for name in ("rows", "files", "counts", "partitions", "reasons", "quarantine", "inputs"):
        assert sql[name] == worker[name], name
    # the raw text of the bad-encoding line differs (U+FFFD for the byte, see airlake.curate.sqlrun)
    assert [r[:4] for r in sql["rejects"]] == [r[:4] for r in worker["rejects"]]
    assert set(sql["reasons"]) >= {"nul_byte", "bad_encoding", "not_an_object", "missing_field", "bad_date"}


def test_the_reject_budget_fails_the_sql_run_after_quarantine(twin, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(twin, "orders", RUN_1, [(".jsonl.gz", jsonl([*ORDERS_DAY_1[:2], "x", "y"]))])
    with pytest.raises(RejectRateExceeded) as caught:
        sql_curate(twin, contract, RUN_1, catalog, tmp_path / "w")

    assert (caught.value.rejected, caught.value.read) == (2, 4)
    manifest = twin.get_json(f"_manifests/orders/{RUN_1.replace(':', '_').replace('+', '_')}/curate.json")
    assert manifest["status"] == "failed" and manifest["quarantine"]["reasons"] == {"not_json": 2}
    assert not list(twin.list("curated/"))


def test_a_contract_the_sql_path_cannot_curate_is_refused(tmp_path) -> None:
    csv_files = {"kind": "files", "landing_prefix": "landing/widgets/", "format": "csv"}
    with pytest.raises(ValidationError, match="JSON Lines only"):
        make_contract(source=csv_files, curate={"engine": "athena"})
    assert make_contract(curate={"engine": "athena"}).curate.engine == "athena"
    assert make_contract().curate.engine == "worker"


def test_a_raw_part_that_is_not_json_lines_fails_the_sql_run(twin, catalog, tmp_path) -> None:
    land_run(twin, "orders", RUN_1, [(".csv.gz", b"")])
    with pytest.raises(CurateError, match="not JSON Lines"):
        sql_curate(twin, get_contract("orders"), RUN_1, catalog, tmp_path / "w")
