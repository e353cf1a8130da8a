"""The contract's dataset-level checks on Parquet partition versions (DuckDB, local files)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.contracts import get_contract
from airlake.quality import QualityCheckFailed, run_checks

END = datetime(2026, 11, 21, tzinfo=UTC)


def _order(order_id: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "order_id": order_id,
        "customer_id": 7,
        "product_id": "P-1",
        "quantity": 1,
        "amount": Decimal("10.00"),
        "currency": "EUR",
        "country": "DE",
        "status": "paid",
        "ordered_at": datetime(2026, 11, 20, 12, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 20, 13, tzinfo=UTC),
        "coupon_code": None,
    }
    row.update(changes)
    return row


def _file(tmp_path: Path, name: str, rows: list[dict[str, object]]) -> str:
    # nullable everywhere, so a file can hold what the contract forbids (the checks must find it)
    schema = pa.schema([field.with_nullable(True) for field in get_contract("orders").arrow_schema()])
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return str(path)


def _results(tmp_path: Path, rows: list[dict[str, object]]) -> dict[str, object]:
    files = {"2026-11-20": [_file(tmp_path, "new", rows)]}
    results = run_checks(get_contract("orders"), files, files, interval_end=END)
    return {result.check: result for result in results}


def test_clean_data_passes_every_check(tmp_path: Path) -> None:
    results = _results(tmp_path, [_order(1), _order(2)])
    assert all(result.passed for result in results.values()), results
    assert results["row_count_min"].observed == 2


@pytest.mark.parametrize(
    ("rows", "check", "observed"),
    [
        pytest.param([_order(1), _order(1, status="shipped")], "unique(order_id)", 1, id="duplicate-key"),
        pytest.param([_order(1, status="lost")], "accepted_values(status)", 1, id="unknown-status"),
        pytest.param(
            [_order(1, quantity=0), _order(2, quantity=1001)], "range(quantity)", 2, id="out-of-range"
        ),
        pytest.param([_order(1, customer_id=None)], "not_null(customer_id)", 1, id="null"),
    ],
)
def test_a_broken_rule_fails_its_check_and_says_where(
    tmp_path: Path, rows: list, check: str, observed: int
) -> None:
    results = _results(tmp_path, rows)
    assert not results[check].passed
    assert results[check].observed == observed
    assert "dt=2026-11-20" in results[check].detail
    failed = [result for result in results.values() if not result.passed]
    assert check in str(QualityCheckFailed("orders", failed))


def test_row_count_counts_the_live_version_of_days_the_run_did_not_rewrite(tmp_path: Path) -> None:
    live = {"2026-11-20": [_file(tmp_path, "live", [_order(1), _order(2), _order(3)])]}
    [row_count] = [
        r
        for r in run_checks(get_contract("orders"), {}, live, interval_end=END)
        if r.check == "row_count_min"
    ]
    assert row_count.passed and row_count.observed == 3


def test_no_rows_for_the_interval_fails_row_count(tmp_path: Path) -> None:
    [row_count] = [
        r
        for r in run_checks(get_contract("orders"), {}, {"2026-11-20": []}, interval_end=END)
        if r.check == "row_count_min"
    ]
    assert not row_count.passed and row_count.observed == 0


def test_freshness_compares_the_newest_event_with_the_interval_end(tmp_path: Path) -> None:
    contract = get_contract("clickstream")
    schema = contract.arrow_schema()

    def events(moment: datetime) -> dict[str, list[str]]:
        row = {name: None for name in schema.names}
        row.update(event_id="e1", session_id="s1", event_type="page_view", platform="web", event_time=moment)
        path = tmp_path / f"{moment:%H%M%S}.parquet"
        pq.write_table(pa.Table.from_pylist([row], schema=schema), path)
        return {"2026-11-20": [str(path)]}

    def freshness(files: dict[str, list[str]]) -> object:
        [result] = [r for r in run_checks(contract, files, files, interval_end=END) if r.check == "freshness"]
        return result

    assert freshness(events(datetime(2026, 11, 20, 23, tzinfo=UTC))).passed
    stale = freshness(events(datetime(2026, 11, 19, 23, tzinfo=UTC)))
    assert not stale.passed and "older than 24" in stale.detail


def test_day_based_checks_also_read_the_partitions_the_run_writes_outside_its_interval(
    tmp_path: Path,
) -> None:
    """Late files land in their own (older) days: counted with the interval's (empty) day, each named."""
    late_day = _order(1, ordered_at=datetime(2026, 11, 17, 9, tzinfo=UTC))
    new = {"2026-11-17": [_file(tmp_path, "late", [late_day, _order(2, ordered_at=late_day["ordered_at"])])]}
    results = {
        r.check: r for r in run_checks(get_contract("orders"), new, {"2026-11-20": []}, interval_end=END)
    }

    row_count = results["row_count_min"]
    assert row_count.observed == 2 and row_count.partitions == ["2026-11-17", "2026-11-20"]
    assert "dt=2026-11-17: 2 (outside the interval, written by the run)" in row_count.detail
    assert "dt=2026-11-20: 0 (interval day, no data)" in row_count.detail


