"""Which interval a run processes: its data interval, or the dates a user asked for in the trigger form.

Scheduled and backfilled runs use their data interval (``CronDataIntervalTimetable``: the run for day D
covers ``[D, D+1)``). A run triggered with the params ``start_date``/``end_date`` processes exactly those
UTC days instead, ``[start_date, end_date + 1 day)``, whatever its logical date; so a user asks for the
days they mean, not for "the interval before some timestamp".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

MAX_RANGE_DAYS = 92
"""Longest range one triggered run may process (a quarter); longer reprocessing is a backfill."""


class IntervalParamError(ValueError):
    """A date param is malformed or the range is not allowed; the message names the param."""


@dataclass(frozen=True)
class RunInterval:
    start: datetime
    end: datetime
    from_params: bool
    full_refresh: bool = False
    dry_run: bool = False
    as_of: datetime | None = None
    """Set for an event run: the moment it was triggered, before its day ends. The data of the interval is
    only what has arrived by then, so day-based checks wait for the day's scheduled run (airlake.quality)."""

    @property
    def ds(self) -> str:
        return self.start.date().isoformat()

    @property
    def complete(self) -> bool:
        """False while the interval is still filling (an event run's own day)."""
        return self.as_of is None or self.as_of >= self.end

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "from_params": self.from_params,
            "full_refresh": self.full_refresh,
            "dry_run": self.dry_run,
            **({"as_of": self.as_of.isoformat()} if self.as_of is not None else {}),
        }


def _date_param(params: Mapping[str, Any], name: str) -> date | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise IntervalParamError(f"param {name}: {value!r} is not a date (YYYY-MM-DD)") from None


def as_bool(value: Any) -> bool:
    """A flag that may arrive rendered from a template (``"True"``, ``"false"``, ``"0"``): the one parser
    of the trigger form's and the operators' boolean arguments."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off", "", "none"}:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    try:
        return as_bool(str(value))
    except ValueError:
        raise IntervalParamError(f"param {name}: {value!r} is not true or false") from None


def interval_dates(start: datetime, end: datetime) -> list[str]:
    """The UTC dates ``[start, end)`` touches, as ``YYYY-MM-DD``."""
    first: date = start.date()
    last: date = (end - timedelta(microseconds=1)).date() if end > start else first
    return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


def resolve_interval(
    params: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    *,
    today: date | None = None,
) -> RunInterval:
    """
    The interval to process: ``[start_date, end_date + 1 day)`` from the params when ``start_date`` is
    given (``end_date`` defaults to ``start_date``), else the run's data interval.

    :param today: refuse ranges that end after this day (the data does not exist yet); None: no check.
    """
    params = params or {}
    start_day, end_day = _date_param(params, "start_date"), _date_param(params, "end_date")
    full_refresh, dry_run = _flag(params, "full_refresh"), _flag(params, "dry_run")
    if start_day is None:
        if end_day is not None:
            raise IntervalParamError("param end_date is set but start_date is not: give both or neither")
        if data_interval_start is None or data_interval_end is None:
            raise IntervalParamError(
                "this run has no data interval (an asset-triggered or manual run without dates): "
                "give the param start_date"
            )
        return RunInterval(data_interval_start, data_interval_end, False, full_refresh, dry_run)
    end_day = end_day or start_day
    if end_day < start_day:
        raise IntervalParamError(f"param end_date {end_day} is before start_date {start_day}")
    days = (end_day - start_day).days + 1
    if days > MAX_RANGE_DAYS:
        raise IntervalParamError(
            f"params start_date..end_date span {days} days; at most {MAX_RANGE_DAYS} per run "
            "(use a backfill for longer ranges)"
        )
    if today is not None and end_day >= today:
        raise IntervalParamError(
            f"param end_date {end_day} is not a complete day yet (today is {today}, UTC)"
        )
    start = datetime.combine(start_day, time(), tzinfo=UTC)
    end = datetime.combine(end_day + timedelta(days=1), time(), tzinfo=UTC)
    return RunInterval(start, end, True, full_refresh, dry_run)


def interval_of(context: Mapping[str, Any]) -> RunInterval:
    """The interval of a running task, from its Airflow context (params and data interval; an
    asset-triggered run, which has none, gets the day it was triggered in: airlake.events)."""
    from airlake.events import event_run_interval, event_run_moment

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    as_of = None
    if start is None and end is None:
        start, end = event_run_interval(context) or (None, None)
        as_of = event_run_moment(context)
    interval = resolve_interval(context.get("params"), start, end)
    if as_of is not None and not interval.from_params:
        interval = replace(interval, as_of=as_of)
    return interval


def resolve_week(
    params: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    *,
    today: date | None = None,
) -> date:
    """
    The Monday of the ISO week to report: the week holding the param ``week`` (any day of it) when given,
    else the week the run's data interval starts in (a scheduled Monday run covers the week that just ended).

    :param today: refuse a week that is not complete yet on this UTC day; None: no check.
    """
    asked = _date_param(params or {}, "week")
    if asked is None:
        if data_interval_start is None:
            raise IntervalParamError("this run has no data interval: give the param week (YYYY-MM-DD)")
        asked = data_interval_start.astimezone(UTC).date()
    monday = asked - timedelta(days=asked.weekday())
    if today is not None and monday + timedelta(days=7) > today:
        raise IntervalParamError(
            f"param week: the week of {monday} ends on {monday + timedelta(days=6)} and is not complete "
            f"yet (today is {today}, UTC)"
        )
    return monday
