"""One ingest at a time per dataset: a lock object in S3, taken with a conditional write.

Ingest reads the source checkpoint, lands what is new and only then writes the checkpoint back: two
runs of a dataset that overlap would both read the old checkpoint and land the same landing files (or,
for a stream, read from the same position). The DAG's ``max_active_runs=1`` keeps its scheduled, event
and manual runs apart, but not a backfill (Airflow 3 counts a backfill's runs on their own) nor another
DAG that ingests the dataset. So :func:`run_ingest <airlake.ingest.runner.run_ingest>` takes this lock
first: ``PutObject`` with ``If-None-Match: *`` succeeds for one writer only (S3 conditional writes; moto
has them too). A second run fails with the transient :class:`IngestBusy`, is retried by Airflow, and
finds the file already claimed in the checkpoint the first run wrote.

A lock left by a killed run is taken over by that run's retry (same run id) at once, by any other run
once it is :data:`STALE_AFTER` old (also with a conditional write on the lock's ETag, so two runs never
both take it over).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from airlake.lake import lock_key
from airlake.store import LakeStore

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(hours=6)
"""Older than any ingest (the task's timeout is shorter): its holder is dead."""


class IngestBusy(RuntimeError):
    """Another run of the dataset is ingesting; a retry a few minutes later goes through."""

    transient = True  # airlake.errors.is_transient: let Airflow retry


def _conflict(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {409, 412}


def _put(store: LakeStore, key: str, body: bytes, **condition: str) -> bool:
    try:
        store.client.put_object(
            Bucket=store.bucket, Key=key, Body=body, ContentType="application/json", **store.sse, **condition
        )
    except ClientError as error:
        if _conflict(error):
            return False
        raise
    return True


def _holder(store: LakeStore, key: str) -> tuple[dict[str, Any], str] | None:
    try:
        got = store.client.get_object(Bucket=store.bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    return json.loads(got["Body"].read()), got["ETag"]


@contextmanager
def ingest_lock(
    store: LakeStore, dataset: str, run_id: str, *, now: datetime | None = None
) -> Iterator[None]:
    """Hold the dataset's ingest lock for the block; raise :class:`IngestBusy` when another run has it."""
    key = lock_key(dataset, "ingest")
    taken_at = now or datetime.now(UTC)
    body = json.dumps({"dataset": dataset, "run_id": run_id, "taken_at": taken_at.isoformat()}).encode()
    if not _put(store, key, body, IfNoneMatch="*"):
        held = _holder(store, key)
        if held is None:  # released meanwhile
            if not _put(store, key, body, IfNoneMatch="*"):
                raise IngestBusy(f"{dataset}: another run took the ingest lock s3://{store.bucket}/{key}")
        else:
            holder, etag = held
            age = taken_at - datetime.fromisoformat(holder["taken_at"])
            if holder.get("run_id") != run_id and age < STALE_AFTER:
                raise IngestBusy(
                    f"{dataset}: run {holder.get('run_id')} has been ingesting since {holder['taken_at']} "
                    f"(lock s3://{store.bucket}/{key}); this run {run_id} retries later and lands only what "
                    "that run did not claim"
                )
            if not _put(store, key, body, IfMatch=etag):
                raise IngestBusy(
                    f"{dataset}: another run took over the ingest lock s3://{store.bucket}/{key}"
                )
            log.warning(
                "Took over the ingest lock of %s from run %s (%s old)", dataset, holder.get("run_id"), age
            )
    try:
        yield
    finally:
        held = _holder(store, key)
        if held is not None and held[0].get("run_id") == run_id:
            store.delete([key])
