"""Alert rules (SPEC §2) evaluated on a window's metrics: pure functions, no storage.

A *target* is one (rule, column, segment). Each evaluated window gives a target a verdict: breaching, not
breaching, or not judged (fewer than ``min_rows`` rows, or the metric absent). The target's state at window
``w`` is ALARM when the ``for`` windows ending at ``w`` all breach, OK when ``w`` does not breach, and the
previous window's state when ``w`` was not judged. An alert is due at every window where the state changes;
the caller publishes each once (keyed by target, window and state). The recent verdicts are kept per target,
so windows re-evaluated late (delayed labels, late files) recompute the transitions they affect.

:func:`step` is the whole state machine of one target: its stored state and a new verdict in; its new state and
the transitions to publish out. The evaluator only reads and writes the state and publishes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from driftline.core import catalogue
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.scenarios import SCENARIO_PREFIX
from driftline.core.thresholds import ColumnNull, auto_threshold
from driftline.core.volume import LOW_VOLUME_FRACTION, LOW_VOLUME_RULE

ALARM, OK = "ALARM", "OK"
HISTORY_WINDOWS = 96  # verdicts kept per target


@dataclass(frozen=True)
class Target:
    rule: AlertRule
    column: str | None
    segment: str | None

    @property
    def key(self) -> str:
        return f"S#{self.rule.name}#{self.column or '-'}#{self.segment or '-'}"


@dataclass(frozen=True)
class Verdict:
    target: Target
    window_start: int
    breaching: bool | None  # None: not judged
    value: float | None
    threshold: float | None  # the effective threshold (baseline-relative ones resolved)
    baseline_value: float | None


def default_rules(config: ModelConfig, baseline_metrics: Mapping[tuple[str, str | None], float]) -> list[AlertRule]:
    """The rules in force when a config has none: the catalogue's default rules (those it builds here), then the
    two volume rules: total silence, and low volume relative to the model's recent windows (core/volume.py)."""
    rules: list[AlertRule] = []
    for spec in catalogue.METRICS.values():
        d = spec.default
        if d is None or d.built_by is not None or config.task not in spec.tasks:
            continue
        columns = {"features": config.features, "numerical_features": config.numerical_features}.get(d.columns or "")
        if columns == ():
            continue  # no column of that kind
        threshold = math.nan if d.threshold is None else d.threshold
        if d.relative:
            ref = baseline_metrics.get((spec.name, None))
            if ref is None:
                continue  # relative to the baseline's own value: only once the baseline has one
            threshold = abs(ref) * d.threshold if d.threshold is not None else math.nan
        rule = AlertRule(
            name=d.name,
            metric=spec.name,
            columns=columns,
            segment=None,
            op=d.op,
            threshold=threshold,
            min_rows=d.min_rows,
            severity=d.severity,
            auto=d.threshold is None,
        )
        rules.append(rule)
    rules.append(_volume_rule("default-no-data", 1.0))
    # below a share of the model's usual rows (core/volume.py); the threshold is set per window by the evaluator
    rules.append(_volume_rule(LOW_VOLUME_RULE, LOW_VOLUME_FRACTION))
    return rules


def _volume_rule(name: str, threshold: float) -> AlertRule:
    return AlertRule(
        name=name, metric="volume.rows", columns=None, segment=None, op="below", threshold=threshold, min_rows=0
    )


def fairness_default_rules(config: ModelConfig) -> list[AlertRule]:
    """With ``fairness`` configured: the catalogue's default rule of ``fairness.disparate_impact`` (the four-fifths
    rule: below 0.8 per group with at least ``min_rows`` rows, warning) on every sensitive column, unless a rule of
    the config already judges ``fairness.disparate_impact``."""
    metric = "fairness.disparate_impact"
    d = catalogue.METRICS[metric].default
    if config.fairness is None or d is None or d.threshold is None or any(r.metric == metric for r in config.alerts):
        return []
    sensitive = config.fairness.sensitive
    return [
        AlertRule(
            name=d.name,
            metric=metric,
            columns=sensitive,
            segment=None,
            op=d.op,
            threshold=d.threshold,
            min_rows=d.min_rows,
            severity=d.severity,
        )
    ]


@dataclass(frozen=True)
class AutoContext:
    """What ``auto`` thresholds need for one window: per (column, segment) the window's valid rows, the column's
    null (``driftline.core.thresholds``; looked up only for the targets of ``auto`` rules, as it may be computed),
    and the model's ``detection.false_alarm_rate``."""

    sizes: Mapping[tuple[str, str | None], int]
    null: Callable[[str, str | None], ColumnNull | None]
    false_alarm_rate: float = 0.001


