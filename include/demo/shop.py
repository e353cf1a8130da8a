"""The demo online shop: deterministic source data with realistic flaws, one day at a time.

``generate_day(day, seed)`` is pure: the same seed and day always give identical data, whatever was
generated before, and days are consistent with each other (an order placed on Monday and shipped on
Wednesday appears in Monday's and Wednesday's deliveries with the same order_id, amount and customer).

Datasets and what a delivery day holds (``DemoDay``):

* ``orders`` - rows of the operational table ``public.orders`` whose ``updated_at`` falls on the day:
  the orders placed that day plus status updates of orders placed up to ``ORDER_LOOKBACK_DAYS`` earlier
  (placed -> paid -> shipped, placed -> cancelled, placed -> paid -> cancelled). Values are typed
  (int, Decimal, aware UTC datetime). ``coupon_code`` is always a key (the table has the column) but is
  None for orders placed before ``SCHEMA_CHANGE_DATE``. Flaw: a few rows with negative quantity
  and/or amount (``out_of_range``); they stay ``placed`` and never get a payment.
* ``clickstream`` - JSON events as put on the Kinesis stream (partition key ``session_id``), in arrival
  order. Sessions follow the funnel page_view -> product_view -> add_to_cart -> checkout -> purchase.
  ``event_time`` carries the device's UTC offset on mobile (``+00:00`` on web), so its UTC date is what
  counts. ``app_version`` is a key only on mobile events delivered from ``SCHEMA_CHANGE_DATE`` on.
  Flaws: ~1% exact duplicates (same event_id and body), ~2% late (whole sessions whose event_time is
  1-3 days before the delivery day), 3-6 malformed (``not_json``, ``bad_event_time``: "not-a-date",
  ``missing_event_id``).
* ``products`` - CSV rows (all values strings, as in the file) the partner drops as
  ``products-<n>.csv.gz`` (at most ``PRODUCT_FILE_ROWS`` rows per file). Daily: the products whose price
  changed or that were introduced that day; on Mondays: a full catalog snapshot. Columns
  ``PRODUCT_COLUMNS`` plus ``brand`` from ``SCHEMA_CHANGE_DATE`` on (empty when unknown). Prices are EUR
  decimal strings. Flaws: one extra row with a non-numeric price (``bad_price``) for a product whose price
  did not change that day, and one exactly duplicated row.
* ``payments`` - JSON SQS message bodies, one per payment status change (natural key: payment_id +
  status): failed attempts, authorized (cards only) + captured when an order is paid, refunded when a
  paid order is cancelled. ``amount`` is a JSON number with 2 decimals. Flaws: ~3% duplicate deliveries (same body
  twice) and one malformed body (``not_json`` or ``missing_payment_id``).
* ``fx_rates`` - the day's rates, exactly what the FX API serves (``include.demo.fx_api.rates_for``).

Every delivered record is a ``Record``: ``value`` is a dict for parseable records, the raw string for a
record that is not JSON; ``flaws`` says which flaws it carries. Expected curated results therefore are:
the records without ``malformed`` or ``duplicate`` (and without ``out_of_range`` for orders), with the
late ones belonging to their event-time date.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from include.demo.fx_api import rates_for

DEFAULT_SEED = 42
SCHEMA_CHANGE_DATE = date(2026, 11, 20)  # coupon_code, app_version and brand appear on this day
CATALOG_EPOCH = date(2026, 10, 1)  # the partner's catalog is the base catalog until this day
ORDER_LOOKBACK_DAYS = 6  # an order's last status change happens at most this many days after it was placed
PRODUCT_FILE_ROWS = 100
DATASETS = ("orders", "clickstream", "products", "payments", "fx_rates")

# Flaw tags carried by Record.flaws.
DUPLICATE = "duplicate"
LATE = "late"
MALFORMED = "malformed"
OUT_OF_RANGE = "out_of_range"

PRODUCT_COLUMNS = ("product_id", "name", "category", "price", "currency", "updated_at")
PRODUCT_COLUMNS_FROM_SCHEMA_CHANGE = (*PRODUCT_COLUMNS, "brand")
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "product_id",
    "quantity",
    "amount",
    "currency",
    "country",
    "status",
    "ordered_at",
    "updated_at",
    "coupon_code",
)
ORDER_STATUSES = ("placed", "paid", "shipped", "cancelled")
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
PLATFORMS = ("web", "ios", "android")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer")
PAYMENT_STATUSES = ("authorized", "captured", "refunded", "failed")

N_BASE_PRODUCTS = 200
CUSTOMER_IDS = (100_001, 120_000)
COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "AT", "BE", "PL")
_COUNTRY_WEIGHTS = (30, 14, 14, 12, 7, 7, 7, 4, 3, 2)
_CURRENCY_BY_COUNTRY = {"GB": "GBP", "US": "USD"}  # everyone else pays in EUR
_COUPONS = {"WELCOME10": Decimal("0.10"), "BLACKFRIDAY25": Decimal("0.25"), "FREESHIP": Decimal("0")}
_CATEGORIES = {
    "electronics": ("Headphones", "Charger", "Speaker", "Webcam", "Keyboard", "Monitor"),
    "home": ("Lamp", "Kettle", "Blanket", "Mug", "Vase", "Clock"),
    "garden": ("Hose", "Planter", "Shears", "Lantern", "Bench", "Seeds"),
    "toys": ("Puzzle", "Robot", "Kite", "Blocks", "Plush Bear", "Board Game"),
    "books": ("Cookbook", "Novel", "Atlas", "Notebook", "Comic", "Guide"),
    "fashion": ("Scarf", "Sneakers", "Jacket", "Cap", "Belt", "Backpack"),
    "sports": ("Yoga Mat", "Dumbbell", "Bottle", "Helmet", "Racket", "Ball"),
    "beauty": ("Soap", "Serum", "Brush", "Lotion", "Perfume", "Mirror"),
}
_ADJECTIVES = ("Classic", "Smart", "Eco", "Compact", "Deluxe", "Urban", "Nordic", "Vintage", "Pro", "Mini")
_BRANDS = ("Acme", "Nordwind", "Lumen", "Kestrel", "Orbit", "Fjord", "Halcyon", "Tessera")
_MOBILE_OFFSETS = tuple(timezone(timedelta(hours=h)) for h in (1, 0, 2, -5, -8, 1, 0))
_APP_VERSIONS = {"ios": ("5.3.0", "5.3.1", "5.4.0"), "android": ("5.3.0", "5.4.0", "5.4.1")}
_BAD_PRICES = ("n/a", "TBD", "12,99 EUR", "--")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Record:
    """One delivered record: a dict, or the raw string of a record that is not JSON."""

    value: dict[str, Any] | str
    key: str  # order_id / Kinesis partition key (session_id) / product_id / payment_id
    flaws: frozenset[str] = frozenset()
    reason: str | None = None  # why it is malformed or out of range, e.g. "not_json", "bad_price"

    @property
    def body(self) -> str:
        """The text as delivered (JSON for dict values; datetimes and decimals as strings)."""
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, separators=(",", ":"), default=_json_default)

    def has(self, flaw: str) -> bool:
        return flaw in self.flaws


@dataclass(frozen=True)
class DemoDay:
    """Everything the shop's sources deliver on one day."""

    day: date
    seed: int
    orders: list[Record] = field(default_factory=list)
    clickstream: list[Record] = field(default_factory=list)
    products: list[Record] = field(default_factory=list)
    payments: list[Record] = field(default_factory=list)
    fx_rates: list[dict[str, str]] = field(default_factory=list)

    @property
    def schema_changed(self) -> bool:
        return self.day >= SCHEMA_CHANGE_DATE

    @property
    def product_columns(self) -> tuple[str, ...]:
        return PRODUCT_COLUMNS_FROM_SCHEMA_CHANGE if self.schema_changed else PRODUCT_COLUMNS

    def product_files(self) -> list[tuple[str, str]]:
        """(file name, CSV text with header) for the partner's drop of the day, in order."""
        files = []
        for n, start in enumerate(range(0, len(self.products), PRODUCT_FILE_ROWS), start=1):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.product_columns)
            for record in self.products[start : start + PRODUCT_FILE_ROWS]:
                assert isinstance(record.value, dict)
                writer.writerow(record.value[c] for c in self.product_columns)
            files.append((f"products-{n}.csv.gz", buf.getvalue()))
        return files

    def summary(self) -> dict[str, dict[str, int]]:
        """Per dataset: records delivered and how many carry each flaw (orders also count updates)."""
        out: dict[str, dict[str, int]] = {}
        for name in ("orders", "clickstream", "products", "payments"):
            records: list[Record] = getattr(self, name)
            counts = Counter(flaw for r in records for flaw in r.flaws)
            out[name] = {"records": len(records), **{f: counts.get(f, 0) for f in _FLAWS[name]}}
        out["orders"]["updates"] = sum(
            1 for r in self.orders if isinstance(r.value, dict) and r.value["ordered_at"].date() < self.day
        )
        out["fx_rates"] = {"records": len(self.fx_rates)}
        return out


