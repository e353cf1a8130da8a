"""The vocabulary of the demo shop: its constants, flaw tags and the delivered :class:`Record`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

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


def as_date(day: date | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, str):
        return date.fromisoformat(day)
    return day


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
