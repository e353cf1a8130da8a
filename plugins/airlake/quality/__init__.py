"""Dataset-level quality checks from the contract, run before a run's partitions are published."""

from __future__ import annotations

from airlake.quality.checks import (
    CheckResult,
    QualityCheckFailed,
    interval_dates,
    run_checks,
)

__all__ = ["CheckResult", "QualityCheckFailed", "interval_dates", "run_checks"]