_FLAWS = {
    "orders": (OUT_OF_RANGE,),
    "clickstream": (DUPLICATE, LATE, MALFORMED),
    "products": (DUPLICATE, MALFORMED),
    "payments": (DUPLICATE, MALFORMED),
}


def generate_day(day: date | str, seed: int = DEFAULT_SEED) -> DemoDay:
    """All five datasets as delivered on ``day`` (pure and deterministic)."""
    day = as_date(day)
    return DemoDay(
        day=day,
        seed=seed,
        orders=order_rows(day, seed),
        clickstream=clickstream_records(day, seed),
        products=product_rows(day, seed),
        payments=payment_messages(day, seed),
        fx_rates=rates_for(day),
    )


def as_date(day: date | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, str):
        return date.fromisoformat(day)
    return day


# --- deterministic randomness -------------------------------------------------------------------


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _rng(*parts: object) -> random.Random:
    """An independent random stream for one purpose (Random(int) is stable across Python versions)."""
    return random.Random(_digest(*parts))  # noqa: S311 - demo data, not security


def _unit(*parts: object) -> float:
    return _digest(*parts) / 2**64


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _at(day: date, ms: int) -> datetime:
    return datetime.combine(day, time(), UTC) + timedelta(milliseconds=ms)


def _iso(moment: datetime, tz: timezone = UTC) -> str:
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _insert_after(rng: random.Random, items: list[Record], index: int, record: Record) -> None:
    items.insert(rng.randint(index + 1, len(items)), record)


