"""Dataset-level quality checks of a contract, run on what a run is about to publish.

Curate already quarantines rows that break the row-level rules (not_null, accepted_values, range), so
those checks re-verify the written Parquet (they catch a bug, not bad input). ``unique`` is checked per
partition version. The day-based checks, ``row_count_min`` and ``freshness``, look at the interval's days
**and** every partition the run writes (late files, or the backlog of an earlier failed run, land in
their own older days): the new version where the run wrote one, else the live one, so re-running a day
whose data already landed passes. Their messages give each day, its row count and why it is there.
An event run sees its own day only up to the moment it was triggered (``as_of``): ``row_count_min`` leaves
that day to the day's scheduled run (the result says it is deferred, and which day), and ``freshness`` is
measured against the trigger moment instead of the day's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    import duckdb

    from airlake.contracts import Contract

ROW_LEVEL = ("not_null", "unique", "accepted_values", "range")
INTERVAL_LEVEL = ("row_count_min", "freshness")


@dataclass(frozen=True)
class PartitionData:
    """The Parquet files (local paths) of one partition version a check reads."""

    dt: str
    files: tuple[str, ...]
    new: bool
    """True: the version the run is about to publish; False: the live version (untouched by the run)."""
    in_interval: bool = True
    """True: one of the interval's days; False: a day outside it that the run writes."""

    def role(self) -> str:
        """Why the day is checked and which version is read, for messages."""
        why = "interval day" if self.in_interval else "outside the interval"
        if self.new:
            return f"{why}, written by the run"
        return f"{why}, live version" if self.files else f"{why}, no data"


@dataclass
class CheckResult:
    check: str
    passed: bool
    observed: Any
    detail: str
    partitions: list[str] = field(default_factory=list)
    deferred: bool = False
    """Not evaluated yet: the days it needs are not complete (an event run); the scheduled run checks them."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def header_findings(curate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The header drift curate found (airlake.curate.header), one entry per raw part that had any:
    the quality results carry it beside the checks, so a refused file or a drifting partner is visible
    where a run's outcome is read, not only in the curate manifest."""
    found = []
    for item in curate.get("inputs", []):
        header = item.get("header") or {}
        if header.get("refused") or header.get("warnings"):
            found.append(
                {
                    "key": item.get("key"),
                    "missing": header.get("missing", []),
                    "extra": header.get("extra", []),
                    "refused": header.get("refused"),
                    "warnings": header.get("warnings", []),
                }
            )
    return found


class QualityCheckFailed(RuntimeError):
    """One or more checks failed; the message lists each with what was observed."""

    def __init__(self, dataset: str, failed: Sequence[CheckResult]) -> None:
        lines = "; ".join(f"{result.check}: {result.detail}" for result in failed)
        super().__init__(f"{dataset}: {len(failed)} quality check(s) failed: {lines}")
        self.failed = list(failed)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


def _relation(files: Iterable[str]) -> str:
    paths = ", ".join(_literal(path) for path in files)
    return f"read_parquet([{paths}], union_by_name = true)"


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None


def _row_level(
    conn: duckdb.DuckDBPyConnection, check: Any, contract: Contract, partitions: Sequence[PartitionData]
) -> CheckResult:
    """Count the rows (or keys) breaking one row-level check in the new partition versions."""
    new = [p for p in partitions if p.new and p.files]
    bad_total, bad_partitions = 0, []
    for part in new:
        relation = _relation(part.files)
        if check.kind == "unique":
            keys = ", ".join(quote_identifier(name) for name in check.columns)
            sql = f"SELECT count(*) FROM (SELECT {keys} FROM {relation} GROUP BY {keys} HAVING count(*) > 1)"
        else:
            column = quote_identifier(check.column)
            if check.kind == "not_null":
                condition = f"{column} IS NULL"
            elif check.kind == "accepted_values":
                values = ", ".join(_literal(value) for value in check.values)
                condition = f"{column} IS NOT NULL AND {column} NOT IN ({values})"
            else:  # range
                bounds = []
                if check.min is not None:
                    bounds.append(f"{column} < {_literal(check.min)}")
                if check.max is not None:
                    bounds.append(f"{column} > {_literal(check.max)}")
                condition = f"{column} IS NOT NULL AND ({' OR '.join(bounds)})"
            sql = f"SELECT count(*) FROM {relation} WHERE {condition}"
        bad = int(_scalar(conn, sql) or 0)
        if bad:
            bad_total += bad
            bad_partitions.append(part.dt)
    name = _name(check)
    what = "duplicated key(s)" if check.kind == "unique" else "row(s) breaking it"
    detail = (
        f"{bad_total} {what} in dt={', dt='.join(bad_partitions)}"
        if bad_total
        else f"0 {what} in {len(new)} new partition version(s)"
    )
    return CheckResult(name, bad_total == 0, bad_total, detail, [p.dt for p in new])


