"""Profiles: merge is associative and commutative over every field; metrics equal direct computations."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.core.baseline import Baseline, BinSpec, ReferenceSampler, calibrate, categorical_columns, numeric_columns
from driftline.core.bins import NumericBins
from driftline.core.config import ModelConfig
from driftline.core.metrics import compute_metrics
from driftline.core.profile import Profile, merge_all
from driftline.core.profiler import (
    MISSING_CODE,
    CategoryInput,
    NumericInput,
    PreparedBatch,
    ProfileBuilder,
)

HOUR = 3600
T0 = 1_763_856_000  # 2025-11-23T00:00:00Z


def raw_data(n: int, seed: int, *, drift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = np.clip(rng.beta(2, 5, n) + drift * 0.2, 0, 1)
    label = (rng.random(n) < score).astype(int)
    data = {
        "tenure_months": rng.gamma(2.0, 12.0 + 10 * drift, n),
        "monthly_spend": rng.normal(60 + 20 * drift, 15, n),
        "support_tickets": rng.poisson(1 + drift, n).astype(float),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
        "country": rng.choice(
            ["US", "DE", "FR", "BR"], n, p=[0.4, 0.3, 0.2, 0.1] if drift == 0 else [0.1, 0.3, 0.2, 0.4]
        ),
        "payment_method": rng.choice(["card", "paypal", "wire"], n),
        "churn_probability": score,
        "will_churn": (score > 0.35).astype(int).astype(str),
        "churned": label.astype(str),
        "ts": T0 + rng.integers(0, 6 * HOUR, n),
    }
    data["monthly_spend"][rng.random(n) < 0.02] = np.nan  # some missing
    return data


def make_spec(config: ModelConfig, data: dict[str, np.ndarray]) -> BinSpec:
    sampler = ReferenceSampler(config)
    sampler.add_rows(len(data["ts"]))
    for col in numeric_columns(config):
        sampler.add_numeric(col, data[col])
    for col in categorical_columns(config):
        values, counts = np.unique(data[col], return_counts=True)
        sampler.add_categories(col, values.tolist(), counts.tolist())
    return sampler.freeze()


def prepare(config: ModelConfig, spec: BinSpec, data: dict[str, np.ndarray], sl: slice = slice(None)) -> PreparedBatch:
    d = {k: v[sl] for k, v in data.items()}
    n = len(d["ts"])
    numeric = {}
    for col in numeric_columns(config):
        x = d[col].astype(float)
        numeric[col] = NumericInput(x, np.isnan(x), np.zeros(n, bool))
    categorical = {}
    for col in categorical_columns(config):
        cats = spec.categorical[col].categories
        lookup = {c: i for i, c in enumerate(cats)}
        codes = np.array([lookup.get(v, -1) for v in d[col]], dtype=np.int64)
        categorical[col] = CategoryInput(codes)
    segments = {}
    for col, values in spec.segments.items():
        lookup = {c: i for i, c in enumerate(values)}
        segments[col] = np.array([lookup.get(v, len(values)) for v in d[col]], dtype=np.int64)
    spend, will = d["monthly_spend"], d["will_churn"]
    business = {
        "spend_at_risk": (spend, will == "1"),
        "churn_rate_predicted": (will.astype(float), np.ones(n, bool)),
    }
    ws = (d["ts"] // HOUR) * HOUR
    return PreparedBatch(n, ws.astype(np.int64), numeric, categorical, segments, business)


def make_baseline(config: ModelConfig, data: dict[str, np.ndarray]) -> Baseline:
    spec = make_spec(config, data)
    builder = ProfileBuilder(config, spec, "b1")
    builder.add(prepare(config, spec, data))
    by_seg: dict[str | None, list[Profile]] = {}
    for (_, seg), p in builder.result().items():
        by_seg.setdefault(seg, []).append(p)
    ref = {seg: merge_all(ps, "b1") for seg, ps in by_seg.items()}
    cal = calibrate(ref[None].performance.score_hist)  # type: ignore[arg-type]
    return Baseline("b1", config.model_id, "2025-11-22T00:00:00Z", spec, ref, cal)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from driftline.core.config import load_config_file
    from tests.conftest import FIXTURES

    config = load_config_file(FIXTURES / "churn-v3.yaml")
    ref = raw_data(20_000, 1)
    baseline = make_baseline(config, ref)
    cur = raw_data(5_000, 2, drift=1.0)
    return config, baseline, cur


def profiles_of(config, baseline, data, slices):  # type: ignore[no-untyped-def]
    out = []
    for sl in slices:
        b = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
        b.add(prepare(config, baseline.spec, data, sl))
        out.append(b.result())
    return out


def assert_same(a: object, b: object, path: str = "") -> None:
    """Equal structures: ints and strings exactly, floats to 1e-12 relative."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-9), path
    else:
        assert a == b, path


