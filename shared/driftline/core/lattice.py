"""Rare slots in the ``auto`` thresholds of PSI, Jensen-Shannon and Hellinger (``core.thresholds``). Pure numpy.

A slot the reference gives little mass (a rare category; the coarse slot of a numerical column's rare top value:
an integer column whose maximum is 1 row in 400) holds ``k`` rows of a window, ``k`` ~ Poisson(``n p``) with
``n p`` well under 1: mostly 0, sometimes 1, now and then 2. Each extra row there moves the statistic by a step,
so its null has atoms at those steps, and the two-moment chi-squared fit of the simulated null (continuous) puts the
``1 - alpha`` quantile between them: a window with 3 such rows (``P = 0.005`` at ``n p = 0.33``) then alarms where
``alpha`` allows 0.0005 (digits' border pixels at 100 rows: 7-12x alpha; ``python -m bench.detect_real``).

:func:`rare_slot_floor` raises the threshold above the steps that such slots reach too often. It takes the rarest
slots (at most :data:`MAX_RARE`, with ``n p`` under :data:`RARE_EXPECTED`) plus one slot for values the reference
never drew (a new category, a row beyond the range: Good-Turing's unseen mass, the reference's one-row slots + 1
over ``m + 1``), and computes the statistic of windows that hold ``k`` rows there and the rest in the reference's
proportions: the three rarest jointly (every combination of 0..8 rows each: one row in each of two rare slots is a
step too), the others one at a time (0..40 rows). Each count's chance is its predictive one given the reference's
``r = m p`` rows there (negative binomial, shape ``r + 1``, the window's share ``n / (n + m)``: a reference that
under-drew the value is allowed for; Poisson for the unseen slot). The threshold is the lowest of those steps (or
the fitted one) past which such windows are at most ``alpha``. Where many rare slots share the mass (200 categories
at 100 rows) no single one reaches the fitted threshold and nothing changes: their sum is smooth, which the fit
already holds. Measured: ``tests/unit/test_lattice.py`` (fresh references) and ``python -m bench.detect_real``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

RARE_EXPECTED = 2.0  # a slot is rare below this many expected rows in the window
MAX_RARE = 8  # the rarest slots looked at (the steps of a few rare slots make the atoms; many make a smooth sum)
MAX_ROWS = 40  # rows in a rare slot considered alone (k = 0 .. MAX_ROWS)
JOINT = 3  # the rarest slots whose counts are combined (9^3 windows)
JOINT_ROWS = 8  # rows in each of those (k = 0 .. JOINT_ROWS)


def rare_slot_floor(
    probs: FloatArray | tuple[float, ...],
    n: int,
    m: int,
    alpha: float,
    fitted: float,
    statistic: Callable[[FloatArray, FloatArray], FloatArray],
) -> float:
    """The threshold (on the statistic's own scale) at least ``fitted`` above which the rarest slots of ``probs``
    alone alarm in at most ``alpha`` of windows of ``n`` rows against ``m`` reference rows. ``statistic(ref, cur)``
    is the metric row-wise on proportion matrices (``ref`` broadcast)."""
    p = np.asarray(probs, dtype=np.float64)
    live = np.flatnonzero(p > 0)
    if live.size < 2 or n <= 0:
        return fitted
    rare = live[n * p[live] < RARE_EXPECTED]
    if rare.size == 0:
        return fitted
    # values the reference never drew (a new category, a row beyond the range): Good-Turing's unseen mass, the
    # reference's slots of one row over m + 1 (a continuous column's extreme: 1 / (m + 1) a side), as one more slot
    # the reference gives nothing: a window row there is a step too
    ones = int(np.count_nonzero(np.abs(p * m - 1.0) < 0.5))
    unseen = (ones + 1.0) / (m + 1.0)
    p = np.append(p, 0.0)
    rare = np.concatenate(([p.size - 1], rare[np.argsort(p[rare])]))[:MAX_RARE]
    # the rarest few jointly (their counts' combinations: one row in each of two rare slots is a step too), the
    # others one at a time; each with the rest of the window in the reference's proportions
    joint, single = rare[:JOINT], rare[JOINT:]
    pmfs = [
        _poisson_pmf(n * unseen, JOINT_ROWS) if i == p.size - 1 else _predictive_pmf(p[i] * m, n, m, JOINT_ROWS)
        for i in joint
    ]
    grid = np.stack(np.meshgrid(*[np.arange(JOINT_ROWS + 1)] * joint.size, indexing="ij"), -1).reshape(-1, joint.size)
    mass = np.prod([pmf[grid[:, j]] for j, pmf in enumerate(pmfs)], axis=0)
    steps, masses = [_steps(p, joint, grid / n, statistic)], [np.where(grid.sum(axis=1) <= n, mass, 0.0)]
    ks = np.arange(MAX_ROWS + 1, dtype=np.float64)[:, None]
    for i in single:
        steps.append(_steps(p, np.array([i]), np.minimum(ks / n, 1.0), statistic))
        masses.append(_predictive_pmf(p[i] * m, n, m, MAX_ROWS))
    return _lowest_safe(np.concatenate(steps), np.concatenate(masses), alpha, fitted)


def _steps(
    p: FloatArray,
    slots: NDArray[np.intp],
    shares: FloatArray,
    statistic: Callable[[FloatArray, FloatArray], FloatArray],
) -> FloatArray:
    """The statistic of windows whose ``slots`` hold ``shares`` of the rows (one row of ``shares`` a window) and the
    rest the reference's proportions of the other slots."""
    shares = np.minimum(shares, 1.0)
    rest = p.copy()
    rest[slots] = 0.0
    rest /= max(float(rest.sum()), 1e-300)
    cur = np.outer(np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0), rest)
    cur[:, slots] = shares
    return np.asarray(statistic(p[None, :], cur), dtype=np.float64)


