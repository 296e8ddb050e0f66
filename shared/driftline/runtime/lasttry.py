"""A message's last try must not end without a record, even when Lambda's timeout ends it.

A message that fails on its last try (SQS ``ApproximateReceiveCount`` at the queue's ``maxReceiveCount``) is
reported by the record handler before SQS dead-letters it (``services/rejects.py``). An invocation that Lambda's
timeout ends runs no handler code: its messages come back, and those on their last try go to the dead-letter queue
with no error record. So an invocation holding messages on their last try starts a timer that fires
``MARGIN_S`` before its time runs out and reports each of those messages not finished by then — "the function's
time ran out" — with the same records as a failed last try (idempotent: a message reported twice writes the same
record, and its file's alert is published once). A message finished before then (processed, or reported by its
own failure) is taken off the watch. An invocation killed for memory is not covered (its process is gone at once);
the dead-letter queue's alarm still fires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Seconds before the invocation's end at which unfinished last tries are reported (a few writes and a publish).
MARGIN_S = 10.0


def receive_count(record: Mapping[str, Any]) -> int:
    """A raw SQS event record's ``ApproximateReceiveCount`` (1 when absent or malformed)."""
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    except (TypeError, ValueError, AttributeError):
        return 1


class LastTryWatch:
    """The records of one invocation that are on their last try, reported if the invocation runs out of time."""

    def __init__(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        max_receive_count: int,
        remaining_s: float | None,
        report: Callable[[Mapping[str, Any], int], None],
    ) -> None:
        self._report = report
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Mapping[str, Any], int]] = {}
        for r in records:
            tries = receive_count(r)
            if tries >= max_receive_count and r.get("messageId"):
                self._pending[str(r["messageId"])] = (r, tries)
        self._timer: threading.Timer | None = None
        if self._pending and remaining_s is not None:
            self._timer = threading.Timer(max(remaining_s - MARGIN_S, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    @property
    def watching(self) -> int:
        with self._lock:
            return len(self._pending)

    def done(self, message_id: str) -> None:
        """The message finished (processed, or its failure reported): nothing to report for it."""
        with self._lock:
            self._pending.pop(message_id, None)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            due, self._pending = list(self._pending.values()), {}
        for record, tries in due:
            try:
                self._report(record, tries)
            except Exception:  # the next message is still reported; the DLQ alarm remains
                log.exception("a last try could not be reported", extra={"message_id": record.get("messageId")})
