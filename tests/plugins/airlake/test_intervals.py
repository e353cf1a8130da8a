"""Which interval a run processes: the data interval, or the days the trigger form asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from airlake.intervals import (
    MAX_RANGE_DAYS,
    IntervalParamError,
    as_bool,
    interval_dates,
    resolve_interval,
    resolve_week,
)

START, END = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)


def test_without_dates_the_data_interval_is_processed() -> None:
    interval = resolve_interval({"start_date": None, "end_date": None, "dry_run": False}, START, END)
    assert (interval.start, interval.end, interval.from_params) == (START, END, False)


def test_a_range_covers_whole_utc_days_end_inclusive() -> None:
    interval = resolve_interval({"start_date": "2026-11-16", "end_date": "2026-11-18"}, START, END)
    assert interval.start == datetime(2026, 11, 16, tzinfo=UTC)
    assert interval.end == datetime(2026, 11, 19, tzinfo=UTC)
    assert interval.from_params


def test_one_day_when_only_the_first_day_is_given() -> None:
    interval = resolve_interval({"start_date": "2026-11-16"}, None, None)
    assert (interval.start, interval.end) == (
        datetime(2026, 11, 16, tzinfo=UTC),
        datetime(2026, 11, 17, tzinfo=UTC),
    )


def test_flags_accept_rendered_strings() -> None:
    interval = resolve_interval({"full_refresh": "True", "dry_run": "false"}, START, END)
    assert interval.full_refresh and not interval.dry_run


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"start_date": "2026-11-31"}, "param start_date: '2026-11-31' is not a date", id="bad-date"
        ),
        pytest.param(
            {"start_date": "2026-11-20", "end_date": "2026-11-19"},
            "end_date 2026-11-19 is before",
            id="reversed",
        ),
        pytest.param({"end_date": "2026-11-19"}, "end_date is set but start_date is not", id="end-only"),
        pytest.param(
            {"start_date": "2026-01-01", "end_date": "2026-12-31"}, f"at most {MAX_RANGE_DAYS}", id="too-long"
        ),
        pytest.param({"start_date": "2026-11-24"}, "not a complete day yet", id="future"),
        pytest.param({"dry_run": "maybe"}, "param dry_run: 'maybe' is not true or false", id="bad-flag"),
    ],
)
def test_bad_params_name_the_param(params: dict, message: str) -> None:
    with pytest.raises(IntervalParamError, match=message):
        resolve_interval(params, START, END, today=date(2026, 11, 24))


def test_no_interval_and_no_dates_is_a_clear_error() -> None:
    with pytest.raises(IntervalParamError, match="give the param start_date"):
        resolve_interval({}, None, None)


@pytest.mark.parametrize(
    ("params", "interval_start", "monday"),
    [
        pytest.param(
            {"week": None}, datetime(2026, 11, 16, 6, tzinfo=UTC), date(2026, 11, 16), id="scheduled"
        ),
        pytest.param({"week": "2026-11-19"}, None, date(2026, 11, 16), id="any-day-of-the-week"),
        pytest.param(
            {"week": "2026-11-09"}, datetime(2026, 11, 16, 6, tzinfo=UTC), date(2026, 11, 9), id="param-wins"
        ),
        pytest.param({}, datetime(2026, 11, 22, 23, tzinfo=UTC), date(2026, 11, 16), id="sunday-interval"),
    ],
)
def test_the_week_is_the_param_or_the_data_interval(params: dict, interval_start, monday: date) -> None:
    assert resolve_week(params, interval_start, today=date(2026, 11, 23)) == monday


def test_an_incomplete_or_malformed_week_is_refused() -> None:
    with pytest.raises(
        IntervalParamError, match=r"week of 2026-11-23 .* not complete yet \(today is 2026-11-25"
    ):
        resolve_week({"week": "2026-11-24"}, None, today=date(2026, 11, 25))
    with pytest.raises(IntervalParamError, match="param week: 'last week' is not a date"):
        resolve_week({"week": "last week"}, None)
    with pytest.raises(IntervalParamError, match="give the param week"):
        resolve_week({}, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("false", False),
        ("0", False),
        ("yes", True),
        ("", False),
    ],
)
def test_as_bool(value: Any, expected: bool) -> None:
    assert as_bool(value) is expected


def test_as_bool_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        as_bool("maybe")


def test_interval_dates() -> None:
    assert interval_dates(datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC)) == [
        "2026-11-16",
        "2026-11-17",
        "2026-11-18",
    ]
    assert interval_dates(datetime(2026, 11, 16, 6, tzinfo=UTC), datetime(2026, 11, 16, 7, tzinfo=UTC)) == [
        "2026-11-16"
    ]
