"""One delivery day of the demo shop: every dataset of the day, its product files and its summary."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from include.demo.fx_api import rates_for
from include.demo.shop.clickstream import clickstream_records
from include.demo.shop.orders import order_rows
from include.demo.shop.payments import payment_messages
from include.demo.shop.products import product_rows
from include.demo.shop.records import (
    DEFAULT_SEED,
    DUPLICATE,
    LATE,
    MALFORMED,
    OUT_OF_RANGE,
    PRODUCT_COLUMNS,
    PRODUCT_COLUMNS_FROM_SCHEMA_CHANGE,
    PRODUCT_FILE_ROWS,
    SCHEMA_CHANGE_DATE,
    Record,
    as_date,
)


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
