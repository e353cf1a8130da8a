"""TIER stage: S3 storage tiering from the contracts' policies (Standard -> Standard-IA -> Glacier).

    from airlake.tiering import build_rule_set, run_tiering

    rule_set = build_rule_set(load_contracts().values())  # validated: TieringPolicyError names zone/field
    summary = run_tiering(store, rule_set, glue=glue, database="airlake", now=interval_end, run_id=run_id)

* :mod:`~airlake.tiering.policy`: contract policies + zone defaults -> validated :class:`RuleSet`;
* :mod:`~airlake.tiering.lifecycle`: rules -> the bucket's lifecycle configuration, merged with foreign rules;
* :mod:`~airlake.tiering.moves`: tiering by partition date (backfilled data would otherwise stay hot);
* :mod:`~airlake.tiering.restore`: Glacier restore, and the Glue flags of archived partitions
  (:func:`archived_partitions` for query engines);
* :mod:`~airlake.tiering.superseded`: superseded curated versions tagged for lifecycle expiry;
* :mod:`~airlake.tiering.runner`: one run of all of it, with its record under ``_manifests/_tiering/``.
"""

from __future__ import annotations

from airlake.tiering.lifecycle import (
    LifecycleDiff,
    LifecycleError,
    apply_lifecycle,
    diff_rules,
    lifecycle_rules,
)
from airlake.tiering.moves import Move, MoveError, MovePlan, apply_moves, move_object, plan_moves
from airlake.tiering.objects import ARCHIVE_CLASSES, LakeObject, list_objects, partition_date
from airlake.tiering.policy import (
    PolicyIssue,
    RuleSet,
    TieringPolicyError,
    TierPolicy,
    ZoneDefaults,
    build_rule_set,
    validate_policy,
)
from airlake.tiering.restore import RestoreError, check_restores, plan_restores, request_restores
from airlake.tiering.runner import record_key, run_tiering

__all__ = [
    "ARCHIVE_CLASSES",
    "LakeObject",
    "LifecycleDiff",
    "LifecycleError",
    "Move",
    "MoveError",
    "MovePlan",
    "PolicyIssue",
    "RestoreError",
    "RuleSet",
    "TierPolicy",
    "TieringPolicyError",
    "ZoneDefaults",
    "apply_lifecycle",
    "apply_moves",
    "build_rule_set",
    "check_restores",
    "diff_rules",
    "lifecycle_rules",
    "list_objects",
    "move_object",
    "partition_date",
    "plan_moves",
    "plan_restores",
    "record_key",
    "request_restores",
    "run_tiering",
    "validate_policy",
]
