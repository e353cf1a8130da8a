"""The partner's product catalog and its daily CSV rows (changes, new products, Monday snapshots)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from include.demo.shop.common import _CENT, _at, _insert_after, _iso, _rng, _unit
from include.demo.shop.records import (
    CATALOG_EPOCH,
    DEFAULT_SEED,
    DUPLICATE,
    MALFORMED,
    N_BASE_PRODUCTS,
    SCHEMA_CHANGE_DATE,
    Record,
    as_date,
)

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
_BAD_PRICES = ("n/a", "TBD", "12,99 EUR", "--")


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
