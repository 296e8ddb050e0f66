"""The store hands typed, frozen records up, never items: model state, files, rule states, the alert history and
its outbox, errors (in-memory table; the same code runs over DynamoDB)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from driftline.adapters.memory import MemoryTable
from driftline.core.rules import TargetState
from driftline.services.store import AlertRecord, AlertStateRecord, FileRecord, ModelState, Store, ws_key

WS = 1_763_856_000
ALERT = {"model_id": "m", "rule": "r", "state": "ALARM", "metric": "drift.psi", "value": 0.31, "details": {"n": [1]}}


class CountingTable(MemoryTable):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def batch_put(self, items):  # type: ignore[no-untyped-def]
        self.batches.append(len(items))
        super().batch_put(items)


def store_at(now: float = 1_000.0, table: MemoryTable | None = None) -> Store:
    return Store(MemoryTable() if table is None else table, clock=lambda: now)


def test_model_state_is_set_field_by_field_and_read_as_a_record() -> None:
    # Given a model with no state yet
    store = store_at()
    assert store.get_state("m") == ModelState()

    # When its first window, then its last closed window, then an evaluation error are set one at a time
    store.update_state("m", first_window=WS)
    store.update_state("m", last_closed=WS + 3600)
    store.update_state("m", evaluate_error="model could not be evaluated: boom")

    # Then each write kept the others, and the record is frozen
    state = store.get_state("m")
    assert state == ModelState(
        first_window=WS, last_closed=WS + 3600, evaluate_error="model could not be evaluated: boom"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.last_closed = 0  # type: ignore[misc]


def test_a_file_is_read_as_a_record_from_its_claim_to_its_end() -> None:
    store = store_at(500.0)
    assert store.get_file("f1") is None
    # Given a claimed file
    assert store.claim_file("f1", model_id="m", key="predictions/m/a.csv", kind="predictions")
    claimed = store.get_file("f1")
    assert claimed == FileRecord(
        file_id="f1", model_id="m", key="predictions/m/a.csv", kind="predictions", status="processing", started_at=500.0
    )
    assert (store.claimed_at("f1"), store.claimed_at("never")) == (500.0, None)
    # When it fails
    store.finish_file("f1", status="failed", rows=3, reason="bad header")
    # Then the record says so, the claim's time unchanged
    failed = store.get_file("f1")
    assert failed is not None
    assert (failed.status, failed.rows, failed.reason, failed.started_at, failed.finished_at) == (
        "failed",
        3,
        "bad header",
        500.0,
        500.0,
    )


def test_rule_states_round_trip_and_an_unchanged_state_is_not_written_again() -> None:
    table = CountingTable()
    store = store_at(table=table)
    target = TargetState({WS: True, WS + 3600: None, WS + 7200: False}, (WS + 7200,))
    alarm = AlertStateRecord(rule="r", column="c", segment=None, state="ALARM", target=target, updated_at=1.0)
    ok = AlertStateRecord(rule="r", column="d", segment="country=FR", state="OK", updated_at=1.0)

    # When two targets' states are written
    assert store.put_alert_states("m", {"S#r#c#-": alarm, "S#r#d#country=FR": ok}) == 2
    read = store.get_alert_states("m")

    # Then they read back equal, verdicts (None: not judged) and early windows included
    assert read == {"S#r#c#-": alarm, "S#r#d#country=FR": ok}
    assert [(a.rule, a.column, a.since) for a in store.open_alarms("m")] == [("r", "c", 1.0)]
    # and written again later with the same content (a new time only), nothing is written; a changed one is
    again = {k: dataclasses.replace(v, updated_at=2.0) for k, v in read.items()}
    changed = dataclasses.replace(again["S#r#d#country=FR"], target=TargetState({WS: True}))
    assert store.put_alert_states("m", again, previous=read) == 0
    assert store.put_alert_states("m", {**again, "S#r#d#country=FR": changed}, previous=read) == 1
    assert table.batches == [2, 1]
    assert store.get_alert_states("m")["S#r#d#country=FR"].target == TargetState({WS: True})


def test_an_alert_is_recorded_once_and_read_from_its_outbox_and_its_history_as_records() -> None:
    store = store_at(1_000.0)
    key = f"H#{ws_key(WS)}#r#-#-#ALARM"
    # Given an alert recorded (a second record of it loses)
    assert store.record_alert("m", key, ALERT, op="below")
    assert not store.record_alert("m", key, ALERT, op="below")

    # Then the outbox holds it, with SPEC §4's object decoded once, by the store
    (pending,) = store.unpublished_alerts("m", older_than=0)
    assert isinstance(pending, AlertRecord)
    assert (pending.key, pending.alert, pending.op, pending.published, pending.attempt) == (
        key,
        ALERT,
        "below",
        False,
        0,
    )
    assert store.unpublished_alerts("m", older_than=1) == []  # younger than that: maybe being published now

    # When one retrier takes it over, a second with the same record loses
    assert store.claim_retry(pending)
    assert not store.claim_retry(pending)
    (taken,) = store.unpublished_alerts("m", older_than=0)
    assert (taken.attempt, taken.alert, taken.op, taken.expires_at) == (1, ALERT, "below", pending.expires_at)

    # and once published, the outbox is empty and the history says so
    store.mark_published("m", key, "msg-1")
    assert store.unpublished_alerts("m", older_than=0) == []
    (history,) = store.alert_history("m", start=WS, end=WS)
    assert (history.alert, history.published, history.message_id, history.evented) == (ALERT, True, "msg-1", False)
    assert history.listed() == {**ALERT, "published": True}
    assert json.loads(json.dumps(history.listed())) == history.listed()


def test_error_records_are_newest_first() -> None:
    store = store_at()
    store.record_error("m", key="k1", file_id="f1", reason="r1", at=1.0)
    store.record_error("m", key="k2", file_id="f2", reason="r2", at=2.0, kind="dead_letter")
    assert [(e.at, e.key, e.file_id, e.reason, e.kind) for e in store.error_records("m")] == [
        (2.0, "k2", "f2", "r2", "dead_letter"),
        (1.0, "k1", "f1", "r1", "failed"),
    ]
    assert not hasattr(store, "errors")  # one way to read them: as records
