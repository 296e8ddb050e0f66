"""``above: auto`` for ``drift.wasserstein`` (core/wnull.py): the statistic on the baseline's bins against scipy on
raw values under no drift, the exact moments of the bridge integral against simulation, the false-alarm rate of the
threshold on raw samples of several shapes over n = 100 .. 1M, the effect floor, and the rule end to end."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats

from driftline.core import catalogue, stats
from driftline.core import wnull as W
from driftline.core.bins import NumericBins

M = 200_000


def _draw(shape: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if shape == "normal":
        return rng.normal(0.0, 1.0, n)
    if shape == "lognormal":
        return rng.lognormal(0.0, 0.8, n)
    if shape == "bimodal":
        return np.where(rng.random(n) < 0.5, rng.normal(-2, 0.5, n), rng.normal(2, 0.7, n))
    return rng.poisson(3.0, n).astype(float)


def _binned(bins: NumericBins, x: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    counts = np.bincount(bins.slots(x), minlength=bins.n_slots("fine"))
    lo, hi = bins.edges[0], bins.edges[-1]
    return counts, (float(np.sum(np.maximum(lo - x, 0))), float(np.sum(np.maximum(x - hi, 0))))


def _reference(shape: str, seed: int = 1) -> tuple[NumericBins, np.ndarray, np.ndarray, W.WassersteinNull]:
    rng = np.random.default_rng(seed)
    ref = _draw(shape, rng, M)
    bins = NumericBins.from_sample(ref)
    counts, (under, over) = _binned(bins, ref)
    wnull = W.wasserstein_null(counts, bins.edges, under=under, over=over, atoms=bins.atoms, sd=float(ref.std()))
    assert wnull is not None
    return bins, ref, counts, wnull


@pytest.mark.parametrize("shape", ["normal", "lognormal", "poisson"])
def test_binned_w1_under_no_drift_matches_scipy_on_raw_values(shape: str) -> None:
    """The statistic the threshold is for, on the baseline's fine bins, against scipy's on the raw values when nothing
    drifts (W1 is then small, ~ sqrt(h)): at most 2% above and 15% below it (the noise within a bin is not seen;
    lognormal at 1,000 rows: 11% below). The null is of the binned statistic, simulated on the same bins."""
    bins, ref, r_counts, _ = _reference(shape)
    rng = np.random.default_rng(5)
    for n in (1_000, 20_000):
        cur = _draw(shape, rng, n)
        c_counts, c_tails = _binned(bins, cur)
        _, r_tails = _binned(bins, ref)
        w = stats.wasserstein_binned(
            r_counts, c_counts, edges=bins.edges, ref_tails=r_tails, cur_tails=c_tails, atoms=bins.atoms
        )
        exact = scipy.stats.wasserstein_distance(ref, cur)
        assert 0.85 * exact <= w <= 1.02 * exact, (n, w, exact)


def test_exact_moments_of_the_bridge_integral_match_simulation() -> None:
    _, _, _, wnull = _reference("lognormal")
    f, c = wnull.weights()
    mean, var = W.z_moments(f, c)
    rng = np.random.default_rng(3)
    steps = np.diff(np.r_[0.0, f, 1.0])
    w = np.cumsum(rng.standard_normal((20_000, steps.size)) * np.sqrt(steps), axis=1)
    z = np.abs(w[:, :-1] - np.outer(w[:, -1], f)) @ c
    assert mean == pytest.approx(z.mean(), rel=0.01)
    assert var == pytest.approx(z.var(), rel=0.05)
    assert wnull.shape()[2] == pytest.approx(scipy.stats.skew(z), abs=0.12)


@pytest.mark.parametrize("shape", ["normal", "lognormal", "bimodal", "poisson"])
@pytest.mark.parametrize("n", [100, 1_000, 10_000])
def test_false_alarm_rate_on_raw_samples(shape: str, n: int) -> None:
    """Windows of raw values from the reference's own distribution, binned as the profiler bins them: the share over
    the threshold at alpha = 0.01 (no floor) is within the binomial 99.9% interval of [alpha / 3, 2 alpha]."""
    bins, _, r_counts, wnull = _reference(shape, seed=11)
    _, r_tails = _binned(bins, _draw(shape, np.random.default_rng(11), M))
    alpha, reps = 0.01, 2_000
    th = W.wasserstein_threshold(n, M, wnull, alpha)
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(reps):
        c_counts, c_tails = _binned(bins, _draw(shape, rng, n))
        w = stats.wasserstein_binned(
            r_counts, c_counts, edges=bins.edges, ref_tails=r_tails, cur_tails=c_tails, atoms=bins.atoms
        )
        hits += w > th
    half = 3.3 * math.sqrt(alpha / reps)
    assert alpha / 3 - half <= hits / reps <= 2 * alpha + half, hits / reps


def test_threshold_shrinks_with_sqrt_h_and_stops_at_the_floor() -> None:
    _, _, _, wnull = _reference("normal")
    t1, t4 = (W.wasserstein_threshold(n, M, wnull, 0.001) for n in (40_000, 160_000))
    h1, h4 = 1 / 40_000 + 1 / M, 1 / 160_000 + 1 / M
    assert t4 / t1 == pytest.approx(math.sqrt(h4 / h1), rel=1e-9)
    assert W.wasserstein_threshold(10**9, 10**9, wnull, 0.001, floor_sd=0.05) == pytest.approx(0.05 * wnull.sd)
    assert W.wasserstein_threshold(1_000, M, wnull, 0.001, phi=4.0) > W.wasserstein_threshold(1_000, M, wnull, 0.001)
    assert W.wasserstein_threshold(1_000, M, wnull, 0.0001) > W.wasserstein_threshold(1_000, M, wnull, 0.001)


def test_lazy_simulation_is_deterministic_and_memoised() -> None:
    bins, _, counts, wnull = _reference("lognormal")
    a = W.wasserstein_threshold(500, M, wnull, 0.001)
    assert set(wnull._shape) == {400, 566}  # the grid points bracketing 500 rows
    W.wasserstein_threshold(450, M, wnull, 0.001)
    assert set(wnull._shape) == {400, 566}  # memoised
    fresh = W.wasserstein_null(
        counts,
        bins.edges,
        under=wnull.tails[0] * counts[0],
        over=wnull.tails[1] * counts[-1],
        atoms=bins.atoms,
        sd=wnull.sd,
    )
    assert fresh is not None and W.wasserstein_threshold(500, M, fresh, 0.001) == pytest.approx(a, rel=1e-12)


def test_auto_rule_on_wasserstein_end_to_end() -> None:
    """The catalogue gives drift.wasserstein ``auto`` (config accepts it); the evaluator's nulls carry the W1 null
    (from the baseline's reference profile); a window shifted by 0.5 sd alarms, the reference's own sample not."""
    from driftline.core import rules as R
    from driftline.core.autonull import auto_context
    from driftline.core.config import AlertRule, load_config
    from driftline.core.metrics import numeric_column_metrics
    from driftline.testing import CONFIG_YAML

    spec = catalogue.METRICS["drift.wasserstein"]
    assert spec.auto == "w1" and spec.effect_floor == 0.05
    import yaml

    import tests.unit.test_thresholds as TT

    config, baseline = TT._demo_baseline()
    col = next(c for c in config.features if c in baseline.spec.numeric)  # type: ignore[attr-defined]
    doc = yaml.safe_load(CONFIG_YAML)
    doc["alerts"] = [{"name": "w", "metric": "drift.wasserstein", "columns": [col], "above": "auto"}]
    assert load_config(yaml.safe_dump(doc)).alerts[0].auto
    cache: dict = {}
    ctx = auto_context(baseline, {None: baseline.population}, (col,), 0.001, cache)  # type: ignore[arg-type]
    null = ctx.null(col, None)
    assert null is not None and null.wasserstein is not None
    ref = baseline.population.numeric[col]  # type: ignore[attr-defined]
    assert null.wasserstein.sd == pytest.approx(W.reference_sd(ref.valid, ref.total, ref.total_sq))
    rule = AlertRule(
        name="w", metric="drift.wasserstein", columns=(col,), segment=None, op="above", threshold=math.nan, auto=True
    )
    target = R.Target(rule, col, None)
    value = numeric_column_metrics(col, ref, ref, baseline.spec.numeric[col], ref.valid)  # type: ignore[attr-defined]
    w_same = next(v.value for v in value if v.metric == "drift.wasserstein")
    sizes = R.AutoContext({(col, None): 2_000}, ctx.null, 0.001)
    quiet = R.judge(target, 0, {("drift.wasserstein", col, None): (w_same, 2_000)}, {}, auto=sizes)
    loud = R.judge(target, 0, {("drift.wasserstein", col, None): (0.5 * null.wasserstein.sd, 2_000)}, {}, auto=sizes)
    assert quiet.breaching is False and loud.breaching is True
    assert loud.threshold is not None and loud.threshold >= 0.05 * null.wasserstein.sd


def test_a_larger_shift_never_lowers_the_chance_to_alarm() -> None:
    """Mean shifts of growing size on raw samples binned as the profiler bins them, the same draws at each size
    (common random numbers): the W1 ``auto`` alarm rate never falls, from about alpha with no shift to all windows."""
    bins, ref, r_counts, wnull = _reference("normal", seed=3)
    _, r_tails = _binned(bins, ref)
    n, reps = 1_000, 600
    th = W.wasserstein_threshold(n, M, wnull, 0.001, floor_sd=0.05)
    draws = np.random.default_rng(12).normal(0.0, 1.0, (reps, n))
    rates = []
    for d in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        hits = 0
        for x in draws + d * wnull.sd:
            c_counts, c_tails = _binned(bins, x)
            w = stats.wasserstein_binned(
                r_counts, c_counts, edges=bins.edges, ref_tails=r_tails, cur_tails=c_tails, atoms=bins.atoms
            )
            hits += w > th
        rates.append(hits / reps)
    assert rates[0] < 0.01 and rates[-1] > 0.99, rates
    assert all(b >= a for a, b in itertools.pairwise(rates)), rates
