"""Fairness across sensitive groups (SPEC §3 ``fairness.*``) through the pipeline on the in-memory fakes.

Predictions arrive first (the prediction-only metrics), labels later in their own files (the label metrics): each
value equals a direct computation on the rows, and fairlearn's where the definitions coincide, per window and
group, to 1e-9; any split of the files in any order gives the same values.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.services.alerts import AlertPublisher
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.store import Store
from driftline.testing import encode, etag_of

pytestmark = pytest.mark.integration

HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
BUCKET = "driftline-test-data"
MODEL = "fair-v1"
GROUPS = ("female", "male", "nonbinary")
CONFIG = f"""
model_id: {MODEL}
task: binary_classification
columns:
  id: request_id
  timestamp: event_time
  prediction: approved
  score: score
  label: repaid
  features:
    numerical: [income]
    categorical: [region]
window: 1h
fairness:
  sensitive: [gender]
alerts:
  - {{name: income-drift, metric: drift.psi, columns: [income], above: 5}}
"""


def world(n: int, *, seed: int, start: int, span: int, male_rate: float = 1.0, prefix: str = "r") -> pa.Table:
    """Rows of a loan model: ``male_rate`` scales the positive-prediction rate of group ``male``."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(GROUPS, n, p=[0.5, 0.4, 0.1])
    score = rng.beta(2, 2, n)
    approved = score > 0.5
    if male_rate != 1.0:  # turn approvals of men down at random until their rate is male_rate of before
        male = gender == "male"
        approved = approved & ~(male & (rng.random(n) > male_rate))
    repaid = rng.random(n) < np.where(approved, 0.8, 0.3)
    return pa.table(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "event_time": (start + rng.integers(0, span, n)).astype(np.int64),
            "income": rng.lognormal(10, 0.4, n),
            "region": rng.choice(["north", "south"], n),
            "gender": gender,
            "score": score,
            "approved": approved.astype(int),
            "repaid": repaid.astype(int),
        }
    )


class Deployment:
    def __init__(self) -> None:
        self.table, self.objects, self.sink = MemoryTable("t"), MemoryObjectStore(BUCKET), MemoryAlertSink()
        self.now = float(T0 + 3 * HOUR)
        store = Store(self.table, clock=lambda: self.now)
        registry = ModelRegistry(store, self.objects, clock=lambda: self.now)
        alerts = AlertPublisher(store, self.sink)
        self.store, self.registry = store, registry
        self.ingest = IngestService(store, registry, alerts, clock=lambda: self.now)
        self.evaluate = EvaluateService(store, registry, alerts, clock=lambda: self.now)

    def drop(self, key: str, body: bytes) -> None:
        self.objects.put_bytes(key, body)
        outcome = self.ingest.handle(parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False))
        assert outcome.status == "processed", outcome

    def fairness_points(self) -> dict[tuple[str, str, int], tuple[float, int]]:
        (report,) = self.evaluate.evaluate_all(at=T0 + 2 * HOUR + 60)
        assert report.errors == []
        return {
            (p.metric, p.segment or "", p.window_start): (p.value, p.rows)
            for p in self.store.points(MODEL, start=T0, end=T0 + 2 * HOUR)
            if p.metric.startswith("fairness.")
        }


def deployed(config: str = CONFIG) -> Deployment:
    d = Deployment()
    d.drop(f"models/{MODEL}/config.yaml", config.encode())
    d.drop(f"baselines/{MODEL}/ref.parquet", encode(world(3000, seed=1, start=T0 - 86400, span=86400), "parquet"))
    return d


LOGS = pa.concat_tables(
    [
        world(900, seed=2, start=T0, span=HOUR, prefix="a"),
        world(900, seed=3, start=T0 + HOUR, span=HOUR, male_rate=0.7, prefix="b"),
    ]
)


