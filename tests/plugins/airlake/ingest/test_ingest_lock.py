"""Two ingest runs of a dataset that overlap (an event run and a scheduled or backfill run) land a file once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airlake.errors import is_transient
from airlake.ingest.lock import STALE_AFTER, IngestBusy, ingest_lock
from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.files import LandingFilesSource
from airlake.lake import lock_key, state_key

CSV = b"product_id,name,price\np1,Mug,12.50\np2,Pen,1.20\n"
EVENT_RUN = "asset_triggered__2026-11-20T09:15:02+00:00_ab12"
SCHEDULED_RUN = "scheduled__2026-11-20T00:00:00+00:00"


def _source(lake) -> LandingFilesSource:
    return LandingFilesSource(store=lake, landing_prefix="landing/products/", file_format="csv")


class _OverlappingSource(LandingFilesSource):
    """Starts a second run of the dataset while this one is between reading a file and checkpointing it."""

    def __init__(self, *, second, **kwargs) -> None:
        super().__init__(**kwargs)
        self.second = second
        self.second_error: BaseException | None = None

    def batches(self, ctx, checkpoint):
        for batch in super().batches(ctx, checkpoint):
            try:
                self.second()
            except IngestBusy as error:
                self.second_error = error
            yield batch


def _raw_inputs(lake) -> list[str]:
    """Every landing file some ingest manifest says it landed (one entry per landing)."""
    keys = []
    for obj in lake.list("_manifests/products/"):
        if obj.key.endswith(".json") and "/ingest/" in obj.key:
            keys += [item["key"] for item in lake.get_json(obj.key).get("inputs", [])]
    return sorted(keys)


def test_a_run_that_starts_while_another_ingests_waits_and_then_lands_nothing_twice(lake, make_ctx) -> None:
    lake.put_bytes("landing/products/2026-11-20/a.csv", CSV)

    def scheduled_run():
        return run_ingest(_source(lake), lake, make_ctx(run_id=SCHEDULED_RUN, dataset="products"))

    event = _OverlappingSource(
        second=scheduled_run, store=lake, landing_prefix="landing/products/", file_format="csv"
    )
    first = run_ingest(event, lake, make_ctx(run_id=EVENT_RUN, dataset="products"))

    assert isinstance(event.second_error, IngestBusy) and EVENT_RUN in str(event.second_error)
    assert is_transient(event.second_error)  # the operator lets Airflow retry it
    assert first["rows"] == 2
    retry = scheduled_run()  # Airflow's retry of the scheduled run, after the event run finished
    assert retry["rows"] == 0 and retry["parts"] == []
    assert _raw_inputs(lake) == ["landing/products/2026-11-20/a.csv"]
    assert set(lake.get_json(state_key("products", "ingest"))["checkpoint"]["files"]) == {
        "landing/products/2026-11-20/a.csv"
    }
    assert not lake.exists(lock_key("products", "ingest"))  # released


def test_without_the_lock_the_overlap_would_land_the_file_twice(lake, make_ctx) -> None:
    """The hazard the lock removes: both runs read the checkpoint before either wrote it."""
    from airlake.ingest import runner

    lake.put_bytes("landing/products/a.csv", CSV)
    landed = []

    def unlocked(ctx):
        return runner._run_ingest(_source(lake), lake, ctx, max_part_bytes=1 << 20)

    class Overlap(LandingFilesSource):
        def batches(self, ctx, checkpoint):
            for batch in super().batches(ctx, checkpoint):
                landed.append(unlocked(make_ctx(run_id=SCHEDULED_RUN, dataset="products")))
                yield batch

    unlocked_first = runner._run_ingest(
        Overlap(store=lake, landing_prefix="landing/products/", file_format="csv"),
        lake,
        make_ctx(run_id=EVENT_RUN, dataset="products"),
        max_part_bytes=1 << 20,
    )
    assert unlocked_first["rows"] == 2 and landed[0]["rows"] == 2
    assert _raw_inputs(lake) == ["landing/products/a.csv", "landing/products/a.csv"]


def test_a_retry_of_the_holder_takes_its_own_lock_back(lake, make_ctx) -> None:
    key = lock_key("products", "ingest")
    lake.put_bytes(key, json.dumps({"run_id": EVENT_RUN, "taken_at": datetime.now(UTC).isoformat()}).encode())
    lake.put_bytes("landing/products/a.csv", CSV)
    summary = run_ingest(_source(lake), lake, make_ctx(run_id=EVENT_RUN, dataset="products"))
    assert summary["rows"] == 2 and not lake.exists(key)


def test_a_stale_lock_of_a_dead_run_is_taken_over_a_fresh_one_is_not(lake) -> None:
    key = lock_key("products", "ingest")
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    taken = (now - STALE_AFTER + timedelta(minutes=1)).isoformat()
    lake.put_bytes(key, json.dumps({"run_id": "dead", "taken_at": taken}).encode())
    with (
        pytest.raises(IngestBusy, match="run dead has been ingesting since"),
        ingest_lock(lake, "products", SCHEDULED_RUN, now=now),
    ):
        pass
    assert lake.get_json(key)["run_id"] == "dead"
    later = now + timedelta(minutes=2)
    with ingest_lock(lake, "products", SCHEDULED_RUN, now=later):
        assert lake.get_json(key)["run_id"] == SCHEDULED_RUN
        assert lake.head(key)["ServerSideEncryption"] == "AES256"
    assert not lake.exists(key)


def test_the_lock_is_released_when_the_run_fails(lake) -> None:
    with pytest.raises(RuntimeError, match="boom"), ingest_lock(lake, "products", EVENT_RUN):
        raise RuntimeError("boom")
    assert not lake.exists(lock_key("products", "ingest"))
    with ingest_lock(lake, "products", SCHEDULED_RUN, now=datetime(2026, 11, 20, tzinfo=UTC)):
        pass
