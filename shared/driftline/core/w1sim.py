"""The simulated tables of the small-window ``drift.wasserstein`` null (:func:`driftline.core.wnull.simulate_w1`).

Pure numpy, float32 where W1's differences of CDFs allow it (they need ~4 digits; the moments agree with float64 to
3 digits). Per table ``sum_i c_i |d_i|`` is one matrix-vector product and the crossing correction of an interval
where ``d`` changes sign, ``|a| |b| / (|a| + |b|)``, is computed only there. The control variate
``Y = sum_i c_i d_i`` comes with each table; :func:`fit_moments` uses it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class Tables:
    """Draws blocks of simulated tables, ``(W1, Y)`` per table: the window (``n`` rows, multinomial on ``p``: by the
    alias method when ``multi``, else Poisson counts normalised) against the reference (``m`` rows, normal), on the
    intervals' ``widths`` and ``atoms``, ``c`` the edges' weights and ``vc`` the slots' centred values of ``Y``."""

    def __init__(
        self,
        p: FloatArray,
        c: FloatArray,
        vc: FloatArray,
        widths: FloatArray,
        atoms: NDArray[np.bool_],
        n: int,
        m: int,
        multi: bool,
    ):
        self.n, self.m, self.k = n, m, p.size
        self.p, self.f = p, np.cumsum(p)[:-1]
        self.p32, self.c32, self.vc32 = p.astype(np.float32), c.astype(np.float32), vc.astype(np.float32)
        self.sd32 = np.sqrt(p / m).astype(np.float32)
        self.widths = widths
        self.smooth = ~atoms
        self.alias = alias_table(p) if multi else None

    def __call__(self, rng: np.random.Generator, size: int) -> tuple[FloatArray, FloatArray]:
        n, k = self.n, self.k
        if self.alias is not None:  # n rows per table, each a slot by the alias method
            prob, alt = self.alias
            x = rng.random((size, n)) * k
            j = np.minimum(x.astype(np.intp), k - 1)
            slot = np.where(x - j < prob[j], j, alt[j])
            slot += np.arange(size, dtype=np.intp)[:, None] * k
            buf = np.bincount(slot.ravel(), minlength=size * k).reshape(size, k).astype(np.float32)
            total = np.full(size, float(n))
        else:
            buf = rng.poisson(n * self.p, size=(size, k)).astype(np.float32)
            total = np.maximum(buf.sum(axis=1, dtype=np.float64), 1.0)
        y = (buf @ self.vc32).astype(np.float64) / n  # sum_s counts_s v_s / n - E: exact moments (multinomial, Poisson)
        buf *= (1.0 / total).astype(np.float32)[:, None]
        buf -= self.p32
        z = rng.standard_normal((size, k), dtype=np.float32)
        z *= self.sd32  # the reference's slot noise, N(0, p/m); d below gets its projection onto sum 0
        y -= (z @ self.vc32).astype(np.float64)
        zs = z.sum(axis=1, dtype=np.float64)
        buf -= z
        np.cumsum(buf, axis=1, out=buf)
        d = buf[:, :-1]  # F_cur - F_ref at each edge, with the reference's noise not yet summing to 0
        d += np.outer(zs, self.f).astype(np.float32)
        neg = d < 0
        np.abs(d, out=d)
        w = (d @ self.c32).astype(np.float64)
        # an interval where d changes sign integrates to (|a| + |b|) / 2 - |a| |b| / (|a| + |b|), not (|a| + |b|) / 2
        cross = neg[:, :-1] != neg[:, 1:]
        cross &= self.smooth
        rows, cols = np.nonzero(cross)
        a, b = d[rows, cols].astype(np.float64), d[rows, cols + 1].astype(np.float64)
        w -= np.bincount(rows, self.widths[cols] * a * b / (a + b), minlength=size)
        return w, y


def alias_table(p: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Walker's alias table of ``p`` (Vose): slot ``j`` (uniform) is kept with probability ``prob[j]``, else
    ``alias[j]``. One pass over the slots (a few hundred), once per grid point."""
    k = p.size
    prob = p * k
    alias = np.arange(k, dtype=np.intp)
    small = [i for i in range(k) if prob[i] < 1.0]
    large = [i for i in range(k) if prob[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        alias[s] = g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    prob[small + large] = 1.0  # rounding leftovers
    return prob, alias


def linear_moments(p: FloatArray, c: FloatArray) -> tuple[FloatArray, float, float]:
    """``v - E v`` (``v_s = sum_{i >= s} c_i``, what a row in slot ``s`` adds to ``sum_i c_i F(edge i)``) and its
    second and fourth central moments under ``p``."""
    v = np.append(np.cumsum(c[::-1])[::-1], 0.0)
    vc = v - float(p @ v)
    return vc, float(p @ vc**2), float(p @ vc**4)


def fit_moments(t: FloatArray, y: FloatArray, mu2: float, ey4: float | None) -> tuple[float, float, float]:
    """Mean, variance (n - 1) and skewness of ``t``; with ``ey4``, the raw moments ``(t, t^2, t^3)`` regressed on
    the controls ``(y^2 - mu2, y^4 - ey4)``, whose means are exactly 0 (in units of ``sqrt(mu2)``)."""
    sc = math.sqrt(mu2) if mu2 > 0 else max(float(t.std()), 1e-300)
    ts = t / sc
    x = np.stack([ts, ts * ts, ts**3], axis=1)
    raw = x.mean(axis=0)
    if ey4 is not None:
        ys2 = (y / sc) ** 2
        ctl = np.stack([ys2 - 1.0, ys2 * ys2 - ey4 / mu2**2], axis=1)
        cmean = ctl.mean(axis=0)
        beta = np.linalg.lstsq(ctl - cmean, x - raw, rcond=None)[0]
        raw = raw - cmean @ beta
    m1, m2, m3 = (float(v) for v in raw)
    var = (m2 - m1 * m1) * t.size / (t.size - 1)
    third = m3 - 3.0 * m1 * m2 + 2.0 * m1**3
    skew = third / var**1.5 if var > 0 else 0.0
    return m1 * sc, var * sc * sc, skew
