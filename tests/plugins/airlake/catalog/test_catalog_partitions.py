"""Glue partitions (:mod:`airlake.catalog.partitions`): publishing versions, reads, lost replies, the live
lookup, against the session's moto server."""

from __future__ import annotations

from typing import Any

import pytest

from airlake.catalog import (
    PARQUET_SERDE,
    PartitionPublishError,
    ensure_database,
    ensure_table,
    live_location_lookup,
    publish_partitions,
)
from airlake.contracts import get_contract
from tests.plugins.airlake.catalog.catalog_helpers import (
    BUCKET,
    VERSION_1,
    VERSION_2,
    location,
    partitions_of,
    table_of,
)

# --------------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------------

DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]


def _entries(days: list[str], version: str) -> list[dict[str, Any]]:
    return [
        {"dt": day, "version": version, "location": location(BUCKET, "orders", day, version)} for day in days
    ]


def test_publish_registers_exactly_the_given_partitions(glue, database, orders_table) -> None:
    report = publish_partitions(
        glue, database, "orders", _entries(DAYS, VERSION_1), orders_table["StorageDescriptor"]
    )

    assert report == {"created": DAYS, "updated": [], "unchanged": []}
    assert partitions_of(glue, database, "orders") == {
        day: location(BUCKET, "orders", day, VERSION_1) for day in DAYS
    }
    partition = glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[DAYS[0]])[
        "Partition"
    ]
    sd = partition["StorageDescriptor"]
    assert sd["Columns"] == orders_table["StorageDescriptor"]["Columns"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert partition["Parameters"] == {"airlake.version": VERSION_1}


def test_republishing_is_a_no_op(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    before = glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"]

    report = publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)

    assert report == {"created": [], "updated": [], "unchanged": DAYS}
    assert glue.get_partitions(DatabaseName=database, TableName="orders")["Partitions"] == before


def test_new_version_moves_only_its_partition(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    others = {
        day: glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[day])["Partition"]
        for day in DAYS[:2]
    }

    new = location(BUCKET, "orders", DAYS[2], VERSION_2)
    report = publish_partitions(
        glue,
        database,
        "orders",
        [{"dt": DAYS[2], "version": VERSION_2, "location": new, "previous_location": None}],
        sd,
    )

    assert report == {
        "created": [],
        "updated": [
            {
                "dt": DAYS[2],
                "previous_location": location(BUCKET, "orders", DAYS[2], VERSION_1),
                "location": new,
            }
        ],
        "unchanged": [],
    }
    assert partitions_of(glue, database, "orders")[DAYS[2]] == new
    for day, partition in others.items():
        assert (
            glue.get_partition(DatabaseName=database, TableName="orders", PartitionValues=[day])["Partition"]
            == partition
        )


def test_mixed_publish_creates_moves_and_keeps(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS[:2], VERSION_1), sd)
    entries = _entries(DAYS[:1], VERSION_1) + _entries(DAYS[1:], VERSION_2)

    report = publish_partitions(glue, database, "orders", entries, sd)

    assert report["created"] == [DAYS[2]]
    assert [u["dt"] for u in report["updated"]] == [DAYS[1]]
    assert report["unchanged"] == [DAYS[0]]


def test_publish_many_partitions_in_batches(glue, database, orders_table) -> None:
    days = [f"2026-{month:02d}-{day:02d}" for month in range(1, 8) for day in range(1, 31)][:205]
    sd = orders_table["StorageDescriptor"]
    assert len(publish_partitions(glue, database, "orders", _entries(days, VERSION_1), sd)["created"]) == 205
    report = publish_partitions(glue, database, "orders", _entries(days, VERSION_2), sd)
    assert len(report["updated"]) == 205
    assert set(partitions_of(glue, database, "orders").values()) == {
        location(BUCKET, "orders", day, VERSION_2) for day in days
    }


def test_trailing_slash_does_not_matter(glue, database, orders_table) -> None:
    sd = orders_table["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS[:1], VERSION_1), sd)
    entry = {"dt": DAYS[0], "location": location(BUCKET, "orders", DAYS[0], VERSION_1).rstrip("/")}
    assert publish_partitions(glue, database, "orders", [entry], sd)["unchanged"] == [DAYS[0]]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param([{"location": "s3://b/x/"}], "without a 'dt'", id="no-dt"),
        pytest.param([{"dt": "2026-11-20", "location": "/tmp/x"}], "s3:// URI", id="not-s3"),
        pytest.param(
            [{"dt": "2026-11-20", "location": "s3://b/a/"}, {"dt": "2026-11-20", "location": "s3://b/b/"}],
            "given twice",
            id="two-locations",
        ),
    ],
)
def test_publish_rejects_bad_entries(entries, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        publish_partitions(None, "db", "t", entries, {})


class _RefusingGlue:
    """A Glue client stub whose batch calls report errors for some partitions, recording its calls."""

    def __init__(self, existing: dict[str, str]) -> None:
        self.existing = existing
        self.calls: list[tuple[str, int]] = []

    def batch_get_partition(self, *, DatabaseName, TableName, PartitionsToGet):
        found = [p["Values"] for p in PartitionsToGet if p["Values"][0] in self.existing]
        return {
            "Partitions": [
                {"Values": v, "StorageDescriptor": {"Location": self.existing[v[0]]}} for v in found
            ]
        }

    def batch_create_partition(self, *, DatabaseName, TableName, PartitionInputList):
        self.calls.append(("create", len(PartitionInputList)))
        return {
            "Errors": [
                {
                    "PartitionValues": PartitionInputList[0]["Values"],
                    "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException",
                        "ErrorMessage": "Partition already exists.",
                    },
                }
            ]
        }

    def batch_update_partition(self, *, DatabaseName, TableName, Entries):
        self.calls.append(("update", len(Entries)))
        return {
            "Errors": [
                {
                    "PartitionValueList": Entries[-1]["PartitionValueList"],
                    "ErrorDetail": {
                        "ErrorCode": "EntityNotFoundException",
                        "ErrorMessage": "Partition not found.",
                    },
                }
            ]
        }