# --- products -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    category: str
    brand: str  # "" when the partner does not know it
    base_price: Decimal  # EUR
    introduced_at: datetime  # CATALOG_EPOCH midnight for the base catalog


def _charm_price(value: float) -> Decimal:
    return Decimal(max(2, round(value))) - _CENT


def _make_product(rng: random.Random, product_id: str, introduced_at: datetime) -> Product:
    category = rng.choice(sorted(_CATEGORIES))
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_CATEGORIES[category])}"
    brand = "" if rng.random() < 0.1 else rng.choice(_BRANDS)
    return Product(
        product_id, name, category, brand, _charm_price(rng.lognormvariate(3.3, 0.8)), introduced_at
    )


@lru_cache(maxsize=8)
def _base_products(seed: int) -> tuple[Product, ...]:
    epoch = _at(CATALOG_EPOCH, 0)
    return tuple(
        _make_product(_rng(seed, "product", i), f"SKU-{10_000 + i}", epoch)
        for i in range(1, N_BASE_PRODUCTS + 1)
    )


@lru_cache(maxsize=512)
def _new_products(seed: int, day: date) -> tuple[Product, ...]:
    """Products the partner introduces on ``day`` (none up to CATALOG_EPOCH)."""
    if day <= CATALOG_EPOCH:
        return ()
    rng = _rng(seed, "new-products", day)
    return tuple(
        _make_product(rng, f"SKU-{day:%y%m%d}{n:02d}", _at(day, rng.randint(0, 6 * 3_600_000)))
        for n in range(1, rng.randint(2, 5) + 1)
    )


