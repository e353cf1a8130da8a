"""Tiering by data date: move partitions to the storage class their partition date calls for.

Lifecycle rules age objects from their upload, so a backfill of last year's data stays in Standard
for another 30 days, then in Standard-IA for months. This module ages objects by the date in their
key (``ingest_date=`` for raw, ``dt=`` for curated) against ``today`` (the run's date, never the
clock) and copies each object in place with its new storage class: same key, same content, same
server-side encryption, metadata and tags; a multipart copy above ``multipart_threshold`` (S3 copies
at most 5 GiB in one request).

Objects only move colder, never back (a restore is temporary and done by the restore operator);
objects already archived are left alone (copying them needs a restore); objects of
``min_transition_size`` or less stay (Standard-IA would bill them as 128 KiB). In curated, only the
live version of a partition moves: superseded versions are deleted after the grace period, and
archiving them would only add Glacier's 90-day minimum charge.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from airlake.tiering.objects import ARCHIVE_CLASSES, coldness, list_objects, partition_date
from airlake.tiering.policy import TierPolicy

log = logging.getLogger(__name__)

MAX_COPY_SIZE = 5 * 1024**3
"""Largest object ``CopyObject`` copies in one request (5 GiB)."""
MIN_PART_SIZE = 5 * 1024**2
"""Smallest multipart part (all but the last)."""
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 512 * 1024**2
_CONTENT_HEADERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl")

Live = Mapping[str, Mapping[str, str | None]]
"""``{dataset: {dt: live location}}`` of curated partitions (from Glue)."""


class MoveError(RuntimeError):
    """Objects could not be moved to their storage class; ``results`` holds every object's outcome."""

    def __init__(self, message: str, results: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.results = list(results)


@dataclass(frozen=True)
class Move:
    """One object to copy in place with a colder storage class."""

    key: str
    size: int
    etag: str
    zone: str
    dataset: str
    dt: str
    age_days: int
    from_class: str
    to_class: str
    policy: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MovePlan:
    """The moves, and the storage classes each partition's objects will have once they are done."""

    today: date
    moves: list[Move] = field(default_factory=list)
    classes: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    """``(zone, dataset, dt) -> {storage class}`` of the objects considered, after the moves."""
    kept_small: int = 0
    """Objects past their date left where they are because they are too small to pay off."""

    def archived(self, zone: str, dataset: str) -> dict[str, str]:
        """``{dt: archive class}`` of the dataset's partitions with archived objects after the moves."""
        out: dict[str, str] = {}
        for (z, d, dt), classes in self.classes.items():
            cold = sorted(classes & ARCHIVE_CLASSES)
            if z == zone and d == dataset and cold:
                out[dt] = cold[-1]
        return out

    def summary(self) -> dict[str, Any]:
        by: dict[str, dict[str, Any]] = {}
        for move in self.moves:
            entry = by.setdefault(f"{move.zone}/{move.dataset}:{move.to_class}", {"objects": 0, "bytes": 0})
            entry["objects"] += 1
            entry["bytes"] += move.size
        return {
            "objects": len(self.moves),
            "bytes": sum(move.size for move in self.moves),
            "partitions": len({(m.zone, m.dataset, m.dt) for m in self.moves}),
            "by_target": by,
            "kept_small": self.kept_small,
        }


def _live_prefix(location: str | None, bucket: str) -> str | None:
    """The key prefix of a live location in ``bucket``; None when there is none or it is elsewhere."""
    from airlake.lake import s3_prefix

    try:
        live_bucket, prefix = s3_prefix(location or "")
    except ValueError:
        return None
    return prefix if live_bucket == bucket else None


def plan_moves(
    client: Any,
    bucket: str,
    policies: Iterable[TierPolicy],
    today: date,
    *,
    live: Live | None = None,
) -> MovePlan:
    """
    The objects whose partition date is past their policy's transition, and the class each goes to.

    :param client: a boto3 S3 client.
    :param bucket: the lake bucket.
    :param policies: the policies (those without ``date_key`` or transitions are skipped).
    :param today: the date objects are aged against (the run's logical date).
    :param live: ``{dataset: {dt: live location}}``; a curated dataset listed here moves only the live
        version of its partitions (partitions without a live version stay). Datasets not listed move
        every object.
    """
    plan = MovePlan(today=today)
    for policy in policies:
        if policy.date_key is None or policy.dataset is None or not policy.transitions():
            continue
        live_of = (live or {}).get(policy.dataset) if policy.zone == "curated" else None
        for obj in list_objects(client, bucket, policy.prefix):
            day = partition_date(obj.key[len(policy.prefix) - 1 :], policy.date_key)
            if day is None:
                continue
            dt = day.isoformat()
            if live_of is not None:
                prefix = _live_prefix(live_of.get(dt), bucket)
                if prefix is None or not obj.key.startswith(prefix):
                    continue
            final = obj.storage_class
            target = policy.target_class((today - day).days)
            current_rank, target_rank = coldness(obj.storage_class), coldness(target) if target else None
            if (
                target is not None
                and current_rank is not None
                and target_rank is not None
                and target_rank > current_rank
                and obj.storage_class not in ARCHIVE_CLASSES
            ):
                if obj.size > policy.min_transition_size:
                    plan.moves.append(
                        Move(
                            key=obj.key,
                            size=obj.size,
                            etag=obj.etag,
                            zone=policy.zone,
                            dataset=policy.dataset,
                            dt=dt,
                            age_days=(today - day).days,
                            from_class=obj.storage_class,
                            to_class=target,
                            policy=policy.name,
                        )
                    )
                    final = target
                else:
                    plan.kept_small += 1
            plan.classes.setdefault((policy.zone, policy.dataset, dt), set()).add(final)
    return plan


def _sse_of(head: Mapping[str, Any], default: Mapping[str, str], key: str) -> dict[str, Any]:
    """The object's own server-side encryption, to write the copy with; ``default`` when it has none."""
    if head.get("SSECustomerAlgorithm"):
        raise MoveError(f"{key} is encrypted with a customer key (SSE-C): it cannot be copied without it")
    sse = head.get("ServerSideEncryption")
    if not sse:
        return dict(default)
    out: dict[str, Any] = {"ServerSideEncryption": sse}
    if sse.startswith("aws:kms"):
        if head.get("SSEKMSKeyId"):
            out["SSEKMSKeyId"] = head["SSEKMSKeyId"]
        if head.get("BucketKeyEnabled"):
            out["BucketKeyEnabled"] = True
    return out


def move_object(
    client: Any,
    bucket: str,
    key: str,
    storage_class: str,
    *,
    default_sse: Mapping[str, str],
    expected_etag: str | None = None,
    multipart_threshold: int = MAX_COPY_SIZE,
    part_size: int = DEFAULT_PART_SIZE,
) -> dict[str, Any]:
    """
    Copy one object onto itself with a new storage class, keeping content, encryption, metadata and tags.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.copy_object`
        - :external+boto3:py:meth:`S3.Client.upload_part_copy`

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the object.
    :param storage_class: the new class.
    :param default_sse: encryption for an object stored without any (every lake write is encrypted).
    :param expected_etag: the ETag the plan saw; a different object there is not touched.
    :param multipart_threshold: objects larger than this are copied in parts (at most 5 GiB).
    :param part_size: bytes per part (at least 5 MiB; raised when an object would need > 10000 parts).
    :return: ``{"key", "from", "to", "bytes", "method": "copy" | "multipart" | "skipped", "parts"}``.
    """
    if not 0 <= multipart_threshold <= MAX_COPY_SIZE:
        raise ValueError(
            f"multipart_threshold must be between 0 and {MAX_COPY_SIZE} bytes, got {multipart_threshold}"
        )
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (5 MiB), got {part_size}")
    head = client.head_object(Bucket=bucket, Key=key)
    etag = str(head["ETag"]).strip('"')
    current = head.get("StorageClass") or "STANDARD"
    size = int(head["ContentLength"])
    result: dict[str, Any] = {"key": key, "from": current, "to": storage_class, "bytes": size, "parts": 0}
    if current == storage_class:
        return {**result, "method": "skipped", "reason": "already there"}
    if expected_etag and etag != expected_etag:
        log.warning(
            "s3://%s/%s changed since it was planned (ETag %s, planned %s): not moved",
            bucket,
            key,
            etag,
            expected_etag,
        )
        return {**result, "method": "skipped", "reason": "changed since planned"}
    sse = _sse_of(head, default_sse, key)
    source = {"Bucket": bucket, "Key": key}
    if size <= multipart_threshold:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            CopySourceIfMatch=head["ETag"],
            StorageClass=storage_class,
            MetadataDirective="COPY",
            TaggingDirective="COPY",
            **sse,
        )
        return {**result, "method": "copy", "parts": 1}
    parts = _copy_multipart(client, bucket, key, head, storage_class, sse, part_size)
    return {**result, "method": "multipart", "parts": parts}


