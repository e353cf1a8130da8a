"""Tiering policies: each contract's ``tiering`` plus zone defaults, validated against S3's rules.

One :class:`TierPolicy` per zone and dataset (``raw/orders``, ``curated/orders``) and per zone-wide
rule (``quarantine``, ``curated-superseded``). Validation happens here, before anything is applied,
so a bad policy fails with the dataset, zone and field instead of a bare ``MalformedXML`` from S3, or
worse, a valid configuration that silently costs more (Standard-IA below 128 KiB, deleting inside
Glacier's minimum storage duration).

Which zone gets what (:class:`ZoneDefaults`):

* ``raw/<dataset>/``: the contract's policy by lifecycle (upload age) and by ``ingest_date=``;
* ``curated/<dataset>/``: the contract's policy; lifecycle moves to Standard-IA and expires, but the
  archive step is done by the tiering operator only (by ``dt=``, live version only), which flags the
  Glue partition first, so a query never meets an archived partition the catalog does not mark;
* ``quarantine/``: expires;
* superseded curated versions: tagged by the operator after the grace period, expired by lifecycle;
* the whole bucket: incomplete multipart uploads are aborted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlake.lake import zone_date_column, zone_prefix
from airlake.tiering.objects import ARCHIVE_TARGETS, GLACIER, MIN_STORAGE_DAYS, STANDARD_IA

if TYPE_CHECKING:
    from airlake.contracts import Contract

IA_MIN_DAYS = 30
"""S3 refuses transitions to Standard-IA before 30 days."""
IA_MIN_OBJECT_SIZE = 131_072
"""Standard-IA bills every object as at least 128 KiB: smaller objects cost more there than in Standard."""
MAX_PREFIX_LENGTH = 1024
SUPERSEDED_TAG: tuple[str, str] = ("airlake:superseded", "true")
"""Object tag the operator puts on superseded curated versions past the grace period."""
OVERRIDABLE = (
    "standard_ia_after_days",
    "glacier_after_days",
    "expire_after_days",
    "archive_class",
    "min_transition_size",
)
_DAY_FIELDS = ("standard_ia_after_days", "glacier_after_days", "expire_after_days")


@dataclass(frozen=True)
class PolicyIssue:
    """One problem of one policy: which policy (zone/dataset), which field, what is wrong, where it came from."""

    scope: str
    field: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        origin = f" (from {self.source})" if self.source else ""
        return f"{self.scope}: {self.field}: {self.message}{origin}"


class TieringPolicyError(ValueError):
    """Tiering policies that S3 would refuse or that would cost more than they save."""

    def __init__(self, issues: Iterable[PolicyIssue]) -> None:
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} invalid tiering setting(s):\n{lines}")


@dataclass(frozen=True)
class TierPolicy:
    """How the objects under one prefix age: days after the partition date (moves) or upload (lifecycle)."""

    name: str
    """Stem of the lifecycle rule IDs: ``raw/orders``, ``quarantine``, ``curated-superseded``."""
    zone: str
    dataset: str | None
    prefix: str
    source: str = ""
    """Where the numbers come from (contract file, zone defaults, overrides), for error messages."""
    standard_ia_after_days: int | None = None
    glacier_after_days: int | None = None
    """Days until the archive class (``archive_class``, Glacier Flexible Retrieval by default)."""
    expire_after_days: int | None = None
    archive_class: str = GLACIER
    min_transition_size: int = IA_MIN_OBJECT_SIZE
    """Only objects larger than this move (lifecycle filter ``ObjectSizeGreaterThan``; moves skip them too)."""
    lifecycle_archive: bool = True
    """Whether the lifecycle rule archives too; False leaves the archive step to the tiering operator."""
    date_key: str | None = None
    """Partition key holding the data date in object keys (``ingest_date``, ``dt``); None: no moves by date."""
    tag: tuple[str, str] | None = None
    """Only objects with this tag (key, value)."""

    def transitions(self) -> list[tuple[int, str]]:
        """(days, storage class) in order, as the tiering operator applies them by partition date."""
        steps: list[tuple[int, str]] = []
        if self.standard_ia_after_days is not None:
            steps.append((self.standard_ia_after_days, STANDARD_IA))
        if self.glacier_after_days is not None:
            steps.append((self.glacier_after_days, self.archive_class))
        return steps

    def lifecycle_transitions(self) -> list[tuple[int, str]]:
        """The transitions the lifecycle rule carries (the archive step only when ``lifecycle_archive``)."""
        return [
            (days, storage_class)
            for days, storage_class in self.transitions()
            if storage_class == STANDARD_IA or self.lifecycle_archive
        ]

    def target_class(self, age_days: int) -> str | None:
        """The class an object of this age belongs in; None while it stays in Standard."""
        target: str | None = None
        for days, storage_class in self.transitions():
            if age_days >= days:
                target = storage_class
        return target


@dataclass(frozen=True)
class ZoneDefaults:
    """Zone-wide settings that do not come from a contract."""

    contract_zones: tuple[str, ...] = ("raw", "curated")
    """Zones tiered by each dataset's contract policy."""
    quarantine_expire_after_days: int | None = 90
    """Rejects are kept this long (None: forever)."""
    superseded_expire_after_days: int | None = 1
    """Lifecycle expiry of tagged superseded curated versions. The grace period is enforced when tagging
    (only versions superseded longer than the grace are tagged), so one day is enough here."""
    abort_multipart_after_days: int | None = 7
    """Incomplete multipart uploads are aborted after this many days (they are billed but invisible)."""
    min_transition_size: int = IA_MIN_OBJECT_SIZE
    archive_class: str = GLACIER
    curated_lifecycle_archive: bool = False
    """Let lifecycle archive curated objects too. Off: lifecycle cannot flag the Glue partition, so a query
    would fail on an archived partition the catalog does not mark."""


