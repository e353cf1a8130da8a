"""Results appended run after run (``bench run --append``) list each run whose measurements they keep,
with its own command, and call a run superseded only when every one of its measurements was measured
again."""

from __future__ import annotations

from typing import Any

from bench import report


def _results(started: str, command: str, cases: list[tuple[str, str, float]], repeat: int) -> dict[str, Any]:
    measurements = [
        {
            "stage": "curate",
            "engine": engine,
            "role": "airlake" if engine == "airlake" else "anchor",
            "case": case,
            "format": case.split()[0],
            "size": case.split()[1],
            "rows": 1_000_000,
            "seconds": seconds,
            "seconds_worst": seconds,
            "rows_per_s": 1_000_000 / seconds,
            "mb_per_s": 100 / seconds,
            "peak_memory_mb": 500.0,
            "cpu_seconds": seconds,
            "check": "ok",
        }
        for case, engine, seconds in cases
    ]
    return {
        "started_at": started,
        "finished_at": started,
        "command": command,
        "machine": {
            "logical_cores": 2,
            "physical_cores": 2,
            "cpu_model": "test cpu",
            "memory_gb": 1,
            "platform": "test",
            "load_average_before": [0.1, 0.1, 0.1],
            "load_average": [1.0, 1.0, 1.0],
        },
        "method": {"repeat": repeat, "reported_run": "best of the repeats"},
        "code": {"commit": "abc1234", "uncommitted_files_outside_bench": 0},
        "datasets": {},
        "notes": [],
        "measurements": measurements,
    }


def test_appended_runs_are_each_listed_and_only_a_replaced_one_is_superseded() -> None:
    first = _results("T1", "bench run --sizes 16M --repeat 1", [("csv 16M", "airlake", 60.0)], 1)
    second = _results(
        "T2", "bench run --sizes 1M --repeat 2", [("csv 1M", "airlake", 4.0), ("csv 1M", "duckdb", 2.0)], 2
    )
    merged = report.merge(first, second)
    text = report.render(merged)
    assert "`bench run --sizes 16M --repeat 1` (T1" in text
    assert "`bench run --sizes 1M --repeat 2` (T2" in text
    assert "measured again" not in text
    assert "Repeats per measurement: each run's `--repeat`" in text
    assert {m["run_started_at"] for m in merged["measurements"]} == {"T1", "T2"}

    again = _results("T3", "bench run --sizes 16M --repeat 1", [("csv 16M", "airlake", 50.0)], 1)
    text = report.render(report.merge(merged, again))
    assert "1 earlier run(s) were measured again" in text
    assert "`bench run --sizes 16M --repeat 1` at T1" in text
    assert "| csv 16M | airlake | airlake | 50.00 / 50.00" in text
    assert "60.00" not in text