def _copy_multipart(
    client: Any,
    bucket: str,
    key: str,
    head: Mapping[str, Any],
    storage_class: str,
    sse: Mapping[str, Any],
    part_size: int,
) -> int:
    size = int(head["ContentLength"])
    part = max(part_size, -(-size // MAX_PARTS))
    args: dict[str, Any] = {name: head[name] for name in _CONTENT_HEADERS if head.get(name)}
    if head.get("Metadata"):
        args["Metadata"] = dict(head["Metadata"])
    tags = client.get_object_tagging(Bucket=bucket, Key=key).get("TagSet") or []
    if tags:
        args["Tagging"] = urlencode([(tag["Key"], tag["Value"]) for tag in tags])
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, StorageClass=storage_class, **args, **sse)
    upload_id = upload["UploadId"]
    try:
        completed: list[dict[str, Any]] = []
        for number, start in enumerate(range(0, size, part), start=1):
            end = min(start + part, size) - 1
            response = client.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": bucket, "Key": key},
                CopySourceRange=f"bytes={start}-{end}",
                CopySourceIfMatch=head["ETag"],
            )
            completed.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": completed}
        )
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError:
            log.warning("Could not abort multipart upload %s of s3://%s/%s", upload_id, bucket, key)
        raise
    return len(completed)


