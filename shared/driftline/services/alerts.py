"""Alert messages (SPEC §4) and their once-only publication.

Every alert is first written to the alert history under a key that names its rule, column, segment, window and
state (a conditional write: the second writer loses), with an outbox item in the same transaction, then
published, then its outbox item deleted and the history item marked published. With an event bus (SPEC §4
EventBridge), the same JSON object is then put on the bus and marked evented, the outbox item going only then.
An alert whose publication (or event) failed stays in the outbox and is retried by the next evaluator run (which
reads the outbox, not the history): an event whose put failed is retried without sending the SNS message again,
so none is lost and none is published twice by two writers.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline.core import catalogue
from driftline.core.metrics import iso_utc
from driftline.services.ports import AlertSink, EventSink
from driftline.services.store import Store, ws_key

log = logging.getLogger(__name__)

SUBJECT_MAX = 99
RETRY_GRACE = 900.0  # seconds: longer than one SNS publish with all its retries (8 tries, 60 s read timeout)
SEVERITY_WORD = {"info": "INFO", "warning": "WARNING", "critical": "CRITICAL"}


@dataclass(frozen=True, kw_only=True)
class Alert:
    model_id: str
    rule: str
    state: str  # ALARM | OK
    severity: str
    metric: str
    column: str | None = None
    segment: str | None = None
    value: float | None = None
    threshold: float | None = None
    baseline_value: float | None = None
    window_start: int | None = None  # None: not about a window (an ingest error)
    window_end: int | None = None
    evaluated_at: float
    op: str = "above"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def history_key(self) -> str:
        # no window (ingest errors): the time, in the same key format, so alert_history ranges find it
        ws = ws_key(self.window_start if self.window_start is not None else self.evaluated_at)
        return f"H#{ws}#{self.rule}#{self.column or '-'}#{self.segment or '-'}#{self.state}"

    def payload(self) -> dict[str, Any]:
        """The JSON object of SPEC §4."""
        return {
            "model_id": self.model_id,
            "rule": self.rule,
            "state": self.state,
            "severity": self.severity,
            "metric": self.metric,
            "column": self.column,
            "segment": self.segment,
            "value": self.value,
            "threshold": self.threshold,
            "baseline_value": self.baseline_value,
            "window_start": None if self.window_start is None else iso_utc(self.window_start),
            "window_end": None if self.window_end is None else iso_utc(self.window_end),
            "evaluated_at": iso_utc(self.evaluated_at),
            "details": self.details,
        }


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4g}"
    return f"{x:.3e}"


def _comparison(alert: Alert) -> str:
    below = alert.op in ("below", "below_baseline_by")
    if alert.state == "ALARM":
        return f"{_fmt(alert.value)} {'<' if below else '>'} {_fmt(alert.threshold)}"
    return f"{_fmt(alert.value)} {'>=' if below else '<='} {_fmt(alert.threshold)}"


def subject(alert: Alert) -> str:
    """One printable ASCII line under 100 characters, e.g.
    ``[driftline] WARNING churn-v3 drift.jensen_shannon monthly_spend 0.46 > 0.1``."""
    word = SEVERITY_WORD.get(alert.severity, alert.severity.upper()) if alert.state == "ALARM" else "OK"
    parts = ["[driftline]", word, alert.model_id, alert.metric]
    if alert.column:
        parts.append(alert.column)
    if alert.segment:
        parts.append(f"[{alert.segment}]")
    if alert.metric == "ingest.error":
        parts.append("file could not be processed")
    elif alert.metric == "evaluate.error":
        parts.append("could not be judged")
    else:
        parts.append(_comparison(alert))
    text = " ".join(parts)
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."


def email_text(alert: Alert) -> str:
    p = alert.payload()
    lines = [subject(alert), ""]
    if alert.metric == "ingest.error":
        lines += [
            f"Model:    {alert.model_id}",
            f"File:     {alert.details.get('key')}",
            f"Reason:   {alert.details.get('reason')}",
            f"At:       {p['evaluated_at']}",
        ]
    else:
        verb = "entered ALARM" if alert.state == "ALARM" else "returned to OK"
        lines += [
            f"Rule {alert.rule!r} {verb} ({alert.severity}).",
            "",
            f"Model:     {alert.model_id}",
            f"Metric:    {alert.metric}" + (f" on column {alert.column}" if alert.column else ""),
            f"Segment:   {alert.segment or 'whole population'}",
            f"Window:    {p['window_start']} to {p['window_end']}",
            f"Value:     {_fmt(alert.value)}",
            f"Threshold: {_fmt(alert.threshold)}",
            f"Baseline:  {_fmt(alert.baseline_value)}",
        ]
        for o in alert.details.get("other_rules") or ():
            lines.append(f"Also:      {o['rule']} ({o['metric']} {_fmt(o['value'])}, threshold {_fmt(o['threshold'])})")
        drifted = alert.details.get("drifted_columns")
        if drifted:
            lines += ["", "Other drifted columns in this window, furthest beyond their threshold first:"]
            lines += [
                f"  {d['column']}: {_fmt(d['value'])}"
                + (f" (threshold {_fmt(d['threshold'])})" if d.get("threshold") is not None else "")
                for d in drifted[:10]
            ]
    lines += ["", f"Evaluated at {p['evaluated_at']} by Driftline."]
    return "\n".join(lines)


def sns_messages(alert: Alert) -> dict[str, str]:
    body = json.dumps(alert.payload(), allow_nan=False)
    return {
        "default": body,
        "sqs": body,
        "lambda": body,
        "https": body,
        "http": body,
        "email": email_text(alert),
        "email-json": body,
    }


def attributes(alert: Alert) -> dict[str, str]:
    return {"model_id": alert.model_id, "severity": alert.severity, "state": alert.state, "metric": alert.metric}


class AlertPublisher:
    def __init__(self, store: Store, sink: AlertSink, events: EventSink | None = None) -> None:
        self.store = store
        self.sink = sink
        self.events = events

    def publish(self, alert: Alert) -> bool:
        """Record and publish once. True when this call published it."""
        if not self.store.record_alert(alert.model_id, alert.history_key, alert.payload(), op=alert.op):
            return False
        self._send(alert.model_id, alert.history_key, alert)
        return True

    def _send(self, model_id: str, key: str, alert: Alert, *, published: bool = False) -> None:
        if not published:
            message_id = self.sink.publish(
                subject=subject(alert), messages=sns_messages(alert), attributes=attributes(alert)
            )
            self.store.mark_published(model_id, key, message_id, done=self.events is None)
        if self.events is not None:
            event_id = self.events.put(detail=sns_messages(alert)["default"])
            self.store.mark_evented(model_id, key, event_id)

    def retry_unpublished(self, model_id: str) -> int:
        """Publish the alerts recorded earlier whose publication did not complete (their publisher died). Only
        alerts older than ``RETRY_GRACE`` seconds are taken (a younger one may be being published right now),
        each by one retrier only, so an alert is neither lost nor published twice."""
        n = 0
        for record in self.store.unpublished_alerts(model_id, older_than=RETRY_GRACE):
            if not self.store.claim_retry(record):
                continue
            alert = alert_from_payload(record.alert, op=record.op)
            self._send(model_id, record.key, alert, published=record.published)
            n += 1
        return n


def alert_from_payload(p: Mapping[str, Any], *, op: str = "above") -> Alert:
    from datetime import datetime

    def epoch(s: str | None) -> int | None:
        return None if s is None else int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())

    evaluated = epoch(p["evaluated_at"])
    return Alert(
        model_id=p["model_id"],
        rule=p["rule"],
        state=p["state"],
        severity=p["severity"],
        metric=p["metric"],
        column=p["column"],
        segment=p["segment"],
        value=p["value"],
        threshold=p["threshold"],
        baseline_value=p["baseline_value"],
        window_start=epoch(p["window_start"]),
        window_end=epoch(p["window_end"]),
        evaluated_at=float(evaluated or 0),
        op=op,
        details=dict(p.get("details") or {}),
    )


def drifted_details(
    metric: str,
    window_metrics: Sequence[tuple[str, str | None, str | None, float]],
    *,
    segment: str | None,
    threshold: float | None,
    exclude: str | None,
    among: Sequence[str] | None = None,
    per_column: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """For drift alerts: the other columns of the window over the threshold on the same metric, each with its
    threshold, worst first — the furthest beyond its own threshold (a ratio: ``auto`` thresholds differ by column,
    and ``drift.wasserstein`` is in each column's units, so raw values do not compare) — among the rule's own
    columns when it names them. ``per_column``: each column's own threshold in this window (``auto`` rules), where
    known; ``threshold`` for the others."""
    if not metric.startswith("drift.") or threshold is None:
        return {}
    spec = catalogue.spec_for(metric)
    lower_is_worse = spec is not None and spec.lower_is_worse
    rows = [
        (c, v)
        for m, c, s, v in window_metrics
        if m == metric and s == segment and c and c != exclude and (among is None or c in among)
    ]
    limits = per_column or {}
    bad = [(c, v, t) for c, v in rows if _beyond(v, t := limits.get(c, threshold), lower_is_worse=lower_is_worse)]
    bad.sort(key=lambda cvt: _excess(cvt[1], cvt[2], lower_is_worse=lower_is_worse), reverse=True)
    return {"drifted_columns": [{"column": c, "value": v, "threshold": t} for c, v, t in bad]}


def other_rules(breaching: Sequence[tuple[str, str, float | None, float | None]], *, rule: str) -> dict[str, Any]:
    """For a drift ALARM: the other drift rules breaching on the same column, segment and window (``breaching``:
    (rule, metric, value, threshold) of each), as ``details.other_rules``. By default a numerical feature is judged
    by JS and W1: one shift, two alerts, and each names the other."""
    others = [
        {"rule": name, "metric": metric, "value": value, "threshold": threshold}
        for name, metric, value, threshold in breaching
        if name != rule
    ]
    return {"other_rules": others} if others else {}


def _excess(value: float, threshold: float, *, lower_is_worse: bool) -> float:
    """How far beyond its threshold a value is, as a ratio (larger: worse)."""
    worse, limit = (threshold, value) if lower_is_worse else (value, threshold)
    return worse / limit if limit > 0 else math.inf


def _beyond(value: float, threshold: float, *, lower_is_worse: bool) -> bool:
    return value < threshold if lower_is_worse else value > threshold
