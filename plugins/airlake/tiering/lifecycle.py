"""S3 lifecycle configuration from the tiering policies, merged with the rules Airlake does not own.

A bucket has one lifecycle configuration, shared with whoever else manages the bucket (log expiry,
compliance rules...). Airlake owns exactly the rules whose ID starts with ``airlake:`` and rewrites
only those: foreign rules are kept as they are. Each owned ID ends with a hash of the rule's content
(``airlake:raw/orders:transition@1a2b3c4d``), so "unchanged" does not depend on how the service
echoes a rule back (moto, for one, drops ``ObjectSizeGreaterThan`` from the filter it returns):
re-applying the same policies finds the same IDs and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from airlake.tiering.policy import RuleSet, TierPolicy

log = logging.getLogger(__name__)

OWNED_PREFIX = "airlake:"
MAX_RULES = 1000
"""Most rules one lifecycle configuration holds."""
MAX_ID_LENGTH = 255


class LifecycleError(RuntimeError):
    """The bucket's lifecycle configuration could not be read or written."""


def is_owned(rule: dict[str, Any]) -> bool:
    return str(rule.get("ID") or "").startswith(OWNED_PREFIX)


def rule_stem(rule_id: str) -> str:
    """``airlake:raw/orders:transition@1a2b3c4d`` -> ``raw/orders:transition`` (what the rule is for)."""
    body = rule_id[len(OWNED_PREFIX) :] if rule_id.startswith(OWNED_PREFIX) else rule_id
    return body.rsplit("@", 1)[0]


def _owned_rule(stem: str, body: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    rule_id = f"{OWNED_PREFIX}{stem}@{digest}"
    if len(rule_id) > MAX_ID_LENGTH:
        raise LifecycleError(f"lifecycle rule ID longer than {MAX_ID_LENGTH} characters: {rule_id!r}")
    return {"ID": rule_id, **body}


def _filter(policy: TierPolicy, *, min_size: int = 0) -> dict[str, Any]:
    parts: dict[str, Any] = {"Prefix": policy.prefix}
    if min_size > 0:
        parts["ObjectSizeGreaterThan"] = min_size
    if policy.tag is not None:
        parts["Tags"] = [{"Key": policy.tag[0], "Value": policy.tag[1]}]
    return parts if len(parts) == 1 else {"And": parts}


def lifecycle_rules(rule_set: RuleSet) -> list[dict[str, Any]]:
    """
    The lifecycle rules Airlake owns, sorted by ID.

    Per policy: a ``transition`` rule limited to objects larger than ``min_transition_size`` (Standard-IA
    and archiving do not pay off below 128 KiB) and an ``expire`` rule for objects of every size (a
    rule's filter covers all its actions, hence two rules). Plus one bucket-wide rule aborting
    incomplete multipart uploads.
    """
    rules: list[dict[str, Any]] = []
    for policy in rule_set.policies:
        transitions = policy.lifecycle_transitions()
        if transitions:
            body = {
                "Status": "Enabled",
                "Filter": _filter(policy, min_size=policy.min_transition_size),
                "Transitions": [{"Days": days, "StorageClass": cls} for days, cls in transitions],
            }
            rules.append(_owned_rule(f"{policy.name}:transition", body))
        if policy.expire_after_days is not None:
            body = {
                "Status": "Enabled",
                "Filter": _filter(policy),
                "Expiration": {"Days": policy.expire_after_days},
            }
            rules.append(_owned_rule(f"{policy.name}:expire", body))
    if rule_set.abort_multipart_after_days is not None:
        body = {
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": rule_set.abort_multipart_after_days},
        }
        rules.append(_owned_rule("bucket:abort-multipart", body))
    return sorted(rules, key=lambda rule: rule["ID"])


@dataclass(frozen=True)
class LifecycleDiff:
    """What applying the owned rules changes, by rule stem; foreign rules are never in it."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    """IDs of the rules kept as they are (not Airlake's)."""
    lines: tuple[str, ...] = field(default=(), compare=False)
    """Human-readable diff, one line per added, changed or removed rule."""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "unchanged": len(self.unchanged),
            "foreign": list(self.foreign),
            "diff": list(self.lines),
            "warnings": list(self.warnings),
        }


def _show(rule: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in rule.items() if k != "ID"}, sort_keys=True)


def diff_rules(current: Sequence[dict[str, Any]], desired: Sequence[dict[str, Any]]) -> LifecycleDiff:
    """Compare the owned rules of ``current`` (the bucket's rules) with ``desired`` (all owned)."""
    owned = {rule_stem(str(rule["ID"])): rule for rule in current if is_owned(rule)}
    wanted = {rule_stem(str(rule["ID"])): rule for rule in desired}
    added, changed, removed, unchanged, lines = [], [], [], [], []
    for stem in sorted(wanted.keys() | owned.keys()):
        new, old = wanted.get(stem), owned.get(stem)
        if old is None and new is not None:
            added.append(stem)
            lines.append(f"+ {new['ID']} {_show(new)}")
        elif new is None and old is not None:
            removed.append(stem)
            lines.append(f"- {old['ID']} {_show(old)}")
        elif new is not None and old is not None:
            if old["ID"] == new["ID"] and old.get("Status") == new["Status"]:
                unchanged.append(stem)
            else:
                changed.append(stem)
                lines.append(f"~ {old['ID']} {_show(old)} -> {new['ID']} {_show(new)}")
    foreign = [rule for rule in current if not is_owned(rule)]
    return LifecycleDiff(
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        foreign=tuple(str(rule.get("ID") or "(no ID)") for rule in foreign),
        lines=tuple(lines),
        warnings=tuple(_overlaps(foreign, desired)),
    )


