"""``auto`` thresholds: the formulas against scipy, the false-alarm rate under no drift over the n grid, power that
grows with the shift, overdispersion, the baseline's stored null (and old baselines without it)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from driftline.core import stats
from driftline.core import thresholds as T

ALPHA = 0.01
SHAPES = {
    "4 categories": np.array([0.4, 0.3, 0.2, 0.1]),
    "10 quantile bins + tails": np.r_[0.0005, np.full(10, 0.0999), 0.0005],
    "40 categories": np.geomspace(1, 0.02, 40) / np.geomspace(1, 0.02, 40).sum(),
}


@pytest.mark.parametrize("df", [1, 3, 9, 39, 199, 2000])
@pytest.mark.parametrize("q", [1e-6, 0.001, 0.5, 0.9, 0.99, 0.999, 0.99999, 1 - 1e-10])
def test_chi2_ppf_equals_scipy(df: int, q: float) -> None:
    assert T.chi2_ppf(q, df) == pytest.approx(sps.chi2.ppf(q, df), rel=1e-7)
    assert T.chi2_ppf(q, df + 0.37) == pytest.approx(sps.chi2.ppf(q, df + 0.37), rel=1e-7)
    assert T.chi2_ppf(q, 0.3 * df) == pytest.approx(sps.chi2.ppf(q, 0.3 * df), rel=1e-7)  # fitted dfs are not whole


@pytest.mark.parametrize("ne", [50, 100, 300, 1000, 10_000])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.001])
def test_ks_critical_value_matches_scipy_kstwo(ne: int, alpha: float) -> None:
    """Two equal samples of 2 ne rows: effective size ne; Stephens' form is within 1.5% of the exact quantile."""
    got = T.ks_critical(2 * ne, 2 * ne, alpha)
    assert got == pytest.approx(sps.kstwo.ppf(1 - alpha, ne), rel=0.015)
    # the asymptotic value c(alpha) sqrt(h) at large n
    if ne >= 10_000:
        assert got == pytest.approx(sps.kstwobign.ppf(1 - alpha) / math.sqrt(ne), rel=0.01)


def test_batch_stats_equal_the_metric_functions() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 50, size=(20, 12)).astype(float)
    cur = rng.integers(0, 50, size=(20, 12)).astype(float)
    cur[:, 3] = 0  # empty slots are handled
    got = T.batch_stats(ref, cur)
    for i in range(20):
        assert got["psi"][i] == pytest.approx(stats.psi(ref[i], cur[i]), rel=1e-9)
        js = T.from_squared("jensen_shannon", 8 * got["jensen_shannon"][i])
        assert js == pytest.approx(stats.jensen_shannon(ref[i], cur[i]), rel=1e-9)
        assert T.from_squared("hellinger", 8 * got["hellinger"][i]) == pytest.approx(
            stats.hellinger(ref[i], cur[i]), rel=1e-9
        )
    for s in T.CHI2_STATS:
        assert T.from_squared(s, T.to_squared(s, 0.0731)) == pytest.approx(0.0731)


@pytest.mark.parametrize("stat", T.CHI2_STATS)
def test_second_order_expansion_is_pearsons_chi2(stat: str) -> None:
    """Large expected counts: stat / h (distances squared, x8) has mean K - 1 and variance 2 (K - 1)."""
    rng = np.random.default_rng(4)
    p = np.full(10, 0.1)
    n = m = 200_000
    ref = rng.multinomial(m, p, size=4000).astype(float)
    cur = rng.multinomial(n, p, size=4000).astype(float)
    v = T.batch_stats(ref, cur)[stat]
    t = (v if stat == "psi" else 8 * v) / T.h_of(n, m)
    assert t.mean() == pytest.approx(9, rel=0.03)
    assert t.var() == pytest.approx(18, rel=0.1)


def _null_far(p: np.ndarray, n: int, m: int, stat: str, alpha: float, reps: int, seed: int) -> float:
    """Alarm rate under no drift: reference and window both sampled from ``p``; the threshold from a null built on
    one reference draw (the threshold's dependence on the reference's proportions is small)."""
    rng = np.random.default_rng(seed)
    null = T.column_null(rng.multinomial(m, p), seed=seed)
    threshold = T.chi2_type_threshold(stat, n, null, alpha)
    ref = rng.multinomial(m, p, size=reps).astype(float)
    cur = rng.multinomial(n, p, size=reps).astype(float)
    v = T.batch_stats(ref, cur)[stat]
    values = v if stat == "psi" else np.array([T.from_squared(stat, 8 * x) for x in v])
    return float(np.mean(values > threshold))


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("n", [100, 300, 1_000, 10_000, 100_000, 1_000_000])
def test_false_alarm_rate_is_alpha_over_the_n_grid(shape: str, n: int) -> None:
    """Under no drift the empirical rate of the JS auto threshold is within the binomial 99.9% interval of alpha,
    widened by 25% for the approximation (chi2 / fitted moments) — at every n, 40 categories included."""
    reps = 20_000
    far = _null_far(SHAPES[shape], n, 50_000, "jensen_shannon", ALPHA, reps, seed=n % 997)
    half = 3.3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert ALPHA / 1.25 - half <= far <= ALPHA * 1.25 + half, far


