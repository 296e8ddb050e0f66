"""The configuration's vocabulary and its frozen objects (SPEC section 2): what a loaded config is."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from driftline.core import catalogue
from driftline.core.eventtime import EventTimeSettings
from driftline.core.fairness import FairnessConfig
from driftline.core.scenarios import Scenario

# --------------------------------------------------------------------------------------------------------------
# Vocabulary

TASKS: Final = ("binary_classification", "multiclass_classification", "regression")
SEVERITIES: Final = ("info", "warning", "critical")
RULE_OPS: Final = ("above", "below", "above_baseline_by", "below_baseline_by")
BUSINESS_TYPES: Final = ("cost_matrix", "sum", "mean")
COST_MATRIX_KEYS: Final = ("tp", "fp", "fn", "tn")
ALL_FEATURES: Final = "all_features"
# Use MODEL_ID_RE.fullmatch(...): with re.match, "$" also matches before a trailing newline.
MODEL_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]+")

# The metric vocabulary is the catalogue's (driftline.core.catalogue); these names are views of it.
COLUMN_METRICS: Final = catalogue.names(level="column")
MODEL_METRICS: Final = catalogue.names(level="model", family=("volume", "quality"))
PERFORMANCE_METRICS: Final[Mapping[str, tuple[str, ...]]] = {t: catalogue.performance_names(t) for t in TASKS}
# Column metrics that exist only for one kind of feature (the others apply to both).
NUMERICAL_ONLY_METRICS: Final = tuple(n for n in COLUMN_METRICS if catalogue.METRICS[n].kinds == ("numerical",))
CATEGORICAL_ONLY_METRICS: Final = tuple(n for n in COLUMN_METRICS if catalogue.METRICS[n].kinds == ("categorical",))
AUTO: Final = "auto"
DEFAULT_FALSE_ALARM_RATE: Final = 0.001
MAX_FALSE_ALARM_RATE: Final = 0.1

# Size bounds: a configuration is small; anything beyond these is a mistake or an attack.
MAX_CONFIG_BYTES: Final = 1_000_000
MAX_FEATURES: Final = 500
MAX_SEGMENTS: Final = 10
MAX_RULES: Final = 50
MAX_BUSINESS_METRICS: Final = 20
MAX_NAME_LENGTH: Final = 128
MAX_VALUE_LENGTH: Final = 1024
MAX_FOR_WINDOWS: Final = 1000
MAX_MIN_ROWS: Final = 10**12
MAX_REPORTED_ERRORS: Final = 100

MIN_WINDOW_SECONDS: Final = 5 * 60
MAX_WINDOW_SECONDS: Final = 7 * 24 * 3600

_INF = math.inf
_UNBOUNDED = (-_INF, _INF)
_TOP_KEYS: Final = (
    "model_id",
    "task",
    "columns",
    "window",
    "business_metrics",
    "alerts",
    "positive_class",
    "scenarios",
    "fairness",
    "event_time",
    "segment_privacy",
    "detection",
)
_EVENT_TIME_KEYS: Final = ("earliest", "latest_ahead", "max_windows_per_file")
_DETECTION_KEYS: Final = ("false_alarm_rate",)
_COLUMN_KEYS: Final = ("id", "timestamp", "prediction", "score", "label", "features", "segments")
_FEATURE_KEYS: Final = ("numerical", "categorical")
_BUSINESS_KEYS: Final = ("name", "type", "values", "column", "where")
_WHERE_KEYS: Final = ("column", "equals")
_RULE_KEYS: Final = (
    "name",
    "metric",
    "columns",
    "segment",
    "scenario",
    *RULE_OPS,
    "for",
    "min_rows",
    "severity",
)

_DURATION_RE: Final = re.compile(r"([0-9]{1,9})([smhdw])")
_DURATION_UNITS: Final[Mapping[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


def parse_duration(text: str) -> int:
    """Return the number of seconds in a duration such as ``90s``, ``5m``, ``1h``, ``2d`` or ``1w``.

    A duration is a positive whole number followed by one unit: ``s``, ``m``, ``h``, ``d`` or ``w``.
    Raises ``ValueError`` with a message quoting the text otherwise.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as '1h', got {_describe(text)}")
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"invalid duration {_short_repr(text)}; expected a whole number followed by s, m, h, d or w (e.g. '1h')"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"invalid duration {_short_repr(text)}; it must be greater than zero")
    return amount * _DURATION_UNITS[match.group(2)]


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _describe(value: object) -> str:
    """A short description of a value for an error message; never walks into containers (aliases can make
    a small YAML document describe an exponentially large tree)."""
    if isinstance(value, _UnsupportedTag):
        return f"a value tagged {value.tag} (YAML tags are not supported)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a very large integer" if value.bit_length() > 128 else repr(value)
    if isinstance(value, float | str):
        return _short_repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


class _UnsupportedTag:
    """Stands in for a value carrying a YAML tag that plain data does not have (``!!python/object``, ``!foo``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag.replace("tag:yaml.org,2002:", "!!")

    def __repr__(self) -> str:
        return f"<unsupported YAML tag {self.tag}>"


# --------------------------------------------------------------------------------------------------------------
# The configuration objects


@dataclass(frozen=True)
class FeatureColumns:
    """The model's input features, by kind."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]


@dataclass(frozen=True)
class Columns:
    """Which column of the logs plays which role."""

    id: str
    timestamp: str
    prediction: str
    score: str | None
    label: str | None
    features: FeatureColumns
    segments: tuple[str, ...]


