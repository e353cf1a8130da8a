"""Tiering policies: contracts + zone defaults -> validated rule set; S3's rules give clear errors."""

from __future__ import annotations

import re

import pytest

from airlake.contracts import get_contract
from airlake.contracts.model import Tiering
from airlake.tiering import TieringPolicyError, TierPolicy, ZoneDefaults, build_rule_set, validate_policy


def _orders_with(**tiering: int | None):
    """The orders contract with another tiering section (as if its YAML had been edited)."""
    return get_contract("orders").model_copy(update={"tiering": Tiering(**tiering)})


def test_curated_objects_are_dated_by_the_contracts_partition_column() -> None:
    orders = get_contract("orders")
    by_day = orders.model_copy(
        update={"partitioning": orders.partitioning.model_copy(update={"column": "day"})}
    )
    rule_set = build_rule_set([by_day])
    assert rule_set.policy("curated/orders").date_key == "day"
    assert rule_set.policy("raw/orders").date_key == "ingest_date"


def test_every_contract_gives_raw_and_curated_policies_plus_zone_rules() -> None:
    orders = get_contract("orders")
    rule_set = build_rule_set([orders, get_contract("clickstream")])

    names = [p.name for p in rule_set.policies]
    assert names == [
        "raw/orders",
        "curated/orders",
        "raw/clickstream",
        "curated/clickstream",
        "quarantine",
        "curated-superseded",
    ]
    raw = rule_set.policy("raw/orders")
    assert (raw.prefix, raw.date_key) == ("raw/orders/", "ingest_date")
    assert (raw.standard_ia_after_days, raw.glacier_after_days, raw.expire_after_days) == (
        orders.tiering.standard_ia_after_days,
        orders.tiering.glacier_after_days,
        orders.tiering.expire_after_days,
    )
    assert raw.lifecycle_archive is True
    curated = rule_set.policy("curated/orders")
    assert (curated.prefix, curated.date_key, curated.lifecycle_archive) == ("curated/orders/", "dt", False)
    assert rule_set.policy("quarantine").expire_after_days == 90
    assert rule_set.policy("curated-superseded").tag == ("airlake:superseded", "true")
    assert rule_set.abort_multipart_after_days == 7
    assert raw.source.endswith("orders.yaml: tiering")


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(0, None, id="fresh"),
        pytest.param(29, None, id="day-29"),
        pytest.param(30, "STANDARD_IA", id="day-30"),
        pytest.param(89, "STANDARD_IA", id="day-89"),
        pytest.param(90, "GLACIER", id="day-90"),
        pytest.param(5000, "GLACIER", id="old"),
    ],
)
def test_target_class_by_age(age: int, expected: str | None) -> None:
    policy = TierPolicy(
        name="raw/x",
        zone="raw",
        dataset="x",
        prefix="raw/x/",
        standard_ia_after_days=30,
        glacier_after_days=90,
    )
    assert policy.target_class(age) == expected


def test_zone_override_applies_to_every_dataset_and_a_dataset_override_wins() -> None:
    rule_set = build_rule_set(
        [get_contract("orders"), get_contract("payments")],
        overrides={"curated": {"expire_after_days": None}, "curated/payments": {"glacier_after_days": 400}},
    )
    assert rule_set.policy("curated/orders").expire_after_days is None
    assert rule_set.policy("curated/payments").expire_after_days is None
    assert rule_set.policy("curated/payments").glacier_after_days == 400
    assert rule_set.policy("raw/payments").expire_after_days == 3650  # other zones untouched
    assert "overrides['curated/payments']" in rule_set.policy("curated/payments").source


