"""prefetched: a producer in a helper thread, a bounded number of items ahead, errors in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from airlake.prefetch import prefetched


def test_items_come_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def produce() -> Iterator[int]:
        for number in range(100):
            threads.add(threading.current_thread().name)
            yield number

    assert list(prefetched(produce(), depth=3, name="airlake-test")) == list(range(100))
    assert threads == {"airlake-test"}


def test_an_error_of_the_producer_comes_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("piece 3 is corrupt")

    seen: list[int] = []
    with pytest.raises(ValueError, match="piece 3 is corrupt"):
        for number in prefetched(produce(), depth=1):
            seen.append(number)
    assert seen == [1, 2]


def test_leaving_early_stops_the_producer_within_its_depth() -> None:
    produced: list[int] = []

    def produce() -> Iterator[int]:
        for number in range(10_000):
            produced.append(number)
            yield number

    stream = prefetched(produce(), depth=2)
    taken = [next(stream) for _ in range(5)]
    stream.close()
    assert taken == [0, 1, 2, 3, 4]
    assert len(produced) <= 5 + 2 + 2  # taken + queued + the one waiting to be put