@lru_cache(maxsize=64)
def _catalog(seed: int, day: date) -> tuple[Product, ...]:
    """Every product that exists at the end of ``day``."""
    products = list(_base_products(seed))
    d = CATALOG_EPOCH + timedelta(days=1)
    while d <= day:
        products.extend(_new_products(seed, d))
        d += timedelta(days=1)
    return tuple(products)


def _price_change(seed: int, product: Product, day: date) -> tuple[Decimal, datetime] | None:
    """The new price and change time if ``product``'s price changes on ``day`` (~10% of days)."""
    if day <= product.introduced_at.date() or day <= CATALOG_EPOCH:
        return None
    if _unit(seed, "price-change", product.product_id, day) >= 0.1:
        return None
    rng = _rng(seed, "price", product.product_id, day)
    price = _charm_price(float(product.base_price) * rng.uniform(0.8, 1.2))
    return price, _at(day, rng.randint(0, 6 * 3_600_000))


def _price_as_of(seed: int, product: Product, day: date) -> tuple[Decimal, datetime]:
    """(price, updated_at) at the end of ``day``."""
    start = max(product.introduced_at.date(), CATALOG_EPOCH)
    d = day
    while d > start:
        change = _price_change(seed, product, d)
        if change:
            return change
        d -= timedelta(days=1)
    return product.base_price, product.introduced_at


def _product_row(product: Product, price: str, updated_at: datetime, with_brand: bool) -> dict[str, str]:
    row = {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "price": price,
        "currency": "EUR",
        "updated_at": _iso(updated_at),
    }
    if with_brand:
        row["brand"] = product.brand
    return row


def product_rows(day: date, seed: int = DEFAULT_SEED) -> list[Record]:
    """The partner's rows of ``day``: changes and new products; a full snapshot on Mondays."""
    day = as_date(day)
    with_brand = day >= SCHEMA_CHANGE_DATE
    snapshot = day.weekday() == 0
    rng = _rng(seed, "product-file", day)
    records: list[Record] = []
    unchanged: list[Product] = []
    for product in _catalog(seed, day):
        price, updated_at = _price_as_of(seed, product, day)
        if snapshot or updated_at.date() == day:
            row = _product_row(product, f"{price:.2f}", updated_at, with_brand)
            records.append(Record(row, product.product_id))
        if updated_at.date() != day:
            unchanged.append(product)
    records.sort(key=lambda r: (r.value["updated_at"], r.key))  # type: ignore[index]

    victim = rng.choice(unchanged)
    bad = _product_row(victim, rng.choice(_BAD_PRICES), _at(day, rng.randint(0, 6 * 3_600_000)), with_brand)
    records.insert(
        rng.randint(0, len(records)), Record(bad, victim.product_id, frozenset({MALFORMED}), "bad_price")
    )

    valid = [i for i, r in enumerate(records) if not r.flaws]
    original = rng.choice(valid)
    dup = records[original]
    _insert_after(rng, records, original, Record(dup.value, dup.key, frozenset({DUPLICATE})))
    return records


# --- orders and payments --------------------------------------------------------------------------


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


# --- clickstream ----------------------------------------------------------------------------------


