"""The ``auto`` threshold of ``drift.wasserstein`` (SPEC §2), in the column's units. Pure numpy.

Under no drift the window (``n`` rows) and the reference (``m`` rows) are samples of one distribution ``F``; their
empirical CDFs differ by ``sqrt(h) B(F(x))`` to first order, ``B`` a Brownian bridge and ``h = 1/n + 1/m``
(Donsker). So the two-sample ``W1 = integral |F_ref - F_cur| dx`` is ``~ sqrt(h) Z``, ``Z = integral |B(F(x))| dx``,
whose law depends only on the reference's distribution: on the baseline's bins (as
:func:`driftline.core.stats.wasserstein_binned` integrates them: linear within an interval, constant across an
atom interval, the tails at their mean distance beyond the edges) ``Z = sum_i c_i |B(F_i)|`` over the edges ``i``.
Its mean and variance are exact: ``E|G| = sqrt(2/pi) s`` and, for a centred normal pair of correlation ``r``,
``E|G1 G2| = (2/pi) s1 s2 (r asin r + sqrt(1 - r^2))``, with ``Cov(B(s), B(t)) = min(s, t) - s t`` (one O(K^2)
sum per column).

``Z`` is a norm of a Gaussian process, with a heavier upper tail than a two-moment fit gives; it is matched on its
mean, variance (exact) and skewness (simulated: 1,000+ seeded bridges with a control variate, ~25 ms a column, once
per baseline) by a shifted scaled chi-squared (Pearson type III). The threshold for a window of ``n`` rows is
``sqrt(h phi) q_Z(1 - alpha)`` (``phi`` the column's overdispersion factor, as for the other statistics), never
below the effect floor, a fraction of the reference's standard deviation (0.05 sd: the W1 of a 0.05-sigma mean
shift is exactly 0.05 sigma). A window row beyond the reference's range, which the bins give no mass, is added by
:mod:`driftline.core.wtail` (a power-law tail's far rows).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from driftline.core.chi2 import NULL_GRID, chi2_ppf
from driftline.core.stats import chi2_sf
from driftline.core.w1sim import Tables, fit_moments, linear_moments
from driftline.core.wtail import Excess, beyond_range, jump_sf

FloatArray = NDArray[np.float64]


#: below this many window rows the W1 null is simulated (lazily, on the grid of ``chi2.NULL_GRID``): a heavy
#: tail's few far values make W1's small-sample tail heavier than the bridge's (lognormal at 100 rows: 3.5x alpha)
SIMULATE_BELOW = 4_000
#: ... and above it while the window's mean (binned) is still far from normal: its excess kurtosis (exact, from the
#: bins) over this. A power-law tail converges slowly (Pareto 1.5 at 10,000 rows: 3x alpha on the bridge)
SIMULATE_EXCESS_KURTOSIS = 0.05
#: tables of the plain estimator; a third of them with the control variate (:func:`simulate_w1`)
SIMULATIONS = 3_000
#: the control variate is used where the window mean's kurtosis (exact) is at most this: above it the control's
#: sample moments hang on a few rare tables and the estimate gets noisier, not better (Pareto 1.5 at 25 rows)
CV_KURTOSIS = 10.0
#: ... and where the column has this many slots: fewer make cheap tables, whose skewness the control helps little
CV_SLOTS = 64
_BLOCK = 1_000  # tables drawn at once: 1,000 x ~420 float32 slots stay in cache


@dataclass(frozen=True)
class WassersteinNull:
    """One numerical column's ``W1`` null: the reference's slot proportions ``p`` (underflow, intervals, overflow),
    the intervals' ``widths`` and ``atoms`` flags, the tails' mean distances beyond the edges ``tails`` and the
    reference's standard deviation ``sd`` (the effect floor's unit), in the column's units. ``Z``'s moments are
    computed on first use (:meth:`shape`, :meth:`shape_at`) and memoised."""

    p: tuple[float, ...]
    widths: tuple[float, ...]
    atoms: tuple[bool, ...]
    tails: tuple[float, float]
    sd: float
    _shape: dict[int, tuple[float, float, float]] = field(default_factory=dict, compare=False, repr=False)
    _linear: list[float] = field(default_factory=list, compare=False, repr=False)
    _beyond: dict[int, tuple[Excess | None, Excess | None]] = field(default_factory=dict, compare=False, repr=False)

    def weights(self) -> tuple[FloatArray, FloatArray]:
        """``(f, c)``: the CDF at the edges and the edges' weights in ``Z = sum_i c_i |B(f_i)|``."""
        p = np.asarray(self.p)
        widths, atom = np.asarray(self.widths), np.asarray(self.atoms, dtype=bool)
        c = np.zeros(widths.size + 1)
        half = np.where(atom, 0.0, 0.5 * widths)
        c[:-1] += half
        c[1:] += half + np.where(atom, widths, 0.0)
        c[0] += self.tails[0]
        c[-1] += self.tails[1]
        return np.cumsum(p)[:-1], c

    def shape(self) -> tuple[float, float, float]:
        """The large-sample ``Z``: its exact mean and variance and its skewness (simulated, seeded by the bins)."""
        if 0 not in self._shape:
            f, c = self.weights()
            mean, var = z_moments(f, c)
            self._shape[0] = (mean, var, z_skewness(f, c, mean, var))
        return self._shape[0]

    def shape_at(self, n: int, m: int) -> tuple[float, float, float]:
        """Mean, variance and skewness of ``W1 / sqrt(h)`` for a window of ``n`` rows: the large-sample ones from
        :data:`SIMULATE_BELOW` rows (where :meth:`excess_kurtosis` is at most :data:`SIMULATE_EXCESS_KURTOSIS`),
        else simulated at the grid points bracketing ``n`` (linear in log n between)."""
        limit = SIMULATE_EXCESS_KURTOSIS
        if n >= SIMULATE_BELOW and self.excess_kurtosis(n, m) <= limit:
            return self.shape()
        grid = [g for g in NULL_GRID if g < SIMULATE_BELOW]
        if self.excess_kurtosis(SIMULATE_BELOW, m) > limit:  # a slow tail: on up to the first grid point past it
            for g in NULL_GRID[len(grid) :]:
                grid.append(g)
                if self.excess_kurtosis(g, m) <= limit:
                    break
        ln = math.log(max(n, 1))
        below = [g for g in grid if math.log(g) <= ln]
        above = [g for g in grid if math.log(g) >= ln]
        bracket = sorted({below[-1] if below else grid[0], above[0] if above else grid[-1]})
        for g in bracket:
            if g not in self._shape:
                self._shape[g] = simulate_w1(self, g, m)
        x = [math.log(g) for g in bracket]
        return tuple(float(np.interp(ln, x, [self._shape[g][i] for g in bracket])) for i in range(3))  # type: ignore[return-value]

    def beyond(self, m: int) -> tuple[Excess | None, Excess | None]:
        """The distance of a window row beyond the reference's minimum and maximum (``core.wtail``; None where a
        side is not modelled), for ``m`` reference rows; memoised."""
        if m not in self._beyond:
            p, widths = np.asarray(self.p), np.asarray(self.widths)
            self._beyond[m] = beyond_range(p / p.sum(), widths, m)
        return self._beyond[m]

    def excess_kurtosis(self, n: int, m: int) -> float:
        """The exact excess kurtosis of the binned mean difference ``sum_i c_i (F_cur - F_ref)(edge i)`` of a
        window of ``n`` rows (multinomial on ``p``) against ``m`` (normal): ``k4(v) / (mu2(v)^2 n (1 + n/m)^2)``,
        ``v`` the value each slot adds to it. ~0 for light tails at any ``n``; large where a few far rows
        dominate W1 (a power-law tail), which the bridge then misses."""
        if not self._linear:
            p = np.asarray(self.p)
            mu2, mu4 = linear_moments(p / p.sum(), self.weights()[1])[1:]
            self._linear.append((mu4 - 3.0 * mu2 * mu2) / (mu2 * mu2) if mu2 > 0 else 0.0)
        n, m = max(n, 1), max(m, 1)
        return self._linear[0] / (n * (1.0 + n / m) ** 2)


