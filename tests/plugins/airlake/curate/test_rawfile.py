"""A raw part's local copy read while its download still writes it (rawfile.Arrival, open_local)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from airlake.curate.rawfile import Arrival, arrived, local_size, open_local

CHUNK = 64 * 1024
BODY = bytes(range(256)) * (CHUNK * 40 // 256)


def _slow_writer(body: bytes, reader_started: threading.Event, fail_at: int | None = None):
    """A download that writes ``body`` a chunk at a time, the first chunk only once the reader reads,
    and later ones a moment apart (or raises after ``fail_at`` bytes, as a dropped connection does)."""

    def write(path: Path) -> str:
        with path.open("wb") as out:
            for start in range(0, len(body), CHUNK):
                if fail_at is not None and start >= fail_at:
                    raise ConnectionResetError("connection reset by peer")
                out.write(body[start : start + CHUNK])
                out.flush()
                if start == 0:
                    reader_started.wait(10)
                threading.Event().wait(0.001)
        return "sha256-of-body"

    return write


def test_a_copy_is_read_whole_while_it_arrives(tmp_path: Path) -> None:
    path = tmp_path / "raw"
    started = threading.Event()
    arrival = Arrival(path, _slow_writer(BODY, started), len(BODY))
    assert local_size(path) == len(BODY)  # what it will be, not what is there yet
    seen_short = False
    with open_local(path) as stream:
        got = bytearray()
        while True:
            started.set()
            seen_short |= path.stat().st_size < len(BODY)
            data = stream.read(10_000)
            if not data:
                break
            got += data
    assert bytes(got) == BODY
    assert seen_short  # the reader was ahead of the writer at least once: it waited, did not end early
    assert arrival.result() == "sha256-of-body"
    assert local_size(path) == len(BODY) == path.stat().st_size
    arrived(path)  # no longer arriving: returns at once


def test_a_failed_download_raises_its_error_to_the_reader_never_a_short_end(tmp_path: Path) -> None:
    path = tmp_path / "raw"
    started = threading.Event()
    arrival = Arrival(path, _slow_writer(BODY, started, fail_at=len(BODY) // 2), len(BODY))
    started.set()
    with pytest.raises(ConnectionResetError), open_local(path) as stream:
        while stream.read(10_000):
            pass
    with pytest.raises(ConnectionResetError):
        arrived(path)
    with pytest.raises(ConnectionResetError):
        arrival.result()
