"""The read-ahead thread: order, errors, early stop, and the stream used by one thread only."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from driftline.io.readahead import read_ahead


def produced(n: int, fail_at: int | None = None, log: list[str] | None = None) -> Iterator[int]:
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"bad batch {i}")
            if log is not None:
                log.append(threading.current_thread().name)
            yield i
    finally:
        if log is not None:
            log.append(f"closed in {threading.current_thread().name}")


@pytest.mark.parametrize("depth", [0, 1, 2, 5])
def test_items_come_in_order(depth: int) -> None:
    assert list(read_ahead(produced(50), depth)) == list(range(50))


def test_an_error_comes_after_the_items_before_it() -> None:
    seen: list[int] = []

    def consume() -> None:
        for item in read_ahead(produced(20, fail_at=7), 2):
            seen.append(item)

    with pytest.raises(ValueError, match="bad batch 7"):
        consume()
    assert seen == list(range(7))


def test_stopping_early_closes_the_source_in_the_thread_that_read_it() -> None:
    # Given a consumer that fails on the third item
    log: list[str] = []

    def consume() -> None:
        for item in read_ahead(produced(1000, log=log), 2):
            if item == 2:
                raise RuntimeError("profiling failed")

    with pytest.raises(RuntimeError):
        consume()
    # Then the producer stopped (it read at most a few items ahead) and closed the source in its own thread
    assert log[-1] == "closed in driftline-read-ahead"
    assert len(log) - 1 <= 6
    assert {name for name in log[:-1]} == {"driftline-read-ahead"}
    assert not any(t.name == "driftline-read-ahead" for t in threading.enumerate())
