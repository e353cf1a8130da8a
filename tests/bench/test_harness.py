"""The bench harness runs a task that was killed by a signal once more, and never one that failed."""

from __future__ import annotations

from typing import Any

import pytest

from bench import harness


def _flaky(failures: list[harness.TaskFailed]) -> Any:
    calls: list[int] = []

    def run_once(task: Any, **_: Any) -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return f"run {len(calls)}"

    return run_once, calls


def test_a_crashed_worker_runs_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    run_once, calls = _flaky([harness.TaskFailed("curate/pandas csv 20k: exit -6", crashed=True)])
    monkeypatch.setattr(harness, "_run_task_once", run_once)
    assert harness.run_task(None, env={}) == "run 2"  # type: ignore[arg-type]
    assert len(calls) == 2


def test_a_failed_task_or_a_second_crash_is_final(monkeypatch: pytest.MonkeyPatch) -> None:
    run_once, calls = _flaky([harness.TaskFailed("curate/airlake csv 20k: exit 1")])
    monkeypatch.setattr(harness, "_run_task_once", run_once)
    with pytest.raises(harness.TaskFailed, match="exit 1"):
        harness.run_task(None, env={})  # type: ignore[arg-type]
    assert len(calls) == 1

    crash = harness.TaskFailed("curate/pandas csv 20k: exit -6", crashed=True)
    run_once, calls = _flaky([crash, harness.TaskFailed("again: exit -6", crashed=True)])
    monkeypatch.setattr(harness, "_run_task_once", run_once)
    with pytest.raises(harness.TaskFailed, match="again"):
        harness.run_task(None, env={})  # type: ignore[arg-type]
    assert len(calls) == 2
