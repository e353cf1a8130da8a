"""One ingest run: source -> raw parts -> manifest -> checkpoint -> acknowledge, in that order.

The order is what makes a run safe to retry: the checkpoint moves and SQS messages are deleted only
after every part and the manifest are in S3. A crash before that re-reads the same data and
overwrites the run's own parts; a completed run is never rewritten (raw is an immutable log).

An input the source cannot read at all (a poison file) is set aside whole in quarantine with a reason
record, listed in the manifest's ``poison_files`` and the summary, and claimed by the checkpoint like
any other, so it never stops the rest of the run or a later one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airlake.ingest.base import IngestContext, IngestSource, PoisonInput
from airlake.ingest.raw_writer import DEFAULT_PART_BYTES, RawWriter
from airlake.lake import (
    quarantine_file_key,
    quarantine_files_prefix,
    quarantine_reason_key,
    raw_run_prefix,
    state_key,
)
from airlake.manifest import INGEST, IngestRecord, Manifest, read_record
from airlake.store import LakeStore

log = logging.getLogger(__name__)
STAGE = INGEST


def run_ingest(
    source: IngestSource,
    store: LakeStore,
    ctx: IngestContext,
    *,
    max_part_bytes: int = DEFAULT_PART_BYTES,
) -> dict[str, Any]:
    """Land everything new from ``source`` under the run's raw prefix and return the run's summary.

    One run of a dataset at a time reads and moves the checkpoint (:mod:`airlake.ingest.lock`)."""
    from airlake.ingest.lock import ingest_lock

    with ingest_lock(store, ctx.dataset, ctx.run_id):
        return _run_ingest(source, store, ctx, max_part_bytes=max_part_bytes)


def _run_ingest(
    source: IngestSource, store: LakeStore, ctx: IngestContext, *, max_part_bytes: int
) -> dict[str, Any]:
    previous = read_record(store, ctx.dataset, ctx.run_id, IngestRecord)
    if previous is not None and previous.complete:
        log.info("Run %s of %s already ingested; raw data is never rewritten.", ctx.run_id, ctx.dataset)
        return summarize(previous, skipped=True)

    state = store.get_json(state_key(ctx.dataset, STAGE)) or {}
    checkpoint = state.get("checkpoint")
    prefix = raw_run_prefix(ctx.dataset, ctx.ingest_date, ctx.run_id)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    writer = RawWriter(store, prefix, ctx.work_dir, max_part_bytes=max_part_bytes)
    manifest = Manifest(dataset=ctx.dataset, run_id=ctx.run_id, stage=STAGE, source=source.describe())
    manifest.interval = {"start": ctx.interval_start.isoformat(), "end": ctx.interval_end.isoformat()}

    poison: list[dict[str, Any]] = []
    try:
        new_checkpoint = _land(source, ctx, writer, manifest, checkpoint, store, poison)
        parts = writer.close()
        _remove_leftovers(store, prefix, {part.key for part in parts})
        _remove_leftovers(
            store,
            quarantine_files_prefix(ctx.dataset, ctx.ingest_date, ctx.run_id),
            {key for item in poison for key in (item["quarantine_key"], item["reason_key"])},
        )
        rows_read = sum(int(item.get("rows", 0)) for item in manifest.inputs)
        rows_landed = sum(part.rows for part in parts)
        if rows_read != rows_landed:
            raise RuntimeError(
                f"{ctx.dataset} run {ctx.run_id}: read {rows_read} rows but landed {rows_landed}; "
                "nothing was checkpointed, the next try re-reads the same data"
            )
        manifest.outputs = [part.as_dict() for part in parts]
        manifest.rows = {"read": rows_read, "landed": rows_landed}
        manifest.extra = {
            "checkpoint_before": checkpoint,
            "checkpoint_after": new_checkpoint,
            "skipped_inputs": source.skipped_inputs(),
            "poison_files": poison,
            "input_counts": {"landed": len(manifest.inputs), "poison": len(poison)},
        }
        manifest_key = manifest.write(store)
    except BaseException:
        source.release()
        raise
    store.put_json(
        state_key(ctx.dataset, STAGE),
        {"checkpoint": new_checkpoint, "run_id": ctx.run_id, "updated_at": datetime.now(UTC).isoformat()},
    )
    source.acknowledge()
    log.info(
        "Ingested %s rows of %s into %d part(s) under s3://%s/%s",
        rows_landed,
        ctx.dataset,
        len(parts),
        store.bucket,
        prefix,
    )
    if poison:
        log.warning(
            "%s run %s: %d file(s) could not be read and were quarantined whole: %s",
            ctx.dataset,
            ctx.run_id,
            len(poison),
            "; ".join(
                f"{item['source_key']} ({item['reason']}) -> {item['quarantine_key']}" for item in poison
            ),
        )
    return summarize(IngestRecord.parse(manifest.as_document()), skipped=False) | {"manifest": manifest_key}


def _land(
    source: IngestSource,
    ctx: IngestContext,
    writer: RawWriter,
    manifest: Manifest,
    checkpoint: dict[str, Any] | None,
    store: LakeStore,
    poison: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Stream every batch into the writer (poison inputs into quarantine); returns the source position
    after the last one."""
    new_checkpoint = checkpoint
    for batch in source.batches(ctx, checkpoint):
        if batch.poison is not None:
            poison.append(_quarantine(store, ctx, batch.poison))
            batch.poison.path.unlink(missing_ok=True)
        elif batch.file is not None:
            writer.add_file(batch.file, suffix=batch.suffix, rows=batch.rows)
            batch.file.unlink(missing_ok=True)
        elif batch.lines is not None:
            writer.write_lines(batch.lines)
        manifest.inputs.extend(batch.inputs)
        new_checkpoint = batch.checkpoint
    return new_checkpoint


def _quarantine(store: LakeStore, ctx: IngestContext, item: PoisonInput) -> dict[str, Any]:
    """Copy a poison input's original bytes and its reason record to quarantine; returns the record."""
    key = quarantine_file_key(ctx.dataset, ctx.ingest_date, ctx.run_id, item.name)
    reason_key = quarantine_reason_key(key)
    record = {
        "dataset": ctx.dataset,
        "run_id": ctx.run_id,
        **item.record(),
        "quarantine_key": key,
        "reason_key": reason_key,
    }
    store.put_file(key, item.path)
    store.put_json(reason_key, record)
    log.warning("Quarantined %s whole: %s", item.key, item.message)
    return record


def _remove_leftovers(store: LakeStore, prefix: str, keep: set[str]) -> None:
    """Delete what a failed earlier try of this run wrote beyond what this try wrote."""
    leftovers = [obj.key for obj in store.list(prefix) if obj.key not in keep]
    if leftovers:
        log.warning("Removing %d object(s) left by a failed earlier try: %s", len(leftovers), leftovers)
        store.delete(leftovers)


def summarize(record: IngestRecord, *, skipped: bool) -> dict[str, Any]:
    """The small XCom value: counts and keys, never data or credentials."""
    return {
        "dataset": record.dataset,
        "run_id": record.run_id,
        "rows": record.row("landed"),
        "parts": [part.key for part in record.parts],
        "skipped": skipped,
        "poison_files": [
            {key: item[key] for key in ("source_key", "reason", "message", "quarantine_key")}
            for item in record.poison_files
        ],
    }