@dataclass(frozen=True)
class RuleSet:
    """Every policy of one bucket, validated."""

    policies: tuple[TierPolicy, ...]
    abort_multipart_after_days: int | None = None
    issues: tuple[PolicyIssue, ...] = field(default=(), compare=False)

    def for_zone(self, zone: str) -> list[TierPolicy]:
        return [policy for policy in self.policies if policy.zone == zone]

    def policy(self, name: str) -> TierPolicy:
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise KeyError(f"no tiering policy {name!r} (known: {', '.join(p.name for p in self.policies)})")


def _contract_source(contract: Contract) -> str:
    from airlake.contracts import contracts_dir
    from airlake.contracts.loader import display_path

    return f"{display_path(contracts_dir() / f'{contract.name}.yaml')}: tiering"


def contract_policies(contract: Contract, defaults: ZoneDefaults = ZoneDefaults()) -> list[TierPolicy]:
    """The dataset's policies in each contract zone, from its ``tiering`` section."""
    tiering = contract.tiering
    source = _contract_source(contract)
    return [
        TierPolicy(
            name=f"{zone}/{contract.name}",
            zone=zone,
            dataset=contract.name,
            prefix=zone_prefix(zone, contract.name),
            source=source,
            standard_ia_after_days=tiering.standard_ia_after_days,
            glacier_after_days=tiering.glacier_after_days,
            expire_after_days=tiering.expire_after_days,
            archive_class=defaults.archive_class,
            min_transition_size=defaults.min_transition_size,
            lifecycle_archive=zone != "curated" or defaults.curated_lifecycle_archive,
            date_key=zone_date_column(zone, contract.partition_column),
        )
        for zone in defaults.contract_zones
    ]


def zone_policies(defaults: ZoneDefaults = ZoneDefaults()) -> list[TierPolicy]:
    """Zone-wide policies: quarantine expiry and expiry of tagged superseded curated versions."""
    quarantine = _zone_expiry(
        "quarantine", "quarantine", "quarantine_expire_after_days", defaults.quarantine_expire_after_days
    )
    superseded = _zone_expiry(
        "curated-superseded",
        "curated",
        "superseded_expire_after_days",
        defaults.superseded_expire_after_days,
        tag=SUPERSEDED_TAG,
    )
    return [policy for policy in (quarantine, superseded) if policy is not None]


