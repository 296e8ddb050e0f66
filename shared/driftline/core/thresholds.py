"""``auto`` drift thresholds (SPEC §2): the value a drift statistic exceeds, on data that does not drift, in about
a fraction ``alpha`` of a column's windows, whatever the window's size. Pure numpy.
Over 400 lines: one concept (a column's null and its threshold); W1's null is core/wnull.py, chi2 core/chi2.py.

Under no drift the window's counts over the baseline's slots are a multinomial sample of ``n`` rows, the
reference's a sample of ``m`` rows, from the same proportions ``p``. With ``h = 1/n + 1/m`` and the divergences
expanded to second order, ``PSI / h``, ``8 JSD / h`` (JSD the Jensen-Shannon divergence in nats, the square of
the distance times ln 2) and ``8 H^2 / h`` (H the Hellinger distance: ``1 - sum sqrt(p q) ~ sum (q - p)^2 / 8p``)
are each ~ Pearson's chi-squared statistic of the 2 x K table, ~ chi2(K - 1), K the slots with reference mass.
That approximation holds when every expected count is large enough (:data:`MIN_EXPECTED`); below that (many
categories, few rows) the statistics run higher than chi2, so the null is simulated from the reference proportions
instead (:func:`simulate_points` on a grid of ``n``: lazily, the grid points bracketing a window's ``n`` on first
use, see :meth:`ColumnNull.moments`) and the simulated ``T = stat / h`` is matched by its first two moments to ``a
chi2(nu)`` (Satterthwaite), whose upper quantile extrapolates to small ``alpha``. The moments are estimated with a
control variate of exactly known mean and variance (Pearson's statistic on the true proportions), and the grid is
fine (x sqrt 2) because the moments bend in log n: both errors, not the shape of the fit, had put the 0.001 tail
of 200 categories at 2-3x alpha (with the true moments the two-moment fit is within 1.1x there).
Kolmogorov-Smirnov has the two-sample critical value ``c(alpha) / (sqrt(ne) + 0.12 + 0.11 / sqrt(ne))``,
``ne = nm / (n + m)`` (Stephens, 1970); the chi-squared p-value is compared with ``alpha``.

Real reference data varies more than multinomial sampling (daily cycles, batches). :func:`dispersion` estimates
per column the divergence ``tau2`` between time-ordered chunks of the reference beyond their sampling noise; a
window of ``n`` rows then has ``T ~ phi chi2(K - 1)`` with ``phi = 1 + tau2 / ((K - 1) h)`` (a random effect the
size of the reference's own variation). Finally no ``auto`` threshold is below the metric's effect floor (the
catalogue's ``effect_floor``), a difference a practitioner calls negligible.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftline.core.chi2 import NULL_GRID, chi2_ppf  # their home is core/chi2.py (wnull needs them too)
from driftline.core.lattice import rare_slot_floor
from driftline.core.stats import PSI_EPSILON, chi2_sf
from driftline.core.wnull import WassersteinNull, wasserstein_threshold

FloatArray = NDArray[np.float64]

# chi2 approximation where every expected count (n p_i and m p_i) is at least this: the textbook 5 is enough for
# alpha = 0.05, not for the 0.001 tail (4 categories at n = 100: 1.5x too many alarms); 20 is
MIN_EXPECTED = 20.0
NULL_SIMULATIONS = 4000  # fewer for many slots: 100,000 cells a grid point (40 categories: 2,500), at least 1,000
MIN_CHUNKS = 4
MAX_CHUNKS = 20
MIN_CHUNK_ROWS = 200
CHI2_STATS = ("psi", "jensen_shannon", "hellinger")


# -- the two-sample statistics of many simulated tables at once ---------------------------------------------------


def _props(counts: FloatArray) -> FloatArray:
    totals = counts.sum(axis=-1, keepdims=True)
    return counts / np.maximum(totals, 1.0)


def batch_stats(ref: FloatArray, cur: FloatArray) -> dict[str, FloatArray]:
    """PSI, JSD in nats (the divergence, not the distance) and H^2 of each row pair; the same formulas as
    :mod:`driftline.core.stats`, vectorised over rows."""
    p, q = _props(ref), _props(cur)
    ps, qs = np.maximum(p, PSI_EPSILON), np.maximum(q, PSI_EPSILON)
    psi = np.sum((qs - ps) * np.log(qs / ps), axis=-1)
    mid = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log(p / mid), 0.0)
        kq = np.where(q > 0, q * np.log(q / mid), 0.0)
    jsd = np.maximum(0.5 * kp.sum(axis=-1) + 0.5 * kq.sum(axis=-1), 0.0)
    h2 = np.maximum(1.0 - np.sum(np.sqrt(p * q), axis=-1), 0.0)
    return {"psi": psi, "jensen_shannon": jsd, "hellinger": h2}


def to_squared(stat: str, value: float) -> float:
    """A metric value on the scale ``T h`` is on: PSI as is, ``8 JSD_nats`` from the JS distance (base 2),
    ``8 H^2`` from the Hellinger distance."""
    if stat == "psi":
        return value
    if stat == "jensen_shannon":
        return 8.0 * math.log(2.0) * value * value
    if stat == "hellinger":
        return 8.0 * value * value
    raise ValueError(f"no chi2 scale for {stat!r}")


def from_squared(stat: str, s: float) -> float:
    """The inverse of :func:`to_squared`."""
    s = max(s, 0.0)
    if stat == "psi":
        return s
    if stat == "jensen_shannon":
        return min(math.sqrt(s / (8.0 * math.log(2.0))), 1.0)
    if stat == "hellinger":
        return min(math.sqrt(s / 8.0), 1.0)
    raise ValueError(f"no chi2 scale for {stat!r}")


# -- what is stored with the baseline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NullFit:
    """Simulated moments of ``T = stat / h`` (on the :func:`to_squared` scale) at each row count of a grid."""

    ns: tuple[int, ...]
    mean: tuple[float, ...]
    var: tuple[float, ...]

    def moments(self, n: int) -> tuple[float, float]:
        """Mean and variance at ``n``, linear in log n between grid points, the end values beyond."""
        x = np.log(np.asarray(self.ns, dtype=np.float64))
        ln = math.log(max(n, 1))
        return float(np.interp(ln, x, self.mean)), float(np.interp(ln, x, self.var))

    def to_dict(self) -> dict[str, Any]:
        return {"n": list(self.ns), "mean": [round(v, 6) for v in self.mean], "var": [round(v, 6) for v in self.var]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NullFit:
        return cls(tuple(int(v) for v in d["n"]), tuple(map(float, d["mean"])), tuple(map(float, d["var"])))


@dataclass(frozen=True)
class ColumnNull:
    """One column's null at baseline time: the reference's valid rows on the compared slots and their proportions
    (``probs``, the coarse slots, to 6 significant digits as stored), the excess divergence ``tau2`` between
    reference chunks, and the simulated fits per statistic where expected counts are small.

    ``fits`` are stored only by baselines built eagerly (:func:`column_null` with ``simulate=True``, and baselines
    built before fits became lazy); otherwise :meth:`moments` simulates, on first use, only the grid points that
    bracket a window's ``n`` (:func:`simulate_points`, seeded from the proportions, ``m``, ``seed`` and the grid
    point, so lazy and eager give the same numbers) and memoises them on this object for the baseline's life."""

    m: int
    probs: tuple[float, ...]
    tau2: float = 0.0
    fits: dict[str, NullFit] = field(default_factory=dict)
    seed: int = 0
    #: the part of ``tau2`` that is the kept categories' selection bias (``core.selection``; a categorical column
    #: past ``max_categories``): a segment's null, computed from its reference counts, carries it too
    selection: float = 0.0
    #: numerical columns: the ``drift.wasserstein`` null (:mod:`driftline.core.wnull`), attached from the reference
    #: profile when the null is looked up (not stored with the baseline: its inputs are)
    wasserstein: WassersteinNull | None = field(default=None, compare=False, repr=False)
    _points: dict[int, dict[str, tuple[float, float]]] = field(default_factory=dict, compare=False, repr=False)
    #: thresholds past the rare slots' steps (core/lattice.py), by (statistic, n, alpha, fitted threshold)
    _floors: dict[tuple[str, int, float, float], float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def df(self) -> int:
        return max(sum(1 for v in self.probs if v > 0) - 1, 1)

    @property
    def p_min(self) -> float:
        return min((v for v in self.probs if v > 0), default=0.0)

    def chi2_valid(self, n: int) -> bool:
        return min(n, self.m) * self.p_min >= MIN_EXPECTED

    def phi(self, n: int) -> float:
        """The overdispersion factor at ``n`` rows: 1 + tau2 / ((K - 1) h)."""
        return 1.0 + self.tau2 / (self.df * h_of(n, self.m))

    def moments(self, stat: str, n: int) -> tuple[float, float] | None:
        """The simulated mean and variance of ``T`` at ``n`` (linear in log n between the grid points where the chi2
        approximation fails, the end values beyond), or None when nothing is simulated (chi2 holds on the grid)."""
        if self.fits:
            fit = self.fits.get(stat)
            return fit.moments(n) if fit is not None and fit.ns else None
        ns = null_grid(self.m, self.probs)
        if not ns:
            return None
        ln = math.log(max(n, 1))
        below = [g for g in ns if math.log(g) <= ln]
        above = [g for g in ns if math.log(g) >= ln]
        bracket = sorted({below[-1] if below else ns[0], above[0] if above else ns[-1]})
        missing = tuple(g for g in bracket if g not in self._points)
        self._points.update(simulate_points(self.m, self.probs, missing, seed=self.seed))
        fit = NullFit(
            tuple(bracket),
            tuple(self._points[g][stat][0] for g in bracket),
            tuple(self._points[g][stat][1] for g in bracket),
        )
        return fit.moments(n)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "m": self.m,
            "p": [float(f"{v:.6g}") for v in self.probs],
            "tau2": self.tau2,
            "fits": {k: v.to_dict() for k, v in self.fits.items()},
        }
        if self.seed:
            d["seed"] = self.seed
        if self.selection:
            d["selection"] = self.selection
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnNull:
        return cls(
            int(d["m"]),
            tuple(map(float, d["p"])),
            float(d.get("tau2", 0.0)),
            {k: NullFit.from_dict(v) for k, v in d.get("fits", {}).items()},
            int(d.get("seed", 0)),
            float(d.get("selection", 0.0)),
        )