@pytest.mark.parametrize("stat", ["psi", "hellinger"])
def test_false_alarm_rate_other_chi2_statistics(stat: str) -> None:
    for n in (300, 10_000):
        far = _null_far(SHAPES["40 categories"], n, 50_000, stat, ALPHA, 20_000, seed=7)
        assert ALPHA / 1.5 <= far <= ALPHA * 1.5, (stat, n, far)


def test_chi2_approximation_would_be_too_low_where_counts_are_small() -> None:
    """40 categories at n = 300: the simulated null sets a higher threshold than chi2(K - 1)."""
    rng = np.random.default_rng(1)
    null = T.column_null(rng.multinomial(50_000, SHAPES["40 categories"]))
    assert not null.chi2_valid(300) and null.moments("jensen_shannon", 300) is not None
    plain = T.from_squared("jensen_shannon", T.h_of(300, null.m) * T.chi2_ppf(1 - ALPHA, null.df))
    assert T.chi2_type_threshold("jensen_shannon", 300, null, ALPHA) > plain * 1.05


def test_a_larger_shift_never_lowers_the_chance_to_alarm() -> None:
    """Category-mix shifts of growing size, the same random draws at each size: the alarm rate never falls."""
    p = SHAPES["10 quantile bins + tails"]
    q = np.roll(p, 3)
    n, m, reps = 1_000, 50_000, 4_000
    null = T.column_null(np.random.default_rng(0).multinomial(m, p))
    threshold = T.chi2_type_threshold("jensen_shannon", n, null, ALPHA)
    rates = []
    for t in np.linspace(0, 0.2, 9):
        rng = np.random.default_rng(11)  # common random numbers
        ref = rng.multinomial(m, p, size=reps).astype(float)
        cur = rng.multinomial(n, (1 - t) * p + t * q, size=reps).astype(float)
        js = T.metric_scale("jensen_shannon", ref, cur)
        rates.append(float(np.mean(js > threshold)))
    assert rates[0] < 0.03 and rates[-1] > 0.99
    assert all(b >= a - 0.01 for a, b in itertools.pairwise(rates)), rates


def test_threshold_falls_with_the_window_and_respects_the_floor() -> None:
    null = T.column_null(np.random.default_rng(0).multinomial(60_000, SHAPES["10 quantile bins + tails"]))
    values = [T.auto_threshold("drift.jensen_shannon", "chi2", n, null, 0.001) for n in (300, 6_000, 1_000_000)]
    assert values[0] > 0.1 > values[1] and values[1] < 0.05 and values[2] < values[1]
    assert T.auto_threshold("drift.jensen_shannon", "chi2", 10**7, null, 0.001, floor=0.02) == 0.02
    # p-values: alpha itself without overdispersion, lower with it
    assert T.auto_threshold("drift.chi2_pvalue", "pvalue", 500, null, 0.001) == 0.001
    wide = T.ColumnNull(null.m, null.probs, tau2=0.01)
    assert T.pvalue_threshold(0.001, wide, 500) < 0.001


def test_overdispersion_from_reference_chunks() -> None:
    rng = np.random.default_rng(5)
    p = np.full(10, 0.1)
    iid = [rng.multinomial(3_000, p) for _ in range(20)]
    assert T.dispersion(iid) == 0.0
    # a daily cycle: each chunk's proportions wander around p
    cyc = [rng.multinomial(3_000, rng.dirichlet(p * 400)) for _ in range(20)]
    tau2 = T.dispersion(cyc)
    # E sum (u^2 / p) for Dirichlet(400 p) is (K - 1) / 401
    assert tau2 == pytest.approx(9 / 401, rel=0.5)
    null = T.column_null(np.sum(cyc, axis=0), cyc)
    assert null.phi(300) == pytest.approx(1 + null.tau2 / (9 * T.h_of(300, null.m)))
    assert null.phi(100_000) > null.phi(300) > 1
    plain = T.column_null(np.sum(cyc, axis=0))
    assert T.chi2_type_threshold("jensen_shannon", 10_000, null, ALPHA) > T.chi2_type_threshold(
        "jensen_shannon", 10_000, plain, ALPHA
    )
    assert T.dispersion(cyc[:3]) == 0.0  # too few chunks to tell