def apply_moves(
    client: Any,
    bucket: str,
    moves: Sequence[Move],
    *,
    default_sse: Mapping[str, str],
    multipart_threshold: int = MAX_COPY_SIZE,
    part_size: int = DEFAULT_PART_SIZE,
    max_workers: int = 4,
) -> list[dict[str, Any]]:
    """
    Move every object of the plan (a few in parallel); each result as :func:`move_object` returns it.
    A rerun is safe: objects already in their class are skipped.

    :raises MoveError: naming every object that failed, after the others were moved.
    """

    def one(move: Move) -> dict[str, Any]:
        try:
            return move_object(
                client,
                bucket,
                move.key,
                move.to_class,
                default_sse=default_sse,
                expected_etag=move.etag,
                multipart_threshold=multipart_threshold,
                part_size=part_size,
            )
        except (ClientError, MoveError) as exc:
            return {"key": move.key, "to": move.to_class, "error": str(exc)}

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="airlake-tiering") as pool:
        results = list(pool.map(one, moves))
    failed = [r for r in results if "error" in r]
    done = [r for r in results if r.get("method") in ("copy", "multipart")]
    log.info(
        "Moved %d object(s) (%d bytes) in s3://%s; %d skipped, %d failed",
        len(done),
        sum(r["bytes"] for r in done),
        bucket,
        len(results) - len(done) - len(failed),
        len(failed),
    )
    if failed:
        listed = "\n".join(f"  - {r['key']} -> {r['to']}: {r['error']}" for r in failed[:20])
        more = f"\n  ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        raise MoveError(
            f"{len(failed)} of {len(moves)} object(s) could not be moved:\n{listed}{more}", results
        )
    return results
