"""Lifecycle configuration: owned rules from the policies, merged with foreign rules, idempotent."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from airlake.contracts import get_contract
from airlake.tiering import apply_lifecycle, build_rule_set, diff_rules, lifecycle_rules
from airlake.tiering.lifecycle import get_lifecycle, merge_rules, rule_stem

FOREIGN = [
    {"ID": "logs-expiry", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 14}},
    {
        "ID": "compliance-tagged",
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": "retention", "Value": "short"}},
        "Expiration": {"Days": 30},
    },
]


def _rules(**overrides: Any) -> list[dict[str, Any]]:
    contracts = [get_contract("orders"), get_contract("clickstream")]
    return lifecycle_rules(build_rule_set(contracts, overrides=overrides or None))


def _by_stem(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule_stem(rule["ID"]): rule for rule in rules}


def test_rules_from_the_policies() -> None:
    rules = _by_stem(_rules())
    clickstream = get_contract("clickstream").tiering

    assert rules["raw/clickstream:transition"]["Filter"] == {
        "And": {"Prefix": "raw/clickstream/", "ObjectSizeGreaterThan": 131072}
    }
    assert rules["raw/clickstream:transition"]["Transitions"] == [
        {"Days": clickstream.standard_ia_after_days, "StorageClass": "STANDARD_IA"},
        {"Days": clickstream.glacier_after_days, "StorageClass": "GLACIER"},
    ]
    # expiry covers objects of every size: its own rule, without the size filter
    assert rules["raw/clickstream:expire"]["Filter"] == {"Prefix": "raw/clickstream/"}
    assert rules["raw/clickstream:expire"]["Expiration"] == {"Days": clickstream.expire_after_days}
    # curated is archived by the operator (which flags Glue first), never by lifecycle
    assert rules["curated/clickstream:transition"]["Transitions"] == [
        {"Days": clickstream.standard_ia_after_days, "StorageClass": "STANDARD_IA"}
    ]
    assert "raw/orders:expire" not in rules  # orders keeps its data forever
    assert rules["quarantine:expire"] == {
        **rules["quarantine:expire"],
        "Filter": {"Prefix": "quarantine/"},
        "Expiration": {"Days": 90},
    }
    assert rules["curated-superseded:expire"]["Filter"] == {
        "And": {"Prefix": "curated/", "Tags": [{"Key": "airlake:superseded", "Value": "true"}]}
    }
    assert rules["bucket:abort-multipart"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert all(rule["ID"].startswith("airlake:") and rule["Status"] == "Enabled" for rule in rules.values())


def test_rule_ids_change_only_with_their_content() -> None:
    before, after = _by_stem(_rules()), _by_stem(_rules(**{"raw/orders": {"glacier_after_days": 200}}))
    assert before["raw/orders:transition"]["ID"] != after["raw/orders:transition"]["ID"]
    assert {s for s in before if before[s]["ID"] != after[s]["ID"]} == {"raw/orders:transition"}


def test_apply_merges_with_foreign_rules_and_reapplying_is_a_no_op(lake) -> None:
    s3 = lake.client
    s3.put_bucket_lifecycle_configuration(Bucket=lake.bucket, LifecycleConfiguration={"Rules": FOREIGN})
    desired = _rules()

    diff = apply_lifecycle(s3, lake.bucket, desired)

    assert sorted(diff.added) == sorted(_by_stem(desired))
    assert (diff.changed, diff.removed, diff.unchanged) == ((), (), ())
    assert diff.foreign == ("logs-expiry", "compliance-tagged")
    rules = get_lifecycle(s3, lake.bucket)["Rules"]
    assert [rule["ID"] for rule in rules] == [r["ID"] for r in FOREIGN] + [r["ID"] for r in desired]
    assert [r for r in rules if not r["ID"].startswith("airlake:")] == FOREIGN  # untouched
    for stored, wanted in zip(rules[len(FOREIGN) :], desired, strict=True):
        assert stored.get("Transitions") == wanted.get("Transitions")
        assert stored.get("Expiration") == wanted.get("Expiration")

    with mock.patch.object(s3, "put_bucket_lifecycle_configuration") as put:
        again = apply_lifecycle(s3, lake.bucket, _rules())
    assert again.empty and again.lines == ()
    assert sorted(again.unchanged) == sorted(_by_stem(desired))
    put.assert_not_called()
    assert get_lifecycle(s3, lake.bucket)["Rules"] == rules


def test_a_changed_policy_rewrites_only_its_rule_and_a_dropped_dataset_loses_its_rules(lake) -> None:
    s3 = lake.client
    s3.put_bucket_lifecycle_configuration(Bucket=lake.bucket, LifecycleConfiguration={"Rules": FOREIGN})
    apply_lifecycle(s3, lake.bucket, _rules())
    orders_only = lifecycle_rules(
        build_rule_set([get_contract("orders")], overrides={"raw/orders": {"glacier_after_days": 365}})
    )

    diff = apply_lifecycle(s3, lake.bucket, orders_only)

    assert diff.changed == ("raw/orders:transition",)
    assert set(diff.removed) == {
        "raw/clickstream:transition",
        "raw/clickstream:expire",
        "curated/clickstream:transition",
        "curated/clickstream:expire",
    }
    assert diff.added == ()
    assert any(
        line.startswith("~ airlake:raw/orders:transition@") and '"Days": 365' in line for line in diff.lines
    )
    rules = _by_stem(get_lifecycle(s3, lake.bucket)["Rules"])
    assert rules["raw/orders:transition"]["Transitions"][-1] == {"Days": 365, "StorageClass": "GLACIER"}
    assert not any(stem.startswith(("raw/clickstream", "curated/clickstream")) for stem in rules)
    assert {"logs-expiry", "compliance-tagged"} <= set(rules)


def test_dry_run_computes_the_diff_and_writes_nothing(lake) -> None:
    diff = apply_lifecycle(lake.client, lake.bucket, _rules(), dry_run=True)
    assert diff.added and not diff.empty
    assert get_lifecycle(lake.client, lake.bucket) == {"Rules": []}


def test_removing_every_owned_rule_keeps_foreign_ones_or_deletes_an_empty_configuration(lake) -> None:
    s3 = lake.client
    apply_lifecycle(s3, lake.bucket, _rules())
    apply_lifecycle(s3, lake.bucket, [])
    assert get_lifecycle(s3, lake.bucket) == {"Rules": []}

    s3.put_bucket_lifecycle_configuration(Bucket=lake.bucket, LifecycleConfiguration={"Rules": FOREIGN})
    apply_lifecycle(s3, lake.bucket, _rules())
    apply_lifecycle(s3, lake.bucket, [])
    assert get_lifecycle(s3, lake.bucket)["Rules"] == FOREIGN


def test_a_disabled_owned_rule_is_enabled_again() -> None:
    desired = _rules()
    current = [
        dict(rule, Status="Disabled") if rule_stem(rule["ID"]) == "quarantine:expire" else rule
        for rule in desired
    ]
    assert diff_rules(current, desired).changed == ("quarantine:expire",)


def test_foreign_rules_acting_on_airlake_prefixes_are_reported() -> None:
    foreign = [
        {"ID": "wipe-raw", "Status": "Enabled", "Filter": {"Prefix": "raw/"}, "Expiration": {"Days": 5}}
    ]
    diff = diff_rules(foreign, _rules())
    assert len(diff.warnings) == 1
    assert "'wipe-raw'" in diff.warnings[0] and "raw/orders/" in diff.warnings[0]
    assert merge_rules(foreign, [])[0] == foreign[0]


def test_desired_rules_must_be_owned(lake) -> None:
    with pytest.raises(ValueError, match="must all be owned"):
        apply_lifecycle(lake.client, lake.bucket, FOREIGN)
