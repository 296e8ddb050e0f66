"""Drift statistics against scipy and their formulas, on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from driftline.core import stats
from driftline.core.bins import NumericBins

counts_st = st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=40).filter(lambda c: sum(c) > 0)


def _two(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    ref = rng.integers(0, 500, size=k).astype(float)
    cur = rng.integers(0, 500, size=k).astype(float)
    ref[0] += 1
    cur[0] += 1
    return ref, cur


@pytest.mark.parametrize("seed", range(20))
def test_jensen_shannon_equals_scipy_base2(seed: int) -> None:
    # Given two category count vectors (some slots empty)
    rng = np.random.default_rng(seed)
    ref, cur = _two(rng, int(rng.integers(2, 30)))
    ref[rng.integers(0, ref.size)] = 0
    # Then the distance is scipy's to 1e-9
    assert stats.jensen_shannon(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_chi2_pvalue_equals_scipy_contingency(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    ref, cur = _two(rng, k)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    expected = scipy.stats.chi2_contingency(table).pvalue
    assert stats.chi2_pvalue(ref, cur) == pytest.approx(expected, abs=1e-6)


def test_chi2_pvalue_two_slots_uses_yates_like_scipy() -> None:
    ref, cur = np.array([900.0, 100.0]), np.array([850.0, 150.0])
    assert stats.chi2_pvalue(ref, cur) == pytest.approx(
        scipy.stats.chi2_contingency(np.vstack([ref, cur])).pvalue, abs=1e-9
    )


@pytest.mark.parametrize(("x", "df"), [(0.5, 1), (3.84, 1), (10.0, 5), (100.0, 40), (1e-3, 3), (500.0, 7), (30.0, 30)])
def test_chi2_sf_matches_scipy(x: float, df: int) -> None:
    assert stats.chi2_sf(x, df) == pytest.approx(scipy.stats.chi2.sf(x, df), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("seed", range(10))
def test_psi_and_hellinger_equal_their_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = _two(rng, 12)
    cur[3] = 0
    p = np.maximum(ref / ref.sum(), stats.PSI_EPSILON)
    q = np.maximum(cur / cur.sum(), stats.PSI_EPSILON)
    assert stats.psi(ref, cur) == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-12)
    h = np.sqrt(0.5 * np.sum((np.sqrt(ref / ref.sum()) - np.sqrt(cur / cur.sum())) ** 2))
    assert stats.hellinger(ref, cur) == pytest.approx(h, abs=1e-12)


def _binned(bins: NumericBins, x: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    slots = bins.slots(x)
    counts = np.bincount(slots, minlength=bins.n_slots("fine"))
    lo, hi = bins.edges[0], bins.edges[-1]
    return counts, (float(np.sum(np.maximum(lo - x, 0))), float(np.sum(np.maximum(x - hi, 0))))


@pytest.mark.parametrize(
    ("shift", "scale", "dist"),
    [
        (0.0, 1.0, "normal"),
        (0.3, 1.0, "normal"),
        (1.0, 2.0, "normal"),
        (0.0, 1.0, "lognormal"),
        (2.0, 0.5, "lognormal"),
        (0.0, 1.0, "poisson"),
        (1.5, 1.0, "poisson"),
        (-3.0, 1.0, "normal"),
    ],
)
def test_ks_and_wasserstein_on_frozen_bins_match_scipy_on_raw_values(shift: float, scale: float, dist: str) -> None:
    # Given a reference sample, bins frozen on it, and a current sample (possibly drifted, outside the range)
    rng = np.random.default_rng(7)

    def draw(n: int, s: float, sc: float) -> np.ndarray:
        if dist == "normal":
            return rng.normal(s, sc, n)
        if dist == "lognormal":
            return rng.lognormal(s, sc, n)
        return rng.poisson(3 + s, n).astype(float)

    ref = draw(100_000, 0.0, 1.0)
    cur = draw(50_000, shift, scale)
    bins = NumericBins.from_sample(ref)
    r_counts, r_tails = _binned(bins, ref)
    c_counts, c_tails = _binned(bins, cur)
    # Then KS is within 0.01 of the exact statistic and Wasserstein within 2%
    ks = stats.kolmogorov_smirnov(r_counts, c_counts)
    assert abs(ks - scipy.stats.ks_2samp(ref, cur).statistic) <= 0.01
    w = stats.wasserstein_binned(
        r_counts, c_counts, edges=bins.edges, ref_tails=r_tails, cur_tails=c_tails, atoms=bins.atoms
    )
    exact = scipy.stats.wasserstein_distance(ref, cur)
    if shift == 0.0 and scale == 1.0:
        # No drift: W is pure sampling noise (about 1% of the scale), which binning smooths; absolute agreement.
        assert w == pytest.approx(exact, abs=0.002 * float(np.std(ref)))
    else:
        assert w == pytest.approx(exact, rel=0.02)


@settings(max_examples=200, deadline=None)
@given(counts_st)
def test_distance_of_a_distribution_to_itself_is_zero(counts: list[int]) -> None:
    c = np.asarray(counts, dtype=float)
    assert stats.psi(c, c) == pytest.approx(0.0, abs=1e-12)
    assert stats.jensen_shannon(c, c) == pytest.approx(0.0, abs=1e-7)
    assert stats.hellinger(c, c) == pytest.approx(0.0, abs=1e-7)
    assert stats.kolmogorov_smirnov(c, c) == 0.0
    assert stats.chi2_pvalue(c, c) == pytest.approx(1.0)
    edges = np.arange(len(c) - 1, dtype=float)
    if len(edges):
        assert stats.wasserstein_binned(c, c, edges=edges) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(counts_st, st.integers(min_value=1, max_value=1000))
def test_distances_are_bounded_and_scale_free(counts: list[int], factor: int) -> None:
    c = np.asarray(counts, dtype=float)
    d = np.roll(c, 1)
    js = stats.jensen_shannon(c, d)
    assert 0.0 <= js <= 1.0
    assert 0.0 <= stats.hellinger(c, d) <= 1.0
    assert stats.jensen_shannon(c * factor, d) == pytest.approx(js, abs=1e-9)
    assert 0.0 <= stats.chi2_pvalue(c, d) <= 1.0


def test_disjoint_distributions_are_at_maximum_distance() -> None:
    assert stats.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert stats.hellinger([1, 0], [0, 1]) == pytest.approx(1.0)
    assert stats.kolmogorov_smirnov([1, 0], [0, 1]) == 1.0


@pytest.mark.parametrize(
    ("func", "args", "match"),
    [
        (stats.psi, ([1, 2], [1, 2, 3]), "same number of bins"),
        (stats.jensen_shannon, ([0, 0], [1, 1]), "reference"),
        (stats.hellinger, ([1, -1], [1, 1]), "non-negative"),
        (stats.kolmogorov_smirnov, ([], []), "empty"),
    ],
)
def test_invalid_arguments_name_the_parameter(func, args, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        func(*args)


def test_chi2_pvalue_single_slot_is_one() -> None:
    assert stats.chi2_pvalue([5, 0], [7, 0]) == 1.0
    assert math.isclose(stats.chi2_sf(0.0, 3), 1.0)
