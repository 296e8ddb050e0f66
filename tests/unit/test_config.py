"""The model configuration (SPEC section 2): parsing, defaults, round trip, and every kind of mistake."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftline.core.config import (
    COLUMN_METRICS,
    MODEL_METRICS,
    PERFORMANCE_METRICS,
    RULE_OPS,
    SEVERITIES,
    TASKS,
    AlertRule,
    BusinessMetric,
    Columns,
    FeatureColumns,
    ModelConfig,
    WhereClause,
    load_config,
    load_config_dict,
    load_config_file,
    parse_duration,
)
from driftline.core.errors import ConfigError, DriftlineError

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "churn-v3.yaml"
FEATURES = ("tenure_months", "monthly_spend", "support_tickets", "plan", "country", "payment_method")


def example() -> dict[str, Any]:
    """The SPEC section 2 example as plain data, a fresh copy for each test to change."""
    return copy.deepcopy(_EXAMPLE)


_EXAMPLE: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model_id": "m1",
        "task": "regression",
        "columns": {"id": "id", "timestamp": "ts", "prediction": "yhat", "features": {"numerical": ["x"]}},
        "window": "5m",
    }
    data.update(changes)
    return data


def config_error(data: object, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config_dict(data, **kwargs)
    return caught.value


def yaml_error(text: str | bytes, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(text, **kwargs)
    return caught.value


def has(error: ConfigError, fragment: str) -> bool:
    return any(fragment in message for message in error.errors)


# ---------------------------------------------------------------------------------------------------------------
# The SPEC example


def test_spec_example_parses_to_the_expected_objects() -> None:
    # Given the SPEC section 2 example, as a file
    # When it is loaded
    config = load_config_file(FIXTURE)

    # Then every part of it is there, typed, with the defaults filled in
    assert config == ModelConfig(
        model_id="churn-v3",
        task="binary_classification",
        columns=Columns(
            id="request_id",
            timestamp="event_time",
            prediction="will_churn",
            score="churn_probability",
            label="churned",
            features=FeatureColumns(
                numerical=("tenure_months", "monthly_spend", "support_tickets"),
                categorical=("plan", "country", "payment_method"),
            ),
            segments=("country",),
        ),
        window="1h",
        window_seconds=3600,
        business_metrics=(
            BusinessMetric(
                name="retention_value",
                type="cost_matrix",
                values={"tp": 120.0, "fp": -15.0, "fn": -400.0, "tn": 0.0},
                column=None,
                where=None,
            ),
            BusinessMetric(
                name="spend_at_risk",
                type="sum",
                values=None,
                column="monthly_spend",
                where=WhereClause(column="will_churn", equals=1),
            ),
            BusinessMetric(name="churn_rate_predicted", type="mean", values=None, column="will_churn", where=None),
        ),
        alerts=(
            AlertRule(
                name="feature-drift",
                metric="drift.jensen_shannon",
                columns=FEATURES,
                segment=None,
                op="above",
                threshold=0.1,
                severity="warning",
            ),
            AlertRule(
                name="accuracy-drop",
                metric="performance.accuracy",
                columns=None,
                segment=None,
                op="below_baseline_by",
                threshold=0.02,
                for_windows=2,
                min_rows=100,
                severity="critical",
            ),
        ),
        positive_class=None,
    )


def test_spec_example_properties() -> None:
    # Given the SPEC example
    config = load_config_file(FIXTURE)

    # Then the derived column lists come in the documented order
    assert config.numerical_features == ("tenure_months", "monthly_spend", "support_tickets")
    assert config.categorical_features == ("plan", "country", "payment_method")
    assert config.features == FEATURES
    assert config.monitored_columns == (*FEATURES, "will_churn", "churn_probability", "churned")
    # And the cost matrix cannot be changed through the config
    values = config.business_metrics[0].values
    assert values is not None
    with pytest.raises(TypeError):
        values["tp"] = 0.0  # type: ignore[index]


def test_config_objects_are_frozen_and_hashable() -> None:
    # Given a loaded config
    config = load_config_file(FIXTURE)

    # Then it cannot be changed, and can be hashed (e.g. cached per model)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.window = "5m"  # type: ignore[misc]
    assert hash(config) == hash(load_config_file(FIXTURE))


def test_exported_vocabulary() -> None:
    # Then the catalogue matches SPEC section 3
    assert TASKS == ("binary_classification", "multiclass_classification", "regression")
    assert SEVERITIES == ("info", "warning", "critical")
    assert RULE_OPS == ("above", "below", "above_baseline_by", "below_baseline_by")
    assert len(COLUMN_METRICS) == 10
    assert MODEL_METRICS == ("volume.rows", "volume.files", "quality.time_error_rate")
    assert PERFORMANCE_METRICS["regression"] == ("mae", "rmse", "mape", "r2")


# ---------------------------------------------------------------------------------------------------------------
# Round trip and defaults


def test_round_trip_through_to_dict() -> None:
    # Given the SPEC example loaded
    config = load_config_file(FIXTURE)

    # When it is turned into a dict and loaded again (directly, through JSON, and through YAML)
    plain = config.to_dict()

    # Then the same config comes back every way
    assert load_config_dict(plain) == config
    assert load_config_dict(json.loads(json.dumps(plain))) == config
    assert load_config(yaml.safe_dump(plain)) == config


def test_round_trip_of_a_config_using_every_option() -> None:
    # Given a config with segments, segment rules, explicit columns and a positive class
    data = example()
    data["positive_class"] = "yes"
    data["alerts"] += [
        {
            "name": "us-missing",
            "metric": "quality.missing_rate",
            "columns": ["plan", "will_churn"],
            "segment": "country=US",
            "above": 0.05,
            "min_rows": 0,
            "severity": "info",
        },
        {"name": "per-country-volume", "metric": "volume.rows", "segment": "country", "below": 10},
        {"name": "value", "metric": "business.retention_value", "below": -1000},
        {"name": "est-auc", "metric": "estimated.roc_auc", "below_baseline_by": 0.05},
    ]

    # When it is loaded, dumped and loaded again
    config = load_config_dict(data)

    # Then nothing is lost
    assert load_config_dict(config.to_dict()) == config
    assert config.positive_class == "yes"
    rule = config.alerts[2]
    assert (rule.columns, rule.segment, rule.segment_column, rule.segment_value) == (
        ("plan", "will_churn"),
        "country=US",
        "country",
        "US",
    )
    assert config.alerts[3].segment_column == "country"
    assert config.alerts[3].segment_value is None


def test_minimal_config_gets_the_defaults() -> None:
    # Given only the required keys
    # When loaded
    config = load_config_dict(minimal())

    # Then the optional parts are empty and the rule defaults are not needed
    assert config.business_metrics == ()
    assert config.alerts == ()
    assert config.positive_class is None
    assert config.columns.score is None
    assert config.columns.label is None
    assert config.columns.segments == ()
    assert config.columns.features.categorical == ()
    assert config.window_seconds == 300
    assert config.monitored_columns == ("x", "yhat")


def test_null_optional_keys_count_as_absent() -> None:
    # Given optional keys written without a value (`alerts:` with nothing under it)
    data = minimal(alerts=None, business_metrics=None, positive_class=None)
    data["columns"].update(score=None, label=None, segments=None)
    data["columns"]["features"]["categorical"] = None

    # When loaded
    config = load_config_dict(data)

    # Then they are as if absent
    assert config == load_config_dict(minimal())


def test_rule_defaults() -> None:
    # Given a rule with only a name, a metric and a threshold
    config = load_config_dict(minimal(alerts=[{"name": "r", "metric": "drift.psi", "above": 0.2}]))

    # Then for, min_rows and severity take their defaults and columns is "not given"
    rule = config.alerts[0]
    assert (rule.columns, rule.segment, rule.for_windows, rule.min_rows, rule.severity) == (
        None,
        None,
        1,
        100,
        "warning",
    )


def test_positive_class_given_as_a_number_is_kept_as_a_string() -> None:
    # Given a binary model whose positive class is written as 1
    data = example()
    data["positive_class"] = 1

    # Then it is the string "1"
    assert load_config_dict(data).positive_class == "1"


def test_expected_model_id_that_matches_is_accepted() -> None:
    # Given the S3 key's model id equals the config's
    # Then the config loads
    assert load_config(FIXTURE.read_text(), expected_model_id="churn-v3").model_id == "churn-v3"


def test_yaml_numbers_in_exponent_form_are_numbers() -> None:
    # Given a threshold written as 1e-3 (a string for YAML 1.1, a number for everyone else)
    text = FIXTURE.read_text().replace("above: 0.1", "above: 1e-3")

    # Then it is read as a number
    assert load_config(text).alerts[0].threshold == pytest.approx(0.001)


def test_bytes_with_a_utf8_bom_are_accepted() -> None:
    # Given the example as UTF-8 bytes with a byte-order mark
    data = b"\xef\xbb\xbf" + FIXTURE.read_bytes()

    # Then it loads
    assert load_config(data).model_id == "churn-v3"


# ---------------------------------------------------------------------------------------------------------------
# parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h", 3600), ("24h", 86400), ("2d", 172800), ("1w", 604800), (" 7d ", 604800)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    # When a duration is parsed / Then it is the number of seconds
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["3x", "1", "h", "1.5h", "-1h", "0m", "1h30m", "", "1H", "1 h"])
def test_parse_duration_rejects(text: str) -> None:
    # When a malformed duration is parsed / Then a ValueError quotes it
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(3600)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# Mistakes: each one is a ConfigError whose message names the key


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the example: set the value at a dotted path with [i] indexes (creating the last key)."""

    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[parts[-1]]

    return apply