def test_column_null_round_trips() -> None:
    null = T.column_null(np.random.default_rng(0).multinomial(5_000, SHAPES["40 categories"]), simulate=True)
    again = T.ColumnNull.from_dict(null.to_dict())
    assert again.m == null.m and set(again.fits) == set(T.CHI2_STATS)
    for n in (100, 1_000):
        assert T.chi2_type_threshold("jensen_shannon", n, again, 0.001) == pytest.approx(
            T.chi2_type_threshold("jensen_shannon", n, null, 0.001), rel=1e-4
        )


@pytest.mark.parametrize("shape", ["10 quantile bins + tails", "40 categories"])
def test_lazy_fits_equal_the_eager_ones_exactly(shape: str) -> None:
    """A null built without fits simulates only the grid points bracketing a window's n, on first use, and gets
    the numbers an eagerly built one stores (same seeds per grid point) — also after a round trip through JSON."""
    counts = np.random.default_rng(3).multinomial(50_000, SHAPES[shape])
    eager = T.column_null(counts, simulate=True, seed=5)
    lazy = T.ColumnNull.from_dict(T.column_null(counts, seed=5).to_dict())
    assert eager.fits and not lazy.fits and lazy.probs == eager.probs
    for n in (10, 25, 70, 100, 333, 1_600, 5_000, 30_000, 10**7):
        for stat in T.CHI2_STATS:
            assert lazy.moments(stat, n) == eager.moments(stat, n), (stat, n)
            assert T.chi2_type_threshold(stat, n, lazy, ALPHA) == T.chi2_type_threshold(stat, n, eager, ALPHA)
    assert set(lazy._points) <= set(eager.fits["psi"].ns)
    other = T.column_null(counts, seed=6)
    assert other.moments("psi", 333) != lazy.moments("psi", 333)  # the seed matters


def test_lazy_fits_simulate_only_the_bracketing_grid_points_once() -> None:
    null = T.column_null(np.random.default_rng(3).multinomial(50_000, SHAPES["40 categories"]))
    assert not null._points
    T.chi2_type_threshold("jensen_shannon", 500, null, ALPHA)  # between grid points 400 and 566
    assert sorted(null._points) == [400, 566]
    first = dict(null._points)
    T.chi2_type_threshold("psi", 450, null, ALPHA)
    assert null._points == first  # memoised: nothing simulated again
    T.chi2_type_threshold("psi", 800, null, ALPHA)  # on a grid point: that point only
    assert sorted(null._points) == [400, 566, 800]
    big = T.column_null(np.random.default_rng(3).multinomial(50_000, SHAPES["4 categories"]))
    T.chi2_type_threshold("psi", 1_000, big, ALPHA)  # chi2 holds: nothing simulated
    assert not big._points and big.moments("psi", 10) is not None


def _demo_baseline() -> tuple[object, object]:
    import io

    from driftline.core.config import load_config
    from driftline.services.profiling import build_baseline
    from driftline.testing import CONFIG_YAML, encode, generate

    config = load_config(CONFIG_YAML)
    data = encode(generate(6_000, seed=3, start=0, span=7 * 86_400, id_prefix="ref"), "parquet")
    return config, build_baseline(
        config, [("ref.parquet", lambda: io.BytesIO(data))], created_at="2026-01-01T00:00:00Z"
    )


def test_baseline_stores_nulls_and_old_baselines_fall_back() -> None:
    from driftline.core.autonull import auto_context
    from driftline.core.baseline import Baseline

    config, baseline = _demo_baseline()
    assert isinstance(baseline, Baseline)
    assert set(baseline.nulls) == set(config.monitored_columns)  # type: ignore[attr-defined]
    col = config.features[0]  # type: ignore[attr-defined]
    stored = baseline.nulls[col]
    assert stored.m == baseline.population.numeric[col].valid
    again = Baseline.from_json(baseline.to_json())
    assert again.nulls[col].to_dict() == stored.to_dict()
    # a baseline written before nulls were stored: it loads, and the evaluator computes the null on demand
    old = baseline.to_dict()
    del old["nulls"]
    legacy = Baseline.from_dict(old)
    assert legacy.nulls == {}
    cache: dict = {}
    ctx = auto_context(legacy, {None: legacy.population}, config.monitored_columns, 0.001, cache)  # type: ignore[attr-defined]
    null = ctx.null(col, None)
    assert null is not None and null.m == stored.m and null.probs == pytest.approx(stored.probs, abs=1e-5)
    assert ctx.null(col, None) is null  # cached
    assert ctx.sizes[(col, None)] == stored.m


