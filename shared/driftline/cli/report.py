"""``driftline report``: one self-contained HTML page of a model's metrics, alerts and errors over a time range.

The page is pure HTML, inline CSS and inline SVG: no script, no font, no image, no stylesheet from anywhere
(a Content-Security-Policy forbids every fetch), so it opens offline, in a mail attachment or a CI artefact.

``render_report(container, model_id, start=, end=)`` loads what the page needs from the store and the registry
and calls :func:`render_report_from_data`, a pure function of already-loaded data (tested without AWS).
Every string that may come from user data (model, column, segment and category names, S3 keys, reasons) goes
through :func:`html.escape`; no raw feature value is shown, only category names and baseline bin edges.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from driftline.cli import report_slices
from driftline.core import catalogue
from driftline.core import rules as R
from driftline.core.baseline import Baseline
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.errors import DriftlineError
from driftline.core.metrics import MetricPoint, compute_metrics, iso_utc
from driftline.core.profile import Profile
from driftline.core.volume import LOW_VOLUME_RULE

if TYPE_CHECKING:
    from driftline.runtime.container import Container

__all__ = ["render_report", "render_report_from_data"]

DRIFT = "drift.jensen_shannon"
MISSING = "quality.missing_rate"
ROWS = "volume.rows"
DEFAULT_DRIFT_THRESHOLD = 0.1
MAX_TABLE_ROWS = 500
MAX_CATEGORIES = 12
TOP_DRIFTED = 3

# Line colours (no pure red or green: those mark alerts). The volume line is the first one.
PALETTE = (
    "#2f6fb0",
    "#e8871e",
    "#7b5ea7",
    "#1b9e9e",
    "#d46aa8",
    "#8c6d4f",
    "#c9a227",
    "#5a6b7b",
    "#3c8dd9",
    "#a0522d",
    "#6b8e23",
    "#9467bd",
)
ACTUAL_COLOR = "#2f6fb0"
ESTIMATED_COLOR = "#e8871e"
BASELINE_BAR = "#b8c2cc"
WINDOW_BAR = "#2f6fb0"
ALARM_COLOR = "#d62728"
OK_COLOR = "#2ca02c"
PERFORMANCE_ORDER = ("accuracy", "precision", "recall", "f1", "roc_auc", "macro_f1", "mae", "rmse", "mape", "r2")
HIGHER_IS_WORSE = ("mae", "rmse", "mape")

T = TypeVar("T")


# -- entry points ------------------------------------------------------------------------------------------------


def render_report(container: Container, model_id: str, *, start: int, end: int) -> str:
    """The report of one model over [start, end) (epoch seconds), loaded from the store and the registry.

    A model without a configuration or a baseline still gets a page: whatever is stored is shown."""
    store, registry = container.store, container.registry
    config = _attempt(lambda: registry.config(model_id))
    baseline = _attempt(lambda: registry.current_baseline(model_id))
    points = select_points(store.points(model_id, start=start, end=end))
    alerts = [alert_payload(item) for item in store.alert_history(model_id, start=start, end=end)]
    errors = store.errors(model_id)
    window_profile: Profile | None = None
    window_baseline: Baseline | None = None
    ws = latest_drift_window(points)
    if ws is not None:
        wp = _attempt(lambda: store.window_profiles(model_id, ws))
        window_profile = None if wp is None else wp.profiles.get(None)
        if window_profile is not None:
            if baseline is not None and baseline.baseline_id == window_profile.baseline_id:
                window_baseline = baseline
            else:
                bid = window_profile.baseline_id
                window_baseline = _attempt(lambda: registry.baseline(model_id, bid))
    return render_report_from_data(
        model_id,
        start=start,
        end=end,
        points=points,
        alerts=alerts,
        errors=errors,
        config=config,
        baseline=baseline,
        window_profile=window_profile,
        window_start=ws,
        window_baseline=window_baseline,
    )


def render_report_from_data(
    model_id: str,
    *,
    start: int,
    end: int,
    points: Iterable[MetricPoint],
    alerts: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[Mapping[str, Any]] = (),
    config: ModelConfig | None = None,
    baseline: Baseline | None = None,
    window_profile: Profile | None = None,
    window_start: int | None = None,
    window_baseline: Baseline | None = None,
    generated_at: float | None = None,
) -> str:
    """The HTML page from already-loaded data; pure (no I/O).

    ``points``: metric points (population and segments); ``alerts``: alert payloads (SPEC §4) or alert history
    items whose ``"alert"`` holds the payload as JSON; ``errors``: items with ``at``, ``key`` and ``reason``;
    ``window_profile``: the population profile of the window ``window_start`` (the latest with drift metrics),
    compared with ``window_baseline`` (default ``baseline``) for the distribution charts."""
    points = list(points)
    data = _Data.build(
        model_id,
        start,
        end,
        points,
        alerts,
        errors,
        config,
        baseline,
        window_profile,
        window_start,
        window_baseline or baseline,
        time.time() if generated_at is None else generated_at,
    )
    return _page(data, report_slices.cards(points, config, step=data.step))


# -- loading helpers -------------------------------------------------------------------------------------------


def _attempt(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except DriftlineError:
        return None


def _segment_metric(metric: str) -> bool:
    return metric in (DRIFT, ROWS) or metric.startswith("performance.") or metric == "estimated.accuracy"


def _population_metric(metric: str) -> bool:
    return metric in (DRIFT, ROWS, MISSING) or metric.startswith(("performance.", "estimated.", "business."))


def select_points(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """The points the page uses: the population series it charts, and the latest point of each segment series
    it tabulates (streamed, so a long range with many segments stays small in memory)."""
    population: list[MetricPoint] = []
    latest: dict[tuple[str, str | None, str], MetricPoint] = {}
    for p in points:
        if report_slices.wanted(p):  # fairness and scenario series
            population.append(p)
        elif p.segment is None:
            if _population_metric(p.metric):
                population.append(p)
        elif _segment_metric(p.metric):
            key = (p.metric, p.column, p.segment)
            old = latest.get(key)
            if old is None or p.window_start > old.window_start:
                latest[key] = p
    return population + list(latest.values())


def latest_drift_window(points: Iterable[MetricPoint]) -> int | None:
    """The start of the latest window with population drift metrics."""
    starts = [p.window_start for p in points if p.metric == DRIFT and p.segment is None]
    return max(starts) if starts else None


def alert_payload(item: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of an alert history item (``"alert"`` holds it as JSON), or the payload itself."""
    raw = item.get("alert")
    if isinstance(raw, str | bytes):
        out = dict(json.loads(raw))
    elif isinstance(raw, Mapping):
        out = dict(raw)
    else:
        out = dict(item)
    if "published" in item:
        out.setdefault("published", bool(item["published"]))
    return out


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
    alerts: list[dict[str, Any]]
    errors: list[Mapping[str, Any]]
    window_profile: Profile | None
    window_start: int | None
    window_baseline: Baseline | None
    generated_at: float
    step: int  # window width, seconds
    rules: list[AlertRule]
    base_values: dict[tuple[str, str | None], float]  # the baseline's own population metric values
    colors: dict[str, str]  # column -> line colour

    @classmethod
    def build(
        cls,
        model_id: str,
        start: int,
        end: int,
        points: Iterable[MetricPoint],
        alerts: Iterable[Mapping[str, Any]],
        errors: Iterable[Mapping[str, Any]],
        config: ModelConfig | None,
        baseline: Baseline | None,
        window_profile: Profile | None,
        window_start: int | None,
        window_baseline: Baseline | None,
        generated_at: float,
    ) -> _Data:
        population: dict[tuple[str, str | None], dict[int, float]] = {}
        segments: dict[tuple[str, str | None, str], MetricPoint] = {}
        widths: list[int] = []
        for p in points:
            if not math.isfinite(p.value):
                continue
            if p.segment is None:
                population.setdefault((p.metric, p.column), {})[p.window_start] = p.value
                if len(widths) < 50 and p.window_end > p.window_start:
                    widths.append(p.window_end - p.window_start)
            else:
                key = (p.metric, p.column, p.segment)
                old = segments.get(key)
                if old is None or p.window_start > old.window_start:
                    segments[key] = p
        step = int(np.median(widths)) if widths else 3600
        if config is not None:
            step = config.window_seconds
        base_values = _baseline_values(config, baseline)
        columns = list(config.monitored_columns) if config is not None else []
        columns += sorted({c for (_, c) in population if c is not None and c not in columns})
        if config is not None:
            rules = [R.resolve_columns(r, config) for r in config.alerts] or R.default_rules(config, base_values)
        else:  # the default drift rule, on every column
            rules = [AlertRule("default-feature-drift", DRIFT, tuple(columns), None, "above", DEFAULT_DRIFT_THRESHOLD)]
        colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(columns)}
        alert_list = [alert_payload(a) for a in alerts]
        alert_list.sort(
            key=lambda a: (_epoch(a.get("window_start")) or 0, str(a.get("evaluated_at") or "")), reverse=True
        )
        error_list = sorted(errors, key=lambda e: _float(e.get("at")) or 0.0, reverse=True)
        return cls(
            model_id,
            start,
            end,
            config,
            baseline,
            {k: sorted(v.items()) for k, v in population.items()},
            segments,
            alert_list,
            error_list,
            window_profile,
            window_start,
            window_baseline,
            generated_at,
            max(step, 1),
            rules,
            base_values,
            colors,
        )

    # -- derived views --

    def series(self, metric: str, column: str | None = None) -> list[tuple[int, float]]:
        return self.population.get((metric, column), [])

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
                if rule.auto:  # set per window: the value the evaluator last reported, if it alerted
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

    def drift_threshold(self) -> float:
        lines = [r.value for r in self.thresholds(DRIFT, list(self.colors))]
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


