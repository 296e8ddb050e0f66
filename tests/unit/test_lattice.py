"""Rare slots in the chi2-type ``auto`` thresholds (core/lattice.py): where a slot's expected rows are well under one,
the null is a lattice the two-moment fit misses. Checked on fresh multinomial references and windows (the reference
redrawn, as a baseline is one draw): the false-alarm rate is within alpha's bounds where it was many times over, and
nothing changes where many rare slots share the mass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftline.core import lattice
from driftline.core import thresholds as T

ALPHA = 0.0005  # each default rule's share of 0.001


def _rate(p: np.ndarray, m: int, n: int, *, guard: bool, references: int = 40, windows: int = 10_000) -> float:
    rng = np.random.default_rng([m, n, p.size])
    hits = 0
    for _ in range(references):
        ref = rng.multinomial(m, p).astype(float)
        null = T.column_null(ref)
        if guard:
            threshold = T.chi2_type_threshold("jensen_shannon", n, null, ALPHA)
        else:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(T, "rare_slot_floor", lambda probs, n, m, a, fitted, s: fitted)
                threshold = T.chi2_type_threshold("jensen_shannon", n, null, ALPHA)
        cur = rng.multinomial(n, p, size=windows).astype(float)
        hits += int(np.sum(T.metric_scale("jensen_shannon", np.broadcast_to(ref, cur.shape), cur) > threshold))
    return hits / (references * windows)


@pytest.mark.parametrize(
    ("p", "m", "n"),
    [
        ([1 - 1 / 450, 1 / 450], 2_000, 300),  # a pixel that is 0 in all rows but 1 in 450
        ([1 - 1 / 450, 1 / 450], 200_000, 100),
        ([0.997, 0.002, 0.001], 2_000, 100),  # two rare values
    ],
)
def test_a_near_constant_column_holds_alpha(p: list[float], m: int, n: int) -> None:
    probs = np.asarray(p)
    before = _rate(probs, m, n, guard=False)
    after = _rate(probs, m, n, guard=True)
    half = 3.3 * math.sqrt(ALPHA / 400_000)
    assert before > 2.5 * ALPHA  # the fit alone: a lattice step inside the tail
    assert after <= 2 * ALPHA + half, (before / ALPHA, after / ALPHA)


def test_many_rare_slots_leave_the_fit_alone() -> None:
    """200 categories at 100 rows: every slot is rare, none alone reaches the fitted threshold: unchanged."""
    p = np.geomspace(1.0, 0.02, 200)
    p /= p.sum()
    null = T.column_null(np.random.default_rng(1).multinomial(200_000, p).astype(float))
    fitted = T.chi2_type_threshold("jensen_shannon", 100, null, ALPHA)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "rare_slot_floor", lambda probs, n, m, a, f, s: f)
        assert T.chi2_type_threshold("jensen_shannon", 100, null, ALPHA) == fitted


def test_the_predictive_counts_and_the_lowest_safe_step() -> None:
    pmf = lattice._predictive_pmf(4.0, 100, 2_000, 8)
    assert pmf.sum() == pytest.approx(1.0) and pmf[0] > pmf[1] > pmf[2]
    # mean of the negative binomial (shape r + 1, the window's share n / (n + m)): (r + 1) n / m
    assert float(np.arange(9) @ pmf) == pytest.approx(5.0 * 100 / 2_000, rel=1e-3)
    steps = np.array([0.0, 0.1, 0.2, 0.3])
    masses = np.array([0.9, 0.09, 0.009, 0.001])
    assert lattice._lowest_safe(steps, masses, 0.01, 0.05) == 0.1  # above 0.1: 0.01 of windows
    assert lattice._lowest_safe(steps, masses, 0.5, 0.05) == 0.05  # the fit already safe