@pytest.mark.parametrize(
    ("existing", "failing", "code"),
    [
        pytest.param({}, "2026-11-18", "AlreadyExistsException", id="create"),
        pytest.param(
            {day: "s3://b/old/" for day in DAYS}, "2026-11-20", "EntityNotFoundException", id="update"
        ),
    ],
)
def test_batch_errors_raise_with_partition_values(existing, failing: str, code: str) -> None:
    with pytest.raises(PartitionPublishError) as raised:
        publish_partitions(_RefusingGlue(existing), "db", "orders", _entries(DAYS, VERSION_1), {})
    assert f"['{failing}']: {code}" in str(raised.value)
    assert set(raised.value.errors) == {(failing,)}


class _RacedGlue(_RefusingGlue):
    """batch_get_partition finds nothing at first; the create then meets partitions already there (the
    first, lost reply of the same batch, or another publisher) at the locations in ``appeared``."""

    def __init__(self, appeared: dict[str, str]) -> None:
        super().__init__({})
        self.appeared = appeared

    def batch_create_partition(self, *, DatabaseName, TableName, PartitionInputList):
        self.calls.append(("create", len(PartitionInputList)))
        self.existing = dict(self.appeared)
        return {
            "Errors": [
                {
                    "PartitionValues": p["Values"],
                    "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException",
                        "ErrorMessage": "Partition exists.",
                    },
                }
                for p in PartitionInputList
                if p["Values"][0] in self.appeared
            ]
        }


def test_partitions_already_created_at_the_wanted_location_are_success() -> None:
    entries = _entries(DAYS, VERSION_1)
    glue = _RacedGlue({e["dt"]: e["location"] for e in entries})

    report = publish_partitions(glue, "db", "orders", entries, {})

    assert report == {"created": DAYS, "updated": [], "unchanged": []}


def test_a_partition_already_created_elsewhere_is_a_conflict_naming_both_locations() -> None:
    entries = _entries(DAYS, VERSION_1)
    theirs = location(BUCKET, "orders", "2026-11-19", VERSION_2)
    glue = _RacedGlue({"2026-11-18": entries[0]["location"], "2026-11-19": theirs})

    with pytest.raises(PartitionPublishError) as raised:
        publish_partitions(glue, "db", "orders", entries, {})

    assert set(raised.value.errors) == {("2026-11-19",)}
    assert raised.value.errors[("2026-11-19",)] == (
        f"exists at another location: wanted {entries[1]['location']}, found {theirs}"
    )


def test_batches_hold_at_most_100_partitions() -> None:
    class Accepting(_RefusingGlue):
        def batch_create_partition(self, **kwargs):
            super().batch_create_partition(**kwargs)
            return {}

    glue = Accepting({})
    days = [f"2026-01-01-{n:03d}" for n in range(250)]
    publish_partitions(glue, "db", "orders", _entries(days, VERSION_1), {})
    assert glue.calls == [("create", 100), ("create", 100), ("create", 50)]


def test_live_location_lookup(glue, database) -> None:
    assert live_location_lookup(glue, database, "orders")("2026-11-20") is None  # no database yet
    ensure_database(glue, database)
    assert live_location_lookup(glue, database, "orders")("2026-11-20") is None  # no table yet
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    sd = table_of(glue, database, "orders")["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)

    lookup = live_location_lookup(glue, database, "orders")
    assert lookup(DAYS[1]) == location(BUCKET, "orders", DAYS[1], VERSION_1)
    assert lookup("2026-11-21") is None

    publish_partitions(glue, database, "orders", _entries(DAYS[1:2], VERSION_2), sd)
    assert live_location_lookup(glue, database, "orders")(DAYS[1]) == location(
        BUCKET, "orders", DAYS[1], VERSION_2
    )


def test_partition_reads_page_select_and_treat_a_missing_table_as_empty(glue, database) -> None:
    from airlake.catalog import get_partitions, live_locations, partition_locations, table_partitions

    assert table_partitions(glue, database, "orders") == {}  # no database yet
    ensure_database(glue, database)
    assert get_partitions(glue, database, "orders", DAYS) == {}  # no table yet
    assert live_locations(glue, database, "orders") == {}
    ensure_table(glue, database, get_contract("orders"), BUCKET)
    sd = table_of(glue, database, "orders")["StorageDescriptor"]
    publish_partitions(glue, database, "orders", _entries(DAYS, VERSION_1), sd)
    located = {day: location(BUCKET, "orders", day, VERSION_1) for day in DAYS}

    assert partition_locations(table_partitions(glue, database, "orders")) == located
    selected = table_partitions(glue, database, "orders", expression=f"dt >= '{DAYS[1]}'")
    assert sorted(selected) == DAYS[1:]
    assert partition_locations(get_partitions(glue, database, "orders", [DAYS[0], "2026-11-30"])) == {
        DAYS[0]: located[DAYS[0]]
    }
    assert live_locations(glue, database, "orders") == located
