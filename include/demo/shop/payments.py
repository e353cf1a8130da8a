"""Payment status changes of the orders, as SQS message bodies."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from include.demo.shop.common import _at, _insert_after, _iso, _rng, _uuid
from include.demo.shop.orders import _Order, _orders_in_window
from include.demo.shop.records import DEFAULT_SEED, DUPLICATE, MALFORMED, PAYMENT_STATUSES, Record, as_date


def _payment(order: _Order, payment_id: str, status: str, moment: datetime) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "order_id": order.order_id,
        "amount": float(order.amount),
        "currency": order.currency,
        "method": order.method,
        "status": status,
        "event_time": _iso(moment),
    }


def payment_messages(day: date, seed: int = DEFAULT_SEED) -> list[Record]:
    """SQS message bodies of ``day``: one per payment status change, plus duplicates and a bad body."""
    day = as_date(day)
    start_of_day = _at(day, 0)
    timed: list[tuple[datetime, dict[str, Any]]] = []
    for order in _orders_in_window(seed, day):
        if order.payment_id is None:
            continue
        statuses = dict(order.transitions)
        paid = statuses.get("paid")
        if paid is not None and paid.date() == day:
            prng = _rng(seed, "payment", order.order_id)
            if order.failed_payment_id:
                failed_at = max(start_of_day, paid - timedelta(seconds=prng.randint(60, 300)))
                timed.append((failed_at, _payment(order, order.failed_payment_id, "failed", failed_at)))
            if order.method == "card":  # cards are authorized, then captured; the others captured at once
                authorized_at = max(start_of_day, paid - timedelta(seconds=prng.randint(1, 60)))
                timed.append((authorized_at, _payment(order, order.payment_id, "authorized", authorized_at)))
            timed.append((paid, _payment(order, order.payment_id, "captured", paid)))
        cancelled = statuses.get("cancelled")
        if paid is not None and cancelled is not None and cancelled.date() == day:
            timed.append((cancelled, _payment(order, order.payment_id, "refunded", cancelled)))
    timed.sort(key=lambda t: (t[0], t[1]["payment_id"], PAYMENT_STATUSES.index(t[1]["status"])))
    records = [Record(value, value["payment_id"]) for _, value in timed]

    rng = _rng(seed, "payment-flaws", day)
    if records:
        for original in sorted(
            rng.sample(range(len(records)), max(1, round(0.03 * len(records)))), reverse=True
        ):
            dup = records[original]
            _insert_after(rng, records, original, Record(dup.value, dup.key, frozenset({DUPLICATE})))
    bad_id = _uuid(rng)
    bad = {
        "payment_id": bad_id,
        "order_id": int(f"{day:%Y%m%d}") * 100_000 + 1,
        "amount": 19.99,
        "currency": "EUR",
        "method": "card",
        "status": "captured",
        "event_time": _iso(_at(day, 43_200_000)),
    }
    if rng.random() < 0.5:
        malformed = Record(json.dumps(bad)[: rng.randint(20, 60)], bad_id, frozenset({MALFORMED}), "not_json")
    else:
        del bad["payment_id"]
        malformed = Record(bad, bad_id, frozenset({MALFORMED}), "missing_payment_id")
    records.insert(rng.randint(0, len(records)), malformed)
    return records