def targets(rules: Iterable[AlertRule], segments: Iterable[str | None]) -> list[Target]:
    """Every (rule, column, segment) to judge, given the segments that have data in a window. A fairness rule
    judges every group of each of its sensitive columns (segments ``<column>=<group>``); a scenario rule, the
    scenario's segment ``scenario:<name>``."""
    segs = list(segments)
    out: list[Target] = []
    for rule in rules:
        if rule.metric.startswith("fairness."):
            for sensitive in rule.columns or ():
                group_prefix = sensitive + "="
                out += [Target(rule, sensitive, s) for s in segs if s is not None and s.startswith(group_prefix)]
            continue
        if rule.scenario is not None:
            rule_segs: list[str | None] = [f"{SCENARIO_PREFIX}{rule.scenario}"]
        elif rule.segment is None:
            rule_segs = [None]
        elif "=" in rule.segment:
            rule_segs = [rule.segment]
        else:
            prefix = rule.segment + "="
            rule_segs = [s for s in segs if s is not None and s.startswith(prefix)]
        for seg in rule_segs:
            for col in rule.columns or (None,):
                out.append(Target(rule, col, seg))
    return out


def alpha_shares(targets: Iterable[Target]) -> dict[str, float]:
    """Each ``auto`` target's share of ``detection.false_alarm_rate`` (by target key): ``1/k`` where ``k`` ``auto``
    rules judge its column and segment. The rate is per monitored column and window (SPEC §2) whatever the number
    of rules on it: the default rules judge a numerical feature twice (JS and W1), so each spends half, and a
    column's false alarms stay within the rate (a union bound; the two statistics move together, so a little
    below). Pass ``share * look share`` as :func:`judge`'s ``alpha_scale``."""
    listed = [t for t in targets if t.rule.auto and t.column is not None]
    count: dict[tuple[str | None, str | None], int] = {}
    for t in listed:
        count[(t.column, t.segment)] = count.get((t.column, t.segment), 0) + 1
    return {t.key: 1.0 / count[(t.column, t.segment)] for t in listed}


def judge(
    target: Target,
    window_start: int,
    metrics: Mapping[tuple[str, str | None, str | None], tuple[float, int]],
    baseline_metrics: Mapping[tuple[str, str | None, str | None], float],
    *,
    auto: AutoContext | None = None,
    alpha_scale: float = 1.0,
) -> Verdict:
    """One target's verdict on one window. ``metrics``: (metric, column, segment) -> (value, rows).

    An ``auto`` rule's threshold is set for this window (``auto``: the sizes and nulls); without its column's size
    or null, an ``auto`` target is not judged. ``alpha_scale`` (in (0, 1]) multiplies
    ``detection.false_alarm_rate`` for ``auto`` thresholds: the share of the error budget this judgement may spend
    (``core.looks``: early looks at an open window and its close). Fixed thresholds do not depend on it."""
    if not 0.0 < alpha_scale <= 1.0:
        raise ValueError(f"alpha_scale must be in (0, 1], got {alpha_scale}")
    rule = target.rule
    key = (rule.metric, target.column, target.segment)
    found = metrics.get(key)
    base = baseline_metrics.get(key)
    if base is None and target.segment is not None:
        base = baseline_metrics.get((rule.metric, target.column, None))
    if found is None:
        return Verdict(target, window_start, None, None, None, base)
    value, rows = found
    if rows < rule.min_rows:
        return Verdict(target, window_start, None, value, None, base)
    if rule.op in ("above_baseline_by", "below_baseline_by"):
        if base is None:
            return Verdict(target, window_start, None, value, None, None)
        threshold = base + rule.threshold if rule.op == "above_baseline_by" else base - rule.threshold
        breaching = value > threshold if rule.op == "above_baseline_by" else value < threshold
    elif rule.auto:
        auto_value = _auto_threshold(target, auto, alpha_scale)
        if auto_value is None:
            return Verdict(target, window_start, None, value, None, base)
        threshold = auto_value
        breaching = value > threshold if rule.op == "above" else value < threshold
    else:
        threshold = rule.threshold
        breaching = value > threshold if rule.op == "above" else value < threshold
    return Verdict(target, window_start, breaching, value, threshold, base)


def auto_threshold_of(target: Target, auto: AutoContext | None, *, alpha_scale: float = 1.0) -> float | None:
    """The ``auto`` threshold :func:`judge` sets for ``target`` in a window (``auto``: the window's sizes and the
    nulls), None where it would not judge it: the one computation, for the report's threshold band too."""
    return _auto_threshold(target, auto, alpha_scale)


