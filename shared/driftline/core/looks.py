"""Early looks at a window that is still open (SPEC §4): when to look, and how much of the error budget each look
may spend.

A window is looked at as its rows grow, at most once per doubling: the first look once the rows so far reach the
rules' ``min_rows``, the next once they reach twice the rows of the previous look, and so on. A window of ``N`` rows
is therefore looked at no more than ``1 + log2(N / min_rows)`` times (15 looks for 1,000,000 rows from 100), and a
look costs one evaluation, whatever the number of files.

Each look judges ``auto`` rules at a share of the false-alarm rate ``α`` (``alpha_scale`` of ``core.rules.judge``):
look ``k`` (0, 1, 2, …) gets ``s_k = ½ · 1 / ((k + 1)(k + 2))`` — ¼, 1/12, 1/24, 1/40, … — a series that sums to ½
however many looks there are, so the schedule needs no estimate of the window's final size. The close, which judges
the whole window, gets what the looks actually made have left: ``1 − Σ_{k<K} s_k = ½ + 1 / (2(K + 1))`` after ``K``
looks (1 after none: a window with no early look is judged exactly as before). By the union bound the chance that a
column-window that does not drift alarms at some look or at the close is at most ``α``; the looks of one growing
window are strongly positively correlated, so the real rate is lower (``python -m bench.early`` measures it).

Which metrics may be judged on an open window lives in :func:`judged_on_open_window`, the one place to point at the
metric catalogue later.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from driftline.core import catalogue
from driftline.core.config import AlertRule, ModelConfig

GROWTH = 2.0  # a new look once the rows so far reach this multiple of the previous look's rows
OPEN_SHARE = 0.5  # the part of α that the looks of one window may spend together (the close keeps the rest)
# Fixed drift thresholds at early looks: the error rate their noise gate is set at (SPEC §2's default
# ``detection.false_alarm_rate``; an ``auto`` rule spends its own α through ``alpha_scale``).
FIXED_LOOK_ALPHA = 0.001
# the binned distances whose no-drift noise is chi2 (the catalogue's ``auto: chi2``)
NOISE_METRICS = tuple(s.name for s in catalogue.METRICS.values() if s.auto == "chi2")
# metrics that are a share of the window's rows (binomial noise)
SHARE_METRICS = tuple(s.name for s in catalogue.METRICS.values() if s.share)


def look_share(k: int) -> float:
    """The share of α that look ``k`` (0-based, in the order looks were made in this window) may spend."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return OPEN_SHARE / ((k + 1) * (k + 2))


def close_share(looks: int) -> float:
    """The share of α left for the close of a window after ``looks`` early looks: ``1 − Σ_{k<looks} look_share(k)``."""
    if looks < 0:
        raise ValueError(f"looks must be >= 0, got {looks}")
    return 1.0 - OPEN_SHARE * (1.0 - 1.0 / (looks + 1))


def next_look_rows(looked_rows: int, min_rows: int) -> int:
    """The rows the open window must reach before its next look: ``min_rows`` before any look, then ``GROWTH`` times
    the rows of the previous look."""
    if looked_rows <= 0:
        return max(1, min_rows)
    return max(min_rows, math.ceil(GROWTH * looked_rows))


def look_rows_schedule(total_rows: int, min_rows: int) -> list[int]:
    """The row counts at which a window growing row by row to ``total_rows`` would be looked at (for benches and
    tests; the evaluator looks at the rows it finds at its ticks, which can only be later and fewer)."""
    out: list[int] = []
    looked = 0
    while (need := next_look_rows(looked, min_rows)) <= total_rows:
        out.append(need)
        looked = need
    return out


def chi2_quantile(df: int, upper_tail: float) -> float:
    """The χ² quantile with ``df`` degrees of freedom exceeded with probability ``upper_tail`` (Wilson–Hilferty:
    within 3% of ``scipy.stats.chi2.isf`` for df ≥ 9 down to tails of 1e-6, 7% high at df = 3; no scipy in the
    evaluator)."""
    if df < 1 or not 0.0 < upper_tail < 1.0:
        raise ValueError(f"need df >= 1 and 0 < upper_tail < 1, got {df}, {upper_tail}")
    z = NormalDist().inv_cdf(1.0 - upper_tail)
    a = 2.0 / (9.0 * df)
    return df * max(1.0 - a + z * math.sqrt(a), 0.0) ** 3


def noise_level(metric: str, *, bins: int, rows: int, ref_rows: int, tail: float) -> float | None:
    """The value of a coarse-binned drift distance that sampling noise alone exceeds with probability ``tail``, for
    a window of ``rows`` against a reference of ``ref_rows`` over ``bins`` bins: under no drift PSI/h and
    8·JSD/h (nats; Hellinger² ≈ JSD) are ≈ χ² with bins − 1 degrees of freedom, h = 1/rows + 1/ref_rows.
    None for other metrics. (Too low where expected counts are small: a floor, not a test.)"""
    if metric not in NOISE_METRICS or bins < 2 or rows <= 0 or ref_rows <= 0:
        return None
    h = 1.0 / rows + 1.0 / ref_rows
    q = chi2_quantile(bins - 1, tail)
    if metric == "drift.psi":
        return h * q
    jsd = h * q / 8.0
    if metric == "drift.jensen_shannon":
        return math.sqrt(min(jsd / math.log(2.0), 1.0))
    return math.sqrt(min(jsd, 1.0))


def share_noise(share: float, *, rows: int, tail: float) -> float:
    """How far sampling noise alone moves a share of ``rows`` rows whose true value is ``share``, exceeded with
    probability ``tail`` (one side): z · √(p(1−p)/n), p kept half a row from 0 and 1."""
    if rows <= 0:
        return math.inf
    p = min(max(share, 0.5 / rows), 1.0 - 0.5 / rows)
    return NormalDist().inv_cdf(1.0 - tail) * math.sqrt(p * (1.0 - p) / rows)


def judged_on_open_window(rule: AlertRule, config: ModelConfig) -> bool:
    """Whether ``rule`` is also judged on the window still open (SPEC §4): ``for: 1`` on a rate, distance or
    performance metric. Not ``volume.*`` nor a business sum (``sum``, ``cost_matrix``): they grow with the window,
    so a part of it says nothing about the whole: the metric catalogue's ``open_window`` flag, except that a business
    ``mean`` (a configured type, not a metric name) is a rate."""
    if rule.for_windows != 1:
        return False
    family, _, name = rule.metric.partition(".")
    if family == "business":
        kinds = {bm.name: bm.type for bm in config.business_metrics}
        return kinds.get(name) == "mean"
    return catalogue.judged_on_open_window(rule.metric)
