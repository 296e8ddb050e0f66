"""The chi-squared quantile and the grid of window sizes the simulated nulls are computed on (pure; no scipy).

Shared by :mod:`driftline.core.thresholds` (which re-exports both) and :mod:`driftline.core.wnull`.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from driftline.core.stats import chi2_sf

# 25 .. 6.5M rows in x sqrt(2) steps, linear in log n between: the moments bend in log n where expected counts are
# small (200 categories: the mean of T goes 169 -> 217 -> 224 at n = 100, 300, 400), and x4 steps put the 0.001
# tail 2-3x too high between grid points; x sqrt(2) steps cut that interpolation error 16-fold
NULL_GRID = tuple(round(25 * 2 ** (k / 2)) for k in range(37))


def chi2_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of chi2(df) (no scipy): Newton's method on :func:`stats.chi2_sf` from the Wilson-Hilferty
    start, kept inside a bracket that each step narrows (a step leaving it bisects instead); ~4-6 evaluations of
    the survival function where bisection took ~45."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    tail = 1.0 - q
    k = 0.5 * df
    log_norm = k * math.log(2.0) + math.lgamma(k)
    z = NormalDist().inv_cdf(q)
    c = 2.0 / (9.0 * df)
    x = df * max(1.0 - c + z * math.sqrt(c), 0.05) ** 3
    lo, hi = 0.0, math.inf
    for _ in range(200):
        f = _sf(x, df) - tail  # decreasing in x
        if f > 0:
            lo = x
        else:
            hi = x
        pdf = math.exp((k - 1.0) * math.log(x) - 0.5 * x - log_norm) if x > 0 else 0.0
        step = x + f / pdf if pdf > 0 else math.nan
        if not lo < step < hi:  # (nan fails too) outside the bracket: bisect, or grow an open one
            step = 2.0 * lo if hi == math.inf else 0.5 * (lo + hi)
            step = step if step > 0 else 0.5 * x
        if abs(step - x) <= 1e-13 * max(x, 1e-300) or (hi < math.inf and hi - lo <= 1e-13 * hi):
            return step
        x = step
    return x


def _sf(x: float, df: float) -> float:
    # chi2_sf takes an integer df in its signature; the gamma function underneath takes any positive df
    return chi2_sf(x, df)  # type: ignore[arg-type]
