"""The metric catalogue is the single source of what a metric is (SPEC §3)."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from driftline.core import catalogue, config, rules
from driftline.core.config import load_config_dict
from driftline.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "driftline"

# Every metric name SPEC §3 lists (business.<name> is a pattern)
SPEC_NAMES = [
    "volume.rows", "volume.files", "quality.time_error_rate",
    "quality.missing_rate", "quality.out_of_range_rate", "quality.unseen_category_rate", "quality.type_error_rate",
    "drift.psi", "drift.jensen_shannon", "drift.hellinger", "drift.kolmogorov_smirnov", "drift.wasserstein",
    "drift.chi2_pvalue",
    "performance.accuracy", "performance.precision", "performance.recall", "performance.f1", "performance.roc_auc",
    "performance.macro_f1", "performance.mae", "performance.rmse", "performance.mape", "performance.r2",
    "estimated.accuracy", "estimated.precision", "estimated.recall", "estimated.f1", "estimated.roc_auc",
    "fairness.disparate_impact", "fairness.demographic_parity_difference", "fairness.equal_opportunity_difference",
    "fairness.equalized_odds_difference", "fairness.accuracy_difference",
]  # fmt: skip
METRIC_NAME = re.compile(r"^(volume|quality|drift|performance|estimated|fairness|business)\.[a-z_0-9]+$")


def test_every_spec_metric_has_an_entry() -> None:
    for name in SPEC_NAMES:
        assert name in catalogue.METRICS, name
    assert catalogue.spec_for("business.retention_value") is catalogue.BUSINESS
    assert catalogue.spec_for("drift.nope") is None
    assert set(catalogue.METRICS) == set(SPEC_NAMES)


def test_spec_text_names_are_in_the_catalogue() -> None:
    """The backquoted metric names of SPEC §3, read from the SPEC when it is beside the tree."""
    spec = next(
        (
            p
            for p in (ROOT / "SPEC.md", ROOT.parent / "shared" / "SPEC.md", ROOT.parent.parent / "shared" / "SPEC.md")
            if p.exists()
        ),
        None,
    )
    if spec is None:
        pytest.skip("SPEC.md not found beside the tree")
    text = spec.read_text()
    section = text[text.index("## 3. Metric names") : text.index("## 4.")]
    found = set(re.findall(r"`((?:volume|quality|drift)\.[a-z_0-9]+)`", section))
    assert len(found) >= 12 and found <= set(catalogue.METRICS)
    for family, names in re.findall(r"`(performance|fairness)\.\*`(.*?)(?:\n- |\Z)", section, re.S):
        for short in re.findall(r"`([a-z_0-9]+)`", names):
            if short not in ("column", "segment", "fairness", "min_rows"):
                assert f"{family}.{short}" in catalogue.METRICS, short


def test_no_other_module_lists_metric_names() -> None:
    """No collection of two or more metric-name literals anywhere but the catalogue."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "catalogue.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                elts = node.elts
            elif isinstance(node, ast.Dict):
                elts = [k for k in node.keys if k is not None]
            else:
                continue
            hits = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if sum(1 for h in hits if METRIC_NAME.match(h)) >= 2:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_entries_say_what_a_metric_is() -> None:
    m = catalogue.METRICS
    assert m["quality.time_error_rate"].level == "model" and m["quality.time_error_rate"].range == (0.0, 1.0)
    assert m["fairness.disparate_impact"].level == "fairness_group"
    assert m["fairness.disparate_impact"].tasks == ("binary_classification",)
    fair_default = m["fairness.disparate_impact"].default
    assert fair_default is not None and fair_default.threshold == 0.8
    assert m["drift.chi2_pvalue"].lower_is_worse and m["drift.chi2_pvalue"].kinds == ("categorical",)
    assert m["drift.kolmogorov_smirnov"].auto == "ks" and m["drift.jensen_shannon"].auto == "chi2"
    assert m["drift.wasserstein"].auto == "w1" and m["drift.wasserstein"].effect_floor == 0.05
    assert m["performance.rmse"].tasks == ("regression",) and m["performance.rmse"].worse == "higher"
    assert m["estimated.f1"].needs_score
    # SPEC §4: open-window judging for rates, distances, performance; not counts and sums
    assert not catalogue.judged_on_open_window("volume.rows")
    assert not catalogue.judged_on_open_window("business.spend")
    for name in ("drift.psi", "quality.missing_rate", "performance.accuracy", "quality.time_error_rate"):
        assert catalogue.judged_on_open_window(name)
    for spec in m.values():
        lo, hi = spec.range
        assert lo < hi
        if spec.auto is not None:
            assert spec.family == "drift" and (spec.func is not None or spec.auto == "w1")  # W1: edges and tails


