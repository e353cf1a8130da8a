"""run_curate against the session's moto server: values, de-duplication, late data, merges, rejects, versions."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.contracts import get_contract
from airlake.curate import CurateError, CurateOptions, RejectRateExceeded, run_curate
from airlake.curate.duck import ParquetLayout
from airlake.lake import manifest_key
from tests.plugins.airlake.curate.curate_helpers import (
    Catalog,
    csv_gz,
    json_line,
    jsonl,
    land_run,
    make_contract,
    read_bytes,
    read_partition,
    read_rejects,
)

RUN_1 = "scheduled__2026-11-20T00:00:00+00:00"
RUN_2 = "scheduled__2026-11-21T00:00:00+00:00"


def order(
    order_id: int, status: str, ordered_at: str, updated_at: str, amount: Any = "10.00", **extra: Any
) -> dict:
    return {
        "order_id": order_id,
        "customer_id": 100 + order_id,
        "product_id": f"p{order_id % 3}",
        "quantity": 1 + order_id % 5,
        "amount": amount,
        "currency": "EUR",
        "country": "DE",
        "status": status,
        "ordered_at": ordered_at,
        "updated_at": updated_at,
        **extra,
    }


# Day 1 of orders: updates of the same order, an exact duplicate, a tie on updated_at (the later line
# wins), late orders of earlier days, offsets that move an order to the previous UTC day, decimals
# given as strings and as JSON numbers.
ORDERS_DAY_1: list[dict[str, Any]] = [
    order(1, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z", "19.99"),
    order(1, "paid", "2026-11-20T08:00:00Z", "2026-11-20T09:30:00+01:00", "19.99"),  # 08:30Z: latest
    order(1, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:10:00Z", "19.99"),  # arrives late, older
    order(2, "placed", "2026-11-20T00:30:00+01:00", "2026-11-19T23:30:00Z", Decimal("5.5")),  # dt 11-19
    order(3, "placed", "2026-11-18T12:00:00", "2026-11-18T12:00:00", "1234567890.12"),  # late, naive
    order(3, "placed", "2026-11-18T12:00:00", "2026-11-18T12:00:00", "1234567890.12"),  # exact duplicate
    order(4, "placed", "2026-11-20T23:59:59.999999Z", "2026-11-20T23:59:59.999999Z", "0.01"),
    order(5, "placed", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z", "7.00"),
    order(5, "cancelled", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z", "7.00"),  # tie: later line wins
    order(
        6, "shipped", "2026-11-21T01:00:00+03:00", "2026-11-21T01:00:00+03:00", 12, coupon_code="X1"
    ),  # 11-20 UTC
]


def expected_rows(
    records: Iterable[dict[str, Any]], live: Iterable[dict[str, Any]] = ()
) -> dict[str, list[dict]]:
    """An independent computation of the curated orders: {dt: rows sorted by order_id}.

    Live rows come first, then the new ones in line order; per (dt, order_id) the greatest updated_at
    wins, the later one on a tie.
    """

    def utc(text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    winners: dict[tuple[str, int], dict[str, Any]] = {}
    rows = [dict(row) for row in live]
    for record in records:
        row = dict(record)
        row["ordered_at"], row["updated_at"] = utc(row["ordered_at"]), utc(row["updated_at"])
        row["amount"] = Decimal(str(row["amount"])).quantize(Decimal("0.01"))
        row.setdefault("coupon_code", None)
        rows.append(row)
    for row in rows:
        key = (row["ordered_at"].date().isoformat(), row["order_id"])
        if key not in winners or row["updated_at"] >= winners[key]["updated_at"]:
            winners[key] = row
    out: dict[str, list[dict]] = {}
    for (dt, _), row in sorted(winners.items()):
        out.setdefault(dt, []).append(row)
    return out


def curate(lake, contract, run_id: str, catalog: Catalog, tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    return run_curate(
        contract, lake, run_id=run_id, live_location=catalog.lookup, work_dir=work, **kwargs
    ).summary


def manifest_of(lake, summary: dict[str, Any]) -> dict[str, Any]:
    return lake.get_json(summary["manifest"])


def curated(lake, summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {p["dt"]: read_partition(lake, p) for p in manifest_of(lake, summary)["partitions"]}


def test_curated_rows_equal_an_independent_computation(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(
        lake,
        "orders",
        RUN_1,
        [(".jsonl.gz", jsonl(ORDERS_DAY_1[:6])), (".jsonl.gz", jsonl(ORDERS_DAY_1[6:]))],
    )

    summary = curate(lake, contract, RUN_1, catalog, tmp_path)

    assert curated(lake, summary) == expected_rows(ORDERS_DAY_1)
    assert [p["dt"] for p in summary["partitions"]] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert summary["rows"] | {"read": 10} == {
        "read": 10,
        "accepted": 10,
        "quarantined": 0,
        "written": 6,
        "duplicates_dropped": 4,
        "existing": 0,
        "existing_kept": 0,
        "existing_replaced": 0,
        "output": 6,
    }
    manifest = manifest_of(lake, summary)
    assert manifest["status"] == "complete"
    assert manifest["schema_hash"] == contract.schema_hash
    assert manifest["code_version"]
    assert [item["rows"] for item in manifest["inputs"]] == [6, 4]
    for partition in manifest["partitions"]:
        version = partition["version"]
        assert partition["location"] == (
            f"s3://{lake.bucket}/curated/orders/dt={partition['dt']}/v={version}/"
        )
        assert partition["previous_location"] is None
        for key in partition["files"]:
            body = read_bytes(lake, key)
            assert len(body) == lake.head(key)["ContentLength"]
            assert partition["sha256"][key] == hashlib.sha256(body).hexdigest()
            metadata = pq.ParquetFile(io.BytesIO(body)).metadata
            assert metadata.row_group(0).column(0).compression == "ZSTD"
            schema = pq.read_schema(io.BytesIO(body))
            assert schema.names == list(contract.column_names)  # dt is in the path only
            assert schema.field("ordered_at").type == pa.timestamp("us", tz="UTC")
            assert schema.field("amount").type == pa.decimal128(12, 2)


def test_second_run_merges_with_the_live_rows_and_latest_wins(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    first = curate(lake, contract, RUN_1, catalog, tmp_path)
    catalog.publish(first)
    first_files = {
        key: read_bytes(lake, key) for p in manifest_of(lake, first)["partitions"] for key in p["files"]
    }
    day_2 = [
        order(1, "shipped", "2026-11-20T08:00:00Z", "2026-11-21T07:00:00Z", "19.99"),  # newer: replaces
        order(5, "placed", "2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z", "7.00"),  # older: live wins
        order(7, "placed", "2026-11-20T11:00:00Z", "2026-11-21T11:00:00Z", "3.10"),  # new key, old day
        order(8, "placed", "2026-11-21T11:00:00Z", "2026-11-21T11:00:00Z", "4.20"),  # joins 11-21
    ]
    land_run(lake, "orders", RUN_2, [(".jsonl.gz", jsonl(day_2))], ingest_date=date(2026, 11, 21))

    second = curate(lake, contract, RUN_2, catalog, tmp_path)

    everything = expected_rows(ORDERS_DAY_1 + day_2)
    got = curated(lake, second)
    assert set(got) == {"2026-11-20", "2026-11-21"}  # only the touched partitions get a new version
    for dt, rows in got.items():
        assert rows == everything[dt]
    by_id = {row["order_id"]: row for rows in got.values() for row in rows}
    assert by_id[1]["status"] == "shipped" and by_id[5]["status"] == "cancelled"
    assert second["rows"]["written"] == 3 and second["rows"]["duplicates_dropped"] == 1
    assert second["rows"]["existing"] == 4 and second["rows"]["existing_replaced"] == 1
    previous = {p["dt"]: p["previous_location"] for p in second["partitions"]}
    assert previous == {"2026-11-20": catalog.live["2026-11-20"], "2026-11-21": None}
    for partition in second["partitions"]:
        assert partition["location"] != catalog.live.get(partition["dt"])
        assert partition["version"] > first["version"]
    # the live versions are untouched: readers of the old version still see all of it
    assert {key: read_bytes(lake, key) for key in first_files} == first_files


def test_keep_first_keeps_the_live_row_on_a_tie(lake, catalog, tmp_path) -> None:
    contract = get_contract("clickstream")

    def click(event_id: str, platform: str, event_time: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "session_id": "s1",
            "event_type": "page_view",
            "platform": platform,
            "event_time": event_time,
        }

    land_run(lake, "clickstream", RUN_1, [(".jsonl.gz", jsonl([click("e1", "web", "2026-11-20T10:00:00Z")]))])
    catalog.publish(curate(lake, contract, RUN_1, catalog, tmp_path))
    redelivered = [
        click("e1", "ios", "2026-11-20T10:00:00Z"),  # same time: the first seen (live) stays
        click("e2", "ios", "2026-11-20T10:00:01Z"),
        click("e2", "android", "2026-11-20T10:00:00+00:00"),  # earlier event: first wins
    ]
    land_run(lake, "clickstream", RUN_2, [(".jsonl.gz", jsonl(redelivered))])

    second = curate(lake, contract, RUN_2, catalog, tmp_path)

    rows = curated(lake, second)["2026-11-20"]
    assert [(row["event_id"], row["platform"]) for row in rows] == [("e1", "web"), ("e2", "android")]
    assert second["rows"]["duplicates_dropped"] == 2


@pytest.mark.parametrize(
    ("flush_rows", "row_group_rows"),
    [pytest.param(65_536, 128 * 1024, id="defaults"), pytest.param(2, 2, id="tiny-batches-and-row-groups")],
)
def test_rerunning_the_same_run_gives_byte_identical_parquet(
    lake, catalog, tmp_path, flush_rows: int, row_group_rows: int
) -> None:
    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    options = CurateOptions(flush_rows=flush_rows, layout=ParquetLayout(row_group_rows=row_group_rows))

    first = curate(lake, contract, RUN_1, catalog, tmp_path, options=options)
    again = curate(lake, contract, RUN_1, catalog, tmp_path, options=options)
    catalog.publish(again)
    after_publish = curate(lake, contract, RUN_1, catalog, tmp_path, options=options)  # merges with itself

    def checksums(summary: dict[str, Any]) -> dict[str, list[str]]:
        return {
            p["dt"]: [p["sha256"][key] for key in p["files"]]
            for p in manifest_of(lake, summary)["partitions"]
        }

    assert len({first["version"], again["version"], after_publish["version"]}) == 3
    assert checksums(first) == checksums(again) == checksums(after_publish)
    assert after_publish["rows"]["existing_kept"] == 0 and after_publish["rows"]["written"] == 6


def test_row_groups_and_file_rolling(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    records = [
        order(i, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z", f"{i}.00")
        for i in range(40, 0, -1)
    ]
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(records))])

    summary = curate(
        lake,
        contract,
        RUN_1,
        catalog,
        tmp_path,
        options=CurateOptions(layout=ParquetLayout(row_group_rows=4, max_file_bytes=1)),
    )

    partition = manifest_of(lake, summary)["partitions"][0]
    assert len(partition["files"]) == 10  # rolled after every row group
    ids = []
    for key in partition["files"]:
        parquet = pq.ParquetFile(io.BytesIO(read_bytes(lake, key)))
        assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [4]
        ids += parquet.read().column("order_id").to_pylist()
    assert ids == list(range(1, 41))  # sorted by key across files


def bad_order_lines() -> list[pytest.ParameterSet]:
    good = order(9, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z")
    cases = [
        ("not-json", '{"order_id": 9, "customer_id":', "not_json", None),
        ("not-an-object", "[1, 2, 3]", "not_an_object", None),
        (
            "missing-required-field",
            {k: v for k, v in good.items() if k != "customer_id"},
            "missing_field",
            "customer_id",
        ),
        ("null-in-not-null", {**good, "status": None}, "null_value", "status"),
        ("wrong-type-decimal", {**good, "amount": "abc"}, "wrong_type", "amount"),
        ("wrong-type-int", {**good, "quantity": "two"}, "wrong_type", "quantity"),
        ("bad-timestamp", {**good, "ordered_at": "not-a-date"}, "bad_timestamp", "ordered_at"),
        ("out-of-range", {**good, "quantity": 0}, "out_of_range", "quantity"),
        ("negative-amount", {**good, "amount": "-1.00"}, "out_of_range", "amount"),
        ("not-accepted", {**good, "currency": "JPY"}, "not_accepted", "currency"),
        ("decimal-too-large", {**good, "amount": "12345678901.00"}, "decimal_too_large", "amount"),
        ("decimal-too-precise", {**good, "amount": "1.005"}, "decimal_too_precise", "amount"),
    ]
    return [pytest.param(line, reason, field, id=name) for name, line, reason, field in cases]


@pytest.mark.parametrize(("bad", "reason", "field"), bad_order_lines())
def test_each_kind_of_bad_row_is_quarantined_with_its_reason(
    lake, catalog, tmp_path, bad: dict[str, Any] | str, reason: str, field: str | None
) -> None:
    contract = get_contract("orders")
    good = [order(i, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z") for i in (1, 2)]
    bad_line = bad if isinstance(bad, str) else json_line(bad)
    [raw_key] = land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl([good[0], bad_line, good[1]]))])

    summary = curate(lake, contract, RUN_1, catalog, tmp_path, reject_rate_max=1.0)

    assert summary["quarantine"] == (
        "quarantine/orders/dt=2026-11-20/run=scheduled__2026-11-20T00_00_00_00_00/rejects.jsonl.gz"
    )
    [reject] = read_rejects(lake, summary["quarantine"])
    assert reject["reason"] == reason
    assert reject["field"] == field
    assert (reject["source"], reject["line"], reject["raw"]) == (raw_key, 2, bad_line)
    assert reject["message"]
    rows = summary["rows"]
    assert (rows["read"], rows["written"], rows["quarantined"]) == (3, 2, 1)
    manifest = manifest_of(lake, summary)
    assert manifest["quarantine"]["reasons"] == {reason: 1}
    assert manifest["reject_rate"] == pytest.approx(1 / 3, abs=1e-6)


def test_reject_rate_above_threshold_fails_after_writing_quarantine_and_manifest(
    lake, catalog, tmp_path
) -> None:
    contract = get_contract("orders")
    good = [order(i, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z") for i in range(1, 9)]
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl([*good, "oops", {**good[0], "currency": "JPY"}]))])

    with pytest.raises(RejectRateExceeded) as caught:
        curate(lake, contract, RUN_1, catalog, tmp_path)

    message = str(caught.value)
    assert (
        "orders" in message
        and "20.00%" in message
        and f"{contract.quality.reject_rate_max:.2%}" in message
        and "2 of 10" in message
    )
    assert len(read_rejects(lake, caught.value.quarantine.split("/", 3)[3])) == 2
    manifest = lake.get_json(manifest_key("orders", RUN_1, "curate"))
    assert manifest["status"] == "failed"
    assert manifest["rows"]["read"] == 10 and manifest["rows"]["quarantined"] == 2
    assert manifest["partitions"] == []
    assert list(lake.list("curated/")) == []  # nothing half-curated


def test_the_threshold_can_be_overridden(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    good = order(1, "placed", "2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl([good, "oops"]))])
    summary = curate(lake, contract, RUN_1, catalog, tmp_path, reject_rate_max=0.5)
    assert summary["rows"]["quarantined"] == 1


PRODUCTS_OLD = (
    "product_id,name,category,price,currency,updated_at\n"
    'P1,"Mug, large",kitchen,12.50,EUR,2026-11-19T08:00:00Z\n'
    'P2,"Two\nlines",office,3.00,EUR,2026-11-19T09:00:00+01:00\n'
    "P3,Pen,office,n/a,EUR,2026-11-19T10:00:00Z\n"
)
PRODUCTS_NEW = (  # from 2026-11-20: a brand column, columns reordered, a column the contract does not know
    "updated_at,product_id,brand,name,category,price,currency,legacy_code\n"
    "2026-11-20T08:00:00Z,P1,Acme,Mug (large),kitchen,13.00,EUR,x1\n"
    "2026-11-20T09:00:00Z,P4,,Stapler,office,8.00,EUR,x2\n"
)


def test_csv_schema_change_old_files_without_brand_and_new_with(lake, catalog, tmp_path) -> None:
    contract = get_contract("products")
    keys = land_run(
        lake, "products", RUN_1, [(".csv.gz", csv_gz(PRODUCTS_OLD)), (".csv.gz", csv_gz(PRODUCTS_NEW))]
    )

    summary = curate(lake, contract, RUN_1, catalog, tmp_path, reject_rate_max=0.5)

    got = {row["product_id"]: row for rows in curated(lake, summary).values() for row in rows}
    assert set(got) == {"P1", "P2", "P4"}  # P1 of 11-19 and of 11-20 are different partitions
    rows = curated(lake, summary)
    assert [(r["product_id"], r["brand"], r["name"]) for r in rows["2026-11-19"]] == [
        ("P1", None, "Mug, large"),
        ("P2", None, "Two\nlines"),
    ]
    assert [(r["product_id"], r["brand"], r["price"]) for r in rows["2026-11-20"]] == [
        ("P1", "Acme", Decimal("13.00")),
        ("P4", None, Decimal("8.00")),  # an empty CSV field is NULL
    ]
    assert rows["2026-11-19"][1]["updated_at"] == datetime(2026, 11, 19, 8, tzinfo=UTC)
    [reject] = read_rejects(lake, summary["quarantine"])
    assert (reject["source"], reject["line"], reject["reason"], reject["field"]) == (
        keys[0],
        5,
        "wrong_type",
        "price",
    )
    assert reject["raw"] == "P3,Pen,office,n/a,EUR,2026-11-19T10:00:00Z"


def test_csv_without_a_required_column_rejects_every_row(lake, catalog, tmp_path) -> None:
    contract = get_contract("products")
    text = "product_id,name,category,currency,updated_at\nP1,Mug,kitchen,EUR,2026-11-19T08:00:00Z\n"
    land_run(lake, "products", RUN_1, [(".csv.gz", csv_gz(text))])
    with pytest.raises(RejectRateExceeded):
        curate(lake, contract, RUN_1, catalog, tmp_path)
    manifest = lake.get_json(manifest_key("products", RUN_1, "curate"))
    assert manifest["quarantine"]["reasons"] == {"missing_column": 1}  # the header refuses the file
    [reject] = read_rejects(lake, manifest["quarantine"]["key"])
    assert (reject["line"], reject["field"]) == (2, "price")
    assert "price" in reject["message"] and "part-00000.csv.gz" in reject["message"]


def test_parquet_raw_parts(lake, catalog, tmp_path) -> None:
    contract = make_contract()
    table = pa.table(
        {
            "widget_id": pa.array([2, 1, 2], pa.int64()),
            "name": ["b", "a", "b2"],
            "price": pa.array([Decimal("1.50"), Decimal("2.25"), Decimal("1.75")], pa.decimal128(10, 2)),
            "event_time": pa.array(
                [datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 9), datetime(2026, 11, 20, 11)],
                pa.timestamp("ms"),
            ),
            "ignored": ["x", "y", "z"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    land_run(lake, "widgets", RUN_1, [(".parquet", sink.getvalue())])

    summary = curate(lake, contract, RUN_1, catalog, tmp_path)

    rows = curated(lake, summary)["2026-11-20"]
    assert [(r["widget_id"], r["name"], r["price"]) for r in rows] == [
        (1, "a", Decimal("2.25")),
        (2, "b2", Decimal("1.75")),
    ]
    assert rows[0]["event_time"] == datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_every_object_written_is_server_side_encrypted(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl([*ORDERS_DAY_1, "bad"]))])
    curate(lake, contract, RUN_1, catalog, tmp_path, reject_rate_max=1.0)

    written = [
        obj.key
        for obj in lake.list("")
        if not obj.key.startswith("raw/") and not obj.key.endswith("ingest.json")
    ]
    assert {key.split("/")[0] for key in written} == {"curated", "quarantine", "_manifests", "_state"}
    for key in written:
        assert lake.head(key)["ServerSideEncryption"] == "AES256", key


def test_an_ingest_run_without_outputs_writes_an_empty_manifest(lake, catalog, tmp_path) -> None:
    land_run(lake, "orders", RUN_1, [])
    summary = curate(lake, get_contract("orders"), RUN_1, catalog, tmp_path)
    manifest = manifest_of(lake, summary)
    assert manifest["status"] == "complete"
    assert manifest["partitions"] == [] and summary["partitions"] == []
    assert set(manifest["rows"].values()) == {0}
    assert sorted(obj.key for obj in lake.list("")) == [
        summary["manifest"],
        manifest_key("orders", RUN_1, "curate").removesuffix(".json") + "/attempt=1.json",
        manifest_key("orders", RUN_1, "ingest"),
    ]


def test_missing_ingest_manifest_is_a_clear_error(lake, catalog, tmp_path) -> None:
    with pytest.raises(CurateError, match=r"ingest task of run .* must succeed before curate"):
        curate(lake, get_contract("orders"), RUN_1, catalog, tmp_path)


def test_a_raw_part_changed_after_ingest_fails_the_run(lake, catalog, tmp_path) -> None:
    [key] = land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])
    lake.put_bytes(key, gzip.compress(b'{"order_id": 1}\n'))
    with pytest.raises(CurateError, match="changed since it was ingested"):
        curate(lake, get_contract("orders"), RUN_1, catalog, tmp_path)
    assert lake.get_json(manifest_key("orders", RUN_1, "curate"))["status"] == "failed"


def test_versions_sort_after_the_live_version(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1[:1]))])
    future = "29991231T000000000000Z"
    catalog.live["2026-11-20"] = f"s3://{lake.bucket}/curated/orders/dt=2026-11-20/v={future}/"
    summary = curate(lake, contract, RUN_1, catalog, tmp_path)
    assert summary["version"] > future  # never sorts before what it replaces, whatever the clocks say


def test_dates_of_expected_rows_helper_are_utc() -> None:
    rows = expected_rows([order(1, "placed", "2026-11-20T00:30:00+01:00", "2026-11-20T00:30:00+01:00")])
    assert list(rows) == ["2026-11-19"]
    assert rows["2026-11-19"][0]["ordered_at"] == datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert timedelta(0) == rows["2026-11-19"][0]["ordered_at"].utcoffset()


def test_parsing_parts_in_worker_processes_gives_the_same_result(lake, catalog, tmp_path) -> None:
    contract = get_contract("orders")
    parts = [ORDERS_DAY_1[:4], ["bad 1", *ORDERS_DAY_1[4:7]], [*ORDERS_DAY_1[7:], "bad 2"]]
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(part)) for part in parts])

    in_process = curate(
        lake, contract, RUN_1, catalog, tmp_path, options=CurateOptions(workers=1), reject_rate_max=1.0
    )
    rejects_in_process = read_bytes(lake, in_process["quarantine"])
    parallel = curate(
        lake, contract, RUN_1, catalog, tmp_path, options=CurateOptions(workers=2), reject_rate_max=1.0
    )

    assert manifest_of(lake, parallel)["timings"]["parse_workers"] == 2
    assert parallel["rows"] == in_process["rows"]
    assert read_bytes(lake, parallel["quarantine"]) == rejects_in_process
    assert [r["line"] for r in read_rejects(lake, parallel["quarantine"])] == [1, 4]

    def checksums(summary: dict[str, Any]) -> list[dict[str, str]]:
        return [p["sha256"] for p in manifest_of(lake, summary)["partitions"]]

    assert [list(c.values()) for c in checksums(parallel)] == [
        list(c.values()) for c in checksums(in_process)
    ]


def _orders_body(copies: int) -> bytes:
    """Gzip JSON Lines of ``copies`` days of ORDERS_DAY_1 (other ids) and a bad line: big enough to cut."""
    records: list[dict[str, Any] | str] = []
    for copy in range(copies):
        records += [{**record, "order_id": record["order_id"] + 10 * copy} for record in ORDERS_DAY_1]
    return jsonl([*records, "bad 1"])


@pytest.fixture
def cut_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of a few KB cut into pieces, as big parts are."""
    from airlake.curate import parts, pieces

    monkeypatch.setattr(parts, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(pieces, "PIECE_MIN_BYTES", 2000)


def test_a_part_parsed_while_it_downloads_gives_the_same_result(
    lake, catalog, tmp_path, cut_small, monkeypatch, caplog
) -> None:
    from airlake.curate import inputs

    contract = get_contract("orders")
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", _orders_body(40))])
    in_process = curate(
        lake, contract, RUN_1, catalog, tmp_path, options=CurateOptions(workers=1), reject_rate_max=1.0
    )
    arrivals: list[Any] = []

    class CountedArrival(inputs.Arrival):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            arrivals.append(self)

    monkeypatch.setattr(inputs, "Arrival", CountedArrival)
    caplog.set_level("INFO", logger="airlake.curate.parts")
    parallel = curate(
        lake, contract, RUN_1, catalog, tmp_path, options=CurateOptions(workers=2), reject_rate_max=1.0
    )
    assert len(arrivals) == 1  # the part was handed to the parse while it downloaded
    assert any("parsed in" in r.getMessage() and "pieces" in r.getMessage() for r in caplog.records)
    assert parallel["rows"] == in_process["rows"] and parallel["rows"]["quarantined"] == 1
    assert read_bytes(lake, parallel["quarantine"]) == read_bytes(lake, in_process["quarantine"])
    assert [p["sha256"] for p in manifest_of(lake, parallel)["partitions"]] == [
        p["sha256"] for p in manifest_of(lake, in_process)["partitions"]
    ]
    assert manifest_of(lake, parallel)["inputs"] == manifest_of(lake, in_process)["inputs"]


def test_a_part_changed_after_ingest_fails_the_run_when_parsed_as_it_downloads(
    lake, catalog, tmp_path, cut_small
) -> None:
    [key] = land_run(lake, "orders", RUN_1, [(".jsonl.gz", _orders_body(40))])
    lake.put_bytes(key, _orders_body(39))  # another body, another size: what ingest recorded is wrong
    with pytest.raises(CurateError, match="changed since it was ingested"):
        curate(lake, get_contract("orders"), RUN_1, catalog, tmp_path, options=CurateOptions(workers=2))
    assert lake.get_json(manifest_key("orders", RUN_1, "curate"))["status"] == "failed"
    assert not [obj.key for obj in lake.list("curated/orders/")]


def test_a_contract_partitioned_by_another_column_writes_its_folders(lake, catalog, tmp_path) -> None:
    """``partitioning.column: day`` names the curated folders (``day=<date>/v=<version>/``); rows and
    accounting are those of the ``dt`` contract."""
    base = get_contract("orders")
    contract = base.model_copy(
        update={"partitioning": base.partitioning.model_copy(update={"column": "day"})}
    )
    land_run(lake, "orders", RUN_1, [(".jsonl.gz", jsonl(ORDERS_DAY_1))])

    summary = curate(lake, contract, RUN_1, catalog, tmp_path)

    assert curated(lake, summary) == expected_rows(ORDERS_DAY_1)
    for partition in manifest_of(lake, summary)["partitions"]:
        prefix = f"curated/orders/day={partition['dt']}/v={partition['version']}/"
        assert partition["location"] == f"s3://{lake.bucket}/{prefix}"
        assert partition["files"] and all(key.startswith(prefix) for key in partition["files"])
    assert not [obj.key for obj in lake.list("curated/orders/dt=")]
