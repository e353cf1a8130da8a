from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from include.demo import shop
from include.demo.fx_api import rates_for
from include.demo.shop import (
    DUPLICATE,
    LATE,
    MALFORMED,
    OUT_OF_RANGE,
    PRODUCT_COLUMNS,
    SCHEMA_CHANGE_DATE,
    DemoDay,
    generate_day,
)

ROOT = Path(__file__).resolve().parents[3]
WEEK = [date(2026, 11, 16) + timedelta(days=i) for i in range(7)]  # Monday .. Sunday, across the change
BEFORE = date(2026, 11, 19)
AFTER = date(2026, 11, 20)


@pytest.fixture(scope="module")
def week() -> dict[date, DemoDay]:
    return {d: generate_day(d) for d in WEEK}


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment.astimezone(UTC)


def _digest(demo: DemoDay) -> str:
    h = hashlib.sha256()
    for name in ("orders", "clickstream", "products", "payments"):
        for record in getattr(demo, name):
            h.update(f"{name}|{record.body}|{sorted(record.flaws)}|{record.reason}\n".encode())
    for name, text in demo.product_files():
        h.update(f"{name}|{text}".encode())
    h.update(json.dumps(demo.fx_rates).encode())
    return h.hexdigest()


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_data() -> None:
    first = generate_day(AFTER, seed=42)
    shop.orders._orders_placed.cache_clear()
    shop.products._catalog.cache_clear()
    shop.products._new_products.cache_clear()
    second = generate_day(AFTER, seed=42)
    assert first == second
    assert _digest(first) == _digest(second)


def test_identical_in_a_fresh_interpreter_with_another_hash_seed() -> None:
    code = (
        "import sys, importlib.util, pathlib; from datetime import date;"
        f"spec = importlib.util.spec_from_file_location('t', {str(Path(__file__))!r});"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "from include.demo.shop import generate_day; print(m._digest(generate_day(date(2026, 11, 20), 42)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(generate_day(AFTER, 42))


def test_different_seed_or_day_differs() -> None:
    base = generate_day(AFTER, seed=42)
    other_seed = generate_day(AFTER, seed=43)
    assert _digest(base) != _digest(other_seed)
    assert {r.body for r in base.clickstream}.isdisjoint({r.body for r in other_seed.clickstream})
    assert _digest(base) != _digest(generate_day(AFTER + timedelta(days=1), seed=42))


def test_accepts_iso_strings_and_datetimes() -> None:
    assert generate_day("2026-11-20") == generate_day(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))


# --- clickstream --------------------------------------------------------------------------------


def test_clickstream_flaw_proportions(week: dict[date, DemoDay]) -> None:
    kinds: Counter[str] = Counter()
    for day, demo in week.items():
        records = demo.clickstream
        total = len(records)
        assert 2000 <= total <= 6000
        duplicates = [r for r in records if r.has(DUPLICATE)]
        malformed = [r for r in records if r.has(MALFORMED)]
        unique = [r for r in records if not r.flaws & {DUPLICATE, MALFORMED}]
        late = [r for r in unique if r.has(LATE)]
        assert 0.007 <= len(duplicates) / len(unique) <= 0.013, day
        assert 0.015 <= len(late) / len(unique) <= 0.03, day
        assert 3 <= len(malformed) <= 6, day
        kinds.update(r.reason for r in malformed)
    assert set(kinds) == {"not_json", "bad_event_time", "missing_event_id"}


def test_clickstream_records_are_what_the_flags_say(week: dict[date, DemoDay]) -> None:
    for day, demo in week.items():
        seen: dict[str, str] = {}
        for record in demo.clickstream:
            if record.has(MALFORMED):
                if record.reason == "not_json":
                    assert isinstance(record.value, str)
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(record.body)
                elif record.reason == "bad_event_time":
                    assert json.loads(record.body)["event_time"] == "not-a-date"
                else:
                    assert "event_id" not in json.loads(record.body)
                continue
            event = json.loads(record.body)
            assert record.key == event["session_id"]
            if record.has(DUPLICATE):
                assert seen[event["event_id"]] == record.body  # an exact copy of an earlier record
                continue
            assert event["event_id"] not in seen
            seen[event["event_id"]] = record.body
            event_day = _utc(event["event_time"]).date()
            if record.has(LATE):
                assert 1 <= (day - event_day).days <= 3
            else:
                assert event_day == day
            assert event["event_type"] in shop.EVENT_TYPES
            assert event["platform"] in shop.PLATFORMS
            assert (event["product_id"] is None) == (event["event_type"] == "page_view")
            assert event["user_id"] is None or isinstance(event["user_id"], int)