def direct(rows: pa.Table, *, labels: bool) -> dict[tuple[str, str, int], tuple[float, int]]:
    """The SPEC §3 definitions computed on the rows, reference group female (the largest in the baseline)."""
    ws = (np.asarray(rows["event_time"]) - T0) // HOUR * HOUR + T0
    g = np.asarray(rows["gender"].to_pylist())
    yhat = np.asarray(rows["approved"]) == 1
    y = np.asarray(rows["repaid"]) == 1
    out = {}
    for w in np.unique(ws):
        stats = {}
        for grp in GROUPS:
            m = (ws == w) & (g == grp)
            tp, fp = np.sum(m & yhat & y), np.sum(m & yhat & ~y)
            fn, tn = np.sum(m & ~yhat & y), np.sum(m & ~yhat & ~y)
            stats[grp] = (m.sum(), yhat[m].mean(), tp / (tp + fn), fp / (fp + tn), (tp + tn) / m.sum())
        _, rate_r, tpr_r, fpr_r, acc_r = stats["female"]
        for grp in GROUPS[1:]:
            n, rate, tpr, fpr, acc = stats[grp]
            seg, w_ = f"gender={grp}", int(w)
            out[("fairness.disparate_impact", seg, w_)] = (rate / rate_r, n)
            out[("fairness.demographic_parity_difference", seg, w_)] = (rate - rate_r, n)
            if labels:
                out[("fairness.equal_opportunity_difference", seg, w_)] = (tpr - tpr_r, n)
                out[("fairness.equalized_odds_difference", seg, w_)] = (max(abs(tpr - tpr_r), abs(fpr - fpr_r)), n)
                out[("fairness.accuracy_difference", seg, w_)] = (acc - acc_r, n)
    return out


def assert_close(got: dict[Any, tuple[float, int]], want: dict[Any, tuple[float, int]]) -> None:
    assert set(got) == set(want)
    for key, (value, rows) in want.items():
        assert math.isclose(got[key][0], value, rel_tol=1e-9, abs_tol=1e-12), (key, got[key], value)
        assert got[key][1] == rows, key


def run(cuts: list[int], order: list[int], label_cuts: list[int]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    d = deployed()
    bounds = [0, *cuts, LOGS.num_rows]
    parts = [LOGS.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    for i in order:
        d.drop(f"predictions/{MODEL}/p{i}.parquet", encode(parts[i].drop(["repaid"]), "parquet"))
    before = d.fairness_points()
    labels = LOGS.select(["request_id", "repaid"])
    lb = [0, *label_cuts, labels.num_rows]
    for i, (a, b) in enumerate(itertools.pairwise(lb)):
        d.drop(f"labels/{MODEL}/l{i}.csv", encode(labels.slice(a, b - a), "csv"))
    return before, d.fairness_points()


def test_fairness_metrics_equal_the_direct_computation_before_and_after_delayed_labels() -> None:
    # Given predictions in two windows (the second: men approved at 0.7 of their rate), labels arriving later
    before, after = run([700, 1300], [2, 0, 1], [1000])
    # Then before labels: the prediction metrics only; after: every fairness metric, each the direct value
    assert_close(before, direct(LOGS, labels=False))
    assert_close(after, direct(LOGS, labels=True))
    di = after[("fairness.disparate_impact", "gender=male", T0 + HOUR)][0]
    assert 0.6 < di < 0.8


def test_fairness_metrics_equal_fairlearn_where_the_definitions_coincide() -> None:
    fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
    _, after = run([900], [0, 1], [])
    ws = (np.asarray(LOGS["event_time"]) - T0) // HOUR * HOUR + T0
    g = np.asarray(LOGS["gender"].to_pylist())
    for w in np.unique(ws):
        for grp in GROUPS[1:]:
            m = (ws == w) & np.isin(g, ["female", grp])  # two groups: fairlearn's range is our |difference|
            y, yhat = np.asarray(LOGS["repaid"])[m], np.asarray(LOGS["approved"])[m]
            theirs = {
                name: getattr(fairlearn_metrics, name)(y, yhat, sensitive_features=g[m])
                for name in (
                    "demographic_parity_difference",
                    "demographic_parity_ratio",
                    "equalized_odds_difference",
                    "equal_opportunity_difference",
                    "accuracy_score_difference",
                )
            }
            ours = {k[0].removeprefix("fairness."): v for k, (v, _) in after.items() if k[1:] == (f"gender={grp}", w)}
            pairs = [
                (abs(ours["demographic_parity_difference"]), theirs["demographic_parity_difference"]),
                (min(ours["disparate_impact"], 1 / ours["disparate_impact"]), theirs["demographic_parity_ratio"]),
                (ours["equalized_odds_difference"], theirs["equalized_odds_difference"]),
                (abs(ours["equal_opportunity_difference"]), theirs["equal_opportunity_difference"]),
                (abs(ours["accuracy_difference"]), theirs["accuracy_score_difference"]),
            ]
            for mine, fl in pairs:
                assert math.isclose(mine, fl, rel_tol=1e-9, abs_tol=1e-12), (grp, w, pairs)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, LOGS.num_rows - 1), min_size=1, max_size=4, unique=True).map(sorted),
    label_cuts=st.lists(st.integers(1, LOGS.num_rows - 1), max_size=3, unique=True).map(sorted),
    data=st.data(),
)
def test_any_split_in_any_order_gives_the_same_fairness_values(
    cuts: list[int], label_cuts: list[int], data: Any
) -> None:
    order = data.draw(st.permutations(range(len(cuts) + 1)))
    before, after = run(cuts, list(order), label_cuts)
    assert_close(before, direct(LOGS, labels=False))
    assert_close(after, direct(LOGS, labels=True))


