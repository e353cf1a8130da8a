"""The typed values a curate run writes its manifest from: what it read of each part, what it made of
each partition (no hidden keys popped later)."""

from __future__ import annotations

import pytest

from airlake.curate.errors import CurateError
from airlake.curate.record import (
    ROW_COUNTS,
    CurateDetails,
    CurateManifest,
    PartitionOutcome,
    RawInput,
    add_partitions,
    record_inputs,
)
from airlake.manifest import CuratedPartition, RawPart

KEY = "raw/orders/ingest_date=2026-11-20/run/part-00000.csv.gz"


def _manifest() -> CurateManifest:
    details = CurateDetails(raw_runs=["r"], schema_hash="h", dedup={}, reject_rate_max=0.0)
    manifest = CurateManifest(dataset="orders", run_id="r", stage="curate", details=details)
    manifest.rows = dict.fromkeys(ROW_COUNTS, 0)
    return manifest


def test_inputs_entries_name_the_landing_file_and_header_only_when_known() -> None:
    part = RawPart(KEY, raw_run="r", bytes=10, rows=3, sha256="s", landing="landing/o/a.csv")
    header = {"refused": None, "warnings": ["a.csv: column 'x' is not in the contract"]}
    manifest = _manifest()
    record_inputs(
        manifest,
        [
            RawInput(part, 10, "s", rows=2, landing=part.landing, header=header),
            RawInput(part, 10, "s", rows=3),
        ],
    )

    assert manifest.inputs == [
        {
            "key": KEY,
            "format": "csv",
            "bytes": 10,
            "sha256": "s",
            "rows": 2,
            "rows_ingested": 3,
            "raw_run": "r",
            "landing": "landing/o/a.csv",
            "header": header,
        },
        {
            "key": KEY,
            "format": "csv",
            "bytes": 10,
            "sha256": "s",
            "rows": 3,
            "rows_ingested": 3,
            "raw_run": "r",
        },
    ]
    assert manifest.details.warnings == [
        f"{KEY}: read 2 rows, the ingest manifest counted 3",
        "a.csv: column 'x' is not in the contract",
    ]
    assert manifest.rows["read"] == 5


def _partition(dt: str, **changes: object) -> CuratedPartition:
    values = {"rows": 3, "rows_new": 4, "rows_new_kept": 3, "rows_existing": 0, "rows_existing_kept": 0}
    return CuratedPartition(
        dt=dt, location=f"s3://lake/curated/orders/dt={dt}/v=v1/", version="v1", **{**values, **changes}
    )  # type: ignore[arg-type]


def test_partitions_are_summed_and_only_what_this_attempt_uploaded_is_an_output() -> None:
    manifest = _manifest()
    manifest.rows.update(read=8, accepted=8)
    uploaded = (
        {"key": "curated/orders/dt=2026-11-20/v=v1/part-00000.parquet", "rows": 3, "bytes": 9, "sha256": "h"},
    )
    add_partitions(
        manifest,
        [
            PartitionOutcome(_partition("2026-11-20"), uploaded),
            PartitionOutcome(_partition("2026-11-21", unchanged=True)),
        ],
    )

    entries = manifest.details.entries()
    assert [p["dt"] for p in entries["partitions"]] == ["2026-11-20", "2026-11-21"]
    assert "unchanged" not in entries["partitions"][0]
    assert entries["partitions"][1]["unchanged"] is True
    assert entries["unchanged"] == ["2026-11-21"]
    assert manifest.outputs == [{"kind": "curated", "dt": "2026-11-20", **uploaded[0]}]
    assert (manifest.rows["written"], manifest.rows["duplicates_dropped"], manifest.rows["output"]) == (
        6,
        2,
        6,
    )


def test_partitions_that_do_not_balance_with_what_was_read_fail_the_run() -> None:
    manifest = _manifest()
    manifest.rows.update(read=5, accepted=5)
    with pytest.raises(CurateError, match="row accounting does not balance"):
        add_partitions(manifest, [PartitionOutcome(_partition("2026-11-20"))])