def test_sessions_follow_the_funnel(week: dict[date, DemoDay]) -> None:
    order = {name: i for i, name in enumerate(shop.EVENT_TYPES)}
    sessions: dict[str, list[tuple[datetime, str]]] = {}
    for record in week[AFTER].clickstream:
        if record.flaws & {MALFORMED, DUPLICATE}:
            continue
        event = json.loads(record.body)
        sessions.setdefault(event["session_id"], []).append((_utc(event["event_time"]), event["event_type"]))
    assert len(sessions) > 500
    for events in sessions.values():
        types = [t for _, t in sorted(events)]
        assert types[0] == "page_view"
        assert [order[t] for t in types] == sorted(order[t] for t in types)
        assert types.count("purchase") <= 1


# --- orders -------------------------------------------------------------------------------------


def test_orders_flaws_and_updates(week: dict[date, DemoDay]) -> None:
    for day, demo in week.items():
        rows = [r.value for r in demo.orders]
        assert all(isinstance(r, dict) for r in rows)
        assert len({r["order_id"] for r in rows}) == len(rows)
        bad = [r for r in demo.orders if r.has(OUT_OF_RANGE)]
        assert 2 <= len(bad) <= 3
        for record in demo.orders:
            row = record.value
            assert isinstance(row, dict)
            negative = row["quantity"] <= 0 or row["amount"] <= 0
            assert negative == record.has(OUT_OF_RANGE)
            assert row["updated_at"].date() == day
            assert row["ordered_at"] <= row["updated_at"]
            assert row["status"] in shop.ORDER_STATUSES
            assert row["currency"] == {"GB": "GBP", "US": "USD"}.get(row["country"], "EUR")
            assert row["amount"] == row["amount"].quantize(Decimal("0.01"))
        placed_today = [r for r in rows if r["ordered_at"].date() == day]
        updates = [r for r in rows if r["ordered_at"].date() < day]
        assert 130 <= len(placed_today) <= 210
        assert len(updates) >= 100
        assert demo.summary()["orders"]["updates"] == len(updates)


def test_order_updates_keep_the_order_and_move_its_status_forward() -> None:
    days = [date(2026, 11, 10) + timedelta(days=i) for i in range(14)]
    history: dict[int, list[dict]] = {}
    for day in days:
        for record in generate_day(day).orders:
            assert isinstance(record.value, dict)
            history.setdefault(record.value["order_id"], []).append(record.value)
    allowed = {"placed": {"paid", "cancelled"}, "paid": {"shipped", "cancelled"}}
    first_day = days[0]
    updated = 0
    for versions in history.values():
        first = versions[0]
        for later in versions[1:]:
            updated += 1
            for column in ("customer_id", "product_id", "quantity", "amount", "currency", "ordered_at"):
                assert later[column] == first[column]
            assert later["updated_at"] > first["updated_at"]
        if first["ordered_at"].date() >= first_day:
            statuses = [v["status"] for v in versions]
            for before, after in itertools.pairwise(statuses):
                assert after in allowed[before]
    assert updated > 1000


# --- payments -----------------------------------------------------------------------------------


def test_payments_flaws_and_references(week: dict[date, DemoDay]) -> None:
    for day, demo in week.items():
        records = demo.payments
        malformed = [r for r in records if r.has(MALFORMED)]
        duplicates = [r for r in records if r.has(DUPLICATE)]
        unique = [r for r in records if not r.flaws]
        assert len(malformed) == 1
        assert 0.02 <= len(duplicates) / len(unique) <= 0.04
        bodies = Counter(r.body for r in records)
        for dup in duplicates:
            assert bodies[dup.body] == 2
        orders = {r.value["order_id"]: r.value for r in demo.orders if isinstance(r.value, dict)}
        keys = set()
        captured = {
            (m["payment_id"], m["status"])
            for m in (json.loads(r.body) for r in unique)
            if m["status"] == "captured"
        }
        for record in unique:
            message = json.loads(record.body)
            assert _utc(message["event_time"]).date() == day
            assert message["method"] in shop.PAYMENT_METHODS
            assert message["status"] in shop.PAYMENT_STATUSES
            assert (message["payment_id"], message["status"]) not in keys
            keys.add((message["payment_id"], message["status"]))
            order = orders[message["order_id"]]  # the order changed status the same day
            assert Decimal(str(message["amount"])) == order["amount"] > 0
            assert message["currency"] == order["currency"]
            if message["status"] == "authorized":
                assert message["method"] == "card"
                assert (message["payment_id"], "captured") in captured
            expected = {"refunded": "cancelled"}.get(message["status"], "paid")
            if expected == "paid":
                assert order["status"] in ("paid", "shipped", "cancelled")
            else:
                assert order["status"] == "cancelled"


