"""Loading a configuration: YAML (a ``yaml.SafeLoader`` subclass, tags reported, not constructed) or a dict,
in, a validated :class:`ModelConfig` out."""

from __future__ import annotations

import re
from collections.abc import Hashable
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from driftline.core.config.model import MAX_CONFIG_BYTES, MAX_REPORTED_ERRORS, ModelConfig, _describe, _UnsupportedTag
from driftline.core.config.validation import _Parser
from driftline.core.errors import ConfigError

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