@dataclass(frozen=True)
class WhereClause:
    """Restricts a ``sum`` or ``mean`` business metric to the rows where ``column`` equals ``equals``."""

    column: str
    equals: str | int | float | bool


@dataclass(frozen=True)
class BusinessMetric:
    """A declarative business metric: a cost matrix (binary only), or the sum or mean of a column."""

    name: str
    type: str
    values: Mapping[str, float] | None
    column: str | None
    where: WhereClause | None

    def __hash__(self) -> int:
        values = None if self.values is None else tuple(sorted(self.values.items()))
        return hash((self.name, self.type, values, self.column, self.where))


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """One alert rule; ``op`` is one of :data:`RULE_OPS` and ``threshold`` its number."""

    name: str
    metric: str
    columns: tuple[str, ...] | None
    segment: str | None
    op: str
    threshold: float  # NaN when ``auto``
    for_windows: int = 1
    min_rows: int = 100
    severity: str = "warning"
    auto: bool = False  # ``above: auto``: the threshold is set per window (driftline.core.thresholds)
    scenario: str | None = None  # a scenario name: the rule judges the scenario's metrics (segment "scenario:<name>")

    @property
    def segment_column(self) -> str | None:
        """The segments column the rule is restricted to (``country`` for ``country`` and ``country=US``)."""
        return None if self.segment is None else self.segment.partition("=")[0]

    @property
    def segment_value(self) -> str | None:
        """The one segment value the rule is restricted to (``US`` for ``country=US``), else None."""
        if self.segment is None or "=" not in self.segment:
            return None
        return self.segment.partition("=")[2]


@dataclass(frozen=True)
class ModelConfig:
    """A model's validated configuration (SPEC section 2)."""

    model_id: str
    task: str
    columns: Columns
    window: str
    window_seconds: int
    business_metrics: tuple[BusinessMetric, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    positive_class: str | None = None
    event_time: EventTimeSettings = field(default_factory=EventTimeSettings)
    # segment column -> how alerts show its values: hash or drop (core/privacy.py); absent: kept
    segment_privacy: tuple[tuple[str, str], ...] = ()
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE  # detection.false_alarm_rate, for ``auto`` thresholds
    scenarios: tuple[Scenario, ...] = ()
    fairness: FairnessConfig | None = None

    @property
    def sensitive_columns(self) -> tuple[str, ...]:
        return () if self.fairness is None else self.fairness.sensitive

    @property
    def numerical_features(self) -> tuple[str, ...]:
        return self.columns.features.numerical

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return self.columns.features.categorical

    @property
    def features(self) -> tuple[str, ...]:
        """Numerical features, then categorical features."""
        return self.columns.features.numerical + self.columns.features.categorical

    @property
    def monitored_columns(self) -> tuple[str, ...]:
        """The columns profiled for quality and drift: the features, then prediction, score and label."""
        extra = (self.columns.prediction, self.columns.score, self.columns.label)
        return self.features + tuple(name for name in extra if name is not None)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (YAML- and JSON-serialisable) that :func:`load_config_dict` turns back into ``self``."""
        columns: dict[str, Any] = {
            "id": self.columns.id,
            "timestamp": self.columns.timestamp,
            "prediction": self.columns.prediction,
        }
        if self.columns.score is not None:
            columns["score"] = self.columns.score
        if self.columns.label is not None:
            columns["label"] = self.columns.label
        columns["features"] = {
            "numerical": list(self.columns.features.numerical),
            "categorical": list(self.columns.features.categorical),
        }
        if self.columns.segments:
            columns["segments"] = list(self.columns.segments)
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "task": self.task,
            "columns": columns,
            "window": self.window,
        }
        if self.business_metrics:
            out["business_metrics"] = [_business_to_dict(metric) for metric in self.business_metrics]
        if self.alerts:
            out["alerts"] = [_rule_to_dict(rule) for rule in self.alerts]
        if self.positive_class is not None:
            out["positive_class"] = self.positive_class
        if self.scenarios:
            out["scenarios"] = [s.to_dict() for s in self.scenarios]
        if self.fairness is not None:
            out["fairness"] = self.fairness.to_dict()
        if self.event_time != EventTimeSettings():
            out["event_time"] = self.event_time.to_dict()
        if self.segment_privacy:
            out["segment_privacy"] = dict(self.segment_privacy)
        if self.false_alarm_rate != DEFAULT_FALSE_ALARM_RATE:
            out["detection"] = {"false_alarm_rate": self.false_alarm_rate}
        return out


def _business_to_dict(metric: BusinessMetric) -> dict[str, Any]:
    out: dict[str, Any] = {"name": metric.name, "type": metric.type}
    if metric.values is not None:
        out["values"] = dict(metric.values)
    if metric.column is not None:
        out["column"] = metric.column
    if metric.where is not None:
        out["where"] = {"column": metric.where.column, "equals": metric.where.equals}
    return out


def _rule_to_dict(rule: AlertRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "metric": rule.metric}
    if rule.columns is not None:
        out["columns"] = list(rule.columns)
    if rule.segment is not None:
        out["segment"] = rule.segment
    if rule.scenario is not None:
        out["scenario"] = rule.scenario
    out[rule.op] = AUTO if rule.auto else rule.threshold
    out["for"] = rule.for_windows
    out["min_rows"] = rule.min_rows
    out["severity"] = rule.severity
    return out