def merged(parts):  # type: ignore[no-untyped-def]
    acc: dict = {}
    for part in parts:
        for k, p in part.items():
            acc[k] = acc[k].merge(p) if k in acc else p
    return acc


def metric_table(config, baseline, profiles, *, files_as_one: bool = True):  # type: ignore[no-untyped-def]
    table = {}
    for (ws, seg), p in profiles.items():
        for m in compute_metrics(p.with_files(1) if files_as_one else p, baseline, config, segment=seg):
            table[(ws, seg, m.metric, m.column)] = m.value
    return table


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=5_000), max_size=6), seed=st.integers(0, 2**32 - 1))
def test_any_split_in_any_order_gives_the_metrics_of_the_whole_file(world, cuts, seed) -> None:  # type: ignore[no-untyped-def]
    # Given a file, and the same rows split into parts at arbitrary cut points
    config, baseline, cur = world
    bounds = [0, *sorted(cuts), 5_000]
    slices = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    whole = profiles_of(config, baseline, cur, [slice(None)])[0]
    parts = profiles_of(config, baseline, cur, slices)
    # When the parts' profiles are merged in a random order
    np.random.default_rng(seed).shuffle(parts)
    together = merged(parts)
    # Then every metric equals the whole file's (counts exactly; float sums to rounding)
    a = metric_table(config, baseline, whole)
    b = metric_table(config, baseline, together)
    assert a.keys() == b.keys()
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12), k


def test_merge_is_associative_and_commutative_over_every_field(world) -> None:  # type: ignore[no-untyped-def]
    config, baseline, cur = world
    p1, p2, p3 = (
        profiles_of(config, baseline, cur, [s])[0][(T0, None)]
        for s in (slice(0, 1000), slice(1000, 3000), slice(3000, None))
    )
    left = p1.merge(p2).merge(p3)
    right = p1.merge(p2.merge(p3))
    swapped = p3.merge(p1).merge(p2)
    zero = Profile.empty(baseline.baseline_id)
    # counts are equal exactly; float sums (moments, tails, business sums) up to rounding
    assert_same(right.to_dict(), left.to_dict())
    assert_same(swapped.to_dict(), left.to_dict())
    assert json.dumps(zero.merge(left).to_dict(), sort_keys=True) == json.dumps(left.to_dict(), sort_keys=True)
    assert json.dumps(left.merge(zero).to_dict(), sort_keys=True) == json.dumps(left.to_dict(), sort_keys=True)
    # every field took part: counts, perf, estimation, business
    assert left.rows == p1.rows + p2.rows + p3.rows and left.files == 3
    assert left.performance.labeled == sum(p.performance.labeled for p in (p1, p2, p3))
    assert left.estimation is not None and left.estimation.sum() == sum(p.estimation.sum() for p in (p1, p2, p3))
    assert set(left.business) == {"spend_at_risk", "churn_rate_predicted"}


def test_profile_round_trips_through_json(world) -> None:  # type: ignore[no-untyped-def]
    config, baseline, cur = world
    for p in profiles_of(config, baseline, cur, [slice(None)])[0].values():
        text = json.dumps(p.to_dict(), allow_nan=False)
        assert json.dumps(Profile.from_dict(json.loads(text)).to_dict()) == json.dumps(p.to_dict())
    text = baseline.to_json()
    again = Baseline.from_json(text)
    assert again.to_json() == text


