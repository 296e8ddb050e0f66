"""The data behind the report: the points, alerts and errors of a range, loaded and organised once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from driftline.cli import report_slices
from driftline.cli.report.bands import AutoThresholds
from driftline.cli.report.svg import PALETTE, Band, Marker, RefLine, _fmt
from driftline.core import rules as R
from driftline.core.baseline import Baseline
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.errors import DriftlineError
from driftline.core.metrics import MetricPoint, compute_metrics
from driftline.core.profile import Profile
from driftline.core.volume import LOW_VOLUME_RULE
from driftline.services.store import ErrorRecord

DRIFT = "drift.jensen_shannon"
MISSING = "quality.missing_rate"
ROWS = "volume.rows"
DEFAULT_DRIFT_THRESHOLD = 0.1
MAX_TABLE_ROWS = 500
MAX_CATEGORIES = 12
TOP_DRIFTED = 3
PERFORMANCE_ORDER = ("accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1", "mae", "rmse", "mape", "r2")
HIGHER_IS_WORSE = ("mae", "rmse", "mape")

T = TypeVar("T")


# -- loading helpers -------------------------------------------------------------------------------------------


def _attempt(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except DriftlineError:
        return None


def _segment_metric(metric: str) -> bool:
    return metric in (DRIFT, ROWS) or metric.startswith("performance.") or metric == "estimated.accuracy"


def _segment_series_metric(metric: str) -> bool:
    """Segment metrics charted over time (one line per segment): rows and performance."""
    return metric == ROWS or metric.startswith("performance.") or metric == "estimated.accuracy"


def _population_metric(metric: str) -> bool:
    return metric in (ROWS,) or metric.startswith(("drift.", "quality.", "performance.", "estimated.", "business."))


def is_partial(p: MetricPoint) -> bool:
    """A point of a window still open (SPEC §3), where the store says so."""
    return bool(getattr(p, "partial", False))


def select_points(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """The points the page uses, streamed so that a long range with many segments stays small in memory: the
    population series it charts; per segment the series of rows and performance, the latest point of each drift
    series it tabulates, and per window the worst drift of any column (a point with ``column`` None)."""
    population: list[MetricPoint] = []
    series: list[MetricPoint] = []
    latest: dict[tuple[str, str | None, str], MetricPoint] = {}
    worst: dict[tuple[str, int], MetricPoint] = {}
    for p in points:
        if report_slices.wanted(p):  # fairness and scenario series: kept whole
            series.append(p)
            continue
        if p.segment is None:
            if _population_metric(p.metric):
                population.append(p)
            continue
        if _segment_series_metric(p.metric):
            series.append(p)
        elif _segment_metric(p.metric):
            key = (p.metric, p.column, p.segment)
            old = latest.get(key)
            if old is None or p.window_start > old.window_start:
                latest[key] = p
            if p.metric == DRIFT and p.column is not None and math.isfinite(p.value):
                top = worst.get((p.segment, p.window_start))
                if top is None or p.value > top.value:
                    worst[(p.segment, p.window_start)] = dataclasses.replace(p, column=None)
    return population + series + list(latest.values()) + list(worst.values())


def latest_drift_window(points: Iterable[MetricPoint]) -> int | None:
    """The start of the latest window with population drift metrics."""
    starts = [p.window_start for p in points if p.metric == DRIFT and p.segment is None]
    return max(starts) if starts else None


def _epoch(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# -- the data behind the page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    model_id: str
    start: int
    end: int
    config: ModelConfig | None
    baseline: Baseline | None
    population: dict[tuple[str, str | None], list[tuple[int, float]]]  # (metric, column) -> sorted series
    segments: dict[tuple[str, str | None, str], MetricPoint]  # (metric, column, segment) -> latest point
    segment_series: dict[tuple[str, str], list[tuple[int, float]]]  # (metric, segment) -> series (drift: worst)
    partial: frozenset[tuple[str, str | None, str | None, int]]  # (metric, column, segment, window) still open
    alerts: list[dict[str, Any]]
    errors: list[ErrorRecord]
    window_profile: Profile | None
    window_start: int | None
    window_baseline: Baseline | None
    generated_at: float
    status: Mapping[str, Any] | None  # driftline status's object (files, freshness, the evaluator), when loaded
    alerted_windows: Mapping[int, tuple[Profile, Baseline | None]]  # window start -> its profile and baseline
    step: int  # window width, seconds
    rules: list[AlertRule]
    base_values: dict[tuple[str, str | None], float]  # the baseline's own population metric values
    colors: dict[str, str]  # column -> line colour
    slices: tuple[MetricPoint, ...] = ()  # fairness and scenario points (driftline.cli.report_slices draws them)
    auto: AutoThresholds | None = None  # the ``auto`` thresholds per window and column (cli/report/bands.py)

    @classmethod
    def build(
        cls,
        model_id: str,
        start: int,
        end: int,
        points: Iterable[MetricPoint],
        alerts: Iterable[Mapping[str, Any]],
        errors: Iterable[ErrorRecord],
        config: ModelConfig | None,
        baseline: Baseline | None,
        window_profile: Profile | None,
        window_start: int | None,
        window_baseline: Baseline | None,
        generated_at: float,
        status: Mapping[str, Any] | None = None,
        alerted_windows: Mapping[int, tuple[Profile, Baseline | None]] | None = None,
        looks: Mapping[int, int] | None = None,
    ) -> _Data:
        population: dict[tuple[str, str | None], dict[int, float]] = {}
        segments: dict[tuple[str, str | None, str], MetricPoint] = {}
        segment_series: dict[tuple[str, str], dict[int, float]] = {}
        worst: dict[tuple[str, int], float] = {}
        partial: set[tuple[str, str | None, str | None, int]] = set()
        widths: list[int] = []
        slices: list[MetricPoint] = []
        for p in points:
            if not math.isfinite(p.value):
                continue
            if report_slices.wanted(p):
                slices.append(p)
                continue
            if is_partial(p):
                partial.add((p.metric, p.column, p.segment, p.window_start))
            if p.segment is None:
                population.setdefault((p.metric, p.column), {})[p.window_start] = p.value
                if len(widths) < 50 and p.window_end > p.window_start:
                    widths.append(p.window_end - p.window_start)
                continue
            if _segment_series_metric(p.metric) and p.column is None:
                segment_series.setdefault((p.metric, p.segment), {})[p.window_start] = p.value
            if p.metric == DRIFT:
                key_w = (p.segment, p.window_start)
                worst[key_w] = max(worst.get(key_w, -math.inf), p.value)
                if p.column is None:
                    continue  # select_points' worst-column point: charted, not tabulated
            key = (p.metric, p.column, p.segment)
            old = segments.get(key)
            if old is None or p.window_start > old.window_start:
                segments[key] = p
        for (seg, ws), value in worst.items():
            segment_series.setdefault((DRIFT, seg), {})[ws] = value
        step = int(np.median(widths)) if widths else 3600
        if config is not None:
            step = config.window_seconds
        base_values = _baseline_values(config, baseline)
        columns = list(config.monitored_columns) if config is not None else []
        columns += sorted({c for (_, c) in population if c is not None and c not in columns})
        if config is not None:
            rules = [R.resolve_columns(r, config) for r in config.alerts] or R.default_rules(config, base_values)
        else:  # the default drift rule, on every column
            rules = [
                AlertRule(
                    name="default-feature-drift",
                    metric=DRIFT,
                    columns=tuple(columns),
                    segment=None,
                    op="above",
                    threshold=DEFAULT_DRIFT_THRESHOLD,
                )
            ]
        colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(columns)}
        alert_list = [dict(a) for a in alerts]
        alert_list.sort(
            key=lambda a: (_epoch(a.get("window_start")) or 0, str(a.get("evaluated_at") or "")), reverse=True
        )
        error_list = sorted(errors, key=lambda e: e.at, reverse=True)
        series = {k: sorted(v.items()) for k, v in population.items()}
        return cls(
            model_id,
            start,
            end,
            config,
            baseline,
            series,
            segments,
            {k: sorted(v.items()) for k, v in segment_series.items()},
            frozenset(partial),
            alert_list,
            error_list,
            window_profile,
            window_start,
            window_baseline,
            generated_at,
            status,
            dict(alerted_windows or {}),
            max(step, 1),
            rules,
            base_values,
            colors,
            tuple(slices),
            AutoThresholds(config, baseline, rules, series, looks, {t for (*_, t) in partial}),
        )

    # -- derived views --

    def series(self, metric: str, column: str | None = None) -> list[tuple[int, float]]:
        return self.population.get((metric, column), [])

    def partial_of(self, metric: str, column: str | None = None, segment: str | None = None) -> frozenset[int]:
        """The window starts of the series' points that belong to a window still open."""
        return frozenset(t for (m, c, s, t) in self.partial if (m, c, s) == (metric, column, segment))

    def metrics_with(self, prefix: str) -> list[str]:
        """Population metrics whose name starts with ``prefix``, in name order."""
        return sorted({m for (m, _) in self.population if m.startswith(prefix)})

    def columns_of(self, metric: str) -> list[str]:
        cols = {c for (m, c) in self.population if m == metric and c is not None}
        return [c for c in self.colors if c in cols]

    @property
    def windows(self) -> list[int]:
        return sorted({t for s in self.population.values() for t, _ in s})

    def markers(self, metric: str, columns: Sequence[str | None]) -> list[Marker]:
        out = []
        for a in self.alerts:
            if a.get("metric") != metric or a.get("segment") is not None or a.get("column") not in columns:
                continue
            t = _epoch(a.get("window_start"))
            if t is None:
                continue
            state = str(a.get("state", ""))
            label = (
                f"{state} {a.get('rule', '')} {a.get('column') or ''} {_fmt(_float(a.get('value')))} "
                f"(threshold {_fmt(_float(a.get('threshold')))}) {a.get('window_start', '')}"
            )
            out.append(Marker(t, _float(a.get("value")), state, " ".join(label.split())))
        return out

    def thresholds(self, metric: str, columns: Sequence[str | None]) -> list[RefLine]:
        """The population thresholds of the rules on ``metric`` for ``columns`` (baseline-relative resolved)."""
        found: dict[float, str] = {}
        for rule in self.rules:
            if rule.metric != metric or rule.segment is not None or rule.name == LOW_VOLUME_RULE:
                continue  # (the low-volume rule's threshold is set per window from the recent ones)
            for col in rule.columns or (None,):
                if col not in columns:
                    continue
                if rule.auto and self.baseline is not None:  # set per window: drawn as a band (:meth:`bands`)
                    continue
                if rule.auto:  # no baseline to compute them from: the value the evaluator last reported, if any
                    reported = self._alert_threshold(rule.name, metric, col)
                    if reported is None:
                        continue
                    value = reported
                elif rule.op in ("above", "below"):
                    value = rule.threshold
                else:
                    base = self.base_values.get((metric, col))
                    if base is not None:
                        value = base + rule.threshold if rule.op == "above_baseline_by" else base - rule.threshold
                    else:  # the effective threshold the evaluator reported, if it alerted
                        reported = self._alert_threshold(rule.name, metric, col)
                        if reported is None:
                            continue
                        value = reported
                sign = ">" if rule.op.startswith("above") else "<"
                found.setdefault(round(value, 6), f"{rule.name} {sign} {_fmt(value)}")
        if not found:
            return []
        values = sorted(found)
        if len(values) > 3:  # per-column baseline-relative thresholds: the lowest and the highest
            values = [values[0], values[-1]]
            return [
                RefLine(values[0], found[values[0]] + " (lowest)"),
                RefLine(values[1], found[values[1]] + " (highest)"),
            ]
        return [RefLine(v, found[v]) for v in values]

    def _alert_threshold(self, rule: str, metric: str, column: str | None) -> float | None:
        for a in self.alerts:  # newest first
            value = _float(a.get("threshold"))
            if value is not None and (a.get("rule"), a.get("metric"), a.get("column"), a.get("segment")) == (
                rule,
                metric,
                column,
                None,
            ):
                return value
        return None

    def bands(self, metric: str, columns: Sequence[str | None]) -> list[Band]:
        """The ``auto`` thresholds of ``columns`` per window, as a band (one column with a rule: in its colour)."""
        if self.auto is None:
            return []
        band = self.auto.band(metric, columns, step=self.step, colors=self.colors)
        return [] if band is None else [band]

    def drift_limit(self, segment: str | None, column: str | None, window: int | None) -> float:
        """The drift threshold of ``column`` in a window (the latest point of ``segment``, None: the population): its
        ``auto`` threshold where an ``auto`` rule applies to it, else :meth:`drift_threshold`."""
        if self.auto is not None and column is not None and window is not None and self.auto.rule_for(DRIFT, column):
            if segment is None:
                value = self.auto.value(DRIFT, column, window)
            else:
                p = self.segments.get((DRIFT, column, segment))
                value = None if p is None else self.auto.segment_value(DRIFT, column, segment, p.rows)
            if value is not None:
                return value
        return self.drift_threshold()

    def drift_threshold(self) -> float:
        """The lowest drift threshold in force: of the fixed rules, or (``auto``) the lowest of the latest window."""
        lines = [r.value for r in self.thresholds(DRIFT, list(self.colors))]
        latest = max((s[-1][0] for c in self.colors if (s := self.series(DRIFT, c))), default=None)
        if self.auto is not None and latest is not None:
            auto = self.auto.lowest(DRIFT, list(self.colors), latest)
            if auto is not None:
                lines.append(auto)
        if lines:
            return min(lines)
        return DEFAULT_DRIFT_THRESHOLD if self.config is None or not self.config.alerts else math.inf

    def feature_columns(self, metric: str) -> tuple[list[str], list[str]]:
        """Columns with data for ``metric``: the features, then the prediction, score and label."""
        cols = self.columns_of(metric)
        if self.config is None:
            return cols, []
        features = set(self.config.features)
        return [c for c in cols if c in features], [c for c in cols if c not in features]


def _baseline_values(config: ModelConfig | None, baseline: Baseline | None) -> dict[tuple[str, str | None], float]:
    if config is None or baseline is None:
        return {}
    try:
        return {(m.metric, m.column): m.value for m in compute_metrics(baseline.population, baseline, config)}
    except (DriftlineError, ValueError, KeyError, IndexError):
        return {}