def test_judge_auto_rule_and_alpha_scale() -> None:
    from driftline.core import rules as R
    from driftline.core.config import AlertRule

    rule = AlertRule(
        name="d", metric="drift.jensen_shannon", columns=("x",), segment=None, op="above", threshold=math.nan, auto=True
    )
    target = R.Target(rule, "x", None)
    null = T.column_null(np.random.default_rng(0).multinomial(60_000, SHAPES["10 quantile bins + tails"]))
    ctx = R.AutoContext({("x", None): 6_000}, lambda c, s: null, 0.001)
    metrics = {("drift.jensen_shannon", "x", None): (0.05, 6_000)}
    v = R.judge(target, 0, metrics, {}, auto=ctx)
    assert v.breaching is True and v.threshold is not None and 0.02 <= v.threshold < 0.05
    stricter = R.judge(target, 0, metrics, {}, auto=ctx, alpha_scale=0.01)
    assert stricter.threshold is not None and stricter.threshold > v.threshold
    # without the window's size or null, an auto target is not judged; a fixed rule ignores the context
    assert R.judge(target, 0, metrics, {}).breaching is None
    fixed = R.judge(
        R.Target(
            AlertRule(name="f", metric="drift.jensen_shannon", columns=("x",), segment=None, op="above", threshold=0.1),
            "x",
            None,
        ),
        0,
        metrics,
        {},
    )
    assert fixed.breaching is False and fixed.threshold == 0.1


def test_baseline_overdispersion_from_the_references_row_order() -> None:
    """A reference whose first feature wanders with the row order (a daily cycle) gets tau2 > 0 for it only."""
    import io

    import pyarrow as pa

    from driftline.core.config import load_config
    from driftline.services.profiling import build_baseline
    from driftline.testing import CONFIG_YAML, encode, generate

    config = load_config(CONFIG_YAML)
    table = generate(20_000, seed=4, start=0, span=7 * 86_400, id_prefix="ref")
    col = config.numerical_features[0]
    values = np.asarray(table.column(col).to_numpy(zero_copy_only=False), dtype=np.float64)
    cycle = np.sin(np.arange(values.size) / values.size * 2 * math.pi * 3) * np.nanstd(values) * 0.5
    table = table.set_column(table.schema.get_field_index(col), col, pa.array(values + cycle))
    data = encode(table, "parquet")
    baseline = build_baseline(config, [("ref.parquet", lambda: io.BytesIO(data))], created_at="2026-01-01T00:00:00Z")
    assert baseline.nulls[col].tau2 > 0.01
    others = [c for c in config.numerical_features[1:]]
    assert all(baseline.nulls[c].tau2 < 0.01 for c in others)


TAIL_SHAPES = {
    "4 categories": (SHAPES["4 categories"], 40),
    "10 quantile bins + near-empty tails": (
        np.r_[3e-5, np.full(10, 0.1), 2e-5] / np.sum(np.r_[3e-5, np.full(10, 0.1), 2e-5]),
        300,
    ),
    "40 categories": (SHAPES["40 categories"], 300),
    "200 categories": (np.geomspace(1, 0.02, 200) / np.geomspace(1, 0.02, 200).sum(), 700),
}


@pytest.mark.parametrize("shape", list(TAIL_SHAPES))
def test_the_fits_0001_tail_against_a_large_simulation(shape: str) -> None:
    """The fitted null's 0.001 tail (the default false_alarm_rate) against 60,000 simulated no-drift tables, reference
    and window both drawn afresh, averaged over 3 baselines' nulls (their own seeds): the rate is within the binomial
    99.9% interval of [alpha / 2, 1.5 alpha] (the scaled-chi2 fit is not exact in the tail; 200 categories between
    two grid points ran 2-3x alpha with the x4 grid and 1,000 tables without control variates)."""
    p, n = TAIL_SHAPES[shape]
    m, reps, alpha = 200_000, 60_000, 0.001
    rng = np.random.default_rng(17)
    v = T.batch_stats(rng.multinomial(m, p, size=reps).astype(float), rng.multinomial(n, p, size=reps).astype(float))
    js = np.sqrt(v["jensen_shannon"] / math.log(2.0))
    probs = T._rounded(p)
    far = np.mean(
        [
            np.mean(js > T.chi2_type_threshold("jensen_shannon", n, T.ColumnNull(m, probs, seed=s), alpha))
            for s in (1, 2, 3)
        ]
    )
    half = 3.3 * math.sqrt(alpha / (3 * reps))
    assert alpha / 2 - half <= far <= 1.5 * alpha + half, far