@pytest.mark.parametrize(
    ("overrides", "scope", "field", "message"),
    [
        pytest.param(
            {"raw/orders": {"standard_ia_after_days": 20}},
            "raw/orders",
            "standard_ia_after_days",
            "STANDARD_IA only after >= 30 days",
            id="ia-too-early",
        ),
        pytest.param(
            {"raw/orders": {"standard_ia_after_days": 60, "glacier_after_days": 80}},
            "raw/orders",
            "glacier_after_days",
            "must stay 30 days in STANDARD_IA (standard_ia_after_days 60) before GLACIER: use >= 90",
            id="glacier-inside-ia-minimum",
        ),
        pytest.param(
            {"curated": {"glacier_after_days": 200, "expire_after_days": 250}},
            "curated/orders",
            "expire_after_days",
            "inside GLACIER's minimum storage duration of 90 days after glacier_after_days (200): "
            "S3 charges the early deletion; use >= 290",
            id="expire-inside-glacier-minimum",
        ),
        pytest.param(
            {"raw/orders": {"expire_after_days": 100}},
            "raw/orders",
            "expire_after_days",
            "not after glacier_after_days (180): transitions come before expiry",
            id="expire-before-transition",
        ),
        pytest.param(
            {"raw/orders": {"min_transition_size": 1024}},
            "raw/orders",
            "min_transition_size",
            "bills every object as at least 131072 bytes",
            id="ia-for-small-objects",
        ),
        pytest.param(
            {"raw/orders": {"archive_class": "GLACIERS"}},
            "raw/orders",
            "archive_class",
            "must be one of GLACIER_IR, GLACIER, DEEP_ARCHIVE",
            id="unknown-class",
        ),
        pytest.param(
            {"quarantine": {"expire_after_days": 0}},
            "quarantine",
            "expire_after_days",
            "must be a whole number of days >= 1, got 0",
            id="expire-zero",
        ),
        pytest.param(
            {"raw/nope": {"expire_after_days": 10}},
            "raw/nope",
            "(override)",
            "matches no policy",
            id="unknown-target",
        ),
        pytest.param(
            {"raw/orders": {"prefix": "x/"}},
            "raw/orders",
            "prefix",
            "cannot be overridden",
            id="unknown-field",
        ),
    ],
)
def test_invalid_settings_name_the_policy_and_the_field(
    overrides: dict, scope: str, field: str, message: str
) -> None:
    with pytest.raises(TieringPolicyError) as raised:
        build_rule_set([get_contract("orders")], overrides=overrides)
    [issue] = [i for i in raised.value.issues if i.field == field]
    assert issue.scope == scope
    assert message in issue.message
    assert f"{scope}: {field}: " in str(raised.value)


def test_a_contract_valid_for_the_model_can_still_break_s3_minimum_durations() -> None:
    """The contract model checks ordering; S3 also bills Glacier for 90 days: expiring at 100 costs more."""
    contract = _orders_with(standard_ia_after_days=30, glacier_after_days=60, expire_after_days=100)

    with pytest.raises(TieringPolicyError) as raised:
        build_rule_set([contract])

    text = str(raised.value)
    assert re.search(r"raw/orders: expire_after_days: .*use >= 150 \(from .*orders\.yaml: tiering\)", text)
    assert re.search(r"curated/orders: expire_after_days: .*use >= 150", text)
    assert text.startswith("2 invalid tiering setting(s):")


def test_zone_defaults_are_validated_too() -> None:
    with pytest.raises(
        TieringPolicyError, match=r"bucket: abort_multipart_after_days: must be a whole number"
    ):
        build_rule_set([], defaults=ZoneDefaults(abort_multipart_after_days=0))
    with pytest.raises(TieringPolicyError, match=r"quarantine: expire_after_days: .* got -1"):
        build_rule_set([], defaults=ZoneDefaults(quarantine_expire_after_days=-1))


def test_policy_without_standard_ia_may_archive_small_objects_and_glacier_directly() -> None:
    policy = TierPolicy(
        name="raw/x",
        zone="raw",
        dataset="x",
        prefix="raw/x/",
        glacier_after_days=0,
        min_transition_size=0,
        expire_after_days=90,
    )
    assert validate_policy(policy) == []
    assert policy.target_class(0) == "GLACIER"


def test_only_raw_and_curated_follow_the_contract_by_default() -> None:
    rule_set = build_rule_set([get_contract("orders")], defaults=ZoneDefaults(contract_zones=("raw",)))
    assert [p.name for p in rule_set.policies] == ["raw/orders", "quarantine", "curated-superseded"]
