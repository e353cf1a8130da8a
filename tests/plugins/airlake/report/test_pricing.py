"""The price table: the committed file is complete and dated; broken files fail naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from airlake.report.pricing import (
    DEFAULT_PRICING_FILE,
    GIB,
    MIB,
    PRICING_FILE_ENV,
    REQUIRED_CLASSES,
    TIB,
    PricingError,
    load_price_table,
    parse_price_table,
    pricing_file,
)


def _raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PRICING_FILE.read_text())


def test_committed_table_prices_the_tiering_classes_in_both_regions() -> None:
    table = load_price_table()
    assert table.source.startswith("https://aws.amazon.com/s3/pricing/")
    assert table.as_of.year >= 2024
    assert table.currency == "USD"
    for region in ("eu-west-1", "us-east-1"):
        prices = table.region(region)
        assert set(REQUIRED_CLASSES) <= set(prices.storage_gb_month)
        # colder is cheaper, and Athena has a price
        ladder = [
            prices.storage_gb_month[c] for c in ("STANDARD", "STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE")
        ]
        assert ladder == sorted(ladder, reverse=True)
        assert prices.athena_per_tb > 0
    text = DEFAULT_PRICING_FILE.read_text()
    assert "# Source:" in text and "as_of:" in text  # where the prices come from and when


def test_costs_are_bytes_times_price() -> None:
    prices = load_price_table().region("us-east-1")
    raw = _raw()["regions"]["us-east-1"]
    assert prices.storage_cost(5 * GIB, "GLACIER") == pytest.approx(5 * raw["storage_gb_month"]["GLACIER"])
    assert prices.storage_cost(1, "NO_SUCH_CLASS") is None
    per_tb = raw["athena"]["per_tb_scanned"]
    assert prices.athena_cost(2 * TIB) == pytest.approx(2 * per_tb)
    # a query is billed at least 10 MB, and rounded up to the MB
    assert prices.athena_billed_bytes(1) == 10 * MIB
    assert prices.athena_billed_bytes(20 * MIB + 1) == 21 * MIB


def test_pricing_file_comes_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    assert pricing_file() == DEFAULT_PRICING_FILE
    other = tmp_path / "prices.yaml"
    other.write_text(DEFAULT_PRICING_FILE.read_text())
    monkeypatch.setenv(PRICING_FILE_ENV, str(other))
    assert pricing_file() == other
    assert load_price_table().path == str(other)


def _broken(change) -> dict[str, Any]:
    document = copy.deepcopy(_raw())
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda d: d.pop("source"), r"source: Field required", id="no-source"),
        pytest.param(lambda d: d.pop("as_of"), r"as_of: Field required", id="no-date"),
        pytest.param(
            lambda d: d["regions"]["eu-west-1"]["storage_gb_month"].update(STANDARD_AI=0.01),
            r"regions\.eu-west-1\.storage_gb_month: .*unknown storage class\(es\) \['STANDARD_AI'\]",
            id="typo-in-class",
        ),
        pytest.param(
            lambda d: d["regions"]["us-east-1"]["storage_gb_month"].pop("GLACIER"),
            r"regions\.us-east-1\.storage_gb_month: .*missing price\(s\) for \['GLACIER'\]",
            id="missing-class",
        ),
        pytest.param(
            lambda d: d["regions"]["us-east-1"]["storage_gb_month"].update(STANDARD=-1),
            r"regions\.us-east-1\.storage_gb_month\.STANDARD: .*greater than or equal to 0 \(got -1\)",
            id="negative",
        ),
        pytest.param(
            lambda d: d["regions"]["us-east-1"]["athena"].update(per_tb_scanned="five"),
            r"regions\.us-east-1\.athena\.per_tb_scanned: .*valid number.*\(got 'five'\)",
            id="not-a-number",
        ),
        pytest.param(lambda d: d.update(regions={}), r"regions: .*at least 1", id="no-region"),
        pytest.param(lambda d: d.update(price=1), r"price: Extra inputs are not permitted", id="unknown-key"),
    ],
)
def test_invalid_tables_name_the_field(change, message: str) -> None:
    with pytest.raises(PricingError, match=message) as info:
        parse_price_table(_broken(change), path="include/pricing/s3_prices.yaml")
    assert str(info.value).startswith("price table include/pricing/s3_prices.yaml:")


def test_unreadable_files_and_regions(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match=r"(?s)missing\.yaml: .*cannot read the file"):
        load_price_table(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [unclosed\n")
    with pytest.raises(PricingError, match="not valid YAML"):
        load_price_table(bad)
    bad.write_text("- a list\n")
    with pytest.raises(PricingError, match="top level must be a mapping"):
        load_price_table(bad)
    with pytest.raises(PricingError, match=r"no prices for region 'mars-1'; the file prices \['eu-west-1'"):
        load_price_table().region("mars-1")
