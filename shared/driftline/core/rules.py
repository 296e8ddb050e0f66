"""Alert rules (SPEC §2) evaluated on a window's metrics: pure functions, no storage.

A *target* is one (rule, column, segment). Each evaluated window gives a target a verdict: breaching, not
breaching, or not judged (fewer than ``min_rows`` rows, or the metric absent). The target's state at window
``w`` is ALARM when the ``for`` windows ending at ``w`` all breach, OK when ``w`` does not breach, and the
previous window's state when ``w`` was not judged. An alert is due at every window where the state changes;
the caller publishes each once (keyed by target, window and state). The recent verdicts are kept per target,
so windows re-evaluated late (delayed labels, late files) recompute the transitions they affect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from driftline.core.config import AlertRule, ModelConfig
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


@dataclass(frozen=True)
class Transition:
    target: Target
    window_start: int
    state: str  # ALARM or OK
    verdict: Verdict


def default_rules(config: ModelConfig, baseline_metrics: Mapping[tuple[str, str | None], float]) -> list[AlertRule]:
    """The rules in force when a config has none (SPEC issue: sensible defaults)."""
    features = config.features
    rules = [
        AlertRule("default-feature-drift", "drift.jensen_shannon", features, None, "above", 0.1, 1, 100, "warning"),
        AlertRule(
            "default-missing-values",
            "quality.missing_rate",
            features,
            None,
            "above_baseline_by",
            0.1,
            1,
            300,  # a 0.1 margin is > 3.4 sd of a binomial share at 300 rows: < 2.2e-4 false alarms (README)
            "warning",
        ),
        AlertRule("default-no-data", "volume.rows", None, None, "below", 1.0, 1, 0, "warning"),
        # below a share of the model's usual rows (core/volume.py); the threshold is set per window by the evaluator
        AlertRule(LOW_VOLUME_RULE, "volume.rows", None, None, "below", LOW_VOLUME_FRACTION, 1, 0, "warning"),
    ]
    key = "performance.rmse" if config.task == "regression" else "performance.accuracy"
    ref = baseline_metrics.get((key, None))
    if ref is not None:
        # worse than the baseline's by 5% (relative), once labels arrive
        op = "above_baseline_by" if config.task == "regression" else "below_baseline_by"
        rules.append(AlertRule("default-performance", key, None, None, op, abs(ref) * 0.05, 1, 100, "critical"))
    return rules


def targets(rules: Iterable[AlertRule], segments: Iterable[str | None]) -> list[Target]:
    """Every (rule, column, segment) to judge, given the segments that have data in a window."""
    segs = list(segments)
    out: list[Target] = []
    for rule in rules:
        if rule.segment is None:
            rule_segs: list[str | None] = [None]
        elif "=" in rule.segment:
            rule_segs = [rule.segment]
        else:
            prefix = rule.segment + "="
            rule_segs = [s for s in segs if s is not None and s.startswith(prefix)]
        for seg in rule_segs:
            for col in rule.columns or (None,):
                out.append(Target(rule, col, seg))
    return out


def judge(
    target: Target,
    window_start: int,
    metrics: Mapping[tuple[str, str | None, str | None], tuple[float, int]],
    baseline_metrics: Mapping[tuple[str, str | None, str | None], float],
    *,
    alpha_scale: float = 1.0,
) -> Verdict:
    """One target's verdict on one window. ``metrics``: (metric, column, segment) -> (value, rows).

    ``alpha_scale`` (in (0, 1]) multiplies ``detection.false_alarm_rate`` for ``auto`` thresholds: the share of the
    error budget this judgement may spend (``core.looks``: early looks at an open window and its close). Fixed
    thresholds do not depend on it."""
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
    else:
        threshold = rule.threshold
        breaching = value > threshold if rule.op == "above" else value < threshold
    return Verdict(target, window_start, breaching, value, threshold, base)


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
    if rule.columns is None and rule.metric.startswith(("quality.", "drift.")):
        return replace(rule, columns=config.monitored_columns)
    return rule
