"""Dataset-level quality checks from the contract, run before a run's partitions are published."""

from __future__ import annotations

from airlake.quality.checks import (
    CheckResult,
    QualityCheckFailed,
    header_findings,
    run_checks,
)

__all__ = ["CheckResult", "QualityCheckFailed", "header_findings", "run_checks"]