def simulate_w1(
    wnull: WassersteinNull, n: int, m: int, *, simulations: int = SIMULATIONS
) -> tuple[float, float, float]:
    """Mean, variance and skewness of ``W1 / sqrt(h)`` on the bins, window (``n`` rows) and reference (``m``)
    both drawn from ``p``, W1 integrated as :func:`driftline.core.stats.wasserstein_binned` does; seeded from
    the bins, ``m`` and ``n``.

    The window is multinomial: up to one row per slot as ``n`` alias-method draws counted per table, above that
    Poisson counts normalised (the same proportions to O(1/n)); the reference (its share of the noise is
    m/(n+m) smaller, its counts large) by the normal approximation. In float32 (W1's differences of CDFs need
    ~4 digits), ``sum_i c_i |d_i|`` as one product and the crossing correction only where ``d`` changes sign.
    The moments are estimated with a control variate whose moments are exact: ``Y = sum_i c_i d_i`` (the binned
    mean difference, linear in the counts) has ``E[Y^2]`` and ``E[Y^4]`` from the cumulants of ``v`` (the value
    each slot adds to it) and ``|Y| <= W1``; regressing ``(T, T^2, T^3)`` on ``(Y^2, Y^4)`` lets 1,000 tables do
    what 3,000 plain ones did (corr(T, Y^2) ~0.85, corr(T^2, Y^2) ~0.9). Where ``Y``'s kurtosis exceeds
    :data:`CV_KURTOSIS` (rare far rows: a power-law tail at small ``n``) the 3,000 tables are averaged plainly."""
    p = np.asarray(wnull.p)
    p = p / p.sum()
    n, m = max(n, 1), max(m, 1)
    key = [zlib.crc32(p.tobytes()), zlib.crc32(np.asarray(wnull.widths).tobytes()), m, n]
    rng = np.random.default_rng(key)
    _, c = wnull.weights()
    vc, mu2, mu4 = linear_moments(p, c)
    multinomial = n <= p.size
    h = 1.0 / n + 1.0 / m
    k4 = (mu4 - 3.0 * mu2 * mu2 if multinomial else mu4) / (n**3 * h * h)  # 4th cumulant of Y / sqrt(h)
    ey4 = k4 + 3.0 * mu2 * mu2
    cv = p.size >= CV_SLOTS and mu2 > 0 and ey4 <= CV_KURTOSIS * mu2 * mu2
    tables = max(simulations // 3, 2) if cv else simulations
    draw = Tables(p, c, vc, np.asarray(wnull.widths), np.asarray(wnull.atoms, dtype=bool), n, m, multinomial)
    parts = [draw(rng, min(_BLOCK, tables - start)) for start in range(0, tables, _BLOCK)]
    t = np.concatenate([q[0] for q in parts]) / math.sqrt(h)
    y = np.concatenate([q[1] for q in parts]) / math.sqrt(h)
    return fit_moments(t, y, mu2, ey4 if cv else None)


def z_moments(f: FloatArray, c: FloatArray) -> tuple[float, float]:
    """Exact mean and variance of ``Z = sum_i c_i |B(f_i)|``, ``B`` a Brownian bridge."""
    keep = (c > 0) & (f > 0) & (f < 1)
    f, c = f[keep], c[keep]
    if f.size == 0:
        return 0.0, 0.0
    s = np.sqrt(f * (1.0 - f))
    mean = math.sqrt(2.0 / math.pi) * float(np.sum(c * s))
    lo = np.minimum.outer(f, f)
    cov = lo - np.outer(f, f)
    r = np.clip(cov / np.outer(s, s), -1.0, 1.0)
    e_abs = (2.0 / math.pi) * np.outer(s, s) * (r * np.arcsin(r) + np.sqrt(1.0 - r * r))
    second = float(c @ e_abs @ c)
    return mean, max(second - mean * mean, 0.0)


def reference_sd(valid: int, total: float, total_sq: float) -> float:
    """The standard deviation of ``valid`` values from their sum and sum of squares (0 when undefined; NaN when the
    variance is lost in the sums' rounding: below 1e-9 of the mean square, as for 1e9 + noise, whose sum of
    squares cannot hold it — :func:`wasserstein_null` then takes it from the bins)."""
    if valid <= 1:
        return 0.0
    mu = total / valid
    square = total_sq / valid
    var = square - mu * mu
    if var <= 1e-9 * square:
        return math.nan if square > 0 else 0.0
    return math.sqrt(var)


def binned_sd(p: FloatArray, edges: FloatArray, atoms: NDArray[np.bool_], tails: tuple[float, float]) -> float:
    """The standard deviation of the binned distribution: uniform within an interval, a point at an atom's left
    edge and at the tails' mean distances beyond the edges; computed about ``edges[0]`` (no offset is lost)."""
    x = np.asarray(edges, dtype=np.float64) - edges[0]
    lo, hi = x[:-1], x[1:]
    at = np.asarray(atoms, dtype=bool)
    m1 = np.concatenate(([-tails[0]], np.where(at, lo, 0.5 * (lo + hi)), [x[-1] + tails[1]]))
    m2 = np.concatenate(([tails[0] ** 2], np.where(at, lo * lo, (lo * lo + lo * hi + hi * hi) / 3.0), [m1[-1] ** 2]))
    mean = float(p @ m1)
    return math.sqrt(max(float(p @ m2) - mean * mean, 0.0))


def z_skewness(f: FloatArray, c: FloatArray, mean: float, var: float, *, draws: int = 0) -> float:
    """The skewness of ``Z`` by simulation (``draws`` Brownian bridges on the edges; by default about 2M normal
    draws in all, at least 2,000 bridges), seeded from ``f`` and ``c``. ``Z``'s exact mean and variance standardise
    it, and ``|S|``, ``S = sum_i c_i B(f_i)`` (normal, variance ``c' Cov c``: a half-normal's third central moment
    ``sqrt(2/pi)(4/pi - 1) sd^3`` is known) is its control variate: ~1,000 bridges alone leave it 10% noisy."""
    keep = (c > 0) & (f > 0) & (f < 1)
    f, c = f[keep], c[keep]
    if f.size == 0 or not var > 0:
        return 0.0
    draws = draws or max(1_000, 400_000 // f.size)
    seed = [zlib.crc32(f.tobytes()), zlib.crc32(c.tobytes())]
    steps = np.diff(np.r_[0.0, f, 1.0])
    w = np.cumsum(np.random.default_rng(seed).standard_normal((draws, steps.size)) * np.sqrt(steps), axis=1)
    b = w[:, :-1] - np.outer(w[:, -1], f)  # B(f) = W(f) - f W(1)
    z = np.abs(b) @ c
    s_abs = np.abs(b @ c)
    s_sd = math.sqrt(float(c @ (np.minimum.outer(f, f) - np.outer(f, f)) @ c))
    z3 = (z - mean) ** 3
    a_mean = s_sd * math.sqrt(2.0 / math.pi)
    a3 = (s_abs - a_mean) ** 3
    a3_true = math.sqrt(2.0 / math.pi) * (4.0 / math.pi - 1.0) * s_sd**3
    ac = a3 - a3.mean()
    beta = float(np.mean((z3 - z3.mean()) * ac)) / max(float(np.mean(ac * ac)), 1e-300)
    third = float(z3.mean()) - beta * (float(a3.mean()) - a3_true)
    return float(third / var**1.5)


def wasserstein_null(
    counts: object,
    edges: object,
    *,
    under: float = 0.0,
    over: float = 0.0,
    atoms: object = None,
    sd: float = 0.0,
) -> WassersteinNull | None:
    """A numerical column's ``W1`` null from the reference's counts on its bins (None without two distinct slots);
    ``sd`` NaN: the binned distribution's (:func:`binned_sd`)."""
    cnt = np.asarray(counts, dtype=np.float64)
    if cnt.sum() <= 0 or np.count_nonzero(cnt) < 2:
        return None
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or cnt.size != e.size + 1:
        raise ValueError(f"counts must have len(edges) + 1 = {e.size + 1} slots, got {cnt.size}")
    widths = np.diff(e)
    atom = np.zeros(widths.size, dtype=bool) if atoms is None else np.asarray(atoms, dtype=bool)
    tails = (under / cnt[0] if cnt[0] > 0 else 0.0, over / cnt[-1] if cnt[-1] > 0 else 0.0)
    p = cnt / cnt.sum()
    if math.isnan(sd):  # unknown (see :func:`reference_sd`)
        sd = binned_sd(p, e, atom, tails)
    return WassersteinNull(tuple(p.tolist()), tuple(widths.tolist()), tuple(bool(v) for v in atom), tails, sd)


def w1_quantile(wnull: WassersteinNull, q: float, n: int = SIMULATE_BELOW, m: int = 1 << 62) -> float:
    """The ``q`` quantile of ``W1 / sqrt(h)`` for a window of ``n`` rows against ``m``
    (:meth:`WassersteinNull.shape_at`; by default the large-sample ``Z``), matched on its mean, variance and skewness
    by a shifted scaled chi-squared ``b + a chi2(nu)``, ``nu = 8 / skew^2`` (Pearson type III): a norm of a Gaussian
    process has a heavier upper tail than a two-moment fit gives (the 0.001 tail of a normal column's ``Z``: 3.38
    simulated, 2.86 by a scaled chi). Where a window row beyond the reference's range (:meth:`WassersteinNull.beyond`)
    would cross it with a chance over 1e-3 of ``1 - q``, the quantile of the two together (regula falsi)."""
    n, m = max(n, 1), max(m, 1)
    mean, var, skew = wnull.shape_at(n, m)
    if not var > 0:
        return mean
    nu = 8.0 / max(skew, 0.05) ** 2
    a = math.sqrt(var / (2.0 * nu))
    bulk = mean + a * (chi2_ppf(q, nu) - nu)
    # a row beyond the reference's range (n / (m + 1) of them a window, core.wtail) adds its distance / n to W1
    beyond = wnull.beyond(m) if m < 1 << 60 else (None, None)
    rows, scale = n / (m + 1.0), n * math.sqrt(1.0 / n + 1.0 / m)

    def sf(t: float) -> float:
        return chi2_sf((t - mean) / a + nu, nu) + jump_sf(beyond, rows, (t - mean) * scale)  # type: ignore[arg-type]

    tail = 1.0 - q
    if jump_sf(beyond, rows, (bulk - mean) * scale) <= 1e-3 * tail:
        return bulk
    # g(t) = log(sf(t) / tail) falls in t; bracket it, then regula falsi (Illinois): ~6 evaluations, not ~35
    lo, hi = bulk, bulk + max(bulk - mean, a)
    g_lo, g_hi = math.log(sf(lo) / tail), math.log(max(sf(hi), 1e-300) / tail)
    while g_hi > 0 and hi - mean < 1e12 * a:
        lo, g_lo, hi = hi, g_hi, mean + 2.0 * (hi - mean)
        g_hi = math.log(max(sf(hi), 1e-300) / tail)
    side = 0
    for _ in range(100):
        t = hi - g_hi * (hi - lo) / (g_hi - g_lo) if g_hi != g_lo else 0.5 * (lo + hi)
        g = math.log(max(sf(t), 1e-300) / tail)
        if abs(g) < 1e-9 or hi - lo <= 1e-12 * (hi - mean):
            return t
        if g > 0:
            lo, g_lo = t, g
            g_hi = g_hi / 2 if side == 1 else g_hi
            side = 1
        else:
            hi, g_hi = t, g
            g_lo = g_lo / 2 if side == -1 else g_lo
            side = -1
    return hi


def wasserstein_threshold(
    n: int, m: int, wnull: WassersteinNull, alpha: float, *, phi: float = 1.0, floor_sd: float = 0.0
) -> float:
    """The ``auto`` threshold of ``drift.wasserstein`` for a window of ``n`` valid rows against ``m`` reference rows:
    ``sqrt(h phi) q_Z(1 - alpha)``, never below ``floor_sd`` reference standard deviations."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    h = 1.0 / max(n, 1) + 1.0 / max(m, 1)
    return max(math.sqrt(h * phi) * w1_quantile(wnull, 1.0 - alpha, n, m), floor_sd * wnull.sd)