def _rule(**rule: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        data["alerts"].append({"name": "extra", **rule})

    return apply


MISTAKES = [
    # unknown keys, at each level
    pytest.param(
        _set("modle_id", "x"), "top level: unknown key 'modle_id' (did you mean 'model_id'?)", id="unknown top key"
    ),
    pytest.param(
        _set("columns.lable", "y"), "columns: unknown key 'lable' (did you mean 'label'?)", id="unknown columns key"
    ),
    pytest.param(
        _set("columns.features.numeric", ["a"]), "columns.features: unknown key 'numeric'", id="unknown features key"
    ),
    pytest.param(
        _set("business_metrics[2].colum", "x"), "business_metrics[2]: unknown key 'colum'", id="unknown business key"
    ),
    pytest.param(
        _set("business_metrics[0].values.tx", 1),
        "business_metrics[0].values: unknown key 'tx'",
        id="unknown values key",
    ),
    pytest.param(
        _set("business_metrics[1].where.eq", 1), "business_metrics[1].where: unknown key 'eq'", id="unknown where key"
    ),
    pytest.param(
        _set("alerts[1].abov", 1), "alerts[1]: unknown key 'abov' (did you mean 'above'?)", id="unknown rule key"
    ),
    pytest.param(_set("columns.features.7", ["a"]), "columns.features: unknown key 7", id="non-string key"),
    # wrong types
    pytest.param(
        _set("columns.features.numerical[2]", 3),
        "columns.features.numerical[2]: expected a string, got 3",
        id="feature not a string",
    ),
    pytest.param(
        _set("columns.features.categorical[0]", True),
        "columns.features.categorical[0]: expected a string, got true",
        id="feature a boolean",
    ),
    pytest.param(
        _set("columns.features.numerical", "a"),
        "columns.features.numerical: expected a list, got 'a'",
        id="features not a list",
    ),
    pytest.param(_set("columns", ["a"]), "columns: expected a mapping, got a list", id="columns not a mapping"),
    pytest.param(_set("alerts", {"name": "x"}), "alerts: expected a list, got a mapping", id="alerts not a list"),
    pytest.param(_set("alerts[0]", "drift"), "alerts[0]: expected a mapping, got 'drift'", id="rule not a mapping"),
    pytest.param(
        _set("alerts[0].above", "high"), "alerts[0].above: expected a number, got 'high'", id="threshold a string"
    ),
    pytest.param(
        _set("alerts[0].above", True), "alerts[0].above: expected a number, got true", id="threshold a boolean"
    ),
    pytest.param(
        _set("alerts[0].above", float("nan")), "alerts[0].above: expected a finite number", id="threshold not finite"
    ),
    pytest.param(
        _set("business_metrics[0].values.fp", "-15"),
        "business_metrics[0].values.fp: expected a number",
        id="cost not a number",
    ),
    pytest.param(_set("alerts[1].for", 1.5), "alerts[1].for: expected a whole number, got 1.5", id="for a float"),
    pytest.param(_set("alerts[1].for", True), "alerts[1].for: expected a whole number, got true", id="for a boolean"),
    pytest.param(
        _set("business_metrics[1].where.equals", [1]),
        "business_metrics[1].where.equals: expected a string, number or boolean",
        id="equals a list",
    ),
    pytest.param(_set("window", 3600), "window: expected a duration such as '1h', got 3600", id="window a number"),
    # missing required keys
    pytest.param(_delete("task"), "task: required key is missing", id="no task"),
    pytest.param(_delete("model_id"), "model_id: required key is missing", id="no model_id"),
    pytest.param(_delete("window"), "window: required key is missing", id="no window"),
    pytest.param(
        _delete("columns.prediction"), "columns.prediction: required key is missing", id="no prediction column"
    ),
    pytest.param(_delete("columns.features"), "columns.features: required key is missing", id="no features"),
    pytest.param(_delete("alerts[0].name"), "alerts[0].name: required key is missing", id="no rule name"),
    pytest.param(_delete("alerts[0].metric"), "alerts[0].metric: required key is missing", id="no rule metric"),
    pytest.param(
        _delete("alerts[0].above"),
        "alerts[0]: expected exactly one of above, below, above_baseline_by, below_baseline_by; found none",
        id="no threshold",
    ),
    pytest.param(
        _set("alerts[0].below", 0.5),
        "alerts[0]: expected exactly one of above, below, above_baseline_by, below_baseline_by; found above, below",
        id="two thresholds",
    ),
    pytest.param(
        _delete("business_metrics[0].values"),
        "business_metrics[0].values: required key is missing",
        id="no cost values",
    ),
    pytest.param(
        _delete("business_metrics[0].values.fn"),
        "business_metrics[0].values.fn: required key is missing",
        id="cost fn missing",
    ),
    pytest.param(
        _delete("business_metrics[1].column"),
        "business_metrics[1].column: required key is missing",
        id="sum without column",
    ),
    pytest.param(
        _delete("business_metrics[2].type"),
        "business_metrics[2].type: required key is missing",
        id="business without type",
    ),
    # bad values
    pytest.param(_set("model_id", "Churn_V3"), "model_id: 'Churn_V3' is not a valid model id", id="model id uppercase"),
    pytest.param(_set("model_id", "a/b"), "model_id: 'a/b' is not a valid model id", id="model id with slash"),
    pytest.param(_set("model_id", "a" * 64), "is not a valid model id", id="model id too long"),
    pytest.param(_set("model_id", "abc\n"), "is not a valid model id", id="model id newline"),
    pytest.param(
        _set("task", "classification"),
        "task: expected one of binary_classification, multiclass_classification, regression; got 'classification'",
        id="unknown task",
    ),
    pytest.param(_set("window", "3x"), "window: invalid duration '3x'", id="window unit"),
    pytest.param(_set("window", "1m"), "window: '1m' is out of range; expected from 5m to 7d", id="window too short"),
    pytest.param(_set("window", "8d"), "window: '8d' is out of range", id="window too long"),
    pytest.param(_set("window", "0h"), "window: invalid duration '0h'", id="window zero"),
    pytest.param(
        _set("alerts[0].severity", "fatal"),
        "alerts[0].severity: expected one of info, warning, critical; got 'fatal'",
        id="severity",
    ),
    pytest.param(_set("alerts[1].for", 0), "alerts[1].for: 0 is out of range", id="for zero"),
    pytest.param(_set("alerts[1].min_rows", -1), "alerts[1].min_rows: -1 is out of range", id="min_rows negative"),
    pytest.param(
        _set("business_metrics[2].type", "median"),
        "business_metrics[2].type: expected one of cost_matrix, sum, mean; got 'median'",
        id="business type",
    ),
    pytest.param(
        _set("business_metrics[2].name", "churn rate!"),
        "business_metrics[2].name: 'churn rate!' is not a valid name",
        id="business name",
    ),
    pytest.param(
        _set("alerts[0].name", "drift alert"), "alerts[0].name: 'drift alert' is not a valid name", id="rule name"
    ),
    pytest.param(_set("alerts[0].name", "r" * 129), "alerts[0].name: longer than 128 characters", id="name too long"),
    pytest.param(_set("columns.id", " "), "columns.id: must not be empty", id="empty column name"),
    # impossible thresholds
    pytest.param(
        _set("alerts[0].above", 1.5),
        "alerts[0].above: 1.5 is impossible: drift.jensen_shannon lies between 0 and 1",
        id="JS above 1",
    ),
    pytest.param(
        _set("alerts[1].below_baseline_by", -0.02),
        "alerts[1].below_baseline_by: must not be negative",
        id="negative baseline_by",
    ),
    pytest.param(
        _set("alerts[1].below_baseline_by", 2), "alerts[1].below_baseline_by: 2 is impossible", id="accuracy drop of 2"
    ),
    pytest.param(
        _rule(metric="quality.missing_rate", below=-0.1), "alerts[2].below: -0.1 is impossible", id="negative rate"
    ),
    pytest.param(
        _rule(metric="volume.rows", below=-5),
        "alerts[2].below: -5 is impossible: volume.rows is never below 0",
        id="negative volume",
    ),
    # unknown metrics and columns
    pytest.param(
        _set("alerts[0].metric", "drift.jsd"), "alerts[0].metric: unknown metric 'drift.jsd'", id="unknown metric"
    ),
    pytest.param(
        _set("alerts[0].metric", "drift.jensen_shanon"),
        "(did you mean 'drift.jensen_shannon'?)",
        id="metric typo suggestion",
    ),
    pytest.param(
        _rule(metric="performance.mae", above=1),
        "alerts[2].metric: 'performance.mae' is not computed for task binary_classification",
        id="regression metric on binary",
    ),
    pytest.param(
        _rule(metric="business.profit", below=0),
        "alerts[2].metric: no business metric named 'profit'",
        id="unknown business metric",
    ),
    pytest.param(
        _set("alerts[0].columns", ["tenure_months", "nope"]),
        "alerts[0].columns[1]: unknown column 'nope'",
        id="unknown rule column",
    ),
    pytest.param(
        _set("alerts[0].columns", ["request_id"]),
        "alerts[0].columns[0]: unknown column 'request_id'",
        id="request id is not monitored",
    ),
    pytest.param(
        _set("alerts[0].columns", "all_feature"),
        "alerts[0].columns: expected a list of column names or 'all_features'",
        id="rule columns typo",
    ),
    pytest.param(_set("alerts[0].columns", []), "alerts[0].columns: must not be empty", id="rule columns empty"),
    pytest.param(
        _set("alerts[0].columns", ["plan", "plan"]),
        "alerts[0].columns[1]: column 'plan' is listed twice",
        id="rule column twice",
    ),
    pytest.param(
        _set("alerts[1].columns", ["plan"]),
        "alerts[1].columns: not allowed: performance.accuracy is a model-level metric",
        id="columns on model metric",
    ),
    pytest.param(
        _rule(metric="volume.rows", columns="all_features", below=1),
        "alerts[2].columns: not allowed: volume.rows",
        id="columns on volume",
    ),
    pytest.param(
        _rule(metric="drift.chi2_pvalue", columns=["monthly_spend"], below=0.01),
        "alerts[2].columns[0]: drift.chi2_pvalue applies to categorical columns",
        id="chi2 on numerical",
    ),
    pytest.param(
        _rule(metric="drift.kolmogorov_smirnov", columns=["plan"], above=0.2),
        "alerts[2].columns[0]: drift.kolmogorov_smirnov applies to numerical columns",
        id="KS on categorical",
    ),
    pytest.param(
        _set("alerts[0].segment", "plan"), "alerts[0].segment: 'plan' is not a segments column", id="unknown segment"
    ),
    pytest.param(
        _set("alerts[0].segment", "country="), "alerts[0].segment: missing segment value", id="empty segment value"
    ),
    pytest.param(
        _set("alerts[1].name", "feature-drift"),
        "alerts[1].name: duplicate rule name 'feature-drift' (also alerts[0])",
        id="duplicate rule names",
    ),
    pytest.param(
        _set("business_metrics[2].name", "spend_at_risk"),
        "business_metrics[2].name: duplicate name 'spend_at_risk'",
        id="duplicate business names",
    ),
    # column declarations
    pytest.param(
        _set("columns.prediction", "plan"),
        "columns.features.categorical[0]: column 'plan' is already declared as columns.prediction",
        id="column in two roles",
    ),
    pytest.param(
        _set("columns.features.numerical[2]", "tenure_months"),
        "columns.features.numerical[2]: column 'tenure_months' is already declared",
        id="feature twice",
    ),
    pytest.param(
        _set("columns.segments", ["monthly_spend"]),
        "columns.segments[0]: 'monthly_spend' is not a categorical feature",
        id="segment not categorical",
    ),
    pytest.param(
        _set("columns.segments", ["country", "country"]),
        "columns.segments[1]: segment column 'country' is listed twice",
        id="segment twice",
    ),
    pytest.param(
        _set("columns.features", {"numerical": [], "categorical": []}),
        "columns.features: at least one numerical or categorical feature is required",
        id="no feature at all",
    ),
    pytest.param(
        _set("business_metrics[1].where.column", "churn"),
        "business_metrics[1].where.column: unknown column 'churn'",
        id="where on unknown column",
    ),
    pytest.param(
        _set("business_metrics[1].column", "spend"),
        "business_metrics[1].column: unknown column 'spend'",
        id="sum of unknown column",
    ),
    pytest.param(
        _set("business_metrics[0].column", "plan"),
        "business_metrics[0].column: not used by type cost_matrix",
        id="column on cost_matrix",
    ),
    pytest.param(
        _set("business_metrics[2].values", {"tp": 1}),
        "business_metrics[2].values: only used by type cost_matrix",
        id="values on mean",
    ),
    # size bounds
    pytest.param(
        _set("columns.features.numerical", [f"f{i}" for i in range(501)]),
        "columns.features.numerical: too many entries (501); at most 500",
        id="too many features",
    ),
    pytest.param(
        _set("columns.features.categorical", [f"c{i}" for i in range(498)]),
        "columns.features: too many features (501)",
        id="too many features in total",
    ),
    pytest.param(
        _set("alerts", [{"name": f"r{i}", "metric": "drift.psi", "above": 0.2} for i in range(51)]),
        "alerts: too many entries (51); at most 50",
        id="too many rules",
    ),
    pytest.param(
        _set("business_metrics", [{"name": f"b{i}", "type": "mean", "column": "plan"} for i in range(21)]),
        "business_metrics: too many entries (21); at most 20",
        id="too many business metrics",
    ),
]


@pytest.mark.parametrize(("change", "message"), MISTAKES)
def test_each_mistake_is_reported_naming_the_key(change: Callable[[dict[str, Any]], None], message: str) -> None:
    # Given the SPEC example with one mistake in it
    data = example()
    change(data)

    # When it is loaded
    error = config_error(data, source="s3://bucket/models/churn-v3/config.yaml")

    # Then a ConfigError names the key at fault, and where the config came from
    assert has(error, message), error.errors
    assert str(error).startswith("s3://bucket/models/churn-v3/config.yaml: ")
    assert isinstance(error, DriftlineError)


def test_model_id_must_match_the_s3_key() -> None:
    # Given a config for churn-v3 dropped under models/churn-v4/
    # When it is loaded with the key's model id
    error = yaml_error(FIXTURE.read_text(), expected_model_id="churn-v4")

    # Then the mismatch is reported on model_id
    assert error.errors == ["model_id: 'churn-v3' does not match the model id 'churn-v4' of the S3 key"]


def test_regression_task_rejects_binary_only_parts() -> None:
    # Given the binary example switched to regression
    data = example()
    data["task"] = "regression"

    # When it is loaded
    error = config_error(data)

    # Then the score column, the cost matrix and the accuracy rule are each reported
    assert has(error, "columns.score: a score column is only used by classification tasks")
    assert has(error, "business_metrics[0].type: cost_matrix needs task binary_classification, not regression")
    assert has(error, "alerts[1].metric: 'performance.accuracy' is not computed for task regression")
    assert len(error.errors) == 3


def test_estimated_metrics_need_a_score() -> None:
    # Given a binary model without a score column and a rule on an estimated metric
    data = example()
    del data["columns"]["score"]
    data["alerts"].append({"name": "est", "metric": "estimated.accuracy", "below_baseline_by": 0.05})

    # When it is loaded / Then the metric is rejected
    error = config_error(data)
    assert error.errors == [
        "alerts[2].metric: 'estimated.accuracy' needs task binary_classification and a columns.score column"
    ]


def test_positive_class_only_for_binary() -> None:
    error = config_error(minimal(positive_class="1"))
    assert error.errors == ["positive_class: only used by task binary_classification, not regression"]


def test_several_mistakes_are_all_reported_at_once() -> None:
    # Given a config with mistakes in many places
    data = example()
    data["model_id"] = "Churn"
    data["window"] = "3x"
    data["columns"]["features"]["numerical"][2] = 3
    data["alerts"][0]["abov"] = 0.1
    data["alerts"][1]["severity"] = "fatal"
    data["business_metrics"][2]["type"] = "median"

    # When it is loaded
    error = config_error(data)

    # Then every one of them is in the one error
    for fragment in (
        "model_id: 'Churn' is not a valid model id",
        "window: invalid duration '3x'",
        "columns.features.numerical[2]: expected a string, got 3",
        "alerts[0]: unknown key 'abov'",
        "alerts[1].severity: expected one of info, warning, critical",
        "business_metrics[2].type: expected one of cost_matrix, sum, mean",
    ):
        assert has(error, fragment), (fragment, error.errors)
        assert fragment in str(error)


def test_errors_do_not_cascade_from_a_broken_columns_section() -> None:
    # Given a config whose columns section is broken
    data = example()
    data["columns"] = "request_id"

    # When it is loaded
    error = config_error(data)

    # Then only the columns section is reported, not every rule and business metric that refers to it
    assert error.errors == ["columns: expected a mapping, got 'request_id'"]


def test_an_overwhelming_number_of_mistakes_is_capped() -> None:
    # Given 500 features that are all numbers
    data = example()
    data["columns"]["features"]["numerical"] = list(range(500))

    # Then the message stays readable
    error = config_error(data)
    assert len(error.errors) == 101
    assert error.errors[-1].startswith("... and ")


@pytest.mark.parametrize("data", [[], "churn-v3", 42, None], ids=["list", "string", "number", "null"])
def test_top_level_must_be_a_mapping(data: object) -> None:
    # Given a document that is not a mapping / Then the top level is reported
    error = config_error(data)
    assert len(error.errors) == 1
    assert error.errors[0].startswith("top level: ")


# ---------------------------------------------------------------------------------------------------------------
# YAML text


def test_bad_yaml_syntax_names_the_line() -> None:
    # Given YAML with an unclosed flow sequence on line 3
    text = "model_id: m1\ntask: regression\ncolumns: {features: {numerical: [a, b}\n"

    # When it is loaded / Then the error says it is invalid YAML and where
    error = yaml_error(text, source="config.yaml")
    assert len(error.errors) == 1
    assert error.errors[0].startswith("invalid YAML at line 3")
    assert error.source == "config.yaml"


def test_yaml_top_level_list_is_rejected() -> None:
    error = yaml_error("- model_id: m1\n- task: regression\n")
    assert error.errors == ["top level: expected a mapping, got a list"]


def test_empty_yaml_is_rejected() -> None:
    error = yaml_error("# nothing here\n")
    assert error.errors[0].startswith("top level: the configuration is empty")


def test_python_object_tag_is_not_constructed_and_names_the_key(tmp_path: Path) -> None:
    # Given a config that tries to construct a Python object (which would run code with an unsafe loader)
    marker = tmp_path / "pwned"
    text = FIXTURE.read_text().replace("window: 1h", f'window: !!python/object/apply:os.system ["touch {marker}"]')

    # When it is loaded
    error = yaml_error(text)

    # Then nothing ran, and the error names the key holding the tag
    assert not marker.exists()
    assert error.errors == [
        "window: expected a duration such as '1h', got a value tagged !!python/object/apply:os.system "
        "(YAML tags are not supported)"
    ]


def test_python_object_tag_at_the_top_level() -> None:
    error = yaml_error("!!python/object:collections.OrderedDict {model_id: m1}\n")
    assert error.errors == [
        "top level: expected a mapping, got a value tagged !!python/object:collections.OrderedDict "
        "(YAML tags are not supported)"
    ]


def test_duplicate_yaml_keys_are_rejected() -> None:
    # Given a mapping with the same key twice (YAML loaders usually keep the last one silently)
    text = FIXTURE.read_text() + "window: 5m\n"

    # When loaded / Then the duplicate is reported with its line
    error = yaml_error(text)
    assert len(error.errors) == 1
    assert "duplicate key 'window'" in error.errors[0]
    assert "line 21" in error.errors[0]


def test_yaml_merge_keys_are_allowed() -> None:
    # Given rules sharing settings through an anchor and merge keys
    text = (
        FIXTURE.read_text()
        .replace("alerts:", "x-common: &common {severity: critical, for: 3}\nalerts:")
        .replace("{name: accuracy-drop,", "{<<: *common, name: accuracy-drop,")
    )

    # When loaded / Then the merge works but the extra top-level key is still reported
    error = yaml_error(text)
    assert error.errors[0].startswith("top level: unknown key 'x-common'")
    assert len(error.errors) == 1


def test_multiple_yaml_documents_are_rejected() -> None:
    error = yaml_error(FIXTURE.read_text() + "---\nmodel_id: other\n")
    assert error.errors[0].startswith("invalid YAML")


def test_alias_bombs_are_harmless() -> None:
    # Given a "billion laughs" document: 9 levels of lists of 9 aliases to the level below
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    text = "bomb:\n" + "\n".join("  " + line for line in lines) + "\ncolumns: {features: {numerical: *l9}}\n"
    text += "alerts: *l9\nbusiness_metrics: *l9\n"

    # When it is loaded / Then it fails quickly with short messages
    error = yaml_error(text)
    assert has(error, "top level: unknown key 'bomb'")
    assert has(error, "columns.features.numerical[0]: expected a string, got a list")
    assert len(str(error)) < 20_000


def test_deeply_nested_yaml_is_rejected() -> None:
    error = yaml_error("a: " + "[" * 5_000)
    assert error.errors[0].startswith("invalid YAML")


def test_oversized_text_is_rejected() -> None:
    error = yaml_error("# " + "x" * 1_000_001)
    assert "larger than" in error.errors[0] or "longer than" in error.errors[0]


def test_invalid_utf8_is_rejected() -> None:
    error = yaml_error(b"model_id: \xff\xfe\n")
    assert error.errors[0].startswith("top level: not UTF-8 text")


def test_yes_no_booleans_get_a_hint() -> None:
    # Given a column called "on" written without quotes (YAML 1.1 reads it as true)
    data = minimal()
    data["columns"]["features"]["categorical"] = [True]

    # Then the error explains the quoting
    error = config_error(data)
    assert has(error, "columns.features.categorical[0]: expected a string, got true (YAML reads yes/no/on/off")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    # Given a path that does not exist
    path = tmp_path / "nope.yaml"

    # When loaded / Then a ConfigError names the file
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.source == str(path)
    assert caught.value.errors[0].startswith("cannot read the file")
