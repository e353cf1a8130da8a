"""The guard of the date-sensitive reruns: AIRLAKE_CLOCK_SHIFT_DAYS really moves the wall clock of the test
process and of the moto server it starts, and nothing else (monotonic time is untouched)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest


def _real_now() -> datetime:
    """The kernel's wall clock, which no Python-level clock shift reaches (a fresh file's mtime)."""
    probe = os.open(f"/tmp/airlake-clock-{os.getpid()}", os.O_CREAT | os.O_WRONLY)
    try:
        return datetime.fromtimestamp(os.fstat(probe).st_mtime, UTC)
    finally:
        os.close(probe)
        os.unlink(f"/tmp/airlake-clock-{os.getpid()}")


def test_the_wall_clock_is_shifted_in_the_tests_and_in_moto(lake) -> None:
    days = int(os.environ.get("AIRLAKE_CLOCK_SHIFT_DAYS") or 0)
    shift = datetime.now(UTC) - _real_now()
    assert shift.total_seconds() == pytest.approx(days * 86400, abs=120)

    lake.put_bytes("_clock/probe.txt", b"when")
    modified = lake.client.head_object(Bucket=lake.bucket, Key="_clock/probe.txt")["LastModified"]
    assert (modified - _real_now()).total_seconds() == pytest.approx(days * 86400, abs=120)

    before = time.monotonic()
    time.sleep(0.05)
    assert 0.04 < time.monotonic() - before < 5
