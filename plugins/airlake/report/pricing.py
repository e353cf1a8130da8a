"""The price table of the cost report: S3 storage per GB-month and Athena per TB, by region.

Prices are data, not code: they live in ``include/pricing/s3_prices.yaml`` (source and date written in
the file) so that a price change is a reviewed one-line edit. The file is validated when loaded; every
problem is reported with the file, the field and what is wrong.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airlake.paths import PROJECT_ROOT

GIB = 1024**3
"""S3 meters storage in GB = 2^30 bytes."""
TIB = 1024**4
MIB = 1024**2

PRICING_FILE_ENV = "AIRLAKE_PRICING_FILE"
DEFAULT_PRICING_FILE = PROJECT_ROOT / "include" / "pricing" / "s3_prices.yaml"

STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "INTELLIGENT_TIERING",
        "STANDARD_IA",
        "ONEZONE_IA",
        "GLACIER_IR",
        "GLACIER",
        "DEEP_ARCHIVE",
        "REDUCED_REDUNDANCY",
        "EXPRESS_ONEZONE",
        "OUTPOSTS",
        "SNOW",
    }
)
"""Every ``StorageClass`` S3's ListObjectsV2 can return: a key outside this set is a typo."""
REQUIRED_CLASSES = ("STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
"""The classes tiering moves data through: each region must price them."""

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PricingError(ValueError):
    """The price table is missing, unreadable or invalid, or has no prices for the asked region."""

    def __init__(self, path: str, issues: list[str]) -> None:
        self.path = path
        self.issues = list(issues)
        listed = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"price table {path}: {len(self.issues)} problem(s)\n{listed}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Athena(_Model):
    per_tb_scanned: Price
    minimum_mb_per_query: Price = 10.0


class _Region(_Model):
    storage_gb_month: dict[str, Price]
    athena: _Athena

    @field_validator("storage_gb_month")
    @classmethod
    def _known_classes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - STORAGE_CLASSES)
        if unknown:
            raise ValueError(f"unknown storage class(es) {unknown}; known: {sorted(STORAGE_CLASSES)}")
        missing = [name for name in REQUIRED_CLASSES if name not in value]
        if missing:
            raise ValueError(f"missing price(s) for {missing}")
        return value


class _Table(_Model):
    source: str = Field(min_length=1)
    as_of: date
    currency: str = Field(min_length=3, max_length=3)
    regions: dict[str, _Region] = Field(min_length=1)


@dataclass(frozen=True)
class RegionPrices:
    """The prices of one region."""

    region: str
    storage_gb_month: dict[str, float]
    athena_per_tb: float
    athena_minimum_mb: float

    def storage_cost(self, size: int, storage_class: str) -> float | None:
        """Monthly cost of ``size`` bytes in ``storage_class``; None when the class has no price."""
        price = self.storage_gb_month.get(storage_class)
        return None if price is None else size / GIB * price

    def athena_billed_bytes(self, bytes_scanned: int) -> int:
        """What Athena bills for one query: rounded up to the MB, at least the minimum."""
        rounded = math.ceil(max(bytes_scanned, 0) / MIB) * MIB
        return max(rounded, math.ceil(self.athena_minimum_mb * MIB))

    def athena_cost(self, bytes_scanned: int) -> float:
        return self.athena_billed_bytes(bytes_scanned) / TIB * self.athena_per_tb


@dataclass(frozen=True)
class PriceTable:
    """A validated price table: where it came from, as of when, and the regions it prices."""

    path: str
    source: str
    as_of: date
    currency: str
    regions: dict[str, RegionPrices]

    def region(self, name: str) -> RegionPrices:
        try:
            return self.regions[name]
        except KeyError:
            raise PricingError(
                self.path, [f"no prices for region {name!r}; the file prices {sorted(self.regions)}"]
            ) from None

    def describe(self, region: str) -> dict[str, Any]:
        """The prices used, as written into the report (so a report can be checked later)."""
        prices = self.region(region)
        return {
            "file": self.path,
            "source": self.source,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "region": region,
            "storage_gb_month": dict(sorted(prices.storage_gb_month.items())),
            "athena_per_tb_scanned": prices.athena_per_tb,
            "athena_minimum_mb_per_query": prices.athena_minimum_mb,
            "units": {"gb": GIB, "tb": TIB},
        }


def pricing_file() -> Path:
    """The price table in use: ``$AIRLAKE_PRICING_FILE`` or ``include/pricing/s3_prices.yaml``."""
    return Path(os.environ.get(PRICING_FILE_ENV) or DEFAULT_PRICING_FILE)


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def parse_price_table(document: Any, *, path: str = "(price table)") -> PriceTable:
    """Validate a loaded YAML document; :class:`PricingError` lists every problem by field."""
    if not isinstance(document, dict):
        raise PricingError(path, [f"top level must be a mapping, got {type(document).__name__}"])
    try:
        table = _Table.model_validate(document)
    except ValidationError as exc:
        issues = [
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            + (f" (got {error['input']!r})" if error["type"] != "missing" and _short(error["input"]) else "")
            for error in exc.errors()
        ]
        raise PricingError(path, issues) from None
    return PriceTable(
        path=path,
        source=table.source,
        as_of=table.as_of,
        currency=table.currency,
        regions={
            name: RegionPrices(
                region=name,
                storage_gb_month=dict(region.storage_gb_month),
                athena_per_tb=region.athena.per_tb_scanned,
                athena_minimum_mb=region.athena.minimum_mb_per_query,
            )
            for name, region in table.regions.items()
        },
    )


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float) and len(repr(value)) <= 60


def load_price_table(path: str | os.PathLike[str] | None = None) -> PriceTable:
    """Read and validate the price table (default: :func:`pricing_file`)."""
    import yaml

    file = Path(path) if path else pricing_file()
    shown = _show(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(shown, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PricingError(shown, [f"not valid YAML: {exc}"]) from exc
    return parse_price_table(document, path=shown)
