"""Orders of the operational table ``public.orders``: each order placed with its whole future."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from include.demo.fx_api import rates_for
from include.demo.shop.common import _CENT, _at, _rng, _uuid
from include.demo.shop.products import _catalog, _price_as_of
from include.demo.shop.records import (
    COUNTRIES,
    CUSTOMER_IDS,
    DEFAULT_SEED,
    ORDER_LOOKBACK_DAYS,
    OUT_OF_RANGE,
    PAYMENT_METHODS,
    SCHEMA_CHANGE_DATE,
    Record,
    as_date,
)

_COUNTRY_WEIGHTS = (30, 14, 14, 12, 7, 7, 7, 4, 3, 2)
_CURRENCY_BY_COUNTRY = {"GB": "GBP", "US": "USD"}  # everyone else pays in EUR
_COUPONS = {"WELCOME10": Decimal("0.10"), "BLACKFRIDAY25": Decimal("0.25"), "FREESHIP": Decimal("0")}


@dataclass(frozen=True, slots=True)
class _Order:
    order_id: int
    customer_id: int
    product_id: str
    quantity: int
    amount: Decimal
    currency: str
    country: str
    coupon_code: str | None
    transitions: tuple[tuple[str, datetime], ...]  # (status, time), chronological
    out_of_range: bool
    payment_id: str | None = None
    failed_payment_id: str | None = None
    method: str | None = None


def _customer_country(seed: int, customer_id: int) -> str:
    return _rng(seed, "customer", customer_id).choices(COUNTRIES, weights=_COUNTRY_WEIGHTS)[0]


def _lifecycle(rng: random.Random, placed: datetime) -> tuple[tuple[str, datetime], ...]:
    day = placed.date()
    r = rng.random()
    if r < 0.03:  # never paid
        return (("placed", placed),)
    if r < 0.11:  # cancelled before payment
        return (("placed", placed), ("cancelled", placed + timedelta(minutes=rng.randint(60, 48 * 60))))
    after = rng.choices((0, 1, 2), weights=(75, 20, 5))[0]
    if after == 0:
        paid = placed + timedelta(seconds=rng.randint(10 * 60, 6 * 3600))
    else:
        paid = _at(day + timedelta(days=after), rng.randint(10 * 60_000, 86_399_000))
    if rng.random() < 0.04:  # cancelled after payment: refunded
        end = ("cancelled", _at(paid.date() + timedelta(days=rng.randint(1, 2)), rng.randint(0, 86_399_000)))
    else:
        end = (
            "shipped",
            _at(paid.date() + timedelta(days=rng.randint(1, 3)), rng.randint(8, 19) * 3_600_000),
        )
    return (("placed", placed), ("paid", paid), end)


@lru_cache(maxsize=64)
def _orders_placed(seed: int, day: date) -> tuple[_Order, ...]:
    """The orders placed on ``day`` with their whole future (status changes, payment ids)."""
    rng = _rng(seed, "orders", day)
    n = rng.randint(140, 180) + (20 if day.weekday() >= 5 else 0)
    catalog = _catalog(seed, day)
    fx = {r["quote_currency"]: Decimal(r["rate"]) for r in rates_for(day)}
    prices: dict[str, Decimal] = {}
    out_of_range = set(rng.sample(range(n), rng.randint(2, 3)))
    starts = sorted(rng.randint(0, 86_399_999) for _ in range(n))
    orders = []
    for i, start in enumerate(starts):
        customer_id = rng.randint(*CUSTOMER_IDS)
        country = _customer_country(seed, customer_id)
        currency = _CURRENCY_BY_COUNTRY.get(country, "EUR")
        product = rng.choice(catalog)
        if product.product_id not in prices:
            prices[product.product_id] = _price_as_of(seed, product, day)[0]
        quantity = rng.choices((1, 2, 3, 4, 5), weights=(60, 22, 10, 5, 3))[0]
        coupon = None
        if day >= SCHEMA_CHANGE_DATE and rng.random() < 0.2:
            coupon = rng.choice(sorted(_COUPONS))
        discount = _COUPONS[coupon] if coupon else Decimal(0)
        rate = fx.get(currency, Decimal(1))
        amount = (prices[product.product_id] * quantity * (1 - discount) * rate).quantize(
            _CENT, ROUND_HALF_UP
        )
        placed = _at(day, start)
        order_id = int(f"{day:%Y%m%d}") * 100_000 + i + 1
        if i in out_of_range:
            if rng.random() < 0.5:
                quantity = -quantity
            orders.append(
                _Order(
                    order_id=order_id,
                    customer_id=customer_id,
                    product_id=product.product_id,
                    quantity=quantity,
                    amount=-amount,
                    currency=currency,
                    country=country,
                    coupon_code=coupon,
                    transitions=(("placed", placed),),
                    out_of_range=True,
                )
            )
            continue
        transitions = _lifecycle(rng, placed)
        payment_id = _uuid(rng)
        failed_id = _uuid(rng) if rng.random() < 0.05 else None
        method = rng.choices(PAYMENT_METHODS, weights=(60, 30, 10))[0]
        orders.append(
            _Order(
                order_id=order_id,
                customer_id=customer_id,
                product_id=product.product_id,
                quantity=quantity,
                amount=amount,
                currency=currency,
                country=country,
                coupon_code=coupon,
                transitions=transitions,
                out_of_range=False,
                payment_id=payment_id,
                failed_payment_id=failed_id,
                method=method,
            )
        )
    return tuple(orders)


def _orders_in_window(seed: int, day: date) -> Iterator[_Order]:
    for back in range(ORDER_LOOKBACK_DAYS, -1, -1):
        yield from _orders_placed(seed, day - timedelta(days=back))


def order_rows(day: date, seed: int = DEFAULT_SEED) -> list[Record]:
    """Rows of public.orders whose updated_at falls on ``day`` (state at the end of the day)."""
    day = as_date(day)
    records = []
    for order in _orders_in_window(seed, day):
        today = [t for t in order.transitions if t[1].date() == day]
        if not today:
            continue
        status, updated_at = today[-1]
        row = {
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "product_id": order.product_id,
            "quantity": order.quantity,
            "amount": order.amount,
            "currency": order.currency,
            "country": order.country,
            "status": status,
            "ordered_at": order.transitions[0][1],
            "updated_at": updated_at,
            "coupon_code": order.coupon_code,
        }
        flaws = frozenset({OUT_OF_RANGE}) if order.out_of_range else frozenset()
        reason = "negative_amount" if order.out_of_range else None
        records.append(Record(row, str(order.order_id), flaws, reason))
    records.sort(key=lambda r: (r.value["updated_at"], r.value["order_id"]))  # type: ignore[index]
    return records
