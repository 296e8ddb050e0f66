"""Drift statistics: pure functions over binned counts, each with a small descriptor.

Every statistic compares a reference distribution (the baseline) with a current one (a window), both given as
counts over the same frozen bins (numerical columns) or the same category slots (categorical columns). Bins are
frozen at the baseline (``driftline.core.baseline``), so the values of different windows are comparable.

What each statistic is (the column kinds it applies to, its direction, its ``auto`` threshold) is said once, in
the metric catalogue (``driftline.core.catalogue``), whose drift entries point at these functions.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
ColumnKind = Literal["numerical", "categorical"]

#: Additive smoothing applied to proportions before logarithms (PSI), as in common PSI practice.
PSI_EPSILON = 1e-4


def _as_counts(name: str, counts: object) -> FloatArray:
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must hold finite, non-negative counts")
    return arr


def _pair(reference: object, current: object) -> tuple[FloatArray, FloatArray]:
    ref = _as_counts("reference", reference)
    cur = _as_counts("current", current)
    if ref.shape != cur.shape:
        raise ValueError(f"reference and current must have the same number of bins, got {ref.size} and {cur.size}")
    if ref.sum() <= 0:
        raise ValueError("reference must hold at least one count")
    if cur.sum() <= 0:
        raise ValueError("current must hold at least one count")
    return ref, cur


def _proportions(counts: FloatArray) -> FloatArray:
    return counts / counts.sum()


def psi(reference: object, current: object, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index.

    ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)`` with ``p``, ``q`` the reference and current proportions,
    each smoothed as ``max(p_i, epsilon)`` so that empty bins do not make it infinite (Siddiqi, *Credit Risk
    Scorecards*, 2006).
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    ref, cur = _pair(reference, current)
    p = np.maximum(_proportions(ref), epsilon)
    q = np.maximum(_proportions(cur), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: object, current: object) -> float:
    """Jensen-Shannon distance, base 2, in [0, 1].

    ``JS = sqrt(0.5 * KL(p || m) + 0.5 * KL(q || m))`` with ``m = (p + q) / 2``, logarithms base 2; the same
    quantity as ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` (Lin, 1991).
    """
    ref, cur = _pair(reference, current)
    p = _proportions(ref)
    q = _proportions(cur)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0)
    divergence = max(0.5 * float(kl_p.sum()) + 0.5 * float(kl_q.sum()), 0.0)
    return min(math.sqrt(divergence), 1.0)


def hellinger(reference: object, current: object) -> float:
    """Hellinger distance in [0, 1]: ``H = sqrt(1 - sum_i sqrt(p_i * q_i))`` (Hellinger, 1909)."""
    ref, cur = _pair(reference, current)
    bc = float(np.sum(np.sqrt(_proportions(ref) * _proportions(cur))))
    return math.sqrt(max(1.0 - bc, 0.0))


def kolmogorov_smirnov(reference: object, current: object) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``D = max_x |F_ref(x) - F_cur(x)|`` on ordered bins.

    Evaluated at the bin edges, so on fine quantile bins it is within one bin's mass of the exact statistic on
    the raw values (``scipy.stats.ks_2samp``).
    """
    ref, cur = _pair(reference, current)
    f_ref = np.cumsum(ref) / ref.sum()
    f_cur = np.cumsum(cur) / cur.sum()
    return float(np.max(np.abs(f_ref - f_cur)))


def wasserstein_binned(
    reference: object,
    current: object,
    *,
    edges: object,
    ref_tails: tuple[float, float] = (0.0, 0.0),
    cur_tails: tuple[float, float] = (0.0, 0.0),
    atoms: object = None,
) -> float:
    """First Wasserstein distance ``W1 = integral |F_ref(x) - F_cur(x)| dx`` in the column's units.

    The counts have ``len(edges) + 1`` slots: an underflow slot (values below ``edges[0]``), one slot per
    interval ``[edges[i], edges[i+1])`` and an overflow slot (values at or above ``edges[-1]``). Within an
    interval the mass is taken as uniform, so each CDF is piecewise linear there and the integral is exact
    for it — except in the intervals flagged in ``atoms`` (a discrete column's values), where the mass is a
    point on the left edge and the CDFs are constant across the interval. The tails are exact when the other
    distribution has no mass there: ``*_tails`` carry
    ``(sum over underflow values of edges[0] - x, sum over overflow values of x - edges[-1])`` — the
    integral of the CDF below ``edges[0]`` and of ``1 - CDF`` above ``edges[-1]`` times the count
    (Villani, *Optimal Transport*, 2009, for W1 as the L1 distance between CDFs).
    """
    ref, cur = _pair(reference, current)
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 1:
        raise ValueError("edges must be a non-empty one-dimensional array")
    if ref.size != e.size + 1:
        raise ValueError(f"counts must have len(edges) + 1 = {e.size + 1} slots, got {ref.size}")
    n_ref, n_cur = ref.sum(), cur.sum()
    # CDF values at each edge: the mass strictly below edges[i] is the sum of the slots before it.
    f_ref = np.cumsum(ref)[:-1] / n_ref
    f_cur = np.cumsum(cur)[:-1] / n_cur
    widths = np.diff(e)
    a = f_ref[:-1] - f_cur[:-1]  # difference at the left edge of each interval
    b = f_ref[1:] - f_cur[1:]  # difference just before the right edge (uniform mass within the interval)
    # Within an interval the CDF difference is linear from a to b: integral of |linear| over the width.
    with np.errstate(divide="ignore", invalid="ignore"):
        same_sign = a * b >= 0
        crossing = np.where(same_sign, 0.0, (a * a + b * b) / (2.0 * (np.abs(a) + np.abs(b))))
    inner = np.where(same_sign, 0.5 * np.abs(a + b), crossing)
    if atoms is not None:
        inner = np.where(np.asarray(atoms, dtype=bool), np.abs(b), inner)
    total = float(np.sum(inner * widths))
    # Tails: below edges[0] and above edges[-1]. With only one distribution having mass there the integral is
    # the tail sum / n; with both, the CDFs may overlap, and |F1 - F2| <= F1 + F2 bounds it — use the exact
    # difference of the tail expectations, a lower bound that is exact when one side is empty.
    under = abs(ref_tails[0] / n_ref - cur_tails[0] / n_cur)
    over = abs(ref_tails[1] / n_ref - cur_tails[1] / n_cur)
    return total + under + over


def chi2_pvalue(reference: object, current: object) -> float:
    """p-value of Pearson's chi-squared test of homogeneity on the 2 x K table ``[reference; current]``.

    Slots empty in both rows are dropped. With one degree of freedom (K = 2) Yates' continuity correction is
    applied, as ``scipy.stats.chi2_contingency`` does by default: each observed count moves toward its expected
    count by at most 0.5. With one slot left the two distributions are identical and the p-value is 1.
    """
    ref, cur = _pair(reference, current)
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    k = table.shape[1]
    if k < 2:
        return 1.0
    row = table.sum(axis=1, keepdims=True)
    col = table.sum(axis=0, keepdims=True)
    expected = row * col / table.sum()
    if k == 2:
        diff = expected - table
        table = table + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    stat = float(np.sum((table - expected) ** 2 / expected))
    return chi2_sf(stat, k - 1)


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the chi-squared distribution: ``Q(df / 2, x / 2)``, the regularised upper
    incomplete gamma function (Numerical Recipes, 3rd ed., section 6.2: series below ``a + 1``, Lentz's
    continued fraction above). Accurate to about 1e-14 relative; no scipy needed at run time."""
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    if not x > 0:
        return 1.0
    return _gammaq(0.5 * df, 0.5 * x)


def _gammaq(a: float, x: float) -> float:
    gln = math.lgamma(a)
    if x < a + 1.0:
        ap, total = a, 1.0 / a
        delta = total
        for _ in range(10_000):
            ap += 1.0
            delta *= x / ap
            total += delta
            if abs(delta) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - gln) * h)
