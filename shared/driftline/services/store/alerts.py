"""Alerts: rules' states, the alert history written once, its outbox until published (``ALERT#``, ``OUTBOX#``), and
error records (``ERR#``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from driftline.core.rules import TargetState
from driftline.services.ports import Condition, ConditionFailed, Item, Put
from driftline.services.store.base import StoreBase, ws_key
from driftline.services.store.records import AlarmRecord, AlertRecord, AlertStateRecord, ErrorRecord


class AlertsMixin(StoreBase):
    def open_alarms(self, model_id: str) -> list[AlarmRecord]:
        return [
            AlarmRecord(s.rule, s.column, s.segment, s.updated_at)
            for s in self.get_alert_states(model_id).values()
            if s.state == "ALARM"
        ]

    def get_alert_states(self, model_id: str) -> dict[str, AlertStateRecord]:
        """Every target's state, by state key (``S#<rule>#<column>#<segment>``)."""
        return {str(i["sk"]): _state_record(i) for i in self.table.query(f"ALERT#{model_id}", sk_prefix="S#")}

    def put_alert_states(
        self,
        model_id: str,
        states: Mapping[str, AlertStateRecord],
        *,
        previous: Mapping[str, AlertStateRecord] | None = None,
    ) -> int:
        """Write several targets' states (state key → state) in batched requests (25 items each: the write units
        of one PutItem per item, far fewer requests). A state equal to its ``previous`` one (as
        ``get_alert_states`` read it), ``updated_at`` aside, is not written. Returns how many were written."""
        previous = previous or {}
        items = []
        for key, state in states.items():
            values = _state_item(state)
            before = previous.get(key)
            if before is not None and _same_state(_state_item(before), values):
                continue
            items.append({**values, "pk": f"ALERT#{model_id}", "sk": key})
        if items:
            self.table.batch_put(items)
        return len(items)

    def record_alert(self, model_id: str, history_key: str, alert: Mapping[str, Any], *, op: str = "above") -> bool:
        """Write an alert (SPEC §4's JSON object, and its rule's comparison ``op``) once, with its outbox item (one
        transaction); False when it was already written (it was, or is being, published). The outbox item stays
        until the alert is published: what the retry reads."""
        now = self.clock()
        expires = int(now) + self.metrics_ttl
        payload = {"alert": json.dumps(alert, allow_nan=False), "op": op}
        history = {
            **payload,
            "pk": f"ALERT#{model_id}",
            "sk": history_key,
            "published": False,
            "evented": False,  # put on the event bus (when the stack has one)
            "attempt": 0,
        }
        outbox = {**payload, "pk": f"OUTBOX#{model_id}", "sk": history_key, "published": False, "attempt": 0}
        try:
            self.table.transact(
                [
                    Put({**history, "recorded_at": now, "expires_at": expires}, condition=Condition(absent=True)),
                    Put({**outbox, "recorded_at": now, "expires_at": expires}),
                ]
            )
            return True
        except ConditionFailed:
            return False

    def mark_published(self, model_id: str, history_key: str, message_id: str, *, done: bool = True) -> None:
        """Published on SNS. ``done`` (no event bus to put it on next): its outbox item goes first (a crash in
        between leaves the history's flag unset, never a second publication), then the history item says so.
        Otherwise the outbox item stays, marked published, until the event is put (:meth:`mark_evented`)."""
        if done:
            self.table.delete(f"OUTBOX#{model_id}", history_key)
        else:
            self.table.add(f"OUTBOX#{model_id}", history_key, {}, set_values={"published": True})
        self.table.add(f"ALERT#{model_id}", history_key, {}, set_values={"published": True, "message_id": message_id})

    def mark_evented(self, model_id: str, history_key: str, event_id: str) -> None:
        """Put on the event bus: the last step, so its outbox item goes (first, as in :meth:`mark_published`)."""
        self.table.delete(f"OUTBOX#{model_id}", history_key)
        self.table.add(f"ALERT#{model_id}", history_key, {}, set_values={"evented": True, "event_id": event_id})

    def unpublished_alerts(self, model_id: str, *, older_than: float) -> list[AlertRecord]:
        """Alerts recorded (or last retried) more than ``older_than`` seconds ago whose publication did not
        complete (not published, or, with an event bus, not yet put on it: ``published`` says which): their
        publisher died on the way. Younger ones may be being published right now. Reads the model's outbox only,
        however long its alert history; alerts recorded before the bus existed left it when published."""
        cutoff = self.clock() - older_than
        records = (_alert_record(model_id, i) for i in self.table.query(f"OUTBOX#{model_id}"))
        return [r for r in records if r.recorded_at <= cutoff]

    def claim_retry(self, record: AlertRecord) -> bool:
        """Take an unpublished alert (a record of ``unpublished_alerts``) over for publication: exactly one of
        concurrent retriers wins; none once it is published (its outbox item gone)."""
        item: Item = {
            "alert": json.dumps(record.alert, allow_nan=False),
            "op": record.op,
            "pk": f"OUTBOX#{record.model_id}",
            "sk": record.key,
            "published": record.published,
            "attempt": record.attempt + 1,
            "recorded_at": self.clock(),
        }
        if record.expires_at is not None:
            item["expires_at"] = record.expires_at
        try:
            self.table.put(item, condition=Condition(attr="attempt", equals=record.attempt))
            return True
        except ConditionFailed:
            return False

    def alert_history(self, model_id: str, *, start: int, end: int) -> list[AlertRecord]:
        """The alerts recorded for windows in [start, end] (ingest errors: by their time), oldest first."""
        items = self.table.query(f"ALERT#{model_id}", sk_from=f"H#{ws_key(start)}", sk_to=f"H#{ws_key(end)}~")
        return [_alert_record(model_id, i) for i in items]

    def record_error(
        self,
        model_id: str,
        *,
        key: str,
        file_id: str,
        reason: str,
        at: float | None = None,
        kind: str = "failed",
    ) -> None:
        """A file that could not be processed, dated ``at`` (default: now): one item per file and date. ``kind``:
        see ``ErrorRecord``."""
        now = self.clock() if at is None else at
        self.table.put(
            {
                "pk": f"ERR#{model_id}",
                "sk": f"{now:017.6f}#{file_id}",
                "key": key,
                "reason": reason,
                "file_id": file_id,
                "kind": kind,
                "at": now,
                "expires_at": int(now) + self.metrics_ttl,
            }
        )

    def error_records(self, model_id: str) -> list[ErrorRecord]:
        """The model's error records, newest first."""
        return [
            ErrorRecord(
                float(i["at"]),
                str(i.get("key", "")),
                str(i.get("file_id", "")),
                str(i.get("reason", "")),
                str(i.get("kind", "failed")),
            )
            for i in self.table.query(f"ERR#{model_id}", reverse=True)
        ]