def _iter_sessions(seed: int, day: date, catalog: Sequence[Product]) -> Iterator[list[tuple[datetime, dict]]]:
    """Sessions starting on ``day``: lists of (UTC event time, event without event_time)."""
    rng = _rng(seed, "clickstream", day)
    with_app_version = day >= SCHEMA_CHANGE_DATE
    for _ in range(rng.randint(650, 750) + (100 if day.weekday() >= 5 else 0)):
        session_id = _uuid(rng)
        platform = rng.choices(PLATFORMS, weights=(55, 25, 20))[0]
        user_id = None if rng.random() < 0.35 else rng.randint(*CUSTOMER_IDS)
        app_version = rng.choice(_APP_VERSIONS[platform]) if platform != "web" else None
        moment = _at(day, rng.randint(0, 23 * 3_600_000))
        steps: list[tuple[str, str | None]] = [("page_view", None)] * rng.randint(1, 4)
        if rng.random() < 0.7:
            viewed = [rng.choice(catalog).product_id for _ in range(rng.randint(1, 4))]
            steps += [("product_view", p) for p in viewed]
            if rng.random() < 0.3:
                cart = rng.choice(viewed)
                steps.append(("add_to_cart", cart))
                if rng.random() < 0.5:
                    steps.append(("checkout", cart))
                    if rng.random() < 0.7:
                        steps.append(("purchase", cart))
        session = []
        for event_type, product_id in steps:
            event: dict[str, Any] = {
                "event_id": _uuid(rng),
                "session_id": session_id,
                "user_id": user_id,
                "event_type": event_type,
                "product_id": product_id,
                "platform": platform,
            }
            if with_app_version and app_version is not None:
                event["app_version"] = app_version
            session.append((moment, event))
            moment += timedelta(milliseconds=rng.randint(3_000, 90_000))
        yield session


def _event(event: dict[str, Any], moment: datetime, tz: timezone) -> dict[str, Any]:
    out = {k: v for k, v in event.items() if k != "app_version"}
    out["event_time"] = _iso(moment, tz)
    if "app_version" in event:
        out["app_version"] = event["app_version"]
    return out


def clickstream_records(day: date, seed: int = DEFAULT_SEED) -> list[Record]:
    """The Kinesis records of ``day`` in arrival order, flaws included."""
    day = as_date(day)
    rng = _rng(seed, "clickstream-flaws", day)
    sessions = list(_iter_sessions(seed, day, _catalog(seed, day)))
    total = sum(len(s) for s in sessions)

    late: dict[int, int] = {}  # session index -> days late
    late_events, target = 0, round(0.02 * total)
    for index in rng.sample(range(len(sessions)), len(sessions)):
        if late_events >= target:
            break
        late[index] = rng.randint(1, 3)
        late_events += len(sessions[index])

    arriving: list[tuple[datetime, int, Record]] = []
    for index, session in enumerate(sessions):
        platform = session[0][1]["platform"]
        tz = UTC if platform == "web" else _MOBILE_OFFSETS[_digest(seed, session[0][1]["session_id"]) % 7]
        shift = timedelta(days=late.get(index, 0))
        flaws = frozenset({LATE}) if index in late else frozenset()
        for moment, event in session:
            arrival = moment + timedelta(milliseconds=rng.randint(100, 5_000))
            record = Record(_event(event, moment - shift, tz), event["session_id"], flaws)
            arriving.append((arrival, len(arriving), record))
    arriving.sort(key=lambda t: (t[0], t[1]))
    records = [r for _, _, r in arriving]

    for original in sorted(rng.sample(range(len(records)), round(0.01 * total)), reverse=True):
        dup = records[original]
        _insert_after(rng, records, original, Record(dup.value, dup.key, dup.flaws | {DUPLICATE}))

    kinds = ["not_json", "bad_event_time", "missing_event_id"]
    kinds += rng.choices(kinds, k=rng.randint(0, 3))
    for kind in kinds:
        source = rng.choice(records[: len(records) // 2 or 1]).value
        assert isinstance(source, dict)
        event = {**source, "event_id": _uuid(rng)}  # an extra event that got corrupted, not a lost one
        value: dict[str, Any] | str
        if kind == "not_json":
            text = json.dumps(event, separators=(",", ":"))
            value = text[: rng.randint(10, len(text) - 10)]
        elif kind == "bad_event_time":
            value = {**event, "event_time": "not-a-date"}
        else:
            value = {k: v for k, v in event.items() if k != "event_id"}
        records.insert(
            rng.randint(0, len(records)), Record(value, event["session_id"], frozenset({MALFORMED}), kind)
        )
    return records
