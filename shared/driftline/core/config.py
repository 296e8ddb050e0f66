"""The model configuration (SPEC section 2): YAML in, a frozen and validated :class:`ModelConfig` out.

Pure: the standard library and PyYAML only. The YAML is read with a subclass of ``yaml.SafeLoader``, so a
configuration is never evaluated as code; a tag such as ``!!python/object`` is reported, not constructed.
Every problem found is reported at once in one :class:`~driftline.core.errors.ConfigError`, one message per
problem, each starting with the key path at fault, e.g. ``columns.features.numerical[2]: expected a string,
got 3`` or ``alerts[1]: unknown key 'abov' (did you mean 'above'?); expected one of: ...``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import yaml

from driftline.core import catalogue
from driftline.core.errors import ConfigError
from driftline.core.eventtime import MAX_WINDOWS_PER_FILE_LIMIT, EventTimeSettings, parse_earliest
from driftline.core.fairness import FairnessConfig, parse_fairness
from driftline.core.privacy import PRIVACY_MODES
from driftline.core.scenarios import Scenario, parse_scenarios

__all__ = [
    "ALL_FEATURES",
    "BUSINESS_TYPES",
    "CATEGORICAL_ONLY_METRICS",
    "COLUMN_METRICS",
    "MAX_BUSINESS_METRICS",
    "MAX_CONFIG_BYTES",
    "MAX_FEATURES",
    "MAX_NAME_LENGTH",
    "MAX_RULES",
    "MAX_SEGMENTS",
    "MAX_WINDOW_SECONDS",
    "MIN_WINDOW_SECONDS",
    "MODEL_ID_RE",
    "MODEL_METRICS",
    "NUMERICAL_ONLY_METRICS",
    "PERFORMANCE_METRICS",
    "RULE_OPS",
    "SEVERITIES",
    "TASKS",
    "AlertRule",
    "BusinessMetric",
    "Columns",
    "FeatureColumns",
    "ModelConfig",
    "WhereClause",
    "load_config",
    "load_config_dict",
    "load_config_file",
    "parse_duration",
]

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


@dataclass(frozen=True)
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


# --------------------------------------------------------------------------------------------------------------
# Loading


def load_config_file(path: str | PathLike[str]) -> ModelConfig:
    """Read and validate the configuration in the file at ``path``."""
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError([f"cannot read the file: {err.strerror or err}"], source=source) from err
    return load_config(data, source=source)


def load_config(text: str | bytes, *, source: str | None = None, expected_model_id: str | None = None) -> ModelConfig:
    """Parse YAML text and validate it; ``expected_model_id`` is the ``<model_id>`` of the S3 key, if any."""
    data = _parse_yaml(text, source)
    return load_config_dict(data, source=source, expected_model_id=expected_model_id)


def load_config_dict(data: object, *, source: str | None = None, expected_model_id: str | None = None) -> ModelConfig:
    """Validate an already-parsed configuration (a mapping) and return it as a :class:`ModelConfig`."""
    parser = _Parser()
    config = parser.parse(data, expected_model_id)
    if parser.errors or config is None:
        errors = parser.errors or ["top level: invalid configuration"]
        if len(errors) > MAX_REPORTED_ERRORS:
            hidden = len(errors) - MAX_REPORTED_ERRORS
            errors = [*errors[:MAX_REPORTED_ERRORS], f"... and {hidden} more problems"]
        raise ConfigError(errors, source=source)
    return config


class _UnsupportedTag:
    """Stands in for a value carrying a YAML tag that plain data does not have (``!!python/object``, ``!foo``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag.replace("tag:yaml.org,2002:", "!!")

    def __repr__(self) -> str:
        return f"<unsupported YAML tag {self.tag}>"


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also rejects duplicate keys, reads ``1e-3`` as a number (as YAML 1.2 does),
    and turns unknown tags into :class:`_UnsupportedTag` markers so that the key holding one can be named."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_unsupported(loader: _ConfigLoader, node: yaml.Node) -> _UnsupportedTag:
    return _UnsupportedTag(str(node.tag))


_ConfigLoader.add_constructor(None, _construct_unsupported)
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _parse_yaml(text: str | bytes, source: str | None) -> object:
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError([f"top level: the file is larger than {MAX_CONFIG_BYTES} bytes"], source=source)
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ConfigError([f"top level: not UTF-8 text ({err.reason} at byte {err.start})"], source=source) from err
    if not isinstance(text, str):
        raise ConfigError([f"top level: expected YAML text, got {_describe(text)}"], source=source)
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError([f"top level: the text is longer than {MAX_CONFIG_BYTES} characters"], source=source)
    loader = _ConfigLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        raise ConfigError([_yaml_error_message(err)], source=source) from err
    except yaml.YAMLError as err:
        raise ConfigError([f"invalid YAML: {err}"], source=source) from err
    except RecursionError as err:
        raise ConfigError(["invalid YAML: nested too deeply"], source=source) from err
    except ValueError as err:  # e.g. an integer with more digits than Python converts
        raise ConfigError([f"invalid YAML: {err}"], source=source) from err
    finally:
        loader.dispose()


def _yaml_error_message(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = "; ".join(part for part in (err.context, err.problem) if part)
    return f"invalid YAML{where}: {what or 'syntax error'}"


# --------------------------------------------------------------------------------------------------------------
# Validation


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


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _fmt_range(metric: str, bounds: tuple[float, float]) -> str:
    lo, hi = bounds
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{metric} lies between {_fmt_number(lo)} and {_fmt_number(hi)}"
    if math.isfinite(lo):
        return f"{metric} is never below {_fmt_number(lo)}"
    return f"{metric} is never above {_fmt_number(hi)}"


@dataclass
class _Declared:
    """What the columns section declared, for the checks that refer to it."""

    task: str | None
    names: frozenset[str] | None  # every declared column; None when the columns section is invalid
    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    monitored: tuple[str, ...] = ()
    has_score: bool = False
    sensitive: tuple[str, ...] | None = ()  # None: the fairness section is invalid
    scenarios: frozenset[str] | None = frozenset()  # None: the scenarios section is invalid


class _Parser:
    """Walks the parsed document once, collecting every problem in ``errors``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path or 'top level'}: {message}")

    # -- generic checks -----------------------------------------------------------------------------------------

    def mapping(
        self, value: object, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_describe(value)}")
            return None
        for key in value:
            if isinstance(key, str) and key in allowed:
                continue
            hint = ""
            if isinstance(key, str):
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = _short_repr(key) if isinstance(key, str) else _describe(key)
            self.error(path, f"unknown key {shown}{hint}; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.error(_join(path, key), "required key is missing")
        return value

    def sequence(self, value: object, path: str, max_items: int) -> Sequence[Any] | None:
        if not isinstance(value, list | tuple):
            self.error(path, f"expected a list, got {_describe(value)}")
            return None
        if len(value) > max_items:
            self.error(path, f"too many entries ({len(value)}); at most {max_items} are allowed")
            return None
        return value

    def string(self, value: object, path: str, *, max_length: int = MAX_NAME_LENGTH) -> str | None:
        if not isinstance(value, str):
            hint = ""
            if value is None or isinstance(value, bool):
                hint = " (YAML reads yes/no/on/off/true/false/null as non-strings: quote the value)"
            self.error(path, f"expected a string, got {_describe(value)}{hint}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        if len(value) > max_length:
            self.error(path, f"longer than {max_length} characters")
            return None
        if _CONTROL_RE.search(value):
            self.error(path, f"{_short_repr(value)} contains control characters")
            return None
        return value

    def name(self, value: object, path: str) -> str | None:
        text = self.string(value, path)
        if text is not None and not NAME_RE.fullmatch(text):
            self.error(path, f"{_short_repr(text)} is not a valid name; use letters, digits, '_', '.' and '-'")
            return None
        return text

    def choice(self, value: object, path: str, choices: Sequence[str]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        shown = _short_repr(value) if isinstance(value, str) else _describe(value)
        self.error(path, f"expected one of {', '.join(choices)}; got {shown}")
        return None

    def number(self, value: object, path: str) -> float | None:
        if not _is_number(value):
            self.error(path, f"expected a number, got {_describe(value)}")
            return None
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            number = _INF
        if not math.isfinite(number):
            self.error(path, f"expected a finite number, got {_describe(value)}")
            return None
        return number

    def integer(self, value: object, path: str, minimum: int, maximum: int) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(path, f"expected a whole number, got {_describe(value)}")
            return None
        if not minimum <= value <= maximum:
            self.error(path, f"{_describe(value)} is out of range; expected {minimum} to {maximum}")
            return None
        return value

    # -- sections -----------------------------------------------------------------------------------------------

    def parse(self, data: object, expected_model_id: str | None) -> ModelConfig | None:
        if data is None:
            self.error("", "the configuration is empty; expected a mapping with model_id, task, columns and window")
            return None
        root = self.mapping(data, "", _TOP_KEYS, required=("model_id", "task", "columns", "window"))
        if root is None:
            return None

        model_id = None
        if "model_id" in root:
            model_id = self.model_id(root["model_id"], expected_model_id)
        task = self.choice(root["task"], "task", TASKS) if "task" in root else None

        columns: Columns | None = None
        declared = _Declared(task=task, names=None)
        if "columns" in root:
            columns = self.columns(root["columns"], task)
        if columns is not None:
            features = columns.features.numerical + columns.features.categorical
            extras = (columns.prediction, columns.score, columns.label)
            declared = _Declared(
                task=task,
                names=frozenset((*features, columns.id, columns.timestamp, *(c for c in extras if c is not None))),
                numerical=columns.features.numerical,
                categorical=columns.features.categorical,
                segments=columns.segments,
                monitored=features + tuple(c for c in extras if c is not None),
                has_score=columns.score is not None,
            )

        window, window_seconds = None, None
        if "window" in root:
            window, window_seconds = self.window(root["window"])

        positive_class = None
        if root.get("positive_class") is not None:
            positive_class = self.positive_class(root["positive_class"], task)

        fairness: FairnessConfig | None = None
        if root.get("fairness") is not None:
            roles = frozenset(c for c in (declared.names or ()) if c not in declared.numerical + declared.categorical)
            fairness = parse_fairness(
                self, root["fairness"], task=task, roles=roles, numerical=frozenset(declared.numerical)
            )
            declared.sensitive = None if fairness is None else fairness.sensitive

        scenarios: tuple[Scenario, ...] | None = ()
        if root.get("scenarios") is not None:
            numerical = set(declared.numerical)
            if columns is not None and columns.score:
                numerical.add(columns.score)
            if task == "regression" and columns is not None:
                numerical.update(c for c in (columns.prediction, columns.label) if c)
            known = None if declared.names is None else declared.names | set(declared.sensitive or ())
            scenarios = parse_scenarios(self, root["scenarios"], columns=known, numerical=frozenset(numerical))
            declared.scenarios = None if scenarios is None else frozenset(s.name for s in scenarios)
        event_time: EventTimeSettings | None = EventTimeSettings()
        if root.get("event_time") is not None:
            event_time = self.event_time(root["event_time"])

        segment_privacy: dict[str, str] | None = {}
        if root.get("segment_privacy") is not None:
            segment_privacy = self.segment_privacy(root["segment_privacy"], declared)

        business: tuple[BusinessMetric, ...] | None = ()
        if root.get("business_metrics") is not None:
            business = self.business_metrics(root["business_metrics"], declared)

        alerts: tuple[AlertRule, ...] | None = ()
        if root.get("alerts") is not None:
            business_names = None if business is None else frozenset(metric.name for metric in business)
            alerts = self.alerts(root["alerts"], declared, business_names)

        false_alarm_rate = DEFAULT_FALSE_ALARM_RATE
        if root.get("detection") is not None:
            false_alarm_rate = self.detection(root["detection"])

        if self.errors or model_id is None or task is None or columns is None or window is None:
            return None
        if window_seconds is None or business is None or alerts is None or event_time is None or scenarios is None:
            return None
        if segment_privacy is None:
            return None
        return ModelConfig(
            model_id=model_id,
            task=task,
            columns=columns,
            window=window,
            window_seconds=window_seconds,
            business_metrics=business,
            alerts=alerts,
            positive_class=positive_class,
            scenarios=scenarios,
            fairness=fairness,
            event_time=event_time,
            segment_privacy=tuple(sorted(segment_privacy.items())),
            false_alarm_rate=false_alarm_rate,
        )

    def detection(self, value: object) -> float:
        item = self.mapping(value, "detection", _DETECTION_KEYS)
        if item is None or item.get("false_alarm_rate") is None:
            return DEFAULT_FALSE_ALARM_RATE
        path = "detection.false_alarm_rate"
        rate = self.number(item["false_alarm_rate"], path)
        if rate is None:
            return DEFAULT_FALSE_ALARM_RATE
        if not 0 < rate <= MAX_FALSE_ALARM_RATE:
            self.error(
                path,
                f"{_fmt_number(rate)} is out of range; expected a rate above 0 and at most {MAX_FALSE_ALARM_RATE} "
                f"(the share of a column's windows that may alarm on data that does not drift; default "
                f"{DEFAULT_FALSE_ALARM_RATE})",
            )
            return DEFAULT_FALSE_ALARM_RATE
        return rate

    def model_id(self, value: object, expected: str | None) -> str | None:
        if not isinstance(value, str):
            self.error("model_id", f"expected a string, got {_describe(value)}")
            return None
        if not MODEL_ID_RE.fullmatch(value):
            self.error(
                "model_id",
                f"{_short_repr(value)} is not a valid model id; expected 1 to 63 lowercase letters, digits, "
                "'_' or '-', starting with a letter or digit",
            )
            return None
        if expected is not None and value != expected:
            self.error("model_id", f"{value!r} does not match the model id {_short_repr(expected)} of the S3 key")
            return None
        return value

    def window(self, value: object) -> tuple[str | None, int | None]:
        if not isinstance(value, str):
            self.error("window", f"expected a duration such as '1h', got {_describe(value)}")
            return None, None
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            self.error("window", str(err))
            return None, None
        if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
            self.error("window", f"{_short_repr(value)} is out of range; expected from 5m to 7d")
            return None, None
        return value, seconds

    def segment_privacy(self, value: object, declared: _Declared) -> dict[str, str] | None:
        """``segment_privacy``: segment column -> ``keep``, ``hash`` or ``drop`` (how alerts show its values)."""
        if not isinstance(value, Mapping):
            self.error("segment_privacy", f"expected a mapping of segment columns to modes, got {_describe(value)}")
            return None
        out: dict[str, str] = {}
        ok = True
        for column, mode in value.items():
            path = f"segment_privacy.{column}"
            if not isinstance(column, str) or column not in declared.segments:
                self.error(path, "not a segment column (columns.segments)")
                ok = False
                continue
            chosen = self.choice(mode, path, PRIVACY_MODES)
            if chosen is None:
                ok = False
            elif chosen != "keep":
                out[column] = chosen
        return out if ok else None

    def event_time(self, value: object) -> EventTimeSettings | None:
        """``event_time``: the plausible range of event times and the cap on windows per file."""
        section = self.mapping(value, "event_time", _EVENT_TIME_KEYS)
        if section is None:
            return None
        out = EventTimeSettings()
        ok = True
        if section.get("earliest") is not None:
            earliest = parse_earliest(section["earliest"])
            if earliest is None:
                self.error(
                    "event_time.earliest", f"expected a date such as 2000-01-01, got {_describe(section['earliest'])}"
                )
                ok = False
            else:
                out = EventTimeSettings(earliest, out.latest_ahead, out.max_windows_per_file)
        if section.get("latest_ahead") is not None:
            raw = section["latest_ahead"]
            try:
                ahead = parse_duration(raw) if isinstance(raw, str) else None
            except ValueError as err:
                self.error("event_time.latest_ahead", str(err))
                ahead, ok = None, False
            if ahead is None:
                if ok:
                    self.error("event_time.latest_ahead", f"expected a duration such as '7d', got {_describe(raw)}")
                ok = False
            else:
                out = EventTimeSettings(out.earliest, ahead, out.max_windows_per_file)
        if section.get("max_windows_per_file") is not None:
            cap = self.integer(
                section["max_windows_per_file"], "event_time.max_windows_per_file", 1, MAX_WINDOWS_PER_FILE_LIMIT
            )
            if cap is None:
                ok = False
            else:
                out = EventTimeSettings(out.earliest, out.latest_ahead, cap)
        return out if ok else None

    def positive_class(self, value: object, task: str | None) -> str | None:
        if task is not None and task != "binary_classification":
            self.error("positive_class", f"only used by task binary_classification, not {task}")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return self.string(value, "positive_class", max_length=MAX_VALUE_LENGTH)

    def columns(self, value: object, task: str | None) -> Columns | None:
        path = "columns"
        section = self.mapping(value, path, _COLUMN_KEYS, required=("id", "timestamp", "prediction", "features"))
        if section is None:
            return None
        start = len(self.errors)
        declared_at: dict[str, str] = {}

        def declare(raw: object, where: str) -> str | None:
            name = self.string(raw, where)
            if name is None:
                return None
            if name in declared_at:
                self.error(where, f"column {name!r} is already declared as {declared_at[name]}")
                return None
            declared_at[name] = where
            return name

        roles: dict[str, str | None] = {}
        for role in ("id", "timestamp", "prediction"):
            roles[role] = declare(section[role], _join(path, role)) if role in section else None
        for role in ("score", "label"):
            roles[role] = declare(section[role], _join(path, role)) if section.get(role) is not None else None
        if roles["score"] is not None and task == "regression":
            self.error(_join(path, "score"), "a score column is only used by classification tasks, not regression")

        numerical: list[str] = []
        categorical: list[str] = []
        if "features" in section:
            features_path = _join(path, "features")
            features = self.mapping(section["features"], features_path, _FEATURE_KEYS)
            if features is not None:
                for kind, bucket in (("numerical", numerical), ("categorical", categorical)):
                    if features.get(kind) is None:
                        continue
                    kind_path = _join(features_path, kind)
                    items = self.sequence(features[kind], kind_path, MAX_FEATURES)
                    for index, raw in enumerate(items or ()):
                        name = declare(raw, f"{kind_path}[{index}]")
                        if name is not None:
                            bucket.append(name)
                total = len(numerical) + len(categorical)
                if total > MAX_FEATURES:
                    self.error(features_path, f"too many features ({total}); at most {MAX_FEATURES} are allowed")
                elif len(self.errors) == start and total == 0:
                    self.error(features_path, "at least one numerical or categorical feature is required")

        segments: list[str] = []
        if section.get("segments") is not None:
            segments_path = _join(path, "segments")
            items = self.sequence(section["segments"], segments_path, MAX_SEGMENTS)
            for index, raw in enumerate(items or ()):
                where = f"{segments_path}[{index}]"
                name = self.string(raw, where)
                if name is None:
                    continue
                if name in segments:
                    self.error(where, f"segment column {name!r} is listed twice")
                elif name not in categorical:
                    self.error(where, f"{name!r} is not a categorical feature; list it in columns.features.categorical")
                elif "=" in name:
                    self.error(where, f"a segment column name cannot contain '=': {name!r}")
                else:
                    segments.append(name)

        id_, timestamp, prediction = roles["id"], roles["timestamp"], roles["prediction"]
        if len(self.errors) > start or id_ is None or timestamp is None or prediction is None:
            return None
        return Columns(
            id=id_,
            timestamp=timestamp,
            prediction=prediction,
            score=roles["score"],
            label=roles["label"],
            features=FeatureColumns(numerical=tuple(numerical), categorical=tuple(categorical)),
            segments=tuple(segments),
        )

    def known_column(self, value: object, path: str, declared: _Declared) -> str | None:
        name = self.string(value, path)
        if name is None or declared.names is None:
            return name
        if name not in declared.names:
            self.error(path, f"unknown column {name!r}; expected a column declared under columns")
            return None
        return name

    def business_metrics(self, value: object, declared: _Declared) -> tuple[BusinessMetric, ...] | None:
        path = "business_metrics"
        items = self.sequence(value, path, MAX_BUSINESS_METRICS)
        if items is None:
            return None
        start = len(self.errors)
        metrics: list[BusinessMetric] = []
        first_seen: dict[str, int] = {}
        for index, raw in enumerate(items):
            item_path = f"{path}[{index}]"
            item = self.mapping(raw, item_path, _BUSINESS_KEYS, required=("name", "type"))
            if item is None:
                continue
            name = self.name(item["name"], _join(item_path, "name")) if "name" in item else None
            if name is not None:
                if name in first_seen:
                    self.error(_join(item_path, "name"), f"duplicate name {name!r} (also {path}[{first_seen[name]}])")
                else:
                    first_seen[name] = index
            kind = self.choice(item["type"], _join(item_path, "type"), BUSINESS_TYPES) if "type" in item else None
            metric = self.business_metric(item, item_path, name, kind, declared)
            if metric is not None:
                metrics.append(metric)
        return None if len(self.errors) > start else tuple(metrics)

    def business_metric(
        self, item: Mapping[str, Any], path: str, name: str | None, kind: str | None, declared: _Declared
    ) -> BusinessMetric | None:
        start = len(self.errors)
        values: dict[str, float] | None = None
        column: str | None = None
        where: WhereClause | None = None
        if kind == "cost_matrix":
            if declared.task is not None and declared.task != "binary_classification":
                self.error(_join(path, "type"), f"cost_matrix needs task binary_classification, not {declared.task}")
            for key in ("column", "where"):
                if key in item:
                    self.error(_join(path, key), "not used by type cost_matrix")
            if "values" not in item:
                self.error(_join(path, "values"), "required key is missing (type cost_matrix needs tp, fp, fn, tn)")
            else:
                values = self.cost_values(item["values"], _join(path, "values"))
        elif kind in ("sum", "mean"):
            if "values" in item:
                self.error(_join(path, "values"), f"only used by type cost_matrix, not {kind}")
            if "column" not in item:
                self.error(_join(path, "column"), f"required key is missing (type {kind} needs a column)")
            else:
                column = self.known_column(item["column"], _join(path, "column"), declared)
            if item.get("where") is not None:
                where = self.where(item["where"], _join(path, "where"), declared)
        if len(self.errors) > start or name is None or kind is None:
            return None
        return BusinessMetric(
            name=name,
            type=kind,
            values=None if values is None else MappingProxyType(values),
            column=column,
            where=where,
        )

    def cost_values(self, value: object, path: str) -> dict[str, float] | None:
        section = self.mapping(value, path, COST_MATRIX_KEYS, required=COST_MATRIX_KEYS)
        if section is None:
            return None
        values: dict[str, float] = {}
        for key in COST_MATRIX_KEYS:
            if key in section:
                number = self.number(section[key], _join(path, key))
                if number is not None:
                    values[key] = number
        return values if len(values) == len(COST_MATRIX_KEYS) and len(section) == len(values) else None

    def where(self, value: object, path: str, declared: _Declared) -> WhereClause | None:
        section = self.mapping(value, path, _WHERE_KEYS, required=_WHERE_KEYS)
        if section is None:
            return None
        column = self.known_column(section["column"], _join(path, "column"), declared) if "column" in section else None
        equals: str | int | float | bool | None = None
        if "equals" in section:
            raw = section["equals"]
            equals_path = _join(path, "equals")
            if isinstance(raw, bool):
                equals = raw
            elif isinstance(raw, int | float):
                equals = raw if self.number(raw, equals_path) is not None else None
            elif isinstance(raw, str):
                equals = raw if len(raw) <= MAX_VALUE_LENGTH else None
                if equals is None:
                    self.error(equals_path, f"longer than {MAX_VALUE_LENGTH} characters")
            else:
                self.error(equals_path, f"expected a string, number or boolean, got {_describe(raw)}")
        if column is None or equals is None or len(section) != len(_WHERE_KEYS):
            return None
        return WhereClause(column=column, equals=equals)

    def alerts(
        self, value: object, declared: _Declared, business_names: frozenset[str] | None
    ) -> tuple[AlertRule, ...] | None:
        path = "alerts"
        items = self.sequence(value, path, MAX_RULES)
        if items is None:
            return None
        start = len(self.errors)
        rules: list[AlertRule] = []
        first_seen: dict[str, int] = {}
        for index, raw in enumerate(items):
            rule = self.rule(raw, f"{path}[{index}]", declared, business_names)
            if rule is None:
                continue
            if rule.name in first_seen:
                self.error(
                    f"{path}[{index}].name", f"duplicate rule name {rule.name!r} (also {path}[{first_seen[rule.name]}])"
                )
            else:
                first_seen[rule.name] = index
            rules.append(rule)
        return None if len(self.errors) > start else tuple(rules)

    def rule(
        self, raw: object, path: str, declared: _Declared, business_names: frozenset[str] | None
    ) -> AlertRule | None:
        item = self.mapping(raw, path, _RULE_KEYS, required=("name", "metric"))
        if item is None:
            return None
        start = len(self.errors)
        name = self.name(item["name"], _join(path, "name")) if "name" in item else None

        metric: str | None = None
        level: str | None = None  # "column" or "model"
        bounds = _UNBOUNDED
        if "metric" in item:
            metric_path = _join(path, "metric")
            metric = self.string(item["metric"], metric_path)
            if metric is not None:
                level, bounds = self.metric(metric, metric_path, declared, business_names)
                if level is None:
                    metric = None

        columns: tuple[str, ...] | None = None
        if item.get("columns") is not None:
            columns_path = _join(path, "columns")
            if level == "model":
                self.error(columns_path, f"not allowed: {metric} is a model-level metric, not a per-column one")
            elif level == "fairness":
                columns = self.fairness_columns(item["columns"], columns_path, declared)
            elif level == "column" and metric is not None:
                columns = self.rule_columns(item["columns"], columns_path, metric, declared)

        segment = None
        if item.get("segment") is not None:
            segment = self.segment(item["segment"], _join(path, "segment"), declared)
        scenario = None
        if item.get("scenario") is not None:
            scenario = self.scenario(item["scenario"], _join(path, "scenario"), declared)
            if segment is not None:
                self.error(_join(path, "scenario"), "a rule has a segment or a scenario, not both")
        if level == "fairness" and (segment is not None or scenario is not None):
            self.error(path, f"{metric} is judged per group of each sensitive column; leave out segment and scenario")

        op, threshold = self.threshold(item, path, metric, bounds)

        for_windows = 1
        if item.get("for") is not None:
            for_windows = self.integer(item["for"], _join(path, "for"), 1, MAX_FOR_WINDOWS) or 1
        min_rows = 100
        if item.get("min_rows") is not None:
            checked = self.integer(item["min_rows"], _join(path, "min_rows"), 0, MAX_MIN_ROWS)
            min_rows = 100 if checked is None else checked
        severity = "warning"
        if item.get("severity") is not None:
            severity = self.choice(item["severity"], _join(path, "severity"), SEVERITIES) or severity

        if len(self.errors) > start or name is None or metric is None or op is None or threshold is None:
            return None
        return AlertRule(
            name=name,
            metric=metric,
            columns=columns,
            segment=segment,
            op=op,
            threshold=threshold,
            for_windows=for_windows,
            min_rows=min_rows,
            severity=severity,
            scenario=scenario,
            auto=math.isnan(threshold),
        )

    def scenario(self, value: object, path: str, declared: _Declared) -> str | None:
        name = self.string(value, path)
        if name is None or declared.scenarios is None:
            return name
        if name not in declared.scenarios:
            close = difflib.get_close_matches(name, sorted(declared.scenarios), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(declared.scenarios)) or "none"
            self.error(path, f"no scenario named {name!r}{hint} in scenarios (configured: {known})")
            return None
        return name

    def fairness_columns(self, value: object, path: str, declared: _Declared) -> tuple[str, ...] | None:
        items = self.sequence(value, path, MAX_FEATURES)
        if items is None or declared.sensitive is None:
            return None
        names: list[str] = []
        for index, raw in enumerate(items):
            name = self.string(raw, f"{path}[{index}]")
            if name is not None and name not in declared.sensitive:
                self.error(f"{path}[{index}]", f"{name!r} is not a sensitive column (fairness.sensitive)")
            elif name is not None:
                names.append(name)
        return tuple(names) or None

    def metric(
        self, metric: str, path: str, declared: _Declared, business_names: frozenset[str] | None
    ) -> tuple[str | None, tuple[float, float]]:
        """Return the metric's level ("column", "model" or "fairness") and its range, or (None, ...) after an error."""
        spec = catalogue.METRICS.get(metric)
        if spec is not None and spec.level == "fairness_group":
            if declared.sensitive == ():
                self.error(path, f"{metric!r} needs a fairness section (fairness.sensitive)")
                return None, _UNBOUNDED
            return "fairness", spec.range
        if spec is not None and spec.family in ("volume", "quality", "drift"):
            return spec.level, spec.range
        family, _, short = metric.partition(".")
        task = declared.task
        if family in ("performance", "estimated") and f"performance.{short}" in catalogue.METRICS:
            if task is not None and short not in PERFORMANCE_METRICS[task]:
                names = ", ".join(f"{family}.{m}" for m in PERFORMANCE_METRICS[task])
                self.error(path, f"{metric!r} is not computed for task {task}; expected one of {names}")
                return None, _UNBOUNDED
            known = task is not None and declared.names is not None
            if family == "estimated" and known and (task != "binary_classification" or not declared.has_score):
                self.error(path, f"{metric!r} needs task binary_classification and a columns.score column")
                return None, _UNBOUNDED
            return "model", catalogue.METRICS[f"performance.{short}"].range
        if family == "business" and short:
            if business_names is not None and short not in business_names:
                configured = ", ".join(sorted(business_names)) or "none"
                self.error(path, f"no business metric named {short!r} in business_metrics (configured: {configured})")
                return None, _UNBOUNDED
            return "model", catalogue.BUSINESS.range
        candidates = [*MODEL_METRICS, *COLUMN_METRICS]
        if task is not None:
            candidates += [f"performance.{m}" for m in PERFORMANCE_METRICS[task]]
            if task == "binary_classification" and declared.has_score:
                candidates += [f"estimated.{m}" for m in PERFORMANCE_METRICS[task]]
        candidates += [f"business.{name}" for name in sorted(business_names or ())]
        close = difflib.get_close_matches(metric, candidates, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.error(
            path,
            f"unknown metric {_short_repr(metric)}{hint}; expected one of {', '.join(MODEL_METRICS + COLUMN_METRICS)}, "
            "performance.<name>, estimated.<name>, business.<name> or fairness.<name>",
        )
        return None, _UNBOUNDED

    def rule_columns(self, value: object, path: str, metric: str, declared: _Declared) -> tuple[str, ...] | None:
        if value == ALL_FEATURES:
            return None if declared.names is None else declared.numerical + declared.categorical
        if isinstance(value, str):
            self.error(path, f"expected a list of column names or {ALL_FEATURES!r}, got {_short_repr(value)}")
            return None
        items = self.sequence(value, path, MAX_FEATURES + 3)
        if items is None:
            return None
        if not items:
            self.error(path, f"must not be empty; leave it out, or use {ALL_FEATURES!r}")
            return None
        start = len(self.errors)
        names: list[str] = []
        for index, raw in enumerate(items):
            where = f"{path}[{index}]"
            name = self.string(raw, where)
            if name is None or declared.names is None:
                continue
            if name in names:
                self.error(where, f"column {name!r} is listed twice")
            elif name not in declared.monitored:
                self.error(
                    where,
                    f"unknown column {name!r}; expected a monitored column (a feature, the prediction, score or label)",
                )
            elif metric in NUMERICAL_ONLY_METRICS and name in declared.categorical:
                self.error(where, f"{metric} applies to numerical columns, and {name!r} is categorical")
            elif metric in CATEGORICAL_ONLY_METRICS and name in declared.numerical:
                self.error(where, f"{metric} applies to categorical columns, and {name!r} is numerical")
            else:
                names.append(name)
        return None if len(self.errors) > start or declared.names is None else tuple(names)

    def segment(self, value: object, path: str, declared: _Declared) -> str | None:
        text = self.string(value, path, max_length=MAX_NAME_LENGTH + 1 + MAX_VALUE_LENGTH)
        if text is None or declared.names is None:
            return text
        column, equals_sign, segment_value = text.partition("=")
        if not declared.segments:
            self.error(path, "no segments are configured; list the segment column in columns.segments")
            return None
        if column not in declared.segments:
            self.error(
                path,
                f"{column!r} is not a segments column; expected one of {', '.join(declared.segments)} "
                "(optionally followed by '=<value>')",
            )
            return None
        if equals_sign and not segment_value:
            self.error(path, f"missing segment value after '=' in {text!r}")
            return None
        return text

    def threshold(
        self, item: Mapping[str, Any], path: str, metric: str | None, bounds: tuple[float, float]
    ) -> tuple[str | None, float | None]:
        present = [op for op in RULE_OPS if op in item]
        if len(present) != 1:
            found = ", ".join(present) if present else "none"
            self.error(path, f"expected exactly one of {', '.join(RULE_OPS)}; found {found}")
            return None, None
        op = present[0]
        op_path = _join(path, op)
        if item[op] == AUTO:
            return self.auto_threshold(op, op_path, metric)
        threshold = self.number(item[op], op_path)
        if threshold is None:
            return None, None
        lo, hi = bounds
        if op.endswith("_baseline_by"):
            if threshold < 0:
                self.error(op_path, f"must not be negative, got {_fmt_number(threshold)}")
                return None, None
            if metric is not None and threshold > hi - lo:
                self.error(
                    op_path,
                    f"{_fmt_number(threshold)} is impossible: {_fmt_range(metric, bounds)}, so it never moves that far",
                )
                return None, None
        elif metric is not None and not lo <= threshold <= hi:
            self.error(op_path, f"{_fmt_number(threshold)} is impossible: {_fmt_range(metric, bounds)}")
            return None, None
        return op, threshold

    def auto_threshold(self, op: str, path: str, metric: str | None) -> tuple[str | None, float | None]:
        """``above: auto`` (``below: auto`` for a p-value): drift metrics whose catalogue entry has a null."""
        if metric is None:
            return None, None
        spec = catalogue.spec_for(metric)
        if spec is None or spec.auto is None:
            with_auto = ", ".join(s.name for s in catalogue.METRICS.values() if s.auto is not None)
            self.error(path, f"'auto' applies to drift metrics only ({with_auto}), not to {metric}")
            return None, None
        wanted = "below" if spec.lower_is_worse else "above"
        if op != wanted:
            self.error(path, f"'auto' is not allowed here; {metric} drifts {wanted} its threshold: use {wanted}: auto")
            return None, None
        return op, math.nan
