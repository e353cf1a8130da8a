"""The lake's object store: S3 through the Amazon provider's S3Hook, server-side encrypted on every write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

SSE_AES256 = {"ServerSideEncryption": "AES256"}
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str


class LakeStore:
    """One bucket of the lake. Every put carries server-side encryption (SSE-S3 or SSE-KMS); the hook's
    client gets the lake's retry settings (:mod:`airlake.aws`)."""

    def __init__(self, hook: S3Hook, bucket: str, *, kms_key_id: str | None = None) -> None:
        from airlake.aws import configure

        self.hook = configure(hook)
        self.bucket = bucket
        self.sse: dict[str, str] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else dict(SSE_AES256)
        )

    @property
    def client(self) -> Any:
        from airlake.aws import lake_client

        return lake_client(self.hook)

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (local stack); on AWS buckets come from infrastructure code."""
        if not self.hook.check_for_bucket(self.bucket):
            self.hook.create_bucket(bucket_name=self.bucket)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=dict(self.sse))

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **self.sse)

    def put_json(self, key: str, document: Any) -> None:
        body = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        self.put_bytes(key, body, content_type="application/json")

    def get_json(self, key: str) -> Any | None:
        """The JSON document at key, or None when there is none."""
        if not self.exists(key):
            return None
        return json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def exists(self, key: str) -> bool:
        return self.hook.head_object(key, self.bucket) is not None

    def head(self, key: str) -> dict[str, Any]:
        meta = self.hook.head_object(key, self.bucket)
        if meta is None:
            raise FileNotFoundError(f"s3://{self.bucket}/{key} does not exist")
        return meta

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under prefix, in key order, listed page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield StoredObject(key=item["Key"], size=item["Size"], etag=item["ETag"].strip('"'))

    def download(self, key: str, path: Path) -> str:
        """Stream an object to a local file; returns its sha256."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        with path.open("wb") as out:
            return copy_with_sha256(body, out)

    def copy(self, source_key: str, dest_key: str, *, source_bucket: str | None = None) -> None:
        """Server-side copy (multipart for large objects) that re-encrypts the destination."""
        self.client.copy(
            {"Bucket": source_bucket or self.bucket, "Key": source_key},
            self.bucket,
            dest_key,
            ExtraArgs=dict(self.sse),
        )

    def delete(self, keys: list[str]) -> None:
        if keys:
            self.hook.delete_objects(self.bucket, keys)


def copy_with_sha256(source: BinaryIO, target: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
