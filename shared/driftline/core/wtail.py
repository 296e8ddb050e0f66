"""Rows beyond the reference's range in the ``drift.wasserstein`` null (``core.wnull``). Pure numpy.

The baseline's bins end at the reference's minimum and maximum, so a null built from them gives a window no row
beyond either. Yet with no drift a new row exceeds the maximum of ``m`` reference rows with probability
``1 / (m + 1)`` (exchangeability, any continuous distribution): a window of ``n`` rows holds ``~n / (m + 1)`` of
them, and each adds its distance beyond the edge, divided by ``n``, to W1. For a light tail that distance is a
sliver; for a power-law tail it is as large as the maximum itself (Pareto 1.5 at 10,000 rows against 200,000:
5% of windows hold one; the bridge-and-bins null alarmed at 3.2% for alpha = 1%, nine in ten on such a window).

The distance beyond the extreme is extrapolated from the reference's own tail, read off the bins' edges (the
profiler adds tail quantiles at halving probabilities): a generalised Pareto with shape ``xi`` from Pickands'
estimator on the quantiles at ``R, 2R, 4R`` rows from the extreme (``R = m / 40`` within 25..500 rows),
``xi = log2((x_R - x_2R) / (x_2R - x_4R))``, clipped to [-0.5, 0.9], and its scale carried to the extreme
(``sigma_M = sigma_4R + xi (M - x_4R)``: the GPD's threshold stability). A side is modelled only where its extreme is
a single reference row (a repeated extreme, as in a discrete or zero-inflated column, has no mass beyond it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Excess:
    """The distance of a row beyond the reference's extreme: generalised Pareto ``(xi, sigma)``."""

    xi: float
    sigma: float

    def sf(self, x: float) -> float:
        """``P(distance > x)``."""
        if x <= 0:
            return 1.0
        if abs(self.xi) < 1e-9:
            return math.exp(-x / self.sigma)
        base = 1.0 + self.xi * x / self.sigma
        return base ** (-1.0 / self.xi) if base > 0 else 0.0


def beyond_range(p: FloatArray, widths: FloatArray, m: int) -> tuple[Excess | None, Excess | None]:
    """The excess distributions below the reference's minimum and above its maximum (None: not modelled), from its
    slot proportions ``p`` (underflow, intervals, overflow) and the intervals' ``widths``."""
    x = np.concatenate(([0.0], np.cumsum(widths)))  # the edges, from edges[0]
    f = np.cumsum(p)[:-1]  # the CDF at the edges
    if m < 100 or x.size < 4:
        return None, None
    rows = min(max(m / 40.0, 25.0), 500.0)
    # above: the maximum has its own interval, the last one ([max, nextafter(max)))
    over = None
    if p[-1] <= 0 and p[-2] * m <= 1.5:
        over = _pickands(x, 1.0 - f, float(x[-2]), rows / m)
    # below: the first interval starts at the minimum; a single row where it holds one (then flagged an atom)
    under = None
    if p[0] <= 0 and p[1] * m <= 1.5:
        under = _pickands(-x[::-1], f[::-1], 0.0, rows / m)
    return under, over


def _pickands(pos: FloatArray, tail: FloatArray, extreme: float, s: float) -> Excess | None:
    # pos increases outward, tail (the share of rows beyond each edge) decreases outward
    at = np.interp([4 * s, 2 * s, s], tail[::-1], pos[::-1])  # x_4R, x_2R, x_R
    near, far = float(at[1] - at[0]), float(at[2] - at[1])
    if not (near > 0 and far > 0):
        return None
    xi = min(max(math.log2(far / near), -0.5), 0.9)
    sigma = near / math.log(2.0) if abs(xi) < 1e-9 else xi * near / (2.0**xi - 1.0)
    sigma_m = sigma + xi * (extreme - float(at[0]))
    return Excess(xi, sigma_m) if sigma_m > 0 else None


def jump_sf(excesses: tuple[Excess | None, Excess | None], rows: float, x: float) -> float:
    """The chance that a window whose expected rows beyond each extreme is ``rows`` holds one beyond by more than
    ``x`` (on either side; Poisson counts)."""
    return sum(1.0 - math.exp(-rows * e.sf(x)) for e in excesses if e is not None)
