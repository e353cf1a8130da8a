"""The typed reading of run manifests: one parse per stage, one rule for "complete"."""

from __future__ import annotations

from datetime import date

from airlake.lake import manifest_attempt_key
from airlake.manifest import (
    CatalogRecord,
    CuratedPartition,
    CurateRecord,
    IngestRecord,
    LoadRecord,
    Manifest,
    StageRecord,
    is_complete,
    parse_record,
    read_record,
)

RUN = "scheduled__2026-11-20T00:00:00+00:00"


def test_a_record_is_complete_only_when_its_status_says_so() -> None:
    assert is_complete({"status": "complete"})
    assert not is_complete({"status": "failed"})
    assert not is_complete({})  # every record the lake writes has a status: none is not complete
    assert not is_complete(None)
    assert parse_record({"status": "complete"}, "catalog").complete
    assert not parse_record({"run_id": RUN}, "curate").complete


def test_ingest_record_pairs_a_files_source_parts_with_their_landing_files() -> None:
    document = {
        "dataset": "products",
        "run_id": RUN,
        "stage": "ingest",
        "status": "complete",
        "source": {"kind": "files"},
        "interval": {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-21T00:00:00+00:00"},
        "inputs": [{"key": "landing/p/a.csv", "rows": 2}, {"key": "landing/p/b.csv", "rows": 1}],
        "outputs": [
            {"key": "raw/p/ingest_date=2026-11-20/run/part-00000.csv", "bytes": 30, "rows": 2, "sha256": "x"},
            {"key": "raw/p/ingest_date=2026-11-20/run/part-00001.csv", "bytes": 20, "rows": 1, "sha256": "y"},
        ],
        "rows": {"read": 3, "landed": 3},
    }
    record = parse_record(document, "ingest")
    assert isinstance(record, IngestRecord)
    assert [
        (p.key.rsplit("/", 1)[-1], p.raw_run, p.rows, p.bytes, p.sha256, p.landing) for p in record.parts
    ] == [
        ("part-00000.csv", RUN, 2, 30, "x", "landing/p/a.csv"),
        ("part-00001.csv", RUN, 1, 20, "y", "landing/p/b.csv"),
    ]
    assert record.ingest_date == date(2026, 11, 20)
    assert record.row("landed") == 3
    assert record.row("missing") == 0


def test_ingest_record_of_another_source_names_no_landing_file_and_dates_by_its_keys() -> None:
    record = IngestRecord.parse(
        {
            "run_id": RUN,
            "source": {"kind": "http"},
            "inputs": [{"url": "https://api/x"}],
            "outputs": [{"key": "raw/o/ingest_date=2026-11-19/r/part-00000.jsonl.gz"}],
        }
    )
    assert [(p.landing, p.rows, p.sha256) for p in record.parts] == [(None, None, None)]
    assert record.ingest_date == date(2026, 11, 19)
    assert IngestRecord.parse({"run_id": RUN}).ingest_date is None


def test_curate_record_types_its_partitions_quarantine_and_raw_runs() -> None:
    entry = {
        "dt": "2026-11-20",
        "version": "v1",
        "location": "s3://lake/curated/orders/dt=2026-11-20/v=v1/",
        "previous_location": None,
        "files": ["curated/orders/dt=2026-11-20/v=v1/part-00000.parquet"],
        "rows": 3,
        "bytes": 100,
        "sha256": {"curated/orders/dt=2026-11-20/v=v1/part-00000.parquet": "abc"},
        "rows_new": 4,
        "rows_new_kept": 3,
        "rows_existing": 0,
        "rows_existing_kept": 0,
    }
    document = {
        "run_id": RUN,
        "status": "complete",
        "raw_runs": ["earlier", RUN],
        "version": "v1",
        "partitions": [entry, {**entry, "dt": "2026-11-21", "unchanged": True}],
        "quarantine": {
            "key": "quarantine/q.gz",
            "location": "s3://lake/quarantine/q.gz",
            "rows": 1,
            "reasons": {"not_json": 1},
        },
        "reject_rate": 0.2,
        "outputs": [{"kind": "curated", "key": "k1"}, {"kind": "quarantine", "key": "quarantine/q.gz"}],
    }
    record = parse_record(document, "curate")
    assert isinstance(record, CurateRecord)
    assert record.raw_runs == ("earlier", RUN)
    first, second = record.partitions
    assert (first.dt, first.version, first.rows, first.rows_new, first.unchanged) == (
        "2026-11-20",
        "v1",
        3,
        4,
        False,
    )
    assert second.unchanged
    assert first.as_entry() == entry  # the entry as written, nothing added
    assert record.files == [*entry["files"], *entry["files"]]
    assert record.quarantine is not None
    assert (record.quarantine.key, record.quarantine.rows, dict(record.quarantine.reasons)) == (
        "quarantine/q.gz",
        1,
        {"not_json": 1},
    )
    assert record.reject_rate == 0.2
    assert [item["key"] for item in record.curated_outputs()] == ["k1"]
    assert [item["key"] for item in record.quarantine_outputs()] == ["quarantine/q.gz"]


def test_a_curate_record_older_than_raw_runs_consumed_its_own_run() -> None:
    record = CurateRecord.parse({"run_id": RUN, "status": "complete"})
    assert record.raw_runs == (RUN,)
    assert record.partitions == ()
    assert record.quarantine is None


def test_a_partition_entry_written_by_an_older_stage_reads_with_zero_counts() -> None:
    partition = CuratedPartition.parse({"dt": "2026-11-20", "files": ["a.parquet"]})
    assert (partition.location, partition.files, partition.rows, partition.sha256) == (
        "",
        ("a.parquet",),
        0,
        {},
    )


def test_read_record_reads_what_manifest_wrote_typed_and_the_latest_attempt_with_a_status(lake) -> None:
    assert read_record(lake, "orders", RUN, "curate") is None
    done = Manifest(dataset="orders", run_id=RUN, stage="curate", extra={"version": "v1", "raw_runs": [RUN]})
    done.write(lake)
    Manifest(dataset="orders", run_id=RUN, stage="curate", extra={"error": "boom"}).write(lake, "failed")

    latest = read_record(lake, "orders", RUN, "curate")
    assert isinstance(latest, CurateRecord)
    assert (latest.status, latest.attempt, latest.error, latest.complete) == ("failed", 2, "boom", False)
    complete = read_record(lake, "orders", RUN, CurateRecord, status="complete")
    assert complete is not None
    assert (complete.status, complete.attempt, complete.version, complete.raw_runs) == (
        "complete",
        1,
        "v1",
        (RUN,),
    )
    assert complete.document == lake.get_json(manifest_attempt_key("orders", RUN, "curate", 1))


def test_each_stage_reads_as_its_record_class(lake) -> None:
    Manifest(
        dataset="orders",
        run_id=RUN,
        stage="catalog",
        extra={"database": "db", "partitions": {"created": ["d"]}},
    ).write(lake)
    Manifest(
        dataset="orders", run_id=RUN, stage="load", inputs=[{"key": "f.parquet"}], extra={"table": "t"}
    ).write(lake)
    Manifest(dataset="orders", run_id=RUN, stage="compaction").write(lake)

    catalog = read_record(lake, "orders", RUN, "catalog")
    assert isinstance(catalog, CatalogRecord)
    assert (catalog.database, dict(catalog.published), catalog.complete) == ("db", {"created": ["d"]}, True)
    load = read_record(lake, "orders", RUN, "load")
    assert isinstance(load, LoadRecord)
    assert (load.table, load.files) == ("t", ("f.parquet",))
    other = read_record(lake, "orders", RUN, "compaction")
    assert type(other) is StageRecord
    assert other.complete
