"""The unpublished-alert retry reads an outbox, not the alert history (issue 13.7): an evaluator tick's reads per
model do not grow with the history's length, and an alert whose publication did not complete still goes out once."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore
from driftline.services.alerts import RETRY_GRACE
from driftline.services.ports import Item
from driftline.services.store import ws_key
from driftline.testing import MODEL_ID

from .test_evaluate_budget import AT, BUCKET, CountingTable, Deployment, _evaluated


class ReadCountingTable(CountingTable):
    """Counts the items every read returns, by partition-key kind (the part before ``#``)."""

    def __init__(self, table_name: str = "driftline-test") -> None:
        super().__init__(table_name)
        self.read: dict[str, int] = {}

    def _note(self, item: Item) -> None:
        kind = str(item["pk"]).split("#")[0]
        self.read[kind] = self.read.get(kind, 0) + 1

    def get(self, pk: str, sk: str, **kwargs: Any) -> Item | None:
        item = super().get(pk, sk, **kwargs)
        if item is not None:
            self._note(item)
        return item

    def query(self, pk: str, **kwargs: Any) -> Iterator[Item]:
        for item in super().query(pk, **kwargs):
            self._note(item)
            yield item

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        items = super().batch_get(keys)
        for item in items:
            self._note(item)
        return items


def _with_history(alerts: int) -> Deployment:
    """The evaluated deployment with ``alerts`` more published alerts in its history (a year of them, say)."""
    d = _evaluated()
    table, objects = ReadCountingTable(), MemoryObjectStore(BUCKET)
    table.batch_put(d.table.items())
    old = [
        {
            "pk": f"ALERT#{MODEL_ID}",
            "sk": f"H#{ws_key(3600 * i)}#old-rule#-#-#ALARM",
            "alert": "{}",
            "published": True,
            "attempt": 0,
            "recorded_at": 0.0,
        }
        for i in range(alerts)
    ]
    table.batch_put(old)
    for key in d.objects.keys():  # noqa: SIM118  (a method, not a dict)
        objects.put_bytes(key, d.objects.get_bytes(key))
    table.read = {}
    return Deployment(table, objects, MemoryAlertSink())


def _tick_reads(d: Deployment) -> dict[str, int]:
    assert isinstance(d.table, ReadCountingTable)
    d.table.read = {}
    (report,) = d.services().evaluate.evaluate_all(at=AT)
    assert report.errors == []
    return dict(d.table.read)


def test_a_ticks_reads_do_not_grow_with_the_alert_history() -> None:
    short, long = _with_history(0), _with_history(2_000)
    reads_short, reads_long = _tick_reads(short), _tick_reads(long)
    assert reads_short == reads_long, (reads_short, reads_long)
    assert reads_long.get("ALERT", 0) < 100  # the rule states only; the history (2,000+ items) is not read
    assert "OUTBOX" not in reads_long  # nothing waits to be published


def test_an_unpublished_alert_is_read_from_the_outbox_and_published_once() -> None:
    d = _with_history(500)
    s = d.services()
    payload = dict(next(r.alert for r in s.store.alert_history(MODEL_ID, start=0, end=AT) if r.alert))
    payload.update(rule="late-rule", window_start="2026-01-01T00:00:00Z", window_end="2026-01-01T01:00:00Z")
    key = f"H#{ws_key(1_767_225_600)}#late-rule#-#-#ALARM"
    # Given an alert recorded by a publisher that died before publishing it
    assert s.store.record_alert(MODEL_ID, key, payload, op="above")
    assert [r.key for r in s.store.unpublished_alerts(MODEL_ID, older_than=0)] == [key]
    # When a tick comes within the grace period: still in flight, not retried; after it: published
    assert _tick_reads(d)["OUTBOX"] == 1 and d.sink.published == []
    s.store.clock = lambda: AT + RETRY_GRACE + 1
    retried = d.services()
    retried.store.clock = s.store.clock
    assert retried.alerts.retry_unpublished(MODEL_ID) == 1
    (sent,) = d.sink.published
    assert json.loads(sent["messages"]["default"])["rule"] == "late-rule"
    # Then the outbox is empty, the history says published, and a later retry sends nothing
    assert retried.store.unpublished_alerts(MODEL_ID, older_than=0) == []
    assert d.table.get(f"ALERT#{MODEL_ID}", key)["published"] is True  # type: ignore[index]
    assert retried.alerts.retry_unpublished(MODEL_ID) == 0
    assert len(d.sink.published) == 1
