"""The ``auto`` thresholds of the report's charts (SPEC §2): per window and column, the value the evaluator used (or
would use) to judge it, drawn as a band over time.

An ``auto`` threshold depends on the window's valid rows ``n`` of the column, the baseline's null of the column
(``driftline.core.thresholds``), ``detection.false_alarm_rate`` and the rule; nothing here computes it: each value
comes from :func:`driftline.core.rules.auto_threshold_of` (what :func:`~driftline.core.rules.judge` calls), with the
null from :func:`driftline.core.autonull.column_null_for` (what the evaluator looks up), so it equals the
``threshold`` of an alert the evaluator published for that window and column. ``n`` is read from the points the
report already has: the window's rows (``volume.rows``) less the column's missing and type-error shares
(``quality.missing_rate``, ``quality.type_error_rate``) — the profile's valid rows, exactly.

The rate a window's judgement spends is the evaluator's too: each ``auto`` rule's share of the column's rate
(``rules.alpha_shares``: k rules on a column, 1/k each), times the share the early looks left (SPEC §4): a window
judged at its close after ``K`` looks at it while it was open spends ``1/2 + 1/(2(K + 1))`` of it
(``looks.close_share``), a window still open the share of its latest look (``looks.look_share``); the looks come from
the store's look records (``Store.looks_between``, one Query for the page). What the report cannot know: windows
are drawn against the current baseline, so a window computed against an earlier one had that baseline's null.

A chart of 30 days of 5-minute windows has 8,640 windows, more than its pixels: the band groups consecutive windows
into at most :data:`MAX_BUCKETS` steps, each showing the lowest and highest threshold of its windows and columns
(a threshold falls as ``n`` grows: computed at each bucket's smallest and largest ``n``), so the page's size and the
time to draw it do not grow with the range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from driftline.cli.report.svg import Band, BandStep, _fmt, _iso
from driftline.core import looks as L
from driftline.core import rules as R
from driftline.core.autonull import NullCache, column_null_for
from driftline.core.baseline import Baseline
from driftline.core.config import AlertRule, ModelConfig
from driftline.core.thresholds import ColumnNull

ROWS = "volume.rows"
MISSING = "quality.missing_rate"
TYPE_ERRORS = "quality.type_error_rate"
MAX_BUCKETS = 200  # band steps per chart (a wide chart's plot is ~1,200 px: 6 px a step)
BAND_COLOR = "#5f6b7a"


class AutoThresholds:
    """The ``auto`` thresholds of the population's windows, computed on demand and memoised for one page."""

    def __init__(
        self,
        config: ModelConfig | None,
        baseline: Baseline | None,
        rules: Sequence[AlertRule],
        population: Mapping[tuple[str, str | None], Sequence[tuple[int, float]]],
        looks: Mapping[int, int] | None = None,
        open_windows: Iterable[int] = (),
    ) -> None:
        self.config = config
        self.baseline = baseline
        self.rules = [r for r in rules if r.auto and r.segment is None and r.scenario is None]
        self._population = population
        self._series: dict[tuple[str, str | None], dict[int, float]] = {}
        self._nulls: NullCache = {}
        self._values: dict[tuple[str, str, int, float], float | None] = {}
        self._looks = dict(looks or {})
        self._open = frozenset(open_windows)
        # each rule's share of a column's rate, as the evaluator splits it (``rules.alpha_shares``)
        self._shares = R.alpha_shares(R.targets(self.rules, [None]))

    def _lookup(self, metric: str, column: str | None) -> dict[int, float]:
        key = (metric, column)
        if key not in self._series:
            self._series[key] = dict(self._population.get(key, ()))
        return self._series[key]

    def rule_for(self, metric: str, column: str) -> AlertRule | None:
        """The ``auto`` rule judging ``metric`` on ``column`` for the whole population (the first, if several: they
        share the model's rate, so their thresholds differ only in the windows their ``min_rows`` judge)."""
        if self.config is None or self.baseline is None:
            return None
        return next((r for r in self.rules if r.metric == metric and column in (r.columns or ())), None)

    def valid_rows(self, column: str, window: int) -> int | None:
        """The column's valid rows in the window: its rows less the missing and type-error shares."""
        rows = self._lookup(ROWS, None).get(window)
        if rows is None:
            return None
        missing = self._lookup(MISSING, column).get(window, 0.0)
        errors = self._lookup(TYPE_ERRORS, column).get(window, 0.0)
        return max(round(rows * (1.0 - missing - errors)), 0)

    def look_scale(self, window: int) -> float:
        """The share of the rate the window's judgement spent after its early looks (1: none): the close's
        (``looks.close_share``), or for a window still open its latest look's (``looks.look_share``)."""
        k = self._looks.get(window, 0)
        return L.look_share(k - 1) if window in self._open and k > 0 else L.close_share(k)

    def value(self, metric: str, column: str, window: int) -> float | None:
        """The threshold of ``metric`` on ``column`` in the window starting at ``window``; None where no ``auto``
        rule judges it (no rule, fewer rows than ``min_rows``, no valid rows, no null in the baseline)."""
        rule = self.rule_for(metric, column)
        rows = self._lookup(ROWS, None).get(window)
        if rule is None or rows is None or rows < rule.min_rows:
            return None
        n = self.valid_rows(column, window)
        return None if n is None else self._at(rule, column, n, self.look_scale(window))

    def _at(self, rule: AlertRule, column: str, n: int, scale: float = 1.0) -> float | None:
        key = (rule.metric, column, n, scale)
        if key not in self._values:
            self._values[key] = self._compute(rule, column, n, scale)
        return self._values[key]

    def _compute(self, rule: AlertRule, column: str, n: int, scale: float) -> float | None:
        assert self.config is not None and self.baseline is not None
        baseline = self.baseline

        def null(col: str, seg: str | None) -> ColumnNull | None:
            return column_null_for(baseline, col, seg, self._nulls)

        context = R.AutoContext({(column, None): n}, null, self.config.false_alarm_rate)
        return self._threshold(R.Target(rule, column, None), context, scale)

    def _threshold(self, target: R.Target, context: R.AutoContext, scale: float = 1.0) -> float | None:
        share = self._shares.get(R.Target(target.rule, target.column, None).key, 1.0)
        return R.auto_threshold_of(target, context, alpha_scale=share * scale)

    def segment_value(self, metric: str, column: str, segment: str, rows: int) -> float | None:
        """The threshold the population's ``auto`` rule would set for ``column`` in a segment's window of ``rows``
        rows (its rows, not its valid rows: the report does not load a segment's missing rates), against the
        segment's null (the evaluator's, cached): what the segments table flags drift with, for a segment under the
        rule's ``min_rows`` too (not judged, but its noise is still that of its rows)."""
        rule = self.rule_for(metric, column)
        if rule is None or rows <= 0:
            return None
        assert self.config is not None and self.baseline is not None
        baseline = self.baseline

        def null(col: str, seg: str | None) -> ColumnNull | None:
            return column_null_for(baseline, col, seg, self._nulls)

        context = R.AutoContext({(column, segment): rows}, null, self.config.false_alarm_rate)
        return self._threshold(R.Target(rule, column, segment), context)

    def series(self, metric: str, column: str) -> list[tuple[int, float]]:
        """(window start, threshold) of every window of the column's ``metric`` series that a rule judges."""
        out = []
        for t in sorted(self._lookup(metric, column)):
            v = self.value(metric, column, t)
            if v is not None:
                out.append((t, v))
        return out

    def lowest(self, metric: str, columns: Iterable[str], window: int) -> float | None:
        """The lowest threshold of ``columns`` in one window (None: none judged)."""
        values = [v for c in columns if (v := self.value(metric, c, window)) is not None]
        return min(values) if values else None

    def band(
        self, metric: str, columns: Sequence[str | None], *, step: int, colors: Mapping[str, str] | None = None
    ) -> Band | None:
        """The chart's band: per step (one window, or up to :data:`MAX_BUCKETS` steps of consecutive windows) the
        lowest and highest threshold of ``columns``, with its hover text; None when no ``auto`` rule applies. Where
        one of the columns has an ``auto`` rule, the band is its threshold, in its colour (``colors``)."""
        cols = [c for c in columns if c is not None and self.rule_for(metric, c) is not None]
        if not cols:
            return None
        windows = sorted({t for c in cols for t in self._lookup(metric, c)})
        if not windows:
            return None
        per = max(1, math.ceil(len(windows) / MAX_BUCKETS))
        steps = []
        for i in range(0, len(windows), per):
            bucket = windows[i : i + per]
            found = self._bucket(metric, cols, bucket)
            if not found:
                continue
            lo, lo_col = min(found)
            hi, hi_col = max(found)
            steps.append(BandStep(bucket[0], bucket[-1], lo, hi, _hover(metric, cols, bucket, lo, lo_col, hi, hi_col)))
        if not steps:
            return None
        single = cols[0] if len(cols) == 1 else None
        name = f"auto threshold of {single}" if single else "auto threshold, per window (lowest – highest column)"
        color = (colors or {}).get(single, BAND_COLOR) if single else BAND_COLOR
        return Band(name, tuple(steps), color, line=single is not None)

    def _bucket(self, metric: str, cols: Sequence[str], bucket: Sequence[int]) -> list[tuple[float, str]]:
        """(threshold, column) at the corners of each column's smallest and largest ``n`` and rate share in the
        bucket's judged windows: the extremes of its thresholds (monotone in ``n`` and in the rate: chi2-type, KS and
        W1 thresholds fall with both, a p-value's rises)."""
        out = []
        for c in cols:
            rule = self.rule_for(metric, c)
            assert rule is not None
            have = self._lookup(metric, c)
            rows = self._lookup(ROWS, None)
            judged = [
                (n, self.look_scale(t))
                for t in bucket
                if t in have and rows.get(t, -1) >= rule.min_rows and (n := self.valid_rows(c, t)) is not None
            ]
            if not judged:
                continue
            ns, scales = {n for n, _ in judged}, {s for _, s in judged}
            for n in {min(ns), max(ns)}:
                for s in {min(scales), max(scales)}:
                    v = self._at(rule, c, n, s)
                    if v is not None:
                        out.append((v, c))
        return out


def _hover(
    metric: str, cols: Sequence[str], bucket: Sequence[int], lo: float, lo_col: str, hi: float, hi_col: str
) -> str:
    """The step's hover text: its window (or first and last window), its threshold (lowest and highest column)."""
    when = f"window {_iso(bucket[0])}" if len(bucket) == 1 else f"windows {_iso(bucket[0])} – {_iso(bucket[-1])}"
    if len(cols) == 1:
        value = _fmt(lo) if _fmt(lo) == _fmt(hi) else f"{_fmt(lo)} – {_fmt(hi)}"
        return f"{when}: {metric} auto threshold of {cols[0]} {value}"
    if _fmt(lo) == _fmt(hi):
        return f"{when}: auto threshold {_fmt(lo)} (every column)"
    return f"{when}: auto threshold {_fmt(lo)} ({lo_col}) – {_fmt(hi)} ({hi_col})"