def h_of(n: int, m: int) -> float:
    return 1.0 / max(n, 1) + 1.0 / max(m, 1)


def null_grid(m: int, probs: tuple[float, ...], grid: tuple[int, ...] = NULL_GRID) -> tuple[int, ...]:
    """The grid points where the chi2 approximation fails (some expected count under :data:`MIN_EXPECTED`): the
    ones simulated. Empty for fewer than 2 slots with reference mass."""
    p = [v for v in probs if v > 0]
    if m <= 0 or len(p) < 2:
        return ()
    return tuple(n for n in grid if min(n, m) * min(p) < MIN_EXPECTED)


def simulate_points(
    m: int, probs: tuple[float, ...], ns: tuple[int, ...], *, simulations: int = NULL_SIMULATIONS, seed: int = 0
) -> dict[int, dict[str, tuple[float, float]]]:
    """Mean and variance of ``T = stat / h`` under no drift at window sizes ``ns``: the reference (``m`` rows, the
    same draws at every ``n``) and the window (``n`` rows) both multinomial from ``probs``. Deterministic: the
    reference's random stream is seeded from ``probs``, ``m`` and ``seed``, each window's from those and ``n``, so
    a grid point computed lazily (alone or with others) equals the one an eager build stores."""
    if not ns:
        return {}
    p = np.asarray([v for v in probs if v > 0], dtype=np.float64)
    p = p / p.sum()
    key = [seed & 0xFFFFFFFF, zlib.crc32(np.asarray(probs, dtype=np.float64).tobytes()), m]
    simulations = max(min(simulations, 100_000 // p.size), 1_000)
    ref = np.random.default_rng(key).multinomial(m, p, size=simulations).astype(np.float64)
    out: dict[int, dict[str, tuple[float, float]]] = {}
    for n in ns:
        cur = np.random.default_rng([*key, n]).multinomial(n, p, size=simulations).astype(np.float64)
        h = h_of(n, m)
        # the control variate Y / h, Y = sum (q - r)^2 / p on the true proportions: its mean and variance are known
        # exactly (:func:`pearson_known_moments`), and it follows T closely, so it takes most of the simulation
        # noise out of T's moments (the 0.001 tail is ~ mean + 3 sd: 1,000 tables alone leave it 10-30% noisy)
        y = np.sum((_props(cur) - _props(ref)) ** 2 / p, axis=-1) / h
        y_mean, y_var = pearson_known_moments(p, n, m)
        out[n] = {}
        for name, values in batch_stats(ref, cur).items():
            t = (8.0 * values if name != "psi" else values) / h
            out[n][name] = _controlled_moments(t, y, y_mean, y_var)
    return out


def pearson_known_moments(p: FloatArray, n: int, m: int) -> tuple[float, float]:
    """Exact mean and variance of ``Y / h``, ``Y = sum_i (q_i - r_i)^2 / p_i``, for the proportions ``q`` of a
    multinomial(n, p) window and ``r`` of an independent multinomial(m, p) reference: ``Y = A + B - 2C`` with
    ``n A`` and ``m B`` Pearson's statistic on the known ``p`` (mean K - 1, variance 2(K - 1) + (sum 1/p - K^2 -
    2K + 2) / n) and the cross term ``C`` uncorrelated with both, of variance (K - 1) / (n m)."""
    k = p.size
    s = float(np.sum(1.0 / p))
    extra = s - k * k - 2 * k + 2

    def var_one(rows: int) -> float:
        return (2.0 * (k - 1) + extra / rows) / (rows * rows)

    h = h_of(n, m)
    return float(k - 1), (var_one(n) + var_one(m) + 4.0 * (k - 1) / (n * m)) / (h * h)


def _controlled_moments(t: FloatArray, y: FloatArray, y_mean: float, y_var: float) -> tuple[float, float]:
    """T's mean and variance with ``Y`` (known mean and variance) as control variate for each."""
    yc, tc = y - y.mean(), t - t.mean()
    vy = float(np.mean(yc * yc))
    if not vy > 0:
        return float(t.mean()), float(t.var(ddof=1))
    mean = float(t.mean()) - float(np.mean(tc * yc)) / vy * (float(y.mean()) - y_mean)
    t2, y2 = tc * tc, yc * yc
    y2c = y2 - y2.mean()
    b = float(np.mean((t2 - t2.mean()) * y2c)) / max(float(np.mean(y2c * y2c)), 1e-300)
    var = float(t.var(ddof=1)) - b * (float(y.var(ddof=1)) - y_var)
    return mean, var if var > 0 else float(t.var(ddof=1))


def simulate_null(
    ref_counts: object, *, grid: tuple[int, ...] = NULL_GRID, simulations: int = NULL_SIMULATIONS, seed: int = 0
) -> dict[str, NullFit]:
    """Moments of ``T = stat / h`` under no drift at each grid ``n`` where the chi2 approximation does not hold
    (:func:`simulate_points`; the eager form of :meth:`ColumnNull.moments`)."""
    counts = np.asarray(ref_counts, dtype=np.float64)
    m = int(counts.sum())
    if m <= 0:
        return {}
    probs = _rounded(counts / m)
    ns = null_grid(m, probs, grid)
    if not ns:
        return {}
    points = list(simulate_points(m, probs, ns, simulations=simulations, seed=seed).values())
    return {s: NullFit(ns, tuple(pt[s][0] for pt in points), tuple(pt[s][1] for pt in points)) for s in CHI2_STATS}


def _rounded(props: FloatArray) -> tuple[float, ...]:
    # the proportions as a baseline stores them (6 significant digits): a loaded baseline simulates as a fresh one
    return tuple(float(f"{v:.6g}") for v in props)


def dispersion(chunks: list[FloatArray]) -> float:
    """``tau2``: the divergence (on the ``sum (q - p)^2 / p`` scale) between chunks of the reference beyond their
    sampling noise. Each chunk is compared with the rest by Pearson's chi2 (mean K - 1 under no drift); the excess
    of the mean counts only when it is more than 2 standard errors (so i.i.d. references get 0 almost always)."""
    rows = [np.asarray(c, dtype=np.float64) for c in chunks if float(np.sum(c)) > 0]
    if len(rows) < MIN_CHUNKS:
        return 0.0
    table = np.vstack(rows)
    total = table.sum(axis=0)
    keep = total > 0
    table, total = table[:, keep], total[keep]
    k = table.shape[1]
    if k < 2:
        return 0.0
    excess = []
    x2s = []
    for row in table:
        rest = total - row
        n_j, r_j = row.sum(), rest.sum()
        if n_j <= 0 or r_j <= 0:
            continue
        both = np.vstack([row, rest])
        expected = both.sum(axis=1, keepdims=True) * both.sum(axis=0, keepdims=True) / both.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            x2 = float(np.nansum((both - expected) ** 2 / expected))
        x2s.append(x2)
        excess.append((x2 - (k - 1)) * (1.0 / n_j + 1.0 / r_j))
    if len(x2s) < MIN_CHUNKS:
        return 0.0
    if float(np.mean(x2s)) <= (k - 1) + 2.0 * math.sqrt(2.0 * (k - 1) / len(x2s)):
        return 0.0
    return max(float(np.mean(excess)), 0.0)


def column_null(
    ref_counts: object, chunks: list[FloatArray] | None = None, *, simulate: bool = False, seed: int = 0
) -> ColumnNull:
    """A column's null from its reference counts (on the slots the chi2-type statistics compare) and, where the
    reference was profiled in chunks, the chunks' counts on the same slots. ``simulate``: store the fits of the
    whole grid now (eager); by default they are simulated on first use, per grid point (:meth:`ColumnNull.moments`)."""
    counts = np.asarray(ref_counts, dtype=np.float64)
    m = int(counts.sum())
    probs = _rounded(counts / m) if m > 0 else tuple(float(v) for v in counts)
    fits = simulate_null(counts, seed=seed) if simulate else {}
    return ColumnNull(m, probs, dispersion(chunks) if chunks else 0.0, fits, seed)


# -- the thresholds ---------------------------------------------------------------------------------------------


def chi2_type_threshold(stat: str, n: int, null: ColumnNull, alpha: float) -> float:
    """The ``auto`` threshold of PSI, JS distance or Hellinger distance for a window of ``n`` valid rows."""
    _check_alpha(alpha)
    h = h_of(n, null.m)
    fitted = None if null.chi2_valid(n) else null.moments(stat, n)
    if fitted is None:
        t = chi2_ppf(1.0 - alpha, null.df)
    else:
        mean, var = fitted
        if not (mean > 0 and var > 0):
            t = chi2_ppf(1.0 - alpha, null.df)
        else:
            scale, nu = var / (2.0 * mean), 2.0 * mean * mean / var
            t = scale * chi2_ppf(1.0 - alpha, nu)
    fitted_value = from_squared(stat, h * t * null.phi(n))
    if fitted is None:
        return fitted_value  # every expected count large: no rare slot
    # rare slots make the null a lattice the continuous fit misses (core/lattice.py); memoised: a window's n recurs
    key = (stat, n, alpha, fitted_value)
    if key not in null._floors:
        if len(null._floors) > 4_096:
            null._floors.clear()
        null._floors[key] = rare_slot_floor(
            null.probs, n, null.m, alpha, fitted_value, lambda r, c: metric_scale(stat, r, c)
        )
    return null._floors[key]


def metric_scale(stat: str, ref: FloatArray, cur: FloatArray) -> FloatArray:
    """PSI, the JS distance (base 2) or the Hellinger distance of each row pair (proportions): the metric's own
    scale, as :func:`from_squared` gives thresholds."""
    s = batch_stats(ref, cur)[stat]
    if stat == "jensen_shannon":
        return np.sqrt(s / math.log(2.0))
    return np.sqrt(s) if stat == "hellinger" else s


def ks_critical(n: int, m: int, alpha: float, *, phi: float = 1.0) -> float:
    """The two-sample Kolmogorov-Smirnov critical value at level ``alpha`` (Stephens' small-sample form)."""
    _check_alpha(alpha)
    ne = n * m / (n + m)
    c = math.sqrt(-0.5 * math.log(alpha / 2.0))
    return min(c * math.sqrt(phi) / (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)), 1.0)


def pvalue_threshold(alpha: float, null: ColumnNull | None, n: int) -> float:
    """The p-value under which the chi-squared test alarms: ``alpha``, lowered where the reference is overdispersed
    (the statistic's threshold scaled by ``phi``)."""
    _check_alpha(alpha)
    if null is None or null.tau2 <= 0:
        return alpha
    return chi2_sf(null.phi(n) * chi2_ppf(1.0 - alpha, null.df), null.df)


def auto_threshold(metric: str, method: str, n: int, null: ColumnNull, alpha: float, *, floor: float = 0.0) -> float:
    """The ``auto`` threshold of a drift metric (``method``: its catalogue null method) for a window of ``n``
    valid rows against ``null`` at level ``alpha``; never below ``floor`` (for a p-value: never above 1; for
    ``w1``, ``floor`` is in the reference's standard deviations and ``null.wasserstein`` is required)."""
    short = metric.partition(".")[2]
    if method == "chi2":
        return max(chi2_type_threshold(short, n, null, alpha), floor)
    if method == "ks":
        return max(ks_critical(n, null.m, alpha, phi=null.phi(n)), floor)
    if method == "pvalue":
        return pvalue_threshold(alpha, null, n)
    if method == "w1":  # ``floor`` in reference standard deviations
        if null.wasserstein is None:
            raise ValueError(f"no Wasserstein null for {metric}: a numerical column's reference bins are needed")
        return wasserstein_threshold(n, null.m, null.wasserstein, alpha, phi=null.phi(n), floor_sd=floor)
    raise ValueError(f"no auto threshold for {metric} ({method!r})")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
