"""Evaluate: windows → metric points → rule verdicts → alerts. Run on a schedule; safe to run twice at once.

Over 400 lines: one tick's order (windows, budget, judging, publishing) in one place; rule state: core/rules.py.

For each model: every closed window with new files or labels (the dirty marks), plus every closed window with
no data since the model started sending (a ``volume.rows`` of 0, so a silent model is noticed). For each such
window: merge its rollup with its new file profiles, compute every metric per segment, store the points, judge
the rules, publish the transitions once, roll the window up, clear the mark.

A run may be given the time it has (``time_left``: the Lambda's remaining time). It then starts no window once
the time left is under ``max(margin, 2 × the slowest window so far)``; what it did not start stays due (dirty
marks stay, ``last_closed`` does not pass a window not evaluated), and the next run goes on from the oldest.
Windows are evaluated oldest first, so a run split over several runs judges the same windows in the same order,
and publishes the same alerts, as one run without a limit. Each model of a run gets a fair share of the time
left when its turn comes (that time divided by the models still to visit, so what a model does not use passes to
the next ones); the first window of every model is started whenever the run's own limit allows it, so a model
with a long backlog cannot starve the others.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from driftline.core import looks as L
from driftline.core import rules as R
from driftline.core import volume as V
from driftline.core.autonull import NullCache, auto_context
from driftline.core.baseline import Baseline
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.errors import DriftlineError, NotReadyError
from driftline.core.metrics import MetricPoint, compute_metrics, window_points
from driftline.core.privacy import redact_segment
from driftline.core.profile import Profile
from driftline.services.alerts import Alert, AlertPublisher, drifted_details, other_rules
from driftline.services.early import Look, clear_of_noise, look_at_open_window
from driftline.services.isolation import EvaluateErrors, fatal, transient
from driftline.services.models import ModelRegistry
from driftline.services.store import AlertStateRecord, Store

LEASE_MARGIN = 60.0  # seconds a lease outlives its evaluator's deadline (clock skew, the last writes)
DEFAULT_LEASE = 900.0  # without a time limit: Lambda's longest timeout


def lease_seconds(time_left: float | None, margin: float = LEASE_MARGIN) -> float:
    """How long an evaluator holding a model leases it: its time left (None: Lambda's longest) and a margin."""
    return (DEFAULT_LEASE if time_left is None else time_left) + margin


log = logging.getLogger(__name__)

MAX_NO_DATA_WINDOWS = 48  # a long-silent model gets at most this many empty windows filled per run
# Time kept in hand at the end of a limited run: room for one window not yet measured (a run's first), then
# visiting the remaining models (a few reads each) and the handler's log and metrics; 10% of the evaluator's
# 300 s Lambda timeout. What one window costs: README, "The evaluator with a backlog".
DEFAULT_MARGIN = 30.0


@dataclass
class EvaluationReport:
    model_id: str
    windows: list[int] = field(default_factory=list)
    points: int = 0
    alerts: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    windows_left: int = 0  # windows due but not started for lack of time: the next run evaluates them


class Budget:
    """The time a limited run has: when it must be over, and the slowest window measured so far.

    ``timer`` is monotonic seconds. A window may start while the time left is at least
    ``max(margin, 2 × slowest)``; within a model that shares the run with others still to visit, another window
    only if the slowest one would still end within the model's share (:meth:`share`)."""

    def __init__(self, seconds: float, *, margin: float, timer: Callable[[], float]) -> None:
        self.timer = timer
        self.margin = margin
        self.end = timer() + seconds
        self.slowest = 0.0
        self.share_end = math.inf

    def share(self, models_left: int) -> None:
        """The next model's turn: an equal part of the usable time left (the margin kept) among the
        ``models_left`` still to visit, this one included. The last one may use all that is left."""
        now = self.timer()
        usable = max(self.end - self.margin - now, 0.0)
        self.share_end = math.inf if models_left <= 1 else now + usable / models_left

    def may_start(self, *, first: bool) -> bool:
        """Whether to start a window now; ``first``: the model's first window in this run, started whenever the
        run's limit allows it (its share is not checked), so that every model moves on in every run."""
        now = self.timer()
        if self.end - now < max(self.margin, 2 * self.slowest):
            return False
        return first or now + self.slowest <= self.share_end

    def record(self, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)


class EvaluateService:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        alerts: AlertPublisher,
        *,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        if margin < 0:
            raise ValueError(f"margin must be >= 0 seconds, got {margin}")
        self.store = store
        self.registry = registry
        self.alerts = alerts
        self.clock = clock  # the evaluation time (which windows are closed), overridden by ``at``
        self.timer = timer  # elapsed time, for the run's time limit
        self.margin = margin
        self._baseline_metrics: dict[tuple[str, str], dict[tuple[str, str | None, str | None], float]] = {}
        self.isolation = EvaluateErrors(store, alerts, clock=clock)
        self._nulls: NullCache = {}  # ``auto`` thresholds' nulls not stored with their baseline

    def evaluate_all(
        self,
        *,
        at: float | None = None,
        time_left: float | None = None,
        models: Sequence[str] | None = None,
        leased: bool = False,
    ) -> list[EvaluationReport]:
        """Every model (or those of ``models``, in that order: an evaluation worker's batch).
        ``time_left``: seconds this run has (None: no limit); see the module docstring. Each model is evaluated
        under its lease (``Store.acquire_lease``), so two runs at once (a CLI run beside the scheduled one) never
        judge one model together from stale rule states; a model another evaluator holds is skipped.
        ``leased``: the caller holds the models' leases already (the evaluation worker)."""
        budget = None if time_left is None else Budget(time_left, margin=self.margin, timer=self.timer)
        models = self.store.list_models() if models is None else list(models)
        owner, seconds = uuid.uuid4().hex, lease_seconds(time_left)
        reports = []
        for i, model_id in enumerate(models):
            if budget is not None:
                budget.share(len(models) - i)
            held = False
            try:
                if not leased:
                    held = self.store.acquire_lease(model_id, owner, seconds=seconds)
                    if not held:  # another evaluator holds it: what it leaves stays due for the next run
                        log.info("model held by another evaluator: skipped", extra={"model_id": model_id})
                        continue
                reports.append(self._evaluate(model_id, at, budget))
            except Exception as err:  # one model's problem does not stop the others (SPEC §4)
                if fatal(err):
                    raise
                if transient(err) or isinstance(err, NotReadyError):  # the next tick tries again
                    log.warning("model not evaluated", extra={"model_id": model_id, "reason": str(err)})
                    reason = str(err)
                else:
                    reason = self.isolation.model(model_id, err, now=self.clock() if at is None else at)
                reports.append(EvaluationReport(model_id, errors=[reason]))
            finally:
                if held:
                    self._release(model_id, owner)
            self._record_run(reports[-1])
        return reports

    def _release(self, model_id: str, owner: str) -> None:
        try:
            self.store.release_lease(model_id, owner)
        except DriftlineError as err:  # it expires by itself
            log.warning("lease not released", extra={"model_id": model_id, "reason": str(err)})

    def evaluate(self, model_id: str, *, at: float | None = None, time_left: float | None = None) -> EvaluationReport:
        """One model, under its lease (see ``evaluate_all``). ``time_left``: seconds this run has (None: no limit)."""
        budget = None if time_left is None else Budget(time_left, margin=self.margin, timer=self.timer)
        owner = uuid.uuid4().hex
        if not self.store.acquire_lease(model_id, owner, seconds=lease_seconds(time_left)):
            busy = "another evaluator is judging this model now; its windows stay due for the next run"
            return EvaluationReport(model_id, errors=[busy])
        try:
            report = self._evaluate(model_id, at, budget)
        finally:
            self._release(model_id, owner)
        self._record_run(report)
        return report

    def _record_run(self, report: EvaluationReport) -> None:
        """The run, for ``driftline status``; never a reason to fail the run."""
        try:
            self.store.put_run(
                report.model_id,
                at=self.clock(),
                windows=len(report.windows),
                windows_left=report.windows_left,
                errors=report.errors,
            )
        except DriftlineError as err:
            log.warning("evaluation run not recorded", extra={"model_id": report.model_id, "reason": str(err)})

    def _evaluate(self, model_id: str, at: float | None, budget: Budget | None) -> EvaluationReport:
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
        first = state.first_window
        if first is not None:
            done = first - width if state.last_closed is None else state.last_closed
            start = max(done + width, last_closed - (MAX_NO_DATA_WINDOWS - 1) * width, first)
            windows.update(range(start, last_closed + 1, width))
        ordered = sorted(windows)
        evaluated = 0
        for i, ws in enumerate(ordered):
            if budget is not None and not budget.may_start(first=i == 0):
                break
            started = self.timer()
            # ``later``: every window due, those left for the next run included: each publishes its own
            # transitions when it is judged, in this run or the next (the same alerts as one run with no limit)
            try:
                self._evaluate_window(
                    config, current, ws, dirty.get(ws), report, now, later=frozenset(ordered[i + 1 :])
                )
            except Exception as err:  # one window's problem does not stop the others (SPEC §4)
                if transient(err):
                    raise  # the next tick tries again; the window stays dirty
                report.errors.append(self.isolation.window(model_id, ws, width, dirty.get(ws), err, now=now))
            if budget is not None:
                budget.record(self.timer() - started)
            evaluated += 1
        report.windows_left = len(ordered) - evaluated
        if first is not None and evaluated:
            # not past a window left for later: the no-data windows after it stay due (oldest first: every window
            # up to the last one evaluated was evaluated)
            reached = last_closed if evaluated == len(ordered) else ordered[evaluated - 1]
            self.store.update_state(model_id, last_closed=max(reached, state.last_closed or 0))
        if budget is None or budget.may_start(first=not evaluated):
            look_at_open_window(self, config, current, now, report)  # SPEC §4 early alerts
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
        looked = self.store.window_looks(model_id, ws)  # the looks made while it was open share its error budget
        report.windows.append(ws)
        report.points += len(points)
        auto = auto_context(baseline, profiles, config.monitored_columns, config.false_alarm_rate, self._nulls)
        report.alerts += self._judge(config, baseline, ws, points, now, later, looks=looked.looks, auto=auto)
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
        *,
        looks: int = 0,
        look: Look | None = None,
        auto: R.AutoContext | None = None,
    ) -> list[Alert]:
        """Judge the window's points; publish the transitions from this window on, except those of the ``later``
        windows this run judges next (each publishes its own, with its values).

        A closed window made ``looks`` early looks while open: ``auto`` rules spend what those left of the error
        budget, and a target that alarmed early and no longer breaches returns to OK. With ``look``, the window is
        still open (SPEC §4): only the rules judged on open windows, at the look's share, and only a breach counts
        (a look that does not breach says nothing until the close)."""
        model_id, width = config.model_id, config.window_seconds
        base = self._baseline_values(config, baseline)
        rules = self._rules(config, baseline)
        segments = {p.segment for p in points}
        # each ``auto`` rule's share of the column's rate, from every rule in force (a look judges fewer of them)
        shares = R.alpha_shares(R.targets(rules, segments))
        if look is not None:
            rules = [r for r in rules if L.judged_on_open_window(r, config)]
        usual = None
        if look is None and not config.alerts:
            rules, usual = self._low_volume(config, rules, ws)
        volume_base = None if usual is None else {**base, ("volume.rows", None, None): usual}
        scale = L.close_share(looks) if look is None else L.look_share(look.index)
        metrics = {(p.metric, p.column, p.segment): (p.value, p.rows) for p in points}
        flat = [(p.metric, p.column, p.segment, p.value) for p in points]
        states = self.store.get_alert_states(model_id)
        new_states: dict[str, AlertStateRecord] = {}
        due: list[Alert] = []
        judged = []
        for t in R.targets(rules, segments):
            low = volume_base is not None and t.rule.name == V.LOW_VOLUME_RULE
            against = volume_base if low and volume_base is not None else base
            share = scale * shares.get(t.key, 1.0)
            judged.append((t, R.judge(t, ws, metrics, against, auto=auto, alpha_scale=share)))
        # each (rule, segment)'s thresholds per column in this window (``auto`` ones differ by column), and the drift
        # rules breaching on each (column, segment): a drift ALARM names the others
        limits: dict[tuple[str, str | None], dict[str, float]] = {}
        breaching: dict[tuple[str, str | None], list[tuple[str, str, float | None, float | None]]] = {}
        for t, v in judged:
            if t.column is not None and v.threshold is not None:
                limits.setdefault((t.rule.name, t.segment), {})[t.column] = v.threshold
            if t.column is not None and v.breaching and t.rule.metric.startswith("drift."):
                row = (t.rule.name, t.rule.metric, v.value, v.threshold)
                breaching.setdefault((t.column, t.segment), []).append(row)
        for target, verdict in judged:
            prev = states.get(target.key)
            stored = R.TargetState() if prev is None else prev.target
            step = R.step(stored, verdict, width=width, open_window=look is not None, later=later)
            if step is None:
                continue
            if look is not None and not clear_of_noise(
                verdict, metrics[(target.rule.metric, target.column, target.segment)][1], baseline, look
            ):
                continue  # a threshold within the sampling noise of the rows so far: the close will judge
            new_states[target.key] = AlertStateRecord(
                rule=target.rule.name,
                column=target.column,
                segment=target.segment,
                state=step.current,
                target=step.state,
                updated_at=now,
            )
            for v, new_state in step.due:
                per_column = limits.get((target.rule.name, target.segment))
                alert = self._alert(config, target.rule, target, v, new_state, now, flat, per_column)
                drift = target.rule.metric.startswith("drift.")
                if drift and new_state == R.ALARM and v.window_start == ws and target.column is not None:
                    also = breaching.get((target.column, target.segment), [])
                    alert.details.update(other_rules(also, rule=target.rule.name))
                if look is not None:  # SPEC §4: an early alert says so, with the rows so far
                    rows = metrics.get((target.rule.metric, target.column, target.segment), (0.0, look.rows))[1]
                    alert.details.update(partial=True, rows=rows)
                due.append(alert)
        # The states first (one batched write, unchanged ones skipped), then the transitions: a crash in between
        # leaves the window dirty, and its next judgement finds the same transitions, each published once.
        self.store.put_alert_states(model_id, new_states, previous=states)
        return [alert for alert in due if self.alerts.publish(alert)]

    def _rules(self, config: ModelConfig, baseline: Baseline) -> list[AlertRule]:
        """The rules in force: the config's, or the defaults."""
        base = self._baseline_values(config, baseline)
        rules = [R.resolve_columns(r, config) for r in config.alerts] or R.default_rules(
            config, {(m, c): v for (m, c, s), v in base.items() if s is None}
        )
        return rules + R.fairness_default_rules(config)  # with fairness configured, whatever the other rules

    def _low_volume(self, config: ModelConfig, rules: list[AlertRule], ws: int) -> tuple[list[AlertRule], float | None]:
        """The default low-volume rule with its threshold for window ``ws``: a share of the model's usual rows over
        its recent closed windows (core/volume.py), and those usual rows; left out while there is no usual volume."""
        rule = next((r for r in rules if r.name == V.LOW_VOLUME_RULE), None)
        if rule is None:
            return rules, None
        width = config.window_seconds
        recent = self.store.series(
            config.model_id, "volume.rows", None, None, start=ws - V.RECENT_WINDOWS * width, end=ws
        )
        usual = V.usual_rows(p.value for p in recent if not p.partial)
        threshold = V.low_volume_threshold(usual, fraction=rule.threshold)
        others = [r for r in rules if r is not rule]
        if threshold is None:
            return others, None
        return [*others, replace(rule, threshold=threshold)], usual

    def _alert(
        self,
        config: ModelConfig,
        rule: AlertRule,
        target: R.Target,
        v: R.Verdict,
        state: str,
        now: float,
        flat: list[tuple[str, str | None, str | None, float]],
        per_column: dict[str, float] | None = None,
    ) -> Alert:
        details = drifted_details(
            rule.metric,
            flat,
            segment=target.segment,
            threshold=v.threshold,
            exclude=target.column,
            among=rule.columns,
            per_column=per_column,
        )
        return Alert(
            model_id=config.model_id,
            rule=rule.name,
            state=state,
            severity=rule.severity,
            metric=rule.metric,
            column=target.column,
            # segment_privacy: hash/drop
            segment=redact_segment(config.model_id, config.segment_privacy, target.segment),
            value=v.value,
            threshold=v.threshold,
            baseline_value=v.baseline_value,
            window_start=v.window_start,
            window_end=v.window_start + config.window_seconds,
            evaluated_at=now,
            op=rule.op,
            details=details,
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
                    values[(m.metric, m.column, seg if m.segment is None else m.segment)] = m.value
            self._baseline_metrics[key] = values
        return self._baseline_metrics[key]