def test_merging_profiles_of_different_baselines_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="different baselines"):
        Profile.empty("a").merge(Profile.empty("b"))


def test_a_distribution_compared_with_itself_has_no_drift(world) -> None:  # type: ignore[no-untyped-def]
    config, baseline, _ = world
    values = {(m.metric, m.column): m.value for m in compute_metrics(baseline.population, baseline, config)}
    for (metric, col), v in values.items():
        if metric.startswith("drift.") and metric != "drift.chi2_pvalue":
            assert v == pytest.approx(0.0, abs=1e-9), (metric, col)
        if metric == "drift.chi2_pvalue":
            assert v == pytest.approx(1.0), col


def test_metrics_equal_direct_computation(world) -> None:  # type: ignore[no-untyped-def]
    # Given one window of drifted data with labels
    config, baseline, cur = world
    prof = merged(profiles_of(config, baseline, cur, [slice(None)]))
    first = {k: v for k, v in prof.items() if k[1] is None}
    total = merge_all(list(first.values()), baseline.baseline_id)
    m = {(x.metric, x.column): x.value for x in compute_metrics(total, baseline, config)}
    y = cur["churned"] == "1"
    p = cur["will_churn"] == "1"
    tp, fp, fn, tn = (np.sum(y & p), np.sum(~y & p), np.sum(y & ~p), np.sum(~y & ~p))
    # Then performance equals the direct formulas
    assert m[("performance.accuracy", None)] == pytest.approx((tp + tn) / len(y))
    assert m[("performance.precision", None)] == pytest.approx(tp / (tp + fp))
    assert m[("performance.recall", None)] == pytest.approx(tp / (tp + fn))
    assert m[("performance.f1", None)] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # roc_auc within 0.005 of the exact value (Mann-Whitney U / (P N))
    u = scipy.stats.mannwhitneyu(cur["churn_probability"][y], cur["churn_probability"][~y]).statistic
    assert m[("performance.roc_auc", None)] == pytest.approx(u / (y.sum() * (~y).sum()), abs=0.005)
    # quality: missing rate of monthly_spend
    assert m[("quality.missing_rate", "monthly_spend")] == pytest.approx(np.isnan(cur["monthly_spend"]).mean())
    # categorical JS equals scipy on the same category counts
    cats = baseline.spec.categorical["country"].categories
    ref_counts = [np.sum(np.asarray(["US"] * 0)) for _ in cats]
    del ref_counts
    cur_counts = np.array([np.sum(cur["country"] == c) for c in cats] + [0, 0], dtype=float)
    ref_counts2 = baseline.population.categorical["country"].counts.astype(float)
    from scipy.spatial.distance import jensenshannon

    assert m[("drift.jensen_shannon", "country")] == pytest.approx(
        jensenshannon(ref_counts2, cur_counts, base=2), abs=1e-9
    )
    # business: sum of spend where will_churn == 1, mean of will_churn
    spend = cur["monthly_spend"]
    assert m[("business.spend_at_risk", None)] == pytest.approx(np.nansum(spend[p]))
    assert m[("business.churn_rate_predicted", None)] == pytest.approx(p.mean())
    assert m[("business.retention_value", None)] == pytest.approx(120 * tp - 15 * fp - 400 * fn)
    # volume
    assert m[("volume.rows", None)] == len(y)
    # drift is visible on the drifted features
    assert m[("drift.jensen_shannon", "tenure_months")] > 0.1


def test_estimated_performance_tracks_actual_without_labels(world) -> None:  # type: ignore[no-untyped-def]
    # Given data from the reference's own distribution (well calibrated scores)
    config, baseline, _ = world
    same = raw_data(20_000, 11)
    prof = merged(profiles_of(config, baseline, same, [slice(None)]))
    total = merge_all([v for k, v in prof.items() if k[1] is None], baseline.baseline_id)
    m = {(x.metric, x.column): x.value for x in compute_metrics(total, baseline, config)}
    # Then the estimate is close to the realised value
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert m[(f"estimated.{name}", None)] == pytest.approx(m[(f"performance.{name}", None)], abs=0.03), name