def test_config_vocabulary_is_the_catalogues() -> None:
    assert catalogue.names(level="column") == config.COLUMN_METRICS
    assert "drift.kolmogorov_smirnov" in config.NUMERICAL_ONLY_METRICS
    assert config.PERFORMANCE_METRICS["multiclass_classification"] == ("accuracy", "macro_f1")


def _cfg(**extra: object) -> dict[str, object]:
    d: dict[str, object] = {
        "model_id": "m1",
        "task": "binary_classification",
        "columns": {
            "id": "id",
            "timestamp": "ts",
            "prediction": "pred",
            "features": {"numerical": ["x"], "categorical": ["c"]},
        },
        "window": "1h",
    }
    d.update(extra)
    return d


def test_auto_and_false_alarm_rate_in_config() -> None:
    cfg = load_config_dict(
        _cfg(
            detection={"false_alarm_rate": 0.01},
            alerts=[
                {"name": "a", "metric": "drift.jensen_shannon", "above": "auto"},
                {"name": "b", "metric": "drift.chi2_pvalue", "columns": ["c"], "below": "auto"},
                {"name": "c", "metric": "drift.psi", "above": 0.2},
            ],
        )
    )
    assert cfg.false_alarm_rate == 0.01
    a, b, c = cfg.alerts
    assert a.auto and math.isnan(a.threshold) and b.auto and not c.auto and c.threshold == 0.2
    again = load_config_dict(cfg.to_dict())
    assert again.false_alarm_rate == 0.01 and [r.auto for r in again.alerts] == [True, True, False]
    assert load_config_dict(_cfg()).false_alarm_rate == 0.001


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"detection": {"false_alarm_rate": 0}}, "detection.false_alarm_rate: 0 is out of range"),
        ({"detection": {"false_alarm_rate": 0.5}}, "detection.false_alarm_rate: 0.5 is out of range"),
        ({"detection": {"false_alarm_rate": "x"}}, "detection.false_alarm_rate: expected a number"),
        ({"detection": {"false_alarm": 0.01}}, "detection: unknown key 'false_alarm'"),
        (
            {"alerts": [{"name": "a", "metric": "quality.missing_rate", "above": "auto"}]},
            "alerts[0].above: 'auto' applies to drift metrics only",
        ),
        (
            {"alerts": [{"name": "a", "metric": "drift.wasserstein", "below": "auto"}]},
            "alerts[0].below: 'auto' is not allowed here",
        ),
        (
            {"alerts": [{"name": "a", "metric": "drift.jensen_shannon", "below": "auto"}]},
            "alerts[0].below: 'auto' is not allowed here",
        ),
        (
            {"alerts": [{"name": "a", "metric": "drift.jensen_shannon", "above_baseline_by": "auto"}]},
            "alerts[0].above_baseline_by: 'auto' is not allowed here",
        ),
    ],
)
def test_config_errors_name_the_key(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_dict(_cfg(**extra))
    assert message in str(err.value)


def test_default_rules_come_from_the_catalogue() -> None:
    cfg = load_config_dict(_cfg())
    got = {r.name: r for r in rules.default_rules(cfg, {("performance.accuracy", None): 0.9})}
    drift = got["default-feature-drift"]
    assert drift.metric == "drift.jensen_shannon" and drift.auto and drift.columns == ("x", "c")
    assert got["default-performance"].threshold == pytest.approx(0.045)
    assert got["default-missing-values"].threshold == 0.1 and not got["default-missing-values"].auto
    assert "default-no-data" in got
    assert "default-performance" not in {r.name for r in rules.default_rules(cfg, {})}
    shift = got["default-feature-shift"]  # W1 beside JS, on the numerical features only
    assert shift.metric == "drift.wasserstein" and shift.auto and shift.columns == ("x",)
    columns = {"id": "id", "timestamp": "ts", "prediction": "pred", "features": {"categorical": ["c"]}}
    only_categories = load_config_dict(_cfg(columns=columns))
    assert "default-feature-shift" not in {r.name for r in rules.default_rules(only_categories, {})}


def test_auto_rules_on_one_column_share_its_false_alarm_rate() -> None:
    """``detection.false_alarm_rate`` is per column and window: the k ``auto`` rules judging a column (and segment)
    spend 1/k of it each; fixed rules and other columns are not counted."""
    cfg = load_config_dict(_cfg())
    defaults = rules.default_rules(cfg, {})
    shares = rules.alpha_shares(rules.targets(defaults, [None, "c=a"]))
    by = {(k.split("#")[1], k.split("#")[2]): v for k, v in shares.items()}
    assert by == {("default-feature-drift", "x"): 0.5, ("default-feature-shift", "x"): 0.5,
                  ("default-feature-drift", "c"): 1.0}  # fmt: skip
    fixed = [replace(r, auto=False, threshold=0.1) if r.metric == "drift.wasserstein" else r for r in defaults]
    assert set(rules.alpha_shares(rules.targets(fixed, [None])).values()) == {1.0}


def test_drifted_details_use_each_columns_threshold_and_the_catalogue_direction() -> None:
    from driftline.services.alerts import drifted_details

    flat = [
        ("drift.jensen_shannon", "a", None, 0.30),
        ("drift.jensen_shannon", "b", None, 0.08),
        ("drift.jensen_shannon", "c", None, 0.05),
        ("drift.chi2_pvalue", "a", None, 0.0001),
        ("drift.chi2_pvalue", "b", None, 0.5),
    ]
    got = drifted_details(
        "drift.jensen_shannon", flat, segment=None, threshold=0.1, exclude="a", per_column={"b": 0.06, "c": 0.2}
    )
    assert got == {"drifted_columns": [{"column": "b", "value": 0.08, "threshold": 0.06}]}
    low = drifted_details("drift.chi2_pvalue", flat, segment=None, threshold=0.001, exclude=None)
    assert low == {"drifted_columns": [{"column": "a", "value": 0.0001, "threshold": 0.001}]}
    # worst first is furthest beyond its own threshold: W1 is in each column's units, raw values do not compare
    w1 = [("drift.wasserstein", "spend", None, 40.0), ("drift.wasserstein", "tenure", None, 3.0)]
    got = drifted_details("drift.wasserstein", w1, segment=None, threshold=1.0, exclude=None,
                          per_column={"spend": 25.0, "tenure": 0.5})  # fmt: skip
    assert [d["column"] for d in got["drifted_columns"]] == ["tenure", "spend"]  # 6x its threshold, then 1.6x


def test_other_rules_name_the_other_drift_rules_of_the_column() -> None:
    from driftline.services.alerts import other_rules

    breaching = [
        ("default-feature-drift", "drift.jensen_shannon", 0.09, 0.03),
        ("default-feature-shift", "drift.wasserstein", 4.2, 1.5),
    ]
    got = other_rules(breaching, rule="default-feature-drift")
    assert got == {"other_rules": [{"rule": "default-feature-shift", "metric": "drift.wasserstein", "value": 4.2,
                                    "threshold": 1.5}]}  # fmt: skip
    assert other_rules(breaching[:1], rule="default-feature-drift") == {}  # alone: nothing to say
