"""Read ahead: the next batches of a file are read and decoded in a background thread while this one is
profiled. pyarrow releases the GIL while it decodes and numpy while it sorts and counts, so on a machine with
a second core (a Lambda function from 1,769 MB) reading and profiling overlap; on one core nothing is lost."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Final, TypeVar

T = TypeVar("T")

_DONE: Final = object()
_POLL_SECONDS: Final = 0.05


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items``, in order, produced by a background thread at most ``depth`` ahead of the
    consumer (``depth`` 0: no thread). An exception raised while producing is raised here, after the items
    produced before it. Closing this generator (or an error in the consumer) stops the producer and closes
    ``items`` in the producer's thread, the one that used it."""
    if depth <= 0:
        yield from items
        return
    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="driftline-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = slots.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()