def _auto_threshold(target: Target, auto: AutoContext | None, alpha_scale: float) -> float | None:
    spec = catalogue.spec_for(target.rule.metric)
    if auto is None or spec is None or spec.auto is None or target.column is None:
        return None
    n = auto.sizes.get((target.column, target.segment))
    null = None if n is None or n <= 0 else auto.null(target.column, target.segment)
    if n is None or null is None or (spec.auto == "w1" and null.wasserstein is None):
        return None
    alpha = min(max(auto.false_alarm_rate * alpha_scale, 1e-12), 0.5)
    return auto_threshold(spec.name, spec.auto, n, null, alpha, floor=spec.effect_floor)


def state_series(verdicts: Mapping[int, bool | None], *, width: int, for_windows: int) -> dict[int, str]:
    """The state at each window with a verdict, from the verdict history (window start -> verdict)."""
    out: dict[int, str] = {}
    prev = OK
    for w in sorted(verdicts):
        v = verdicts[w]
        if v is None:
            state = prev
        elif not v:
            state = OK
        else:
            run = all(verdicts.get(w - k * width) is True for k in range(for_windows))
            state = ALARM if run else prev if prev == ALARM else OK
        out[w] = state
        prev = state
    return out


def transitions(verdicts: Mapping[int, bool | None], *, width: int, for_windows: int) -> list[tuple[int, str]]:
    """(window, new state) wherever the state changes; the state before the first window is OK."""
    out = []
    prev = OK
    for w, state in state_series(verdicts, width=width, for_windows=for_windows).items():
        if state != prev:
            out.append((w, state))
        prev = state
    return out


def prune(verdicts: Mapping[int, bool | None]) -> dict[int, bool | None]:
    keep = sorted(verdicts)[-HISTORY_WINDOWS:]
    return {w: verdicts[w] for w in keep}


def resolve_columns(rule: AlertRule, config: ModelConfig) -> AlertRule:
    """Model-level metrics have no column; column metrics without ``columns`` apply to every monitored column."""
    spec = catalogue.spec_for(rule.metric)
    if rule.columns is None and spec is not None and spec.level == "column":
        return replace(rule, columns=config.monitored_columns)
    if rule.columns is None and rule.metric.startswith("fairness."):
        return replace(rule, columns=config.sensitive_columns)
    return rule


@dataclass(frozen=True)
class TargetState:
    """A target's state between judgements: its recent verdicts (window start -> verdict; None: not judged) and the
    windows whose ALARM went out early, while they were open (SPEC §4), until they close."""

    verdicts: Mapping[int, bool | None] = field(default_factory=dict)
    early: tuple[int, ...] = ()


@dataclass(frozen=True)
class Step:
    """What one verdict does to a target: its new ``state``, the ``current`` state (ALARM or OK, at its latest
    window with a verdict), and the transitions ``due`` now, oldest first: (the verdict of that window, new state).
    A due transition's verdict is the new one at its own window; a later window's (judged again because an earlier
    one changed) carries only its stored verdict, the threshold and value unknown."""

    state: TargetState
    current: str
    due: tuple[tuple[Verdict, str], ...]


def step(
    prev: TargetState,
    verdict: Verdict,
    *,
    width: int,
    open_window: bool = False,
    later: frozenset[int] = frozenset(),
) -> Step | None:
    """Judge ``verdict`` (window ``verdict.window_start``) into a target's state; None when it says nothing.

    Transitions before the verdict's window were due when those windows were judged, and those of the ``later``
    windows will be when they are (each with its own values): neither is due here. ``open_window``: the verdict is
    an early look at a window still open (SPEC §4): only a new breach counts, and an ALARM it raises is marked
    early; when that window closes without breaching, it returns to OK once."""
    ws, breaching = verdict.window_start, verdict.breaching
    if breaching is None and ws not in prev.verdicts and verdict.value is None:
        return None  # nothing to say about this target in this window
    if open_window and (breaching is not True or prev.verdicts.get(ws) is True):
        return None  # an open window: only a new breach is news
    for_windows = verdict.target.rule.for_windows
    early = list(prev.early)
    history = prune({**prev.verdicts, ws: breaching})
    changes = transitions(history, width=width, for_windows=for_windows)
    series = state_series(history, width=width, for_windows=for_windows)
    if open_window and (ws, ALARM) in changes:
        early.append(ws)
    elif not open_window and ws in early:
        early.remove(ws)  # closed: judged whole
        if series[ws] == OK and (ws, OK) not in changes:
            changes.append((ws, OK))  # alarmed early, no longer breaches: OK, once (SPEC §4)
    due = tuple(
        (verdict if w == ws else Verdict(verdict.target, w, history[w], None, None, verdict.baseline_value), state)
        for w, state in changes
        if w >= ws and w not in later
    )
    return Step(TargetState(history, tuple(early)), series[max(series)], due)
