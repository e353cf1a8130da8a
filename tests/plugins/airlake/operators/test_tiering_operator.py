"""TieringOperator and GlacierRestoreOperator against the session's moto server (S3 and Glue)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from botocore.exceptions import ClientError

from airlake.catalog import PARAM_ARCHIVED, PARAM_RESTORED_UNTIL, archived_partitions, mark_archived
from airlake.operators.tiering import GlacierRestoreOperator, TieringOperator
from airlake.tiering import record_key
from airlake.tiering.lifecycle import get_lifecycle, rule_stem
from airlake.triggers.restore import GlacierRestoreTrigger
from tests.plugins.airlake.tiering.conftest import (
    curated_key,
    partition_parameters,
    publisher,
    put,
    raw_key,
    read,
    storage_class,
    version_id,
)

RUN = "scheduled__2026-11-20T00:00:00+00:00"
END = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def publish(glue, database, lake) -> Any:
    """Create the Glue table of a dataset and publish partitions ``{dt: version}``."""
    return publisher(glue, database, lake)


def _context(run_id: str = RUN, end: datetime | None = END) -> dict[str, Any]:
    return {"run_id": run_id, "data_interval_end": end, "logical_date": end}


@pytest.mark.parametrize("operator_class", [TieringOperator, GlacierRestoreOperator])
def test_template_fields_are_the_arguments(operator_class: type) -> None:
    args = {"bucket": "{{ var.value.airlake_bucket }}"}
    if operator_class is GlacierRestoreOperator:
        args |= {"dataset": "orders", "first_day": "{{ params.start }}", "last_day": "{{ params.end }}"}
    operator = operator_class(task_id="t", **args)
    for name in operator.template_fields:
        assert hasattr(operator, name), name
    assert {"bucket", "aws_conn_id", "region_name"} <= set(operator.template_fields)
    assert operator.bucket == "{{ var.value.airlake_bucket }}"  # kept as given; rendered at run time


def test_restore_defaults_to_the_configured_deferrable_setting() -> None:
    operator = GlacierRestoreOperator(task_id="t", bucket="b", dataset="orders", first_day="x", last_day="y")
    assert operator.deferrable is False  # [operators] default_deferrable is off in this environment
    assert GlacierRestoreOperator(
        task_id="t", bucket="b", dataset="orders", first_day="x", last_day="y", deferrable=True
    ).deferrable


def test_tiering_operator_applies_lifecycle_and_moves_backfills(lake, glue, database, publish) -> None:
    old = (END.date() - timedelta(days=400)).isoformat()
    raw = put(lake, raw_key("orders", old))
    curated = put(lake, curated_key("orders", old, version_id(old)))
    publish("orders", {old: version_id(old)})
    operator = TieringOperator(task_id="tier", bucket=lake.bucket, database=database, datasets=["orders"])

    summary = operator.execute(_context())  # type: ignore[arg-type]

    assert summary["today"] == "2026-11-20" and summary["record"] == record_key(RUN)
    assert summary["moves"]["moved"] == 2
    assert storage_class(lake, raw.key) == storage_class(lake, curated.key) == "GLACIER"
    assert archived_partitions(glue, database, "orders", [old], at=END) == [old]
    stems = {rule_stem(r["ID"]) for r in get_lifecycle(lake.client, lake.bucket)["Rules"]}
    assert "raw/orders:transition" in stems and "raw/clickstream:transition" not in stems

    again = operator.execute(_context())  # type: ignore[arg-type]
    assert again["lifecycle"]["added"] == [] and again["moves"]["objects"] == 0


def test_dry_run_and_an_explicit_date(lake, glue, database) -> None:
    obj = put(lake, raw_key("payments", "2026-01-01"))
    operator = TieringOperator(
        task_id="tier",
        bucket=lake.bucket,
        database=database,
        datasets="payments",  # templated text works too
        today="2026-03-01",
        dry_run=True,
    )

    summary = operator.execute(_context(end=None))  # type: ignore[arg-type]

    assert summary["today"] == "2026-03-01"
    assert summary["moves"]["by_target"] == {
        "raw/payments:STANDARD_IA": {"objects": 1, "bytes": len(obj.body)}
    }
    assert storage_class(lake, obj.key) == "STANDARD"
    assert get_lifecycle(lake.client, lake.bucket) == {"Rules": []}


def test_invalid_policies_fail_without_retry_naming_the_field(lake, database) -> None:
    operator = TieringOperator(
        task_id="tier",
        bucket=lake.bucket,
        database=database,
        datasets=["orders"],
        policy_overrides={"raw/orders": {"standard_ia_after_days": 7}},
    )
    with pytest.raises(AirflowFailException, match=r"raw/orders: standard_ia_after_days: is 7"):
        operator.execute(_context())  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match=r"no contract for dataset\(s\) nope"):
        TieringOperator(task_id="t", bucket=lake.bucket, datasets=["nope"]).execute(_context())  # type: ignore[arg-type]


def _archived_curated(lake, glue, database, publish) -> tuple[str, Any]:
    """A curated partition archived by tiering: objects in Glacier, Glue flag set."""
    dt = "2025-06-01"
    obj = put(lake, curated_key("orders", dt, version_id(dt)), StorageClass="GLACIER")
    publish("orders", {dt: version_id(dt)})
    mark_archived(glue, database, "orders", [dt])
    return dt, obj


def _restore(lake, database, **kwargs: Any) -> GlacierRestoreOperator:
    return GlacierRestoreOperator(
        task_id="restore",
        bucket=lake.bucket,
        dataset="orders",
        zone="curated",
        database=database,
        first_day="2025-05-31",
        last_day="2025-06-02",
        **kwargs,
    )


def test_restore_then_read_a_curated_partition(lake, glue, database, publish) -> None:
    dt, obj = _archived_curated(lake, glue, database, publish)
    with pytest.raises(ClientError, match="InvalidObjectState"):
        read(lake, obj.key)

    summary = _restore(lake, database, restore_days=3).execute(_context())  # type: ignore[arg-type]

    assert read(lake, obj.key) == obj.body
    assert (summary["objects"], summary["partitions"], summary["catalog_flags_cleared"]) == (1, [dt], [dt])
    params = partition_parameters(glue, database, "orders", dt)
    assert params[PARAM_ARCHIVED] == "false"
    assert params[PARAM_RESTORED_UNTIL] == summary["restored_until"]
    assert archived_partitions(glue, database, "orders", [dt], at=END) == []
    record = lake.get_json(summary["record"])
    assert summary["record"].startswith("_manifests/orders/") and record["keys"] == [obj.key]


def test_nothing_archived_returns_at_once(lake, database) -> None:
    put(lake, raw_key("orders", "2025-06-01"))
    operator = GlacierRestoreOperator(
        task_id="r",
        bucket=lake.bucket,
        dataset="orders",
        first_day="2025-06-01",
        last_day="2025-06-01",
        deferrable=True,
    )
    summary = operator.execute(_context())  # type: ignore[arg-type]
    assert summary["objects"] == 0 and "record" not in summary


def _slow_restores(monkeypatch: pytest.MonkeyPatch, rounds: int) -> list[int]:
    """Make the first ``rounds`` checks report every object still being restored (moto restores at once)."""
    from airlake.tiering import restore

    real, calls = restore.pending, []

    def slow(statuses: Any) -> list[str]:
        calls.append(1)
        return sorted(statuses) if len(calls) <= rounds else real(statuses)

    monkeypatch.setattr(restore, "pending", slow)
    return calls


def test_deferrable_restore_defers_to_the_trigger_and_completes(
    lake, glue, database, publish, monkeypatch
) -> None:
    dt, obj = _archived_curated(lake, glue, database, publish)
    _slow_restores(monkeypatch, rounds=1)
    operator = _restore(lake, database, deferrable=True, poke_interval=0.01, max_wait=600)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context())  # type: ignore[arg-type]

    trigger = deferred.value.trigger
    assert isinstance(trigger, GlacierRestoreTrigger)
    assert (deferred.value.method_name, deferred.value.timeout) == (
        "execute_complete",
        timedelta(seconds=600),
    )
    assert trigger.keys == [obj.key] and trigger.bucket == lake.bucket

    async def first_event() -> Any:
        async for event in trigger.run():
            return event

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    summary = operator.execute_complete(_context(), event.payload)  # type: ignore[arg-type]

    assert summary["catalog_flags_cleared"] == [dt]
    assert read(lake, obj.key) == obj.body


def test_failed_trigger_event_fails_the_task(lake, database) -> None:
    operator = _restore(lake, database, deferrable=True)
    with pytest.raises(AirflowException, match=r"restore of curated/orders .* failed: boom"):
        operator.execute_complete(_context(), {"status": "error", "message": "boom"})  # type: ignore[arg-type]


def test_non_deferrable_restore_polls_until_readable(lake, glue, database, publish, monkeypatch) -> None:
    dt, _ = _archived_curated(lake, glue, database, publish)
    calls = _slow_restores(monkeypatch, rounds=3)

    summary = _restore(lake, database, deferrable=False, poke_interval=0.01).execute(_context())  # type: ignore[arg-type]

    assert summary["partitions"] == [dt] and len(calls) >= 4


def test_non_deferrable_restore_gives_up_after_max_wait(lake, glue, database, publish, monkeypatch) -> None:
    _archived_curated(lake, glue, database, publish)
    _slow_restores(monkeypatch, rounds=10_000)
    operator = _restore(lake, database, deferrable=False, poke_interval=0.01, max_wait=0.05)

    with pytest.raises(AirflowException, match=r"1 object\(s\) of s3://.* still not restored after"):
        operator.execute(_context())  # type: ignore[arg-type]