def test_segments_have_their_own_profiles(world) -> None:  # type: ignore[no-untyped-def]
    config, baseline, cur = world
    prof = merged(profiles_of(config, baseline, cur, [slice(None)]))
    segs = {k[1] for k in prof}
    assert None in segs and "country=US" in segs and "country=BR" in segs
    us_rows = sum(p.rows for (ws, s), p in prof.items() if s == "country=US")
    assert us_rows == int(np.sum(cur["country"] == "US"))
    # segment profiles use coarse slots
    p = next(p for (ws, s), p in prof.items() if s == "country=US")
    assert p.numeric["tenure_months"].resolution == "coarse"


def test_missing_codes_count_as_missing(world) -> None:  # type: ignore[no-untyped-def]
    config, baseline, cur = world
    batch = prepare(config, baseline.spec, cur, slice(0, 100))
    codes = batch.categorical["plan"].codes.copy()
    codes[:10] = MISSING_CODE
    codes[10:15] = -1  # unseen
    batch.categorical["plan"] = CategoryInput(codes)
    b = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
    b.add(batch)
    total = merge_all([v for k, v in b.result().items() if k[1] is None], baseline.baseline_id)
    m = {(x.metric, x.column): x.value for x in compute_metrics(total, baseline, config)}
    assert m[("quality.missing_rate", "plan")] == pytest.approx(0.10)
    assert m[("quality.unseen_category_rate", "plan")] == pytest.approx(5 / 90)


@settings(max_examples=80, deadline=None)
@given(
    reference=st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([0.0, 1.0, 1e-300, -1e-300, 5e-324]),
            st.floats(1e15, 1e15 + 1, allow_nan=False),
        ),
        min_size=2,
        max_size=300,
    ),
    probes=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50),
)
def test_slot_lookup_equals_binary_search(reference: list[float], probes: list[float]) -> None:
    """NumericBins.slots (a lookup table over equal cells) is searchsorted(edges, x, "right") for any x."""
    edges = np.unique(np.asarray(reference))
    if edges.size < 2:
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    bins = NumericBins(edges, edges[[0, -1]], float(edges[0]), float(edges[-1]))
    x = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), np.asarray(probes, float)])
    finite = ~np.isnan(x)
    assert np.array_equal(bins.slots(x)[finite], np.searchsorted(edges, x, side="right")[finite])


def test_rows_in_time_order_or_shuffled_give_the_same_profiles(world) -> None:  # type: ignore[no-untyped-def]
    # Given the same rows in time order (the grouped fast path) and shuffled (the argsort path)
    config, baseline, cur = world
    order = np.argsort(cur["ts"], kind="stable")
    in_order = {k: v[order] for k, v in cur.items()}
    shuffled = {k: v[np.random.default_rng(5).permutation(order.size)] for k, v in cur.items()}
    results = []
    for data in (in_order, shuffled):
        b = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
        b.add(prepare(config, baseline.spec, data))
        results.append(b.result())
    # Then every group's counts are identical and float sums agree to rounding
    assert results[0].keys() == results[1].keys()
    for key, p in results[0].items():
        q = results[1][key]
        assert p.rows == q.rows
        for col, n in p.numeric.items():
            assert np.array_equal(n.counts, q.numeric[col].counts), (key, col)
            np.testing.assert_equal(
                (n.missing, n.vmin, n.vmax), (q.numeric[col].missing, q.numeric[col].vmin, q.numeric[col].vmax)
            )
            assert n.total == pytest.approx(q.numeric[col].total, rel=1e-12)
        for col, c in p.categorical.items():
            assert np.array_equal(c.counts, q.categorical[col].counts), (key, col)
        assert np.array_equal(p.performance.confusion, q.performance.confusion)  # type: ignore[arg-type]