def _prefix_of(rule: dict[str, Any]) -> str | None:
    """The key prefix a rule acts on; None when it filters on tags or sizes only (cannot tell)."""
    filt = rule.get("Filter")
    if filt is None:
        return rule.get("Prefix")
    if "Prefix" in filt:
        return filt["Prefix"]
    if "And" in filt:
        return filt["And"].get("Prefix", "")
    return None


def _overlaps(foreign: Sequence[dict[str, Any]], desired: Sequence[dict[str, Any]]) -> list[str]:
    """Foreign rules that also expire or move objects under an Airlake prefix: S3 runs both."""
    warnings: list[str] = []
    ours = {
        p
        for rule in desired
        if (rule.get("Expiration") or rule.get("Transitions")) and (p := _prefix_of(rule)) is not None
    }
    for rule in foreign:
        if rule.get("Status") != "Enabled" or not (rule.get("Expiration") or rule.get("Transitions")):
            continue
        prefix = _prefix_of(rule)
        if prefix is None:
            continue
        hit = sorted(p for p in ours if p.startswith(prefix) or prefix.startswith(p))
        if hit:
            warnings.append(
                f"foreign lifecycle rule {rule.get('ID')!r} (prefix {prefix!r}) also expires or moves "
                f"objects under {', '.join(hit)}: S3 applies both rules"
            )
    return warnings


def merge_rules(current: Sequence[dict[str, Any]], desired: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The configuration to write: every foreign rule as it is, then the owned rules as desired."""
    return [dict(rule) for rule in current if not is_owned(rule)] + [dict(rule) for rule in desired]


def get_lifecycle(client: Any, bucket: str) -> dict[str, Any]:
    """
    The bucket's lifecycle configuration (``Rules`` and, when set, ``TransitionDefaultMinimumObjectSize``);
    no rules when it has none.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.get_bucket_lifecycle_configuration`
    """
    try:
        response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return {"Rules": []}
        raise LifecycleError(f"reading the lifecycle configuration of s3://{bucket} failed: {exc}") from exc
    config: dict[str, Any] = {"Rules": list(response.get("Rules") or [])}
    if response.get("TransitionDefaultMinimumObjectSize"):
        config["TransitionDefaultMinimumObjectSize"] = response["TransitionDefaultMinimumObjectSize"]
    return config


def apply_lifecycle(
    client: Any, bucket: str, desired: Sequence[dict[str, Any]], *, dry_run: bool = False
) -> LifecycleDiff:
    """
    Make the bucket's owned lifecycle rules equal ``desired``, keeping every foreign rule. Idempotent:
    nothing is written when the owned rules already match. Logs the diff.

    S3 has no conditional write for lifecycle configurations: a change to a foreign rule made between
    this read and write is lost, so run one tiering task per bucket at a time.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.put_bucket_lifecycle_configuration`
        - :external+boto3:py:meth:`S3.Client.delete_bucket_lifecycle`

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param desired: the owned rules (:func:`lifecycle_rules`); every ID must start with ``airlake:``.
    :param dry_run: compute and log the diff only.
    """
    foreign_ids = [rule["ID"] for rule in desired if not is_owned(rule)]
    if foreign_ids:
        raise ValueError(f"desired lifecycle rules must all be owned ({OWNED_PREFIX}...): {foreign_ids}")
    config = get_lifecycle(client, bucket)
    current = config["Rules"]
    diff = diff_rules(current, desired)
    for warning in diff.warnings:
        log.warning("s3://%s: %s", bucket, warning)
    if diff.empty:
        log.info(
            "Lifecycle of s3://%s unchanged: %d Airlake rule(s), %d foreign rule(s) kept",
            bucket,
            len(diff.unchanged),
            len(diff.foreign),
        )
        return diff
    merged = merge_rules(current, desired)
    if len(merged) > MAX_RULES:
        raise LifecycleError(
            f"s3://{bucket} would have {len(merged)} lifecycle rules, more than S3's {MAX_RULES} "
            f"({len(desired)} Airlake, {len(merged) - len(desired)} foreign)"
        )
    log.info(
        "%s lifecycle of s3://%s: %d added, %d changed, %d removed, %d unchanged, %d foreign kept\n%s",
        "Would change" if dry_run else "Changing",
        bucket,
        len(diff.added),
        len(diff.changed),
        len(diff.removed),
        len(diff.unchanged),
        len(diff.foreign),
        "\n".join(diff.lines),
    )
    if dry_run:
        return diff
    try:
        if merged:
            extra = {}
            if config.get("TransitionDefaultMinimumObjectSize"):
                extra["TransitionDefaultMinimumObjectSize"] = config["TransitionDefaultMinimumObjectSize"]
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": merged}, **extra
            )
        else:
            client.delete_bucket_lifecycle(Bucket=bucket)
    except ClientError as exc:
        # the write may have been applied and only its reply lost: what the bucket holds now decides
        try:
            now = get_lifecycle(client, bucket)["Rules"]
        except LifecycleError:
            now = None
        if now is None or not diff_rules(now, desired).empty:
            raise LifecycleError(
                f"writing the lifecycle configuration of s3://{bucket} failed: {exc}; "
                f"wanted Airlake rules {sorted(rule['ID'] for rule in desired)}, found "
                + (
                    "(unreadable)"
                    if now is None
                    else str(sorted(rule["ID"] for rule in now if is_owned(rule)))
                )
            ) from exc
        log.info("Lifecycle of s3://%s already as wanted after a failed write (a lost reply)", bucket)
    return diff
