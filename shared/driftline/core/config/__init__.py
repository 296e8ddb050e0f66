"""The model configuration (SPEC section 2): YAML in, a frozen and validated :class:`ModelConfig` out.

Pure: the standard library and PyYAML only. The YAML is read with a subclass of ``yaml.SafeLoader``, so a
configuration is never evaluated as code; a tag such as ``!!python/object`` is reported, not constructed.
Every problem found is reported at once in one :class:`~driftline.core.errors.ConfigError`, one message per
problem, each starting with the key path at fault, e.g. ``columns.features.numerical[2]: expected a string,
got 3`` or ``alerts[1]: unknown key 'abov' (did you mean 'above'?); expected one of: ...``.
"""

from __future__ import annotations

from driftline.core.config.loader import load_config, load_config_dict, load_config_file
from driftline.core.config.model import (
    ALL_FEATURES,
    BUSINESS_TYPES,
    CATEGORICAL_ONLY_METRICS,
    COLUMN_METRICS,
    MAX_BUSINESS_METRICS,
    MAX_CONFIG_BYTES,
    MAX_FEATURES,
    MAX_NAME_LENGTH,
    MAX_RULES,
    MAX_SEGMENTS,
    MAX_WINDOW_SECONDS,
    MIN_WINDOW_SECONDS,
    MODEL_ID_RE,
    MODEL_METRICS,
    NUMERICAL_ONLY_METRICS,
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
    parse_duration,
)

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