def _predictive_pmf(r: float, n: int, m: int, rows: int) -> FloatArray:
    """``P(K = k)`` for ``k = 0 .. rows`` (the last: ``K >= rows``): ``K`` the window's rows in a slot the reference
    holds ``r`` rows of, negative binomial (shape ``r + 1``, success ``m / (n + m)``): Poisson(``n r / m``) mixed
    over the slot's rate as the reference knows it."""
    theta = m / (n + m)
    k = np.arange(rows)
    return _by_ratios(theta ** (r + 1.0), (k + r + 1.0) / (k + 1) * (1.0 - theta))


def _poisson_pmf(lam: float, rows: int) -> FloatArray:
    """``P(K = k)`` for ``k = 0 .. rows`` (the last: ``K >= rows``), ``K`` ~ Poisson(``lam``)."""
    return _by_ratios(float(np.exp(-lam)), lam / np.arange(1, rows + 1))


def _by_ratios(first: float, ratios: FloatArray) -> FloatArray:
    """A pmf from ``P(0)`` and ``P(k + 1) / P(k)``, its last entry taking the rest of the mass (``K >= rows``)."""
    pmf = first * np.concatenate(([1.0], np.cumprod(ratios)))
    pmf[-1] = max(1.0 - float(pmf[:-1].sum()), 0.0)
    return pmf


def _lowest_safe(steps: FloatArray, masses: FloatArray, alpha: float, fitted: float) -> float:
    """The lowest threshold ``t >= fitted`` (``fitted`` or one of the ``steps``) such that the windows whose rare
    slots put the statistic above ``t`` have a total chance (``masses``) of at most ``alpha``."""

    def excess(t: float) -> float:
        return float(np.sum(np.where(steps > t, masses, 0.0)))

    if excess(fitted) <= alpha:
        return fitted
    for t in np.unique(steps[steps > fitted]):
        if excess(float(t)) <= alpha:
            return float(t)
    return float(steps.max())
