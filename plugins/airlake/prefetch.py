"""Iterate a producer in a helper thread, a bounded number of items ahead of its consumer.

The lake's producers (pyarrow encoding Parquet to COPY batches, the gzip decompression and line scan that
cut a raw file into pieces) spend their time in C code that releases the GIL, so the thread overlaps them
with the consumer's own work.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


def prefetched(items: Iterable[T], depth: int, *, name: str = "airlake-prefetch") -> Iterator[T]:
    """``items``, produced by a helper thread at most ``depth`` ahead; an error of the producer is
    raised here, in order. Leaving the loop early stops the producer at its next item."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((_END, None))
        except BaseException as exc:  # handed to the consumer
            slots.put((_END, exc))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
