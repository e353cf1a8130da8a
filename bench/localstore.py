"""A folder with the interface of :class:`airlake.store.LakeStore`: the stages' real code without the emulator.

DESIGN.md asks to keep benchmarks of stage compute apart from moto's own cost (milliseconds per request,
GBs of memory for big objects). The curate and load stages only use the store to get whole objects
to local files and put files back, so the bench runs their real code against this store: ``download``
streams the file and hashes it exactly like ``LakeStore.download`` does with an S3 body, ``put_file``
copies. What moto would add is measured apart (the ``emulator`` rows of the results).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airlake.store import SSE_AES256, StoredObject, copy_with_sha256, file_sha256


class LocalStore:
    """Objects as files under ``root/<key>``; ``bucket`` is a label only."""

    def __init__(self, root: Path, bucket: str = "bench-local") -> None:
        self.root = root
        self.bucket = bucket
        self.sse: dict[str, str] = dict(SSE_AES256)
        self.hook: Any = None
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def ensure_bucket(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, key: str, path: Path) -> None:
        shutil.copyfile(path, self._path(key))

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self._path(key).write_bytes(data)

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(key, json.dumps(document, indent=2, sort_keys=True, default=str).encode())

    def get_json(self, key: str) -> Any | None:
        path = self.root / key
        return json.loads(path.read_bytes()) if path.is_file() else None

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix if prefix.endswith("/") else (self.root / prefix).parent
        if not base.exists():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield StoredObject(key=key, size=path.stat().st_size, etag=file_sha256(path)[:32])

    def download(self, key: str, path: Path) -> str:
        """Stream the object to a local file; returns its sha256 (as LakeStore.download does)."""
        with (self.root / key).open("rb") as source, path.open("wb") as out:
            return copy_with_sha256(source, out)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)