def _state_item(s: AlertStateRecord) -> Item:
    """A target's state as its item's attributes (the verdicts as JSON: window start → verdict)."""
    early = s.target.early
    return {
        "verdicts": json.dumps({str(k): v for k, v in s.target.verdicts.items()}),
        "state": s.state,
        "rule": s.rule,
        "column": s.column,
        "segment": s.segment,
        "updated_at": s.updated_at,
        **({"early": list(early)} if early else {}),
    }


def _state_record(i: Item) -> AlertStateRecord:
    return AlertStateRecord(
        rule=str(i.get("rule", "")),
        column=i.get("column"),
        segment=i.get("segment"),
        state=str(i.get("state", "")),
        target=TargetState(
            {int(k): v for k, v in json.loads(i.get("verdicts", "{}")).items()},
            tuple(int(w) for w in i.get("early") or ()),
        ),
        updated_at=None if i.get("updated_at") is None else float(i["updated_at"]),
    )


def _alert_record(model_id: str, i: Item) -> AlertRecord:
    return AlertRecord(
        model_id=model_id,
        key=str(i["sk"]),
        alert=dict(json.loads(i["alert"])),
        op=str(i.get("op", "above")),
        published=bool(i.get("published")),
        evented=bool(i.get("evented")),
        attempt=int(i.get("attempt", 0)),
        recorded_at=float(i.get("recorded_at", 0)),
        message_id=None if i.get("message_id") is None else str(i["message_id"]),
        event_id=None if i.get("event_id") is None else str(i["event_id"]),
        expires_at=None if i.get("expires_at") is None else int(i["expires_at"]),
    )


_STATE_META = frozenset({"pk", "sk", "updated_at"})


def _same_state(stored: Item | None, values: Item) -> bool:
    """Whether writing ``values`` over the ``stored`` state item would change nothing but ``updated_at``."""
    if stored is None:
        return False
    content = {k: v for k, v in values.items() if k not in _STATE_META}
    return content == {k: v for k, v in stored.items() if k not in _STATE_META}
