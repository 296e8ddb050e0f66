"""runtime/lasttry.py: the messages of an invocation on their last try are reported when its time runs out, unless
they finished first; the others are never reported."""

from __future__ import annotations

import threading
from typing import Any

from driftline.runtime import lasttry


def _record(mid: str, count: Any) -> dict[str, Any]:
    return {"messageId": mid, "body": "{}", "attributes": {"ApproximateReceiveCount": count}}


def test_only_unfinished_last_tries_are_reported_when_the_time_runs_out(monkeypatch: Any) -> None:
    monkeypatch.setattr(lasttry, "MARGIN_S", 10.0)
    reported: list[tuple[str, int]] = []
    fired = threading.Event()

    def report(record: Any, tries: int) -> None:
        reported.append((record["messageId"], tries))
        if len(reported) == 2:
            fired.set()

    records = [_record("a", "5"), _record("b", "6"), _record("c", "4"), _record("d", "5"), _record("e", None)]
    watch = lasttry.LastTryWatch(records, max_receive_count=5, remaining_s=10.2, report=report)
    assert watch.watching == 3  # a, b, d: at or past the last try; c and e (no count: a first try) are not
    watch.done("a")  # processed (or its own failure reported) before the time ran out
    assert fired.wait(5)
    assert sorted(reported) == [("b", 6), ("d", 5)] and watch.watching == 0
    watch.cancel()


def test_nothing_is_watched_without_a_last_try_or_a_deadline() -> None:
    never = lasttry.LastTryWatch([_record("a", "2")], max_receive_count=5, remaining_s=0.0, report=lambda r, t: None)
    assert never.watching == 0
    no_deadline = lasttry.LastTryWatch([_record("a", "5")], max_receive_count=5, remaining_s=None,
                                       report=lambda r, t: None)  # fmt: skip
    assert no_deadline.watching == 1
    no_deadline.cancel()
    assert lasttry.receive_count({"attributes": {"ApproximateReceiveCount": "x"}}) == 1
