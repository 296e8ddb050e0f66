"""Evaluate: windows → metric points → rule verdicts → alerts. Run on a schedule; safe to run twice at once.

For each model: every closed window with new files or labels (the dirty marks), plus every closed window with
no data since the model started sending (a ``volume.rows`` of 0, so a silent model is noticed). For each such
window: merge its rollup with its new file profiles, compute every metric per segment, store the points, judge
the rules, publish the transitions once, roll the window up, clear the mark.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from driftline.core import rules as R
from driftline.core.baseline import Baseline
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.errors import DriftlineError, NotReadyError
from driftline.core.metrics import MetricPoint, compute_metrics, window_points
from driftline.core.profile import Profile
from driftline.services.alerts import Alert, AlertPublisher, drifted_details
from driftline.services.models import ModelRegistry
from driftline.services.store import Store

log = logging.getLogger(__name__)

MAX_NO_DATA_WINDOWS = 48  # a long-silent model gets at most this many empty windows filled per run


@dataclass
class EvaluationReport:
    model_id: str
    windows: list[int] = field(default_factory=list)
    points: int = 0
    alerts: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class EvaluateService:
    def __init__(
        self, store: Store, registry: ModelRegistry, alerts: AlertPublisher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.registry = registry
        self.alerts = alerts
        self.clock = clock
        self._baseline_metrics: dict[tuple[str, str], dict[tuple[str, str | None, str | None], float]] = {}

    def evaluate_all(self, *, at: float | None = None) -> list[EvaluationReport]:
        reports = []
        for model_id in self.store.list_models():
            try:
                reports.append(self.evaluate(model_id, at=at))
            except DriftlineError as err:  # one model's problem does not stop the others
                log.warning("model not evaluated", extra={"model_id": model_id, "reason": str(err)})
                reports.append(EvaluationReport(model_id, errors=[str(err)]))
        return reports

    def evaluate(self, model_id: str, *, at: float | None = None) -> EvaluationReport:
        now = self.clock() if at is None else at
        report = EvaluationReport(model_id)
        self.alerts.retry_unpublished(model_id)
        config = self.registry.config(model_id)
        try:
            current = self.registry.current_baseline(model_id)
        except NotReadyError as err:
            report.errors.append(str(err))
            return report
        width = config.window_seconds
        last_closed = int(now // width) * width - width  # the most recent window that has ended
        if last_closed < 0:
            return report
        dirty = {ws: tok for ws, tok in self.store.dirty_windows(model_id, until=last_closed)}
        state = self.store.get_state(model_id)
        windows = set(dirty)
        first = state.get("first_window")
        if first is not None:
            done = int(state.get("last_closed", int(first) - width))
            start = max(done + width, last_closed - (MAX_NO_DATA_WINDOWS - 1) * width, int(first))
            windows.update(range(start, last_closed + 1, width))
        ordered = sorted(windows)
        for i, ws in enumerate(ordered):
            self._evaluate_window(config, current, ws, dirty.get(ws), report, now, later=frozenset(ordered[i + 1 :]))
        if first is not None and windows:
            self.store.update_state(model_id, last_closed=max(last_closed, int(state.get("last_closed", 0))))
        return report

    # -- one window ------------------------------------------------------------------------------------------------

    def _evaluate_window(
        self,
        config: ModelConfig,
        current: Baseline,
        ws: int,
        token: str | None,
        report: EvaluationReport,
        now: float,
        *,
        later: frozenset[int] = frozenset(),
    ) -> None:
        model_id = config.model_id
        wp = self.store.window_profiles(model_id, ws)
        profiles = wp.profiles
        population = profiles.get(None)
        baseline = current if population is None else self.registry.baseline(model_id, population.baseline_id)
        if population is None:
            profiles = {None: Profile.empty(baseline.baseline_id)}
        points: list[MetricPoint] = []
        for seg, prof in profiles.items():
            if prof.baseline_id != baseline.baseline_id:
                log.warning("segment profiled on another baseline skipped", extra={"window_start": ws})
                continue
            points += window_points(prof, baseline, config, window_start=ws, segment=seg)
        self.store.put_points(points)
        report.windows.append(ws)
        report.points += len(points)
        report.alerts += self._judge(config, baseline, ws, points, now, later)
        self.store.roll_up(model_id, wp)
        if token is not None:
            self.store.clear_dirty(model_id, ws, token)

    def _judge(
        self,
        config: ModelConfig,
        baseline: Baseline,
        ws: int,
        points: list[MetricPoint],
        now: float,
        later: frozenset[int] = frozenset(),
    ) -> list[Alert]:
        """Judge the window's points; publish the transitions from this window on, except those of the ``later``
        windows this run judges next (each publishes its own, with its values)."""
        model_id, width = config.model_id, config.window_seconds
        base = self._baseline_values(config, baseline)
        rules = [R.resolve_columns(r, config) for r in config.alerts] or R.default_rules(
            config, {(m, c): v for (m, c, s), v in base.items() if s is None}
        )
        metrics = {(p.metric, p.column, p.segment): (p.value, p.rows) for p in points}
        flat = [(p.metric, p.column, p.segment, p.value) for p in points]
        segments = {p.segment for p in points}
        states = self.store.get_alert_states(model_id)
        published: list[Alert] = []
        for target in R.targets(rules, segments):
            verdict = R.judge(target, ws, metrics, base)
            prev = states.get(target.key, {})
            history: dict[int, bool | None] = {int(k): v for k, v in json.loads(prev.get("verdicts", "{}")).items()}
            if verdict.breaching is None and ws not in history and verdict.value is None:
                continue  # nothing to say about this target in this window
            history[ws] = verdict.breaching
            history = R.prune(history)
            changes = R.transitions(history, width=width, for_windows=target.rule.for_windows)
            series = R.state_series(history, width=width, for_windows=target.rule.for_windows)
            latest = series[max(series)]
            self.store.put_alert_state(
                model_id,
                target.key,
                {
                    "verdicts": json.dumps({str(k): v for k, v in history.items()}),
                    "state": latest,
                    "rule": target.rule.name,
                    "column": target.column,
                    "segment": target.segment,
                    "updated_at": now,
                },
            )
            for w, new_state in changes:
                if w < ws or w in later:
                    continue  # earlier windows' transitions were published when those were judged; later ones will be
                # the verdict of window w: this window's when w == ws; a later window re-judged otherwise
                v = verdict if w == ws else R.Verdict(target, w, history[w], None, None, verdict.baseline_value)
                alert = self._alert(config, target.rule, target, v, new_state, now, flat)
                if self.alerts.publish(alert):
                    published.append(alert)
        return published

    def _alert(
        self,
        config: ModelConfig,
        rule: AlertRule,
        target: R.Target,
        v: R.Verdict,
        state: str,
        now: float,
        flat: list[tuple[str, str | None, str | None, float]],
    ) -> Alert:
        details = drifted_details(
            rule.metric, flat, segment=target.segment, threshold=v.threshold, exclude=target.column, among=rule.columns
        )
        return Alert(
            config.model_id,
            rule.name,
            state,
            rule.severity,
            rule.metric,
            target.column,
            target.segment,
            v.value,
            v.threshold,
            v.baseline_value,
            v.window_start,
            v.window_start + config.window_seconds,
            now,
            rule.op,
            details,
        )

    def _baseline_values(
        self, config: ModelConfig, baseline: Baseline
    ) -> dict[tuple[str, str | None, str | None], float]:
        """The reference's own metric values, per segment: what ``*_baseline_by`` rules compare with."""
        key = (config.model_id, baseline.baseline_id)
        if key not in self._baseline_metrics:
            values: dict[tuple[str, str | None, str | None], float] = {}
            for seg, prof in baseline.reference.items():
                for m in compute_metrics(prof, baseline, config, segment=seg):
                    values[(m.metric, m.column, seg)] = m.value
            self._baseline_metrics[key] = values
        return self._baseline_metrics[key]
