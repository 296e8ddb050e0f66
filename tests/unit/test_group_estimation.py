"""``estimated.*`` per fairness group: each group's performance before labels, from its own recalibration of the
population's score calibration, recovers the group's actual performance where the groups' calibrations differ
(and the population's calibration would not)."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.core.config import load_config_dict
from driftline.core.group_estimation import recalibrate
from driftline.core.metrics import binary_from_confusion, estimated_metrics, window_points
from driftline.services.profiling import build_baseline, profile_file

T0 = 1_767_225_600
CONFIG = load_config_dict(
    {
        "model_id": "est",
        "task": "binary_classification",
        "columns": {
            "id": "rid",
            "timestamp": "ts",
            "prediction": "pred",
            "score": "score",
            "label": "y",
            "features": {"numerical": ["x"]},
        },
        "window": "1d",
        "fairness": {"sensitive": ["group"]},
    }
)


def world(n: int, seed: int, *, b_share: float) -> pa.Table:
    """Scores are calibrated for group a (P(y | s) = s) and overconfident for group b (P(y | s) = 0.6 s)."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < b_share, "b", "a")
    score = rng.beta(2, 2, n)
    y = rng.random(n) < np.where(group == "a", score, 0.6 * score)
    return pa.table(
        {
            "rid": np.arange(n).astype(str),
            "ts": np.full(n, T0 + 60),
            "x": rng.normal(size=n),
            "group": group,
            "score": score,
            "pred": (score > 0.5).astype(int),
            "y": y.astype(int),
        }
    )


def parquet(t: pa.Table) -> io.BytesIO:
    buf = io.BytesIO()
    pq.write_table(t, buf)
    buf.seek(0)
    return buf


def actual(t: pa.Table, grp: str) -> dict[str, float]:
    m = np.asarray(t["group"].to_pylist()) == grp
    p, y = np.asarray(t["pred"])[m] == 1, np.asarray(t["y"])[m] == 1
    return binary_from_confusion(
        float(np.sum(p & y)), float(np.sum(p & ~y)), float(np.sum(~p & y)), float(np.sum(~p & ~y))
    )


def test_each_group_estimate_recovers_its_actual_performance_where_the_population_calibration_would_not() -> None:
    # Given a baseline with labels, and a window of predictions whose labels are withheld (the group mix moved)
    ref = world(40_000, 1, b_share=0.3)
    baseline = build_baseline(CONFIG, [("ref.parquet", lambda: parquet(ref))], created_at="2026-01-01T00:00:00Z")
    logs = world(20_000, 2, b_share=0.6)
    (profile,) = profile_file(
        parquet(logs.drop(["y"])), name="l.parquet", config=CONFIG, baseline=baseline
    ).profiles.values()
    points = {(p.metric, p.segment): p for p in window_points(profile, baseline, CONFIG, window_start=T0, segment=None)}
    for grp in ("a", "b"):
        truth = actual(logs, grp)
        for name in ("accuracy", "precision"):
            # Then each group's estimate is within sampling error of its actual value
            est = points[(f"estimated.{name}", f"group={grp}")]
            assert est.column == "group" and est.rows == int((np.asarray(logs["group"].to_pylist()) == grp).sum())
            assert est.value == pytest.approx(truth[name], abs=0.015), (grp, name)
    # And the population's calibration, applied to group b, is far off (the reason for a calibration per group)
    g = baseline.spec.fairness_groups["group"].index("b")
    naive = {
        m.metric: m.value for m in estimated_metrics(CONFIG, profile.group_estimation["group"][g], baseline.calibration)
    }
    assert abs(naive["estimated.precision"] - actual(logs, "b")["precision"]) > 0.1


def test_a_group_without_labelled_rows_gets_the_population_calibration() -> None:
    population = np.linspace(0.05, 0.95, 50)
    zeros = np.zeros(50)
    assert recalibrate(population, zeros, zeros) == pytest.approx(population, abs=1e-9)


def test_recalibration_fits_a_logit_shift() -> None:
    # Given a group whose positives follow logit p = -1 + logit p_pop, with many rows per slot
    population = np.linspace(0.05, 0.95, 40)
    logit = np.log(population / (1 - population)) - 1.0
    truth = 1 / (1 + np.exp(-logit))
    n = np.full(40, 10_000.0)
    got = recalibrate(population, n * (1 - truth), n * truth)
    assert got == pytest.approx(truth, abs=1e-3)


def test_group_counts_merge_to_the_whole_files_whatever_the_split_and_order() -> None:
    from driftline.core.profile import Profile, merge_all

    ref = world(5_000, 3, b_share=0.4)
    baseline = build_baseline(CONFIG, [("ref.parquet", lambda: parquet(ref))], created_at="2026-01-01T00:00:00Z")
    logs = world(3_000, 4, b_share=0.5)

    def profile(t: pa.Table) -> Profile:
        (p,) = profile_file(parquet(t), name="f.parquet", config=CONFIG, baseline=baseline).profiles.values()
        return p

    whole = profile(logs).to_dict()
    parts = [profile(logs.slice(a, b - a)) for a, b in ((2000, 3000), (0, 700), (700, 2000))]
    merged = merge_all(parts, baseline.baseline_id).to_dict()
    for key in ("fair", "fest", "perf"):
        assert merged[key] == whole[key], key
    assert parts[0].merge(parts[1]).merge(parts[2]).to_dict()["fest"] == whole["fest"]