def test_the_four_fifths_rule_alarms_for_the_group_that_falls_below_only() -> None:
    # Given the default fairness rule (the config names no disparate_impact rule)
    d = deployed()
    d.drop(f"predictions/{MODEL}/all.parquet", encode(LOGS, "parquet"))
    d.fairness_points()
    # Then one ALARM: gender=male in the second window
    alerts = [json.loads(p["messages"]["default"]) for p in d.sink.published]
    fair = [a for a in alerts if a["metric"] == "fairness.disparate_impact"]
    assert [(a["state"], a["segment"], a["column"], a["window_start"]) for a in fair] == [
        ("ALARM", "gender=male", "gender", "2026-01-01T01:00:00Z")
    ]
    assert fair[0]["severity"] == "warning" and fair[0]["threshold"] == 0.8


SCENARIO = """scenarios:
  - {name: high-income, where: {all: [{column: income, above: 22000}, {column: gender, in: [female]}]}}
"""


def test_scenario_performance_after_delayed_labels_equals_the_direct_computation() -> None:
    # Given a scenario on a feature and the sensitive column (not a feature), predictions first, labels later
    d = deployed(CONFIG + SCENARIO)
    d.drop(f"predictions/{MODEL}/p.parquet", encode(LOGS.drop(["repaid"]), "parquet"))
    d.fairness_points()
    d.drop(f"labels/{MODEL}/l.csv", encode(LOGS.select(["request_id", "repaid"]), "csv"))
    d.fairness_points()
    # Then the scenario's accuracy per window is the accuracy of its rows
    got = {p.window_start: (p.value, p.rows) for p in d.store.series(
        MODEL, "performance.accuracy", None, "scenario:high-income", start=T0, end=T0 + 2 * HOUR)}  # fmt: skip
    ws = (np.asarray(LOGS["event_time"]) - T0) // HOUR * HOUR + T0
    inside = (np.asarray(LOGS["income"]) > 22000) & (np.asarray(LOGS["gender"].to_pylist()) == "female")
    right = np.asarray(LOGS["approved"]) == np.asarray(LOGS["repaid"])
    want = {int(w): (float(right[inside & (ws == w)].mean()), int((inside & (ws == w)).sum())) for w in np.unique(ws)}
    assert got.keys() == want.keys()
    for w, (value, rows) in want.items():
        assert math.isclose(got[w][0], value, rel_tol=1e-12) and got[w][1] == rows