def test_malformed_payment_is_not_a_valid_message() -> None:
    reasons = Counter()
    for day in [date(2026, 11, 1) + timedelta(days=i) for i in range(20)]:
        (bad,) = [r for r in generate_day(day).payments if r.has(MALFORMED)]
        reasons[bad.reason] += 1
        if bad.reason == "not_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(bad.body)
        else:
            assert "payment_id" not in json.loads(bad.body)
    assert set(reasons) == {"not_json", "missing_payment_id"}


# --- products -----------------------------------------------------------------------------------


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def test_products_flaws_and_files(week: dict[date, DemoDay]) -> None:
    for day, demo in week.items():
        rows = demo.products
        (bad,) = [r for r in rows if r.has(MALFORMED)]
        (dup,) = [r for r in rows if r.has(DUPLICATE)]
        assert isinstance(bad.value, dict)
        assert not _is_decimal(bad.value["price"])
        assert sum(1 for r in rows if r.value == dup.value) == 2
        assert rows.index(dup) > next(i for i, r in enumerate(rows) if r.value == dup.value)
        for record in rows:
            if not record.has(MALFORMED):
                assert isinstance(record.value, dict)
                assert Decimal(record.value["price"]) > 0

        files = demo.product_files()
        assert [name for name, _ in files] == [f"products-{n}.csv.gz" for n in range(1, len(files) + 1)]
        parsed = []
        for _, text in files:
            reader = csv.DictReader(io.StringIO(text))
            assert tuple(reader.fieldnames or ()) == demo.product_columns
            parsed.extend(reader)
        assert parsed == [r.value for r in rows]
        if day.weekday() == 0:  # Monday: full snapshot
            assert len(files) > 1
            assert len({r.key for r in rows}) >= shop.N_BASE_PRODUCTS
        else:
            assert len(files) == 1
            assert 10 <= len(rows) <= 80
            changed = [r for r in rows if not r.flaws]
            assert all(_utc(r.value["updated_at"]).date() == day for r in changed)  # type: ignore[index]


def test_products_referenced_by_orders_exist_in_the_catalog(week: dict[date, DemoDay]) -> None:
    catalog = {r.key for r in week[WEEK[0]].products}  # Monday's snapshot
    for day in WEEK:
        catalog |= {r.key for r in week[day].products}
        for record in week[day].orders:
            if record.value["ordered_at"].date() >= WEEK[0]:  # type: ignore[index]
                assert record.value["product_id"] in catalog  # type: ignore[index]


# --- schema change ------------------------------------------------------------------------------


def test_no_new_fields_before_the_schema_change() -> None:
    demo = generate_day(BEFORE)
    assert not demo.schema_changed
    assert all(r.value["coupon_code"] is None for r in demo.orders)  # type: ignore[index]
    assert all("app_version" not in r.body for r in demo.clickstream)
    assert demo.product_columns == PRODUCT_COLUMNS
    assert all("brand" not in r.value for r in demo.products)
    assert all(text.startswith(",".join(PRODUCT_COLUMNS) + "\n") for _, text in demo.product_files())


def test_new_fields_from_the_schema_change_on() -> None:
    for day in (SCHEMA_CHANGE_DATE, SCHEMA_CHANGE_DATE + timedelta(days=3)):
        demo = generate_day(day)
        assert demo.schema_changed
        placed_today = [r.value for r in demo.orders if r.value["ordered_at"].date() == day]  # type: ignore[index]
        coupons = [r["coupon_code"] for r in placed_today if r["coupon_code"]]
        assert 0.1 <= len(coupons) / len(placed_today) <= 0.3
        events = [json.loads(r.body) for r in demo.clickstream if not r.has(MALFORMED)]
        for event in events:
            assert ("app_version" in event) == (event["platform"] != "web")
        assert demo.product_columns == (*PRODUCT_COLUMNS, "brand")
        assert all("brand" in r.value for r in demo.products)
        assert any(r.value["brand"] for r in demo.products)  # type: ignore[index]
        assert all(text.startswith(",".join(demo.product_columns) + "\n") for _, text in demo.product_files())


def test_fx_rates_are_the_api_truth() -> None:
    demo = generate_day(AFTER)
    assert demo.fx_rates == rates_for(AFTER)
    assert demo.summary()["fx_rates"] == {"records": 12}


def test_summary_counts_match_the_flags(week: dict[date, DemoDay]) -> None:
    summary = week[AFTER].summary()
    assert summary["clickstream"]["records"] == len(week[AFTER].clickstream)
    assert summary["clickstream"][LATE] == sum(r.has(LATE) for r in week[AFTER].clickstream)
    assert summary["products"] == {"records": len(week[AFTER].products), DUPLICATE: 1, MALFORMED: 1}