def _zone_expiry(
    name: str, zone: str, setting: str, days: int | None, *, tag: tuple[str, str] | None = None
) -> TierPolicy | None:
    """Expiry of the zone's objects (only those tagged ``tag``) after the zone default ``setting``; None unset."""
    if days is None:
        return None
    return TierPolicy(
        name=name,
        zone=zone,
        dataset=None,
        prefix=zone_prefix(zone),
        source=f"zone defaults: {setting}",
        expire_after_days=days,
        tag=tag,
    )


def build_rule_set(
    contracts: Iterable[Contract],
    *,
    defaults: ZoneDefaults | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> RuleSet:
    """
    Every policy of the lake bucket from the contracts, zone defaults and overrides, validated.

    :param contracts: the datasets to tier.
    :param defaults: zone-wide settings; :class:`ZoneDefaults` when not given.
    :param overrides: ``{target: {field: value}}`` applied on top, where target is a policy name
        (``raw/orders``, ``quarantine``, ``curated-superseded``) or a zone (``curated``: every dataset's
        curated policy), and field one of :data:`OVERRIDABLE`. A dataset's override wins over its zone's.
    :raises TieringPolicyError: listing every invalid setting with zone/dataset, field and source.
    """
    defaults = defaults or ZoneDefaults()
    issues: list[PolicyIssue] = []
    policies = [p for contract in contracts for p in contract_policies(contract, defaults)]
    policies.extend(zone_policies(defaults))
    policies, override_issues = _apply_overrides(policies, overrides or {})
    issues.extend(override_issues)
    names: set[str] = set()
    for policy in policies:
        if policy.name in names:
            issues.append(PolicyIssue(policy.name, "name", "given twice", policy.source))
        names.add(policy.name)
        issues.extend(validate_policy(policy))
    abort = defaults.abort_multipart_after_days
    if abort is not None and (not _is_int(abort) or abort < 1):
        issues.append(
            PolicyIssue("bucket", "abort_multipart_after_days", f"must be a whole number >= 1, got {abort!r}")
        )
    if issues:
        raise TieringPolicyError(issues)
    return RuleSet(policies=tuple(policies), abort_multipart_after_days=abort)


def _apply_overrides(
    policies: list[TierPolicy], overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[list[TierPolicy], list[PolicyIssue]]:
    issues: list[PolicyIssue] = []
    for target, values in overrides.items():
        if not any(p.name == target or (p.zone == target and p.dataset) for p in policies):
            known = sorted({p.name for p in policies} | {p.zone for p in policies if p.dataset})
            issues.append(
                PolicyIssue(
                    target, "(override)", f"matches no policy (known: {', '.join(known)})", "overrides"
                )
            )
        for name in values:
            if name not in OVERRIDABLE:
                issues.append(
                    PolicyIssue(
                        target, name, f"cannot be overridden (use {', '.join(OVERRIDABLE)})", "overrides"
                    )
                )
    out: list[TierPolicy] = []
    for policy in policies:
        changes: dict[str, Any] = {}
        sources: list[str] = []
        # the zone's override first, the dataset's own on top of it
        for target in ([policy.zone] if policy.dataset else []) + [policy.name]:
            chosen = {k: v for k, v in (overrides.get(target) or {}).items() if k in OVERRIDABLE}
            if chosen:
                changes.update(chosen)
                sources.append(f"overrides[{target!r}]")
        if changes:
            source = ", ".join(filter(None, [policy.source, *sources]))
            policy = dataclasses.replace(policy, **changes, source=source)
        out.append(policy)
    return out, issues


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_policy(policy: TierPolicy) -> list[PolicyIssue]:
    """
    What S3 would refuse, or charge for, in one policy.

    * days are whole numbers; transitions >= 0, expiry >= 1;
    * Standard-IA after >= 30 days (S3 refuses less), and only for objects > 128 KiB
      (``min_transition_size`` >= 131072: smaller objects are billed as 128 KiB there);
    * the archive class is Glacier Instant Retrieval, Glacier Flexible Retrieval or Deep Archive;
    * transitions in order: the archive step at least 30 days after Standard-IA (its minimum storage
      duration; S3 refuses less);
    * expiry after the last transition plus that class's minimum storage duration (Standard-IA 30,
      Glacier 90, Deep Archive 180 days): deleting earlier is charged as if the object were kept.
    """
    issues: list[PolicyIssue] = []

    def issue(name: str, message: str) -> None:
        issues.append(PolicyIssue(policy.name, name, message, policy.source))

    days: dict[str, int | None] = {}
    for name in _DAY_FIELDS:
        value = getattr(policy, name)
        minimum = 1 if name == "expire_after_days" else 0
        if value is None:
            days[name] = None
        elif not _is_int(value) or value < minimum:
            issue(name, f"must be a whole number of days >= {minimum}, got {value!r}")
            days[name] = None
        else:
            days[name] = value
    ia, archive, expire = (
        days["standard_ia_after_days"],
        days["glacier_after_days"],
        days["expire_after_days"],
    )

    if policy.archive_class not in ARCHIVE_TARGETS:
        issue("archive_class", f"must be one of {', '.join(ARCHIVE_TARGETS)}, got {policy.archive_class!r}")
    size = policy.min_transition_size
    if not _is_int(size) or size < 0:
        issue("min_transition_size", f"must be a whole number of bytes >= 0, got {size!r}")
    elif ia is not None and size < IA_MIN_OBJECT_SIZE:
        issue(
            "min_transition_size",
            f"is {size} bytes, but Standard-IA bills every object as at least {IA_MIN_OBJECT_SIZE} "
            f"bytes (128 KiB): moving smaller objects there costs more; use >= {IA_MIN_OBJECT_SIZE}",
        )
    if ia is not None and ia < IA_MIN_DAYS:
        issue(
            "standard_ia_after_days",
            f"is {ia}, but S3 moves objects to STANDARD_IA only after >= {IA_MIN_DAYS} days",
        )
    if ia is not None and archive is not None and archive < ia + MIN_STORAGE_DAYS[STANDARD_IA]:
        issue(
            "glacier_after_days",
            f"is {archive}, but objects must stay {MIN_STORAGE_DAYS[STANDARD_IA]} days in STANDARD_IA "
            f"(standard_ia_after_days {ia}) before {policy.archive_class}: use >= "
            f"{ia + MIN_STORAGE_DAYS[STANDARD_IA]}",
        )
    if expire is not None:
        steps = [(d, c) for d, c in ((ia, STANDARD_IA), (archive, policy.archive_class)) if d is not None]
        if steps:
            last_days, last_class = max(steps)
            last_field = "glacier_after_days" if last_class != STANDARD_IA else "standard_ia_after_days"
            minimum = last_days + MIN_STORAGE_DAYS.get(last_class, 0)
            if expire <= last_days:
                issue(
                    "expire_after_days",
                    f"is {expire}, not after {last_field} ({last_days}): transitions come before expiry",
                )
            elif expire < minimum:
                issue(
                    "expire_after_days",
                    f"is {expire}, inside {last_class}'s minimum storage duration of "
                    f"{MIN_STORAGE_DAYS[last_class]} days after {last_field} ({last_days}): "
                    f"S3 charges the early deletion; use >= {minimum}",
                )
    if policy.tag is not None and policy.transitions():
        issue("tag", "tag-filtered policies only expire objects; give no transitions")
    if not policy.prefix.endswith("/") or len(policy.prefix) > MAX_PREFIX_LENGTH:
        issue(
            "prefix", f"must end with '/' and have at most {MAX_PREFIX_LENGTH} characters: {policy.prefix!r}"
        )
    return issues
