"""Scenarios (SPEC §2): each scenario's profile is the profile of the rows its condition selects, filtered
beforehand — whatever the condition (property test over random conditions)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.core.baseline import Baseline
from driftline.core.config import load_config_dict
from driftline.core.errors import ConfigError
from driftline.core.metrics import window_points
from driftline.services.profiling import build_baseline, profile_file

HOUR = 3600
T0 = 1_767_225_600
BASE: dict[str, Any] = {
    "model_id": "scen",
    "task": "binary_classification",
    "columns": {
        "id": "rid",
        "timestamp": "ts",
        "prediction": "pred",
        "score": "score",
        "label": "y",
        "features": {"numerical": ["spend", "tenure"], "categorical": ["plan"]},
    },
    "window": "1h",
    "business_metrics": [{"name": "avg_spend", "type": "mean", "column": "spend"}],
}


def table(n: int, seed: int, start: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    spend = rng.normal(100, 40, n)
    spend[rng.random(n) < 0.05] = np.nan
    plan = rng.choice(["basic", "plus", "pro", "legacy"], n, p=[0.5, 0.3, 0.15, 0.05]).astype(object)
    plan[rng.random(n) < 0.05] = None
    score = rng.beta(2, 3, n)
    return pa.table(
        {
            "rid": [f"r{seed}-{i}" for i in range(n)],
            "ts": start + rng.integers(0, 2 * HOUR, n),
            "spend": spend,
            "tenure": rng.integers(0, 48, n).astype(float),
            "plan": pa.array(plan, pa.string()),
            "score": score,
            "pred": (score > 0.4).astype(int),
            "y": (rng.random(n) < score).astype(int),
        }
    )


REF = table(2000, 1, T0 - 86400)
LOGS = table(1500, 2, T0)


def parquet(t: pa.Table) -> io.BytesIO:
    buf = io.BytesIO()
    pq.write_table(t, buf)
    buf.seek(0)
    return buf


def mask_of(cond: dict[str, Any], t: pa.Table) -> np.ndarray:
    """The condition on the rows, written independently of driftline.io.conditions."""
    if "all" in cond:
        return np.logical_and.reduce([mask_of(c, t) for c in cond["all"]])
    if "any" in cond:
        return np.logical_or.reduce([mask_of(c, t) for c in cond["any"]])
    values = t[cond["column"]].to_pylist()
    if "is_missing" in cond:
        miss = np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values])
        return miss if cond["is_missing"] else ~miss
    if "above" in cond:
        return np.array([v is not None and v > cond["above"] for v in values])
    if "below" in cond:
        return np.array([v is not None and v < cond["below"] for v in values])
    wanted = cond["in"] if "in" in cond else [cond["equals"]]
    return np.array([v in wanted for v in values])


leaves = st.one_of(
    st.builds(lambda c, x: {"column": c, "above": x}, st.sampled_from(["spend", "tenure"]), st.integers(0, 150)),
    st.builds(lambda c, x: {"column": c, "below": x}, st.sampled_from(["spend", "tenure"]), st.integers(0, 150)),
    st.builds(lambda c, b: {"column": c, "is_missing": b}, st.sampled_from(["spend", "plan"]), st.booleans()),
    st.builds(lambda v: {"column": "plan", "equals": v}, st.sampled_from(["basic", "pro", "gold"])),
    st.builds(
        lambda v: {"column": "plan", "in": v},
        st.lists(st.sampled_from(["basic", "plus", "pro", "legacy"]), min_size=1, max_size=3, unique=True),
    ),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda p: {"all": p}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda p: {"any": p}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=5,
)


def close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def baseline_for(config: Any) -> Baseline:
    return build_baseline(config, [("ref.parquet", lambda: parquet(REF))], created_at="2026-01-01T00:00:00Z")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=conditions)
def test_a_scenario_profile_is_the_profile_of_its_rows_filtered_beforehand(where: dict[str, Any]) -> None:
    # Given a scenario on a random condition, and the same rows filtered beforehand by that condition
    config = load_config_dict({**BASE, "scenarios": [{"name": "s", "where": where}]})
    plain = load_config_dict(BASE)
    baseline = baseline_for(config)
    keep = mask_of(where, LOGS)
    # When the whole file is profiled with the scenario, and the filtered rows without it
    whole = profile_file(parquet(LOGS), name="logs.parquet", config=config, baseline=baseline).profiles
    filtered = (
        profile_file(parquet(LOGS.filter(pa.array(keep))), name="f.parquet", config=plain, baseline=baseline).profiles
        if keep.any()
        else {}
    )
    # Then each window's scenario profile is the filtered rows' population profile, and so are its metrics
    scen = {ws: p for (ws, seg), p in whole.items() if seg == "scenario:s"}
    pop = {ws: p for (ws, seg), p in filtered.items() if seg is None}
    assert set(scen) == set(pop)
    for ws, p in scen.items():
        close(p.to_dict(), pop[ws].to_dict())
        got = window_points(p, baseline, config, window_start=ws, segment="scenario:s")
        want = window_points(pop[ws], baseline, config, window_start=ws, segment="scenario:s")
        close([x.to_json_dict() for x in got], [x.to_json_dict() for x in want])
    # and the reference has the scenario's own profile: the baseline's rows filtered the same way
    ref_rows = int(mask_of(where, REF).sum())
    assert (baseline.reference["scenario:s"].rows if "scenario:s" in baseline.reference else 0) == ref_rows


def test_scenario_metrics_equal_driftline_profile_of_the_filtered_rows(tmp_path: Any, capsys: Any) -> None:
    from driftline.cli.main import main

    # Given a scenario and the same rows filtered beforehand
    where = {"all": [{"column": "spend", "above": 90}, {"column": "plan", "in": ["basic", "pro"]}]}
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({**BASE, "scenarios": [{"name": "s", "where": where}]}))
    plain = tmp_path / "p.json"
    plain.write_text(json.dumps(BASE))
    pq.write_table(REF, tmp_path / "ref.parquet")
    pq.write_table(LOGS, tmp_path / "logs.parquet")
    pq.write_table(LOGS.filter(pa.array(mask_of(where, LOGS))), tmp_path / "f.parquet")

    def run(config: Any, file: str) -> list[dict[str, Any]]:
        assert (
            main(
                ["profile", str(tmp_path / file), "--config", str(config), "--baseline", str(tmp_path / "ref.parquet")]
            )
            == 0
        )
        out: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
        return out

    # When `driftline profile` runs on each
    scen = {
        (p["metric"], p["column"], p["window_start"]): p
        for p in run(cfg, "logs.parquet")
        if p["segment"] == "scenario:s"
    }
    pop = {(p["metric"], p["column"], p["window_start"]): p for p in run(plain, "f.parquet") if p["segment"] is None}
    # Then every metric that does not compare with the reference is the filtered file's (drift compares with the
    # scenario's own reference rows, the population's in the filtered run)
    keys = {k for k in pop if not k[0].startswith("drift.")}
    assert keys and keys <= set(scen)
    for k in keys:
        assert math.isclose(scen[k]["value"], pop[k]["value"], rel_tol=1e-9, abs_tol=1e-12), k
        assert scen[k]["rows"] == pop[k]["rows"], k


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ([{"name": "a", "where": {"column": "nope", "equals": 1}}], "scenarios[0].where.column: unknown column 'nope'"),
        (
            [{"name": "a", "where": {"column": "plan", "above": 1}}],
            "scenarios[0].where.above: above applies to numerical",
        ),
        ([{"name": "a", "where": {"all": []}}], "scenarios[0].where.all: must not be empty"),
        ([{"name": "a", "where": {"column": "spend", "between": 1}}], "scenarios[0].where: unknown key 'between'"),
        ([{"name": "a b", "where": {"column": "spend", "above": 1}}], "scenarios[0].name: 'a b' is not a valid name"),
        (
            [{"name": f"s{i}", "where": {"column": "spend", "above": i}} for i in range(21)],
            "scenarios: too many entries (21)",
        ),
        (
            [{"name": "a", "where": {"column": "spend", "is_missing": "yes"}}],
            "scenarios[0].where.is_missing: expected true",
        ),
    ],
)
def test_bad_scenarios_are_rejected_naming_the_key(scenarios: list[Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_dict({**BASE, "scenarios": scenarios})
    assert message in str(err.value)


def test_a_rule_names_a_configured_scenario() -> None:
    cfg = {**BASE, "scenarios": [{"name": "big", "where": {"column": "spend", "above": 200}}]}
    ok = load_config_dict(
        {**cfg, "alerts": [{"name": "r", "metric": "performance.recall", "scenario": "big", "below": 0.6}]}
    )
    assert ok.alerts[0].scenario == "big"
    with pytest.raises(ConfigError, match=r"alerts\[0\].scenario: no scenario named 'bgi' \(did you mean 'big'\?\)"):
        load_config_dict(
            {**cfg, "alerts": [{"name": "r", "metric": "performance.recall", "scenario": "bgi", "below": 0.6}]}
        )