# -- formatting --------------------------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(x: float | None) -> str:
    """A compact human number: 3 significant digits, k/M suffixes for large ones."""
    if x is None or not math.isfinite(x):
        return "–"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.3g}M"
    if ax >= 1e4:
        return f"{x / 1e3:.3g}k"
    if ax >= 100 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def tick_labels(ticks: Sequence[float], step: float) -> list[str]:
    """Labels of an axis's ticks, in one unit (k or M when the largest is 10,000 or more)."""
    top = max((abs(t) for t in ticks), default=0.0)
    unit, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
    return [_fmt_tick(t / unit, step / unit) + suffix for t in ticks]


def _fmt_tick(x: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step / 10 ** math.floor(math.log10(step)), 6) == 2.5:
        decimals += 1
    return f"{x:.{decimals}f}"


def _iso(t: float | None) -> str:
    return "–" if t is None else iso_utc(t)


def _short(t: float) -> str:
    """MM-DD HH:MM (UTC), for table cells."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%m-%d %H:%M")


def _edge(x: float) -> str:
    return f"{x:.4g}"


# -- SVG charts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: Sequence[tuple[int, float]]
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    t: int
    value: float | None
    state: str
    label: str


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], float]:
    """Round tick values (1, 2, 2.5, 5 times a power of ten) covering [lo, hi], and their step."""
    if not hi > lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    count = round((last - first) / step)
    return [first + i * step for i in range(count + 1)], step


_TIME_STEPS = (300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000)


def time_ticks(t0: int, t1: int, max_ticks: int) -> tuple[list[int], int]:
    span = max(t1 - t0, 1)
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    first = -(-t0 // step) * step
    return list(range(first, t1 + 1, step)), step


def line_chart(
    series: Sequence[Series],
    *,
    step: int,
    width: int = 640,
    height: int = 250,
    ref_lines: Sequence[RefLine] = (),
    markers: Sequence[Marker] = (),
    y_floor: float | None = None,
    label: str = "",
) -> str:
    """An inline SVG line chart over time (x: window starts, ISO dates), with dashed reference lines and markers.

    Lines break where windows are missing; a lone window shows as a dot."""
    pts = [(t, v) for s in series for t, v in s.points]
    if not pts:
        return '<p class="empty">No data in this range.</p>'
    t0 = min(t for t, _ in pts)
    t1 = max(max(t for t, _ in pts), t0 + step)
    values = [v for _, v in pts] + [r.value for r in ref_lines] + [m.value for m in markers if m.value is not None]
    lo, hi = min(values), max(values)
    if y_floor is not None:
        lo = min(lo, y_floor)
    ticks, ystep = nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    ml, mr, mt, mb = 58, 14, 12, 40
    pw, ph = width - ml - mr, height - mt - mb

    def x(t: float) -> float:
        return ml + (t - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return mt + (hi - v) / (hi - lo) * ph

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">']
    out.append('<g class="axis">')
    for v, text in zip(ticks, tick_labels(ticks, ystep), strict=True):
        yy = y(v)
        out.append(
            f'<line class="gridline" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml - 6}" y="{yy + 4:.1f}" text-anchor="end">{esc(text)}</text>'
        )
    xt, xstep = time_ticks(t0, t1, max(2, pw // 110))
    last_date = ""
    for t in xt:
        xx = x(t)
        stamp = dt.datetime.fromtimestamp(t, dt.UTC)
        date = stamp.strftime("%Y-%m-%d")
        out.append(f'<line class="tick" x1="{xx:.1f}" x2="{xx:.1f}" y1="{mt + ph}" y2="{mt + ph + 4}"/>')
        if xstep >= 86400:
            out.append(f'<text x="{xx:.1f}" y="{mt + ph + 17}" text-anchor="middle">{date}</text>')
        else:
            out.append(f'<text x="{xx:.1f}" y="{mt + ph + 17}" text-anchor="middle">{stamp:%H:%M}</text>')
            if date != last_date:
                out.append(f'<text class="date" x="{xx:.1f}" y="{mt + ph + 31}" text-anchor="middle">{date}</text>')
        last_date = date
    out.append(f'<line class="frame" x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}"/></g>')
    for s in series:
        d = _path(s.points, x, y, step)
        if not d:
            continue
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<path class="line" d="{d}" stroke="{s.color}"{dash}><title>{esc(s.name)}</title></path>')
    for r in ref_lines:
        yy = y(r.value)
        out.append(
            f'<g class="threshold"><line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml + pw - 4}" y="{yy - 4:.1f}" text-anchor="end">{esc(r.label)}</text></g>'
        )
    for m in markers:
        if m.t < t0 or m.t > t1:
            continue
        yy = y(min(max(m.value, lo), hi)) if m.value is not None else mt + 5
        cls = "alarm" if m.state == "ALARM" else "ok"
        out.append(
            f'<circle class="marker {cls}" cx="{x(m.t):.1f}" cy="{yy:.1f}" r="5"><title>{esc(m.label)}</title></circle>'
        )
    out.append("</svg>")
    return "".join(out)


def _path(
    points: Sequence[tuple[int, float]], x: Callable[[float], float], y: Callable[[float], float], step: int
) -> str:
    runs: list[list[tuple[float, float]]] = []
    prev: int | None = None
    for t, v in sorted(points):
        if prev is None or t - prev > 1.5 * step:
            runs.append([])
        runs[-1].append((x(t), y(v)))
        prev = t
    parts = []
    for run in runs:
        head = f"M{run[0][0]:.1f} {run[0][1]:.1f}"
        if len(run) == 1:
            parts.append(head + "h0.01")  # a dot, with the round line cap
        else:
            parts.append(head + "L" + " ".join(f"{px:.1f} {py:.1f}" for px, py in run[1:]))
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    groups: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 640,
    height: int = 250,
    label: str = "",
) -> str:
    """Grouped vertical bars of shares (0..1): ``groups`` are (name, colour, one value per label)."""
    n = len(labels)
    if n == 0:
        return '<p class="empty">No data.</p>'
    hi = max([v for _, _, vals in groups for v in vals] + [1e-9])
    ticks, ystep = nice_ticks(0.0, hi, 4)
    hi = ticks[-1]
    rotate = n > 8 or max(len(s) for s in labels) > 9
    ml, mr, mt, mb = 48, 10, 12, 86 if rotate else 30
    pw, ph = width - ml - mr, height - mt - mb
    slot = pw / n
    bw = slot * 0.8 / max(len(groups), 1)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}"><g class="axis">']
    for v in ticks:
        yy = mt + ph - v / hi * ph
        out.append(
            f'<line class="gridline" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml - 6}" y="{yy + 4:.1f}" text-anchor="end">{_fmt_tick(v * 100, ystep * 100)}%</text>'
        )
    for i, text in enumerate(labels):
        cx = ml + slot * (i + 0.5)
        shown = text if len(text) <= 18 else text[:17] + "…"
        if rotate:
            out.append(
                f'<text x="{cx:.1f}" y="{mt + ph + 12}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {mt + ph + 12})"><title>{esc(text)}</title>{esc(shown)}</text>'
            )
        else:
            out.append(f'<text x="{cx:.1f}" y="{mt + ph + 16}" text-anchor="middle">{esc(shown)}</text>')
    out.append("</g>")
    for g, (name, color, vals) in enumerate(groups):
        for i, v in enumerate(vals):
            h = v / hi * ph
            bx = ml + slot * i + slot * 0.1 + g * bw
            out.append(
                f'<rect x="{bx:.1f}" y="{mt + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{esc(name)} {esc(labels[i])}: {v * 100:.1f}%</title></rect>"
            )
    out.append(f'<line class="frame" x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}"/></svg>')
    return "".join(out)


def legend(items: Sequence[tuple[str, str, bool]]) -> str:
    """(name, colour, dashed) swatches."""
    out = ['<div class="legend">']
    for name, color, dashed in items:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(
            f'<span class="key"><svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" '
            f'y2="5" stroke="{color}" stroke-width="2.5"{dash}/></svg>{esc(name)}</span>'
        )
    out.append("</div>")
    return "".join(out)


def _marker_legend(markers: Sequence[Marker], ref_lines: Sequence[RefLine]) -> str:
    parts = []
    if ref_lines:
        parts.append(
            '<span class="key"><svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" '
            'y2="5" stroke="#444" stroke-width="1.5" stroke-dasharray="5 3"/></svg>threshold</span>'
        )
    states = {m.state for m in markers}
    for state, color in (("ALARM", ALARM_COLOR), ("OK", OK_COLOR)):
        if state in states:
            parts.append(
                f'<span class="key"><svg width="12" height="12" aria-hidden="true"><circle cx="6" cy="6" '
                f'r="5" fill="{color}"/></svg>alert {state}</span>'
            )
    return f'<div class="legend sub">{"".join(parts)}</div>' if parts else ""


# -- the page ----------------------------------------------------------------------------------------------------


def _card(title: str, body: str, *, wide: bool = False, note: str = "") -> str:
    cls = "card wide" if wide else "card"
    sub = f'<p class="note">{note}</p>' if note else ""
    return f'<section class="{cls}"><h2>{esc(title)}</h2>{sub}{body}</section>'


def _chart_card(
    data: _Data,
    title: str,
    metric: str,
    columns: Sequence[str | None],
    *,
    wide: bool = False,
    y_floor: float | None = 0.0,
    note: str = "",
) -> str:
    series = [
        Series(
            c if c is not None else metric, data.colors.get(c, PALETTE[0]) if c else PALETTE[0], data.series(metric, c)
        )
        for c in columns
    ]
    refs = data.thresholds(metric, columns)
    marks = data.markers(metric, columns)
    width = 1280 if wide else 640
    chart = line_chart(
        series,
        step=data.step,
        width=width,
        height=300 if wide else 250,
        ref_lines=refs,
        markers=marks,
        y_floor=y_floor,
        label=title,
    )
    keys = legend([(s.name, s.color, s.dashed) for s in series]) if any(c is not None for c in columns) else ""
    return _card(title, chart + keys + _marker_legend(marks, refs), wide=wide, note=note)


def _header(data: _Data) -> str:
    cfg, base = data.config, data.baseline
    windows = data.windows
    alarms = sum(1 for a in data.alerts if a.get("state") == "ALARM")
    latest_state: dict[tuple[Any, Any, Any], str] = {}
    for a in reversed(data.alerts):  # oldest first: the last one wins
        latest_state[(a.get("rule"), a.get("column"), a.get("segment"))] = str(a.get("state"))
    open_alarms = sum(1 for s in latest_state.values() if s == "ALARM")
    rows = sum(v for _, v in data.series(ROWS))
    facts = [
        ("Task", cfg.task if cfg else "unknown (no configuration)"),
        ("Window", cfg.window if cfg else f"{data.step}s"),
        ("Range", f"{_iso(data.start)} → {_iso(data.end)}"),
        ("Data", f"{_iso(windows[0])} → {_iso(windows[-1] + data.step)}" if windows else "none in this range"),
        ("Baseline", f"{base.baseline_id} (created {base.created_at})" if base else "none"),
    ]
    stats = [
        ("windows", f"{len(windows):,}", ""),
        ("rows", _fmt(rows), ""),
        ("alerts", f"{len(data.alerts):,}", f"{alarms:,} ALARM · {len(data.alerts) - alarms:,} OK"),
        ("open alarms", f"{open_alarms:,}", "bad" if open_alarms else ""),
        ("errors", f"{len(data.errors):,}", "bad" if data.errors else ""),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    tiles = []
    for name, value, extra in stats:
        cls = "stat bad" if extra == "bad" else "stat"
        sub = f"<small>{esc(extra)}</small>" if extra and extra != "bad" else ""
        tiles.append(f'<div class="{cls}"><b>{esc(value)}</b><span>{esc(name)}</span>{sub}</div>')
    return (
        f'<header><div><p class="brand">driftline report</p><h1>{esc(data.model_id)}</h1><dl>{dl}</dl></div>'
        f'<div class="stats">{"".join(tiles)}</div></header>'
    )


def _performance_cards(data: _Data) -> list[str]:
    names = {
        m.split(".", 1)[1] for (m, c) in data.population if c is None and m.startswith(("performance.", "estimated."))
    }
    ordered = [n for n in PERFORMANCE_ORDER if n in names] + sorted(names - set(PERFORMANCE_ORDER))
    cards = []
    for name in ordered:
        actual, estimated = f"performance.{name}", f"estimated.{name}"
        series = [
            Series("actual", ACTUAL_COLOR, data.series(actual)),
            Series("estimated", ESTIMATED_COLOR, data.series(estimated), dashed=True),
        ]
        series = [s for s in series if s.points]
        refs = data.thresholds(actual, [None]) + data.thresholds(estimated, [None])
        marks = data.markers(actual, [None]) + data.markers(estimated, [None])
        chart = line_chart(series, step=data.step, ref_lines=refs, markers=marks, y_floor=None, label=name)
        cards.append(
            _card(
                f"Performance · {name}",
                chart + legend([(s.name, s.color, s.dashed) for s in series]) + _marker_legend(marks, refs),
            )
        )
    return cards


def _business_cards(data: _Data) -> list[str]:
    names = sorted(m for (m, c) in data.population if c is None and m.startswith("business."))
    cards = []
    for metric in names:
        chart = line_chart(
            [Series(metric, PALETTE[2], data.series(metric))],
            step=data.step,
            ref_lines=data.thresholds(metric, [None]),
            markers=data.markers(metric, [None]),
            y_floor=None,
            label=metric,
        )
        cards.append(_card(f"Business · {metric.split('.', 1)[1]}", chart))
    return cards


def _bar_cell(value: float | None, scale: float, bad: bool, text: str) -> str:
    if value is None:
        return '<td class="num">–</td>'
    pct = 0.0 if scale <= 0 else max(0.0, min(1.0, value / scale)) * 100
    cls = "bar bad" if bad else "bar"
    return (
        f'<td class="num"><div class="barcell"><div class="{cls}" style="width:{pct:.1f}%"></div>'
        f"<span>{esc(text)}</span></div></td>"
    )


def _segments_card(data: _Data) -> str:
    segs = sorted({s for (_, _, s) in data.segments})
    if not segs:
        return ""
    regression = data.config is not None and data.config.task == "regression"
    wanted = "performance.rmse" if regression else "performance.accuracy"
    has_actual = any(m == wanted for (m, _, _) in data.segments)
    perf_metric = wanted if has_actual or regression else "estimated.accuracy"
    perf_name = perf_metric.replace("performance.", "").replace("estimated.", "estimated ")
    worse_high = catalogue.METRICS[wanted].worse == "higher"
    threshold = data.drift_threshold()
    features = set(data.config.features) if data.config is not None else None

    def perf_of(seg: str | None) -> tuple[float | None, int | None]:
        if seg is None:
            s = data.series(perf_metric)
            return (s[-1][1], s[-1][0]) if s else (None, None)
        p = data.segments.get((perf_metric, None, seg))
        return (p.value, p.window_start) if p else (None, None)

    def drift_of(seg: str | None) -> tuple[str | None, float | None, int | None]:
        cands: list[tuple[int, float, str]] = []
        if seg is None:
            for col in data.columns_of(DRIFT):
                s = data.series(DRIFT, col)
                if s and (features is None or col in features):
                    cands.append((s[-1][0], s[-1][1], col))
        else:
            for (m, c, sg), p in data.segments.items():
                if m == DRIFT and sg == seg and c is not None and (features is None or c in features):
                    cands.append((p.window_start, p.value, c))
        if not cands:
            return None, None, None
        latest = max(t for t, _, _ in cands)
        t, v, c = max((x for x in cands if x[0] == latest), key=lambda x: x[1])
        return c, v, t

    def rows_of(seg: str | None) -> float | None:
        if seg is None:
            s = data.series(ROWS)
            return s[-1][1] if s else None
        p = data.segments.get((ROWS, None, seg))
        return p.value if p else None

    pop_perf, _ = perf_of(None)
    entries = [(None, perf_of(None), drift_of(None), rows_of(None))] + [
        (s, perf_of(s), drift_of(s), rows_of(s)) for s in segs
    ]
    perf_values = [e[1][0] for e in entries if e[1][0] is not None]
    perf_scale = (max(perf_values) if perf_values else 1.0) if worse_high else 1.0
    drift_values = [e[2][1] for e in entries if e[2][1] is not None]
    drift_scale = max([*drift_values, threshold if math.isfinite(threshold) else 0.0, 0.05])

    def perf_bad(v: float | None) -> bool:
        if v is None or pop_perf is None:
            return False
        return v > pop_perf * 1.25 if worse_high else v < pop_perf - 0.05

    def rank(
        e: tuple[
            str | None, tuple[float | None, int | None], tuple[str | None, float | None, int | None], float | None
        ],
    ) -> tuple[int, float]:
        v = e[1][0]
        if v is None:
            return (1, -(e[2][1] or 0.0))
        return (0, -v if worse_high else v)

    body = [
        f'<table class="segments"><thead><tr><th>segment</th><th class="num">rows (latest)</th>'
        f'<th class="num">{esc(perf_name)} (latest)</th><th>worst feature</th>'
        f'<th class="num">drift.jensen_shannon</th></tr></thead><tbody>'
    ]
    ordered = entries[:1] + sorted(entries[1:], key=rank)
    for seg, (pv, pt), (col, dv, dtm), nrows in ordered:
        bad_p, bad_d = perf_bad(pv), dv is not None and dv > threshold
        name = "all (population)" if seg is None else seg
        cls = ' class="pop"' if seg is None else (' class="flag"' if bad_p or bad_d else "")
        ptext = f"{_fmt(pv)}" + (f" · {_short(pt)}" if pt is not None else "")
        dtext = f"{_fmt(dv)}" + (f" · {_short(dtm)}" if dtm is not None else "")
        body.append(
            f'<tr{cls}><td>{esc(name)}</td><td class="num">{esc(_fmt(nrows))}</td>'
            f"{_bar_cell(pv, perf_scale, bad_p, ptext)}<td>{esc(col or '–')}</td>"
            f"{_bar_cell(dv, drift_scale, bad_d, dtext)}</tr>"
        )
    body.append("</tbody></table>")
    limit = "" if not math.isfinite(threshold) else f" or drift above {_fmt(threshold)}"
    what = (
        f"{perf_name} more than 25% above the population's"
        if worse_high
        else f"{perf_name} more than 0.05 below the population's"
    )
    note = (
        f"Latest value of each segment (the window is shown after the value). Highlighted: {esc(what)}"
        f"{esc(limit)}. Worst segments first."
    )
    return _card("Segments", "".join(body), wide=True, note=note)


@dataclass(frozen=True)
class Distribution:
    column: str
    labels: list[str]
    reference: list[float]  # shares
    window: list[float]
    drift: float | None


def distributions(data: _Data) -> list[Distribution]:
    prof, base, ws = data.window_profile, data.window_baseline, data.window_start
    if prof is None or base is None or ws is None:
        return []
    latest: list[tuple[float, str]] = []
    features = set(data.config.features) if data.config is not None else None
    for col in data.columns_of(DRIFT):
        if features is not None and col not in features:
            continue
        value = dict(data.series(DRIFT, col)).get(ws)
        if value is not None:
            latest.append((value, col))
    latest.sort(key=lambda x: (-x[0], x[1]))
    ref = base.reference_for(None)
    out = []
    for value, col in latest[:TOP_DRIFTED]:
        dist = _distribution(col, prof, ref, base)
        if dist is not None:
            out.append(Distribution(col, dist[0], dist[1], dist[2], value))
    return out


def _shares(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    total = float(counts.sum())
    return counts.astype(np.float64) / total if total > 0 else np.zeros(counts.size)


def _distribution(
    col: str, prof: Profile, ref: Profile, base: Baseline
) -> tuple[list[str], list[float], list[float]] | None:
    spec = base.spec
    if col in spec.numeric and col in prof.numeric and col in ref.numeric:
        bins = spec.numeric[col]
        cur, rp = prof.numeric[col], ref.numeric[col]
        c = cur.counts if cur.resolution == "coarse" else bins.coarsen(cur.counts)
        r = rp.counts if rp.resolution == "coarse" else bins.coarsen(rp.counts)
        edges = bins.coarse_edges
        if c.size != edges.size + 1 or r.size != c.size:
            return None
        atoms = bins.interval_atoms("coarse")
        upper = [*edges[1:-1], bins.ref_max]  # the last edge is just above the reference maximum
        groups: list[tuple[str, float, float]] = [(f"< {_edge(edges[0])}", float(r[0]), float(c[0]))]
        for j in range(edges.size - 1):
            label = _edge(edges[j]) if atoms[j] else f"{_edge(edges[j])} – {_edge(upper[j])}"
            groups.append((label, float(r[j + 1]), float(c[j + 1])))
        if edges.size > 2 and atoms[-1] and not atoms[-2]:
            # a continuous column: the last interval holds the reference maximum alone; shown with its neighbour
            label, r_last, c_last = groups.pop()
            prev = groups.pop()
            groups.append((prev[0], prev[1] + r_last, prev[2] + c_last))
        groups.append((f"> {_edge(bins.ref_max)}", float(r[-1]), float(c[-1])))
        r_total, c_total = sum(g[1] for g in groups) or 1.0, sum(g[2] for g in groups) or 1.0
        keep = [g for i, g in enumerate(groups) if 0 < i < len(groups) - 1 or g[1] > 0 or g[2] > 0]
        return [g[0] for g in keep], [g[1] / r_total for g in keep], [g[2] / c_total for g in keep]
    if col in spec.categorical and col in prof.categorical and col in ref.categorical:
        slots = spec.categorical[col]
        c, r = prof.categorical[col].counts, ref.categorical[col].counts
        if c.size != slots.n_slots or r.size != c.size:
            return None
        cs, rs = _shares(c), _shares(r)
        names = [*slots.categories, "(other)", "(unseen)"]
        idx = [i for i in range(c.size) if cs[i] > 0 or rs[i] > 0]
        idx.sort(key=lambda i: -max(cs[i], rs[i]))
        shown, rest = idx[:MAX_CATEGORIES], idx[MAX_CATEGORIES:]
        labels = [names[i] for i in shown]
        rvals = [float(rs[i]) for i in shown]
        cvals = [float(cs[i]) for i in shown]
        if rest:
            labels.append(f"({len(rest)} more)")
            rvals.append(float(sum(rs[i] for i in rest)))
            cvals.append(float(sum(cs[i] for i in rest)))
        return labels, rvals, cvals
    return None


def _distribution_cards(data: _Data) -> list[str]:
    dists = distributions(data)
    cards = []
    when = _iso(data.window_start)
    for d in dists:
        chart = bar_chart(
            d.labels,
            [("baseline", BASELINE_BAR, d.reference), (f"window {when}", WINDOW_BAR, d.window)],
            label=f"{d.column} distribution",
        )
        keys = legend([("baseline", BASELINE_BAR, False), (f"window {when}", WINDOW_BAR, False)])
        cards.append(
            _card(
                f"Distribution · {d.column}",
                chart + keys,
                note=esc(f"drift.jensen_shannon {_fmt(d.drift)} in the window starting {when}"),
            )
        )
    if (
        cards
        and data.window_baseline is not None
        and data.baseline is not None
        and data.window_baseline.baseline_id != data.baseline.baseline_id
    ):
        cards[0] = cards[0].replace(
            '<p class="note">',
            f'<p class="note">Compared with baseline {esc(data.window_baseline.baseline_id)}, the one this window was '
            "computed with. ",
            1,
        )
    return cards


def _alerts_card(data: _Data) -> str:
    if not data.alerts:
        return _card("Alert history", '<p class="empty">No alert in this range.</p>', wide=True)
    head = (
        "<tr><th>window start</th><th>state</th><th>severity</th><th>rule</th><th>metric</th><th>column</th>"
        '<th>segment</th><th class="num">value</th><th class="num">threshold</th>'
        '<th class="num">baseline</th></tr>'
    )
    rows = []
    for a in data.alerts[:MAX_TABLE_ROWS]:
        state = str(a.get("state", ""))
        badge = "alarm" if state == "ALARM" else "ok"
        cells = [
            esc(a.get("window_start") or a.get("evaluated_at") or "–"),
            f'<span class="badge {badge}">{esc(state)}</span>',
            esc(a.get("severity") or ""),
            esc(a.get("rule") or ""),
            esc(a.get("metric") or ""),
            esc(a.get("column") or "–"),
            esc(a.get("segment") or "–"),
        ]
        nums = [_fmt(_float(a.get(k))) for k in ("value", "threshold", "baseline_value")]
        rows.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "".join(f'<td class="num">{esc(n)}</td>' for n in nums)
            + "</tr>"
        )
    more = len(data.alerts) - MAX_TABLE_ROWS
    tail = f'<p class="note">{more:,} older alerts not shown.</p>' if more > 0 else ""
    table = f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>{tail}'
    return _card("Alert history", table, wide=True, note="Newest first.")


def _errors_card(data: _Data) -> str:
    if not data.errors:
        return _card("Errors", '<p class="empty">No file failed.</p>', wide=True)
    rows = []
    for e in data.errors[:MAX_TABLE_ROWS]:
        rows.append(
            f'<tr><td>{esc(_iso(_float(e.get("at"))))}</td><td class="key">{esc(e.get("key", ""))}</td>'
            f"<td>{esc(e.get('reason', ''))}</td></tr>"
        )
    more = len(data.errors) - MAX_TABLE_ROWS
    tail = f'<p class="note">{more:,} older errors not shown.</p>' if more > 0 else ""
    table = (
        '<div class="scroll"><table><thead><tr><th>at</th><th>key</th><th>reason</th></tr></thead><tbody>'
        f"{''.join(rows)}</tbody></table></div>{tail}"
    )
    return _card("Errors", table, wide=True, note="Files that could not be processed, newest first.")


def _page(data: _Data, extra: Sequence[str] = ()) -> str:
    cards: list[str] = []
    features, outputs = data.feature_columns(DRIFT)
    if features or not outputs:
        note = "Per feature, whole population; dashed: the alert threshold; dots: alerts (hover for details)."
        cards.append(
            _chart_card(data, "Feature drift · Jensen-Shannon distance", DRIFT, features, wide=True, note=note)
        )
    cards.append(_chart_card(data, "Volume · rows per window", ROWS, [None]))
    cards.append(_chart_card(data, "Data quality · missing rate", MISSING, data.columns_of(MISSING)))
    if outputs:
        cards.append(_chart_card(data, "Prediction, score and label drift · Jensen-Shannon", DRIFT, outputs))
    cards += _performance_cards(data)
    cards += _business_cards(data)
    segments = _segments_card(data)
    if segments:
        cards.append(segments)
    dist = _distribution_cards(data)
    if dist:
        cards.append(
            f'<h2 class="section">Most drifted features in the latest window ({esc(_iso(data.window_start))})</h2>'
        )
        cards += dist
    cards += extra  # fairness and scenarios (driftline.cli.report_slices)
    cards.append(_alerts_card(data))
    cards.append(_errors_card(data))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>driftline · {esc(data.model_id)}</title><style>{CSS}</style></head><body>"
        f'{_header(data)}<main class="cards">{"".join(cards)}</main>'
        f"<footer>Generated {esc(_iso(data.generated_at))} by driftline. Times are UTC; points sit at window starts."
        "</footer></body></html>\n"
    )


CSS = """
:root{--fg:#1d2733;--muted:#5f6b7a;--line:#e3e8ee;--bg:#f4f6f9;--card:#fff;--bad:#d62728;--ok:#2ca02c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif}
header{display:flex;flex-wrap:wrap;gap:24px;justify-content:space-between;align-items:flex-end;padding:22px 28px;
background:#1d2733;color:#fff}
header h1{margin:0 0 8px;font-size:26px;font-weight:650;word-break:break-all}
.brand{margin:0;text-transform:uppercase;letter-spacing:.12em;font-size:11px;color:#9fb3c8}
header dl{display:grid;grid-template-columns:auto 1fr;gap:2px 14px;margin:0;font-size:13px}
header dt{color:#9fb3c8}header dd{margin:0;font-variant-numeric:tabular-nums}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{background:#2a3744;border-radius:8px;padding:10px 14px;min-width:96px}
.stat b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.stat span{font-size:12px;color:#9fb3c8}.stat small{display:block;font-size:11px;color:#c5d2df}
.stat.bad{background:#7a1f22}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;padding:18px 28px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
.card.wide,.section{grid-column:1/-1}
.card h2{margin:0 0 6px;font-size:15px;font-weight:600}
h2.section{margin:10px 0 -4px;font-size:16px;font-weight:600}
.note{margin:-2px 0 8px;color:var(--muted);font-size:12px}
.empty{color:var(--muted);font-style:italic}
svg.chart{width:100%;height:auto;display:block;overflow:visible}
.chart text{font-size:11px;fill:#5f6b7a;font-family:inherit}
.chart text.date{fill:#1d2733;font-weight:600}
.chart .gridline{stroke:#edf0f4}.chart .tick,.chart .frame{stroke:#9aa5b1}
.chart .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.chart .threshold line{stroke:#333;stroke-width:1.3;stroke-dasharray:6 4}
.chart .threshold text{fill:#333;font-weight:600}
.chart .marker{stroke:#fff;stroke-width:1.5}
.chart .marker.alarm{fill:#d62728}.chart .marker.ok{fill:#2ca02c}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:6px;font-size:12px;color:#39434f}
.legend.sub{margin-top:2px;color:var(--muted)}
.key{display:inline-flex;align-items:center;gap:5px;word-break:break-all}
.scroll{max-height:520px;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
th{position:sticky;top:0;background:#f8fafc;font-weight:600;color:#39434f}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
tr.pop td{font-weight:600;background:#f8fafc}
tr.flag td:first-child{box-shadow:inset 3px 0 0 var(--bad)}
.barcell{position:relative;min-width:170px;height:20px;background:#f1f4f7;border-radius:4px;overflow:hidden}
.barcell .bar{position:absolute;left:0;top:0;bottom:0;background:#9ec1e6}
.barcell .bar.bad{background:#f2a3a4}
.barcell span{position:relative;padding:0 6px;line-height:20px;white-space:nowrap}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:700;color:#fff}
.badge.alarm{background:var(--bad)}.badge.ok{background:var(--ok)}
footer{padding:4px 28px 24px;color:var(--muted);font-size:12px}
"""