def _interval_level(
    conn: duckdb.DuckDBPyConnection,
    check: Any,
    contract: Contract,
    partitions: Sequence[PartitionData],
    interval_end: datetime,
    as_of: datetime | None = None,
) -> CheckResult:
    name = _name(check)
    waiting = ""
    if check.kind == "row_count_min" and as_of is not None:
        filling = [p for p in partitions if _day_end(p.dt) > as_of]
        if filling:
            days = ", ".join(p.dt for p in filling)
            waiting = f"dt={days} is not complete at {as_of.isoformat()} (an event run)"
            partitions = [p for p in partitions if p not in filling]
            if not partitions:
                detail = (
                    f"deferred: {waiting}; the scheduled run of the day checks at least {check.value} row(s)"
                )
                return CheckResult(name, True, None, detail, [p.dt for p in filling], deferred=True)
    dts = [p.dt for p in partitions]
    if check.kind == "row_count_min":
        counts = {
            p.dt: int(_scalar(conn, f"SELECT count(*) FROM {_relation(p.files)}") or 0) if p.files else 0
            for p in partitions
        }
        rows = sum(counts.values())
        ok = rows >= check.value
        days = "; ".join(f"dt={p.dt}: {counts[p.dt]} ({p.role()})" for p in partitions) or "no day"
        verdict = "at least" if ok else "below"
        detail = f"{rows} row(s) over {len(partitions)} day(s), {verdict} the minimum {check.value}: {days}"
        if waiting:
            detail += f"; left to the day's scheduled run: {waiting}"
        return CheckResult(name, ok, rows, detail, dts)
    # freshness: the newest event must be at most max_delay_hours older than the interval's end
    column = quote_identifier(contract.event_time)
    newest_by_day = {
        p.dt: _scalar(conn, f"SELECT max({column}) FROM {_relation(p.files)}") for p in partitions if p.files
    }
    found = {dt: moment for dt, moment in newest_by_day.items() if moment is not None}
    reference = interval_end if as_of is None else min(as_of, interval_end)
    oldest_allowed = reference - timedelta(hours=check.max_delay_hours)
    days = "; ".join(f"dt={p.dt} ({p.role()})" for p in partitions) or "no day"
    if not found:
        return CheckResult(
            name, False, None, f"no {contract.event_time} at all in the days checked: {days}", dts
        )
    newest_dt, newest = max(found.items(), key=lambda item: (_aware(item[1], interval_end), item[0]))
    newest = _aware(newest, interval_end)
    ok = newest >= oldest_allowed
    detail = (
        f"newest {contract.event_time} {newest.isoformat()} (dt={newest_dt}) is "
        f"{'within' if ok else 'older than'} {check.max_delay_hours} h of the "
        f"{'interval end' if reference == interval_end else 'event run trigger'} "
        f"{reference.isoformat()}; days checked: {days}"
    )
    return CheckResult(name, ok, newest.isoformat(), detail, dts)


def _day_end(dt: str) -> datetime:
    return datetime.combine(date.fromisoformat(dt) + timedelta(days=1), time(), tzinfo=UTC)


def _aware(moment: datetime, reference: datetime) -> datetime:
    return moment.replace(tzinfo=reference.tzinfo) if moment.tzinfo is None else moment


def _name(check: Any) -> str:
    if check.kind == "unique":
        return f"unique({', '.join(check.columns)})"
    if check.kind in ("row_count_min", "freshness"):
        return check.kind
    return f"{check.kind}({check.column})"


def run_checks(
    contract: Contract,
    new_partitions: Mapping[str, Sequence[str]],
    interval_partitions: Mapping[str, Sequence[str]],
    *,
    interval_end: datetime,
    as_of: datetime | None = None,
    memory_limit: str = "512MB",
) -> list[CheckResult]:
    """
    Evaluate every dataset-level check of ``contract``.

    :param new_partitions: dt -> local Parquet files of the versions the run is about to publish.
    :param interval_partitions: the interval's days: dt -> local files of the live version for the days
        the run did not rewrite (empty when the partition does not exist).
    :param interval_end: the end of the run's interval (freshness reference).
    :param as_of: an event run's trigger moment (``RunInterval.as_of``): its day is still filling.
    """
    import duckdb

    partitions = [PartitionData(dt, tuple(files), True) for dt, files in sorted(new_partitions.items())]
    interval = [
        PartitionData(
            dt,
            tuple(new_partitions.get(dt) or interval_partitions.get(dt) or ()),
            dt in new_partitions,
            dt in interval_partitions,
        )
        for dt in sorted({*interval_partitions, *new_partitions})
    ]
    results: list[CheckResult] = []
    with duckdb.connect(config={"memory_limit": memory_limit, "threads": 2}) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for check in contract.quality.checks:
            if check.kind in ROW_LEVEL:
                results.append(_row_level(conn, check, contract, partitions))
            else:
                results.append(_interval_level(conn, check, contract, interval, interval_end, as_of))
    return results
