"""Moves this Python process's wall clock ahead by ``AIRLAKE_CLOCK_SHIFT_DAYS`` days (time-machine, ticking).

The test session (tests/conftest.py) puts this folder on ``PYTHONPATH`` when the variable is set, so every
Python service it starts (moto server) reads the same shifted clock as the tests. Monotonic clocks, sleeps
and timeouts are untouched: only what a day-dependent bug could read (``time.time``, ``datetime.now``,
``date.today``) moves.
"""

from __future__ import annotations

import os


def shift_clock() -> None:
    days = os.environ.get("AIRLAKE_CLOCK_SHIFT_DAYS", "").strip()
    if not days:
        return
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(days=int(days)), tick=True).start()


shift_clock()
