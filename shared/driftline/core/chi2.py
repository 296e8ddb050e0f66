"""The chi-squared quantile and the grid of window sizes the simulated nulls are computed on (pure; no scipy).

Shared by :mod:`driftline.core.thresholds` (which re-exports both) and :mod:`driftline.core.wnull`.
"""

from __future__ import annotations

from driftline.core.stats import chi2_sf

# 25 .. 6.5M rows in x sqrt(2) steps, linear in log n between: the moments bend in log n where expected counts are
# small (200 categories: the mean of T goes 169 -> 217 -> 224 at n = 100, 300, 400), and x4 steps put the 0.001
# tail 2-3x too high between grid points; x sqrt(2) steps cut that interpolation error 16-fold
NULL_GRID = tuple(round(25 * 2 ** (k / 2)) for k in range(37))


def chi2_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of chi2(df): Wilson-Hilferty start, then bisection on :func:`stats.chi2_sf` (no scipy)."""
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    tail = 1.0 - q
    lo, hi = 0.0, max(df, 1.0)
    while _sf(hi, df) > tail:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _sf(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(hi, 1.0):
            break
    return 0.5 * (lo + hi)


def _sf(x: float, df: float) -> float:
    # chi2_sf takes an integer df in its signature; the gamma function underneath takes any positive df
    return chi2_sf(x, df)  # type: ignore[arg-type]
