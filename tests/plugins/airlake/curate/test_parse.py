"""Typed parsing by the contract: exact values, UTC timestamps, and a reason for every reject."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from airlake.curate.parse import Reject, RowParser
from tests.plugins.airlake.curate.curate_helpers import make_contract

GOOD: dict[str, Any] = {
    "widget_id": 1,
    "name": "bolt",
    "price": "12.50",
    "event_time": "2026-11-20T10:00:00Z",
}


def parse(**changes: Any) -> list[Any]:
    record = {**GOOD, **changes}
    return RowParser(make_contract()).parse({k: v for k, v in record.items() if v is not ...})


def value(column: str, raw: Any) -> Any:
    parser = RowParser(make_contract())
    return parser.parse({**GOOD, column: raw})[parser.names.index(column)]


def reject(**changes: Any) -> Reject:
    with pytest.raises(Reject) as caught:
        parse(**changes)
    return caught.value


@pytest.mark.parametrize(
    ("column", "raw", "expected"),
    [
        pytest.param("widget_id", "42", 42, id="bigint-from-text"),
        pytest.param("widget_id", 2**62, 2**62, id="bigint-large"),
        pytest.param("name", 7, "7", id="string-from-number"),
        pytest.param("name", Decimal("1.50"), "1.50", id="string-from-json-fraction-keeps-spelling"),
        pytest.param("active", "TRUE", True, id="boolean-text"),
        pytest.param("active", 0, False, id="boolean-zero"),
        pytest.param("rank", " 7 ", 7, id="int-padded"),
        pytest.param("weight", Decimal("0.1"), 0.1, id="double-from-json"),
        pytest.param("weight", "1e3", 1000.0, id="double-exponent"),
        pytest.param("price", Decimal("9999.99"), Decimal("9999.99"), id="decimal-largest"),
        pytest.param("price", "12.5", Decimal("12.50"), id="decimal-rescaled"),
        pytest.param("price", "12.500", Decimal("12.50"), id="decimal-trailing-zeros"),
        pytest.param("price", 3, Decimal("3.00"), id="decimal-from-int"),
        pytest.param("made_on", "2026-11-20", date(2026, 11, 20), id="date"),
        pytest.param(
            "event_time",
            "2026-11-20T01:30:00+02:00",
            datetime(2026, 11, 19, 23, 30, tzinfo=UTC),
            id="timestamptz-offset-to-utc",
        ),
        pytest.param(
            "event_time",
            "2026-11-20 01:30:00",
            datetime(2026, 11, 20, 1, 30, tzinfo=UTC),
            id="timestamptz-naive-is-utc",
        ),
        pytest.param(
            "event_time",
            "2026-11-20T10:00:00.123456Z",
            datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC),
            id="timestamptz-micros",
        ),
        pytest.param(
            "local_time",
            "2026-11-20T10:00:00-05:00",
            datetime(2026, 11, 20, 15, 0),
            id="timestamp-offset-to-utc",
        ),
    ],
)
def test_values_are_parsed_exactly(column: str, raw: Any, expected: Any) -> None:
    got = value(column, raw)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        pytest.param({"widget_id": ...}, "missing_field", "widget_id", id="missing-key"),
        pytest.param({"name": None}, "null_value", "name", id="null-in-not-null"),
        pytest.param({"widget_id": "12a"}, "wrong_type", "widget_id", id="int-text"),
        pytest.param({"widget_id": Decimal("1.5")}, "wrong_type", "widget_id", id="int-fraction"),
        pytest.param({"widget_id": True}, "wrong_type", "widget_id", id="int-boolean"),
        pytest.param({"rank": 2**31}, "wrong_type", "rank", id="int32-overflow"),
        pytest.param({"name": {"a": 1}}, "wrong_type", "name", id="string-object"),
        pytest.param({"name": True}, "wrong_type", "name", id="string-boolean"),
        pytest.param({"active": "maybe"}, "wrong_type", "active", id="boolean-text"),
        pytest.param({"weight": "NaN"}, "wrong_type", "weight", id="double-nan"),
        pytest.param({"price": "abc"}, "wrong_type", "price", id="decimal-text"),
        pytest.param({"price": "10000.00"}, "decimal_too_large", "price", id="decimal-too-large"),
        pytest.param({"price": "1.005"}, "decimal_too_precise", "price", id="decimal-too-precise"),
        pytest.param({"price": "1" * 200}, "decimal_too_large", "price", id="decimal-huge"),
        pytest.param({"made_on": "2026-02-30"}, "bad_date", "made_on", id="date-impossible"),
        pytest.param({"made_on": "2026-11-20T10:00:00"}, "bad_date", "made_on", id="date-with-time"),
        pytest.param({"event_time": "not-a-date"}, "bad_timestamp", "event_time", id="timestamp-text"),
        pytest.param({"event_time": 1_700_000_000}, "bad_timestamp", "event_time", id="timestamp-epoch"),
        pytest.param({"rank": 11}, "out_of_range", "rank", id="range-max"),
        pytest.param({"rank": 0}, "out_of_range", "rank", id="range-min"),
        pytest.param({"color": "green"}, "not_accepted", "color", id="accepted-values"),
    ],
)
def test_rejects_name_reason_and_field(changes: dict[str, Any], reason: str, field: str) -> None:
    problem = reject(**changes)
    assert (problem.reason, problem.field) == (reason, field)
    assert problem.message.startswith(f"{field}: ")


def test_the_first_problem_in_schema_order_is_reported() -> None:
    problem = reject(widget_id="x", price="abc")
    assert problem.field == "widget_id"


def test_nullable_columns_may_be_missing_or_null() -> None:
    values = parse(active=None, color=...)
    parser = RowParser(make_contract())
    assert values[parser.names.index("active")] is None
    assert values[parser.names.index("color")] is None


def test_not_null_check_makes_a_nullable_column_required() -> None:
    contract = make_contract(
        quality={"checks": [{"kind": "not_null", "column": "color"}]},
    )
    with pytest.raises(Reject) as caught:
        RowParser(contract).parse(GOOD)
    assert (caught.value.reason, caught.value.field) == ("missing_field", "color")


def test_partition_is_the_utc_date_of_the_event_time() -> None:
    parser = RowParser(make_contract())
    values = parser.parse({**GOOD, "event_time": "2026-11-20T00:30:00+01:00"})
    assert parser.partition_of(values) == "2026-11-19"


def test_range_bounds_on_timestamps_compare_in_utc() -> None:
    contract = make_contract(
        quality={
            "checks": [{"kind": "range", "column": "event_time", "min": datetime(2026, 11, 1, tzinfo=UTC)}]
        }
    )
    parser = RowParser(contract)
    parser.parse({**GOOD, "event_time": "2026-11-01T00:30:00+00:30"})  # exactly the bound: allowed
    with pytest.raises(Reject) as caught:
        parser.parse({**GOOD, "event_time": "2026-11-01T00:30:00+00:31"})
    assert caught.value.reason == "out_of_range"