def test_row_count_below_the_minimum_says_which_days_hold_what(tmp_path: Path) -> None:
    contract = get_contract("orders").model_copy(deep=True)
    [check] = [c for c in contract.quality.checks if c.kind == "row_count_min"]
    object.__setattr__(check, "value", 5)
    new = {"2026-11-18": [_file(tmp_path, "few", [_order(1), _order(2)])]}
    live = {"2026-11-20": [_file(tmp_path, "live", [_order(3)])]}
    [row_count] = [r for r in run_checks(contract, new, live, interval_end=END) if r.check == "row_count_min"]
    assert not row_count.passed and row_count.observed == 3
    assert row_count.detail.startswith("3 row(s) over 2 day(s), below the minimum 5: ")
    assert "dt=2026-11-18: 2 (outside the interval, written by the run)" in row_count.detail
    assert "dt=2026-11-20: 1 (interval day, live version)" in row_count.detail


def test_an_event_run_defers_row_count_min_of_its_own_unfinished_day(tmp_path: Path) -> None:
    """An event run triggered at 10:05 holds two rows of a day that is still filling: below the minimum, but
    the day is not over, so the check is deferred to the day's scheduled run (and says so), not failed."""
    contract = get_contract("orders").model_copy(deep=True)
    [check] = [c for c in contract.quality.checks if c.kind == "row_count_min"]
    object.__setattr__(check, "value", 5)
    as_of = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
    new = {"2026-11-20": [_file(tmp_path, "event", [_order(1), _order(2)])]}

    [row_count] = [
        r for r in run_checks(contract, new, new, interval_end=END, as_of=as_of) if r.check == "row_count_min"
    ]
    assert row_count.passed and row_count.deferred and row_count.observed is None
    assert row_count.partitions == ["2026-11-20"]
    assert "deferred: dt=2026-11-20 is not complete at 2026-11-20T10:05:00+00:00" in row_count.detail
    assert row_count.as_dict()["deferred"] is True

    # the day's scheduled run (no as_of) evaluates it: two rows are below five
    [scheduled] = [r for r in run_checks(contract, new, new, interval_end=END) if r.check == "row_count_min"]
    assert not scheduled.passed and not scheduled.deferred and scheduled.observed == 2


def test_an_event_run_still_counts_the_finished_days_it_writes(tmp_path: Path) -> None:
    """A late file of an older, finished day brought by an event run is counted; only the open day waits."""
    contract = get_contract("orders").model_copy(deep=True)
    [check] = [c for c in contract.quality.checks if c.kind == "row_count_min"]
    object.__setattr__(check, "value", 3)
    late = datetime(2026, 11, 17, 9, tzinfo=UTC)
    new = {
        "2026-11-17": [_file(tmp_path, "late", [_order(1, ordered_at=late), _order(2, ordered_at=late)])],
        "2026-11-20": [_file(tmp_path, "today", [_order(3)] * 1)],
    }
    as_of = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
    [row_count] = [
        r
        for r in run_checks(contract, new, {"2026-11-20": []}, interval_end=END, as_of=as_of)
        if r.check == "row_count_min"
    ]
    assert not row_count.deferred and not row_count.passed and row_count.observed == 2
    assert row_count.partitions == ["2026-11-17"]
    assert row_count.detail.endswith(
        "left to the day's scheduled run: dt=2026-11-20 is not complete at 2026-11-20T10:05:00+00:00 (an event run)"
    )


def test_an_event_runs_freshness_is_measured_against_its_trigger_moment(tmp_path: Path) -> None:
    """A run triggered at 10:05 has seen what arrived by 10:05: the newest event at 23:00 the evening before
    is within 24 h of the trigger (against the day's end, still 14 h ahead, it would look stale)."""
    contract = get_contract("clickstream")
    schema = contract.arrow_schema()
    as_of = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)

    def freshness(moment: datetime) -> Any:
        row = {name: None for name in schema.names}
        row.update(event_id="e1", session_id="s1", event_type="page_view", platform="web", event_time=moment)
        path = tmp_path / f"{moment:%d%H%M}.parquet"
        pq.write_table(pa.Table.from_pylist([row], schema=schema), path)
        files = {"2026-11-20": [str(path)]}
        results = run_checks(contract, files, files, interval_end=END, as_of=as_of)
        return next(r for r in results if r.check == "freshness")

    fresh = freshness(datetime(2026, 11, 19, 23, tzinfo=UTC))
    assert fresh.passed and "of the event run trigger 2026-11-20T10:05:00+00:00" in fresh.detail
    assert not freshness(datetime(2026, 11, 19, 9, tzinfo=UTC)).passed  # 25 h before the trigger