def test_the_report_has_a_fairness_section_and_a_scenarios_section() -> None:
    from driftline.cli.report import render_report

    d = deployed(CONFIG + SCENARIO)
    d.drop(f"predictions/{MODEL}/all.parquet", encode(LOGS, "parquet"))
    d.fairness_points()
    page = render_report(d, MODEL, start=T0, end=T0 + 2 * HOUR)  # type: ignore[arg-type]
    for text in (
        "Fairness across groups",
        "gender · disparate impact",
        "four-fifths rule",
        "gender=male",
        "gender · latest window",
        "Scenarios · volume.rows",
        "Scenarios · latest window",
        "high-income",
    ):
        assert text in page, text
    assert page.count("<tr class=bad>") == 1  # gender=male, below four-fifths in the latest window


def test_a_rule_with_a_scenario_judges_the_scenarios_metrics() -> None:
    # Given a rule on the scenario's missing rate of income and one on its rows
    rules = """  - {name: scen-rows, metric: volume.rows, scenario: high-income, above: 1, severity: info}
  - {name: scen-missing, metric: quality.missing_rate, columns: [income], scenario: high-income, above: 0.5}
"""
    d = deployed(CONFIG + rules + SCENARIO)
    d.drop(f"predictions/{MODEL}/all.parquet", encode(LOGS, "parquet"))
    d.fairness_points()
    # Then the rows rule alarms on the scenario (both windows hold its rows), the missing-rate rule does not
    alerts = [json.loads(p["messages"]["default"]) for p in d.sink.published]
    scen = [(a["rule"], a["state"], a["segment"], a["window_start"]) for a in alerts if a["rule"].startswith("scen-")]
    assert scen == [("scen-rows", "ALARM", "scenario:high-income", "2026-01-01T00:00:00Z")]


def test_scenario_bits_kept_under_another_scenario_list_count_for_none() -> None:
    # Given predictions kept under one scenario list, then a config whose scenario list differs, then labels
    d = deployed(CONFIG + SCENARIO)
    d.drop(f"predictions/{MODEL}/p.parquet", encode(LOGS.drop(["repaid"]), "parquet"))
    other = SCENARIO.replace("high-income", "rich").replace("22000", "30000")
    d.drop(f"models/{MODEL}/config.yaml", (CONFIG + other).encode())
    d.drop(f"labels/{MODEL}/l.csv", encode(LOGS.select(["request_id", "repaid"]), "csv"))
    d.fairness_points()
    # Then the labels reach the population and the groups, and no scenario (their bits meant another list)
    perf = [p for p in d.store.points(MODEL, start=T0, end=T0 + 2 * HOUR) if p.metric == "performance.accuracy"]
    assert {p.segment for p in perf} == {None}


def test_the_four_fifths_rule_alarms_early_on_the_open_window() -> None:
    # Given the second hour's predictions (men approved at 0.7 of their rate) while that hour is still open
    d = deployed()
    d.drop(f"predictions/{MODEL}/h2.parquet", encode(LOGS.slice(900), "parquet"))
    # When the evaluator ticks half-way through the hour
    d.evaluate.evaluate(MODEL, at=T0 + HOUR + 1800)
    # Then the ALARM is out already, marked partial, with the rows so far
    alerts = [json.loads(p["messages"]["default"]) for p in d.sink.published]
    fair = [a for a in alerts if a["metric"] == "fairness.disparate_impact"]
    assert [(a["state"], a["segment"], a["window_start"]) for a in fair] == [
        ("ALARM", "gender=male", "2026-01-01T01:00:00Z")
    ]
    assert fair[0]["details"].get("partial") is True