def test_merge_all_equals_merging_one_by_one(world) -> None:  # type: ignore[no-untyped-def]
    # Given the profiles of many small files of one window and segment
    config, baseline, cur = world
    parts = profiles_of(config, baseline, cur, [slice(i, i + 250) for i in range(0, 5_000, 250)])
    key = max(parts[0], key=lambda k: parts[0][k].rows)
    profiles = [p[key] for p in parts if key in p]
    # Then the vectorised merge equals the fold, field for field, and refuses a foreign baseline
    folded = Profile.empty(baseline.baseline_id)
    for p in profiles:
        folded = folded.merge(p)
    assert len(profiles) > 3
    assert json.dumps(merge_all(profiles, baseline.baseline_id).to_dict()) == json.dumps(folded.to_dict())
    with pytest.raises(ValueError, match="different baselines"):
        merge_all([*profiles, Profile.empty("other")], baseline.baseline_id)


@settings(max_examples=60, deadline=None)
@given(
    sample=st.lists(
        st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.sampled_from([0.0, 1.0, 2.5])), min_size=1, max_size=400
    )
)
def test_baseline_quantiles_from_one_sort_equal_numpy(sample: list[float]) -> None:
    """The edges come from one sort of the sample, with np.quantile's own interpolation and rounding."""
    from driftline.core.bins import _sorted_quantiles

    x = np.asarray(sample)
    probs = np.concatenate((np.linspace(0, 1, 41), 0.0125 * 0.5 ** np.arange(1, 11)))
    assert np.array_equal(_sorted_quantiles(np.sort(x), probs), np.quantile(x, probs))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.sampled_from([0.0, -0.0, 1.0])), max_size=60)
)
def test_distinct_equals_numpy_unique(values: list[float]) -> None:
    from driftline.core.bins import _distinct

    x = np.asarray(values, dtype=np.float64)
    assert np.array_equal(_distinct(x), np.unique(x))


def test_reference_batches_held_or_read_again_give_the_same_baseline(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The second baseline pass reads the batches the first pass kept, or (past the byte budget) the files
    again: the baseline is the same, and the files are opened once or twice."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftline.services.profiling import build_baseline

    config = world[0]
    paths = []
    for i, seed in enumerate((1, 3)):
        data = raw_data(3_000, seed)
        data["event_time"] = pa.array(data.pop("ts") * 1000, pa.timestamp("ms", tz="UTC"))
        path = tmp_path / f"ref-{i}.parquet"
        pq.write_table(pa.table(data), path, row_group_size=1_000)
        paths.append(path)
    opened: list[str] = []

    def opener(path):  # type: ignore[no-untyped-def]
        def open_it():  # type: ignore[no-untyped-def]
            opened.append(path.name)
            return path

        return open_it

    sources = [(p.name, opener(p)) for p in paths]
    held = build_baseline(config, sources, created_at="2025-11-22T00:00:00Z", batch_rows=1_000)
    assert opened == ["ref-0.parquet", "ref-1.parquet"]
    opened.clear()
    read_again = build_baseline(config, sources, created_at="2025-11-22T00:00:00Z", batch_rows=1_000, cache_bytes=0)
    assert opened == ["ref-0.parquet", "ref-1.parquet"] * 2
    assert held.population.rows == 6_000
    assert held.to_json() == read_again.to_json()


@pytest.mark.parametrize(
    "coarse",
    [
        [0.0, 1.5, 3.0],
        [0.0, 3.0, 2.0],
        [0.0, 2.0, 1.0, 3.0],
        [1.0, 3.0],
        [0.0, 2.0],
        [0.0, np.nan, 3.0],
        [0.0],
        [[0.0, 3.0]],
    ],
)
def test_coarse_edges_must_be_a_subset_of_the_edges_with_the_same_ends(coarse) -> None:  # type: ignore[no-untyped-def]
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    assert NumericBins(edges, np.array([0.0, 2.0, 3.0]), 0.0, 3.0).coarse_edges.tolist() == [0.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="coarse_edges"):
        NumericBins(edges, np.array(coarse), 0.0, 3.0)
