"""Scenarios (SPEC §2): named slices of the population, declared as conditions on columns, never code.

A scenario's ``where`` is one condition on a column — ``equals``, ``in``, ``above``, ``below``,
``is_missing: true`` — or ``all:`` / ``any:`` of conditions. Each scenario gets a full profile per window, and
its metrics carry ``segment = "scenario:<name>"``. This module holds the validated objects and their parsing
(called by :mod:`driftline.core.config`); the per-batch masks are computed in ``driftline.io.conditions``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

MAX_SCENARIOS: Final = 20
MAX_CONDITIONS: Final = 50  # leaves and groups in one scenario, all levels together
MAX_DEPTH: Final = 5
MAX_IN_VALUES: Final = 1000
SCENARIO_PREFIX: Final = "scenario:"
LEAF_OPS: Final = ("equals", "in", "above", "below", "is_missing")
GROUP_OPS: Final = ("all", "any")
_SCENARIO_KEYS: Final = ("name", "where")

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """A leaf (``column`` with ``op`` in :data:`LEAF_OPS` and its ``value``) or a group (``op`` ``all`` / ``any``
    over ``parts``). ``in`` holds a tuple of values; ``is_missing`` a bool."""

    op: str
    column: str | None = None
    value: Any = None
    parts: tuple[Condition, ...] = ()

    def columns(self) -> tuple[str, ...]:
        """The columns the condition reads, each once."""
        if self.column is not None:
            return (self.column,)
        out: list[str] = []
        for p in self.parts:
            out += p.columns()
        return tuple(dict.fromkeys(out))

    def to_dict(self) -> dict[str, Any]:
        if self.op in GROUP_OPS:
            return {self.op: [p.to_dict() for p in self.parts]}
        value = list(self.value) if self.op == "in" else self.value
        return {"column": self.column, self.op: value}


@dataclass(frozen=True)
class Scenario:
    name: str
    where: Condition

    @property
    def segment(self) -> str:
        return f"{SCENARIO_PREFIX}{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "where": self.where.to_dict()}


def scenarios_key(scenarios: Sequence[Scenario]) -> int:
    """A short, stable fingerprint of a scenario list (names, conditions and order): what a prediction's scenario
    bits mean. Bits kept under another list are not read against this one."""
    text = json.dumps([s.to_dict() for s in scenarios], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


class ConfigChecker(Protocol):
    """What the config parser offers (``core.config.validation._Parser``): errors collected with their key path."""

    errors: list[str]

    def error(self, path: str, message: str) -> None: ...
    def mapping(
        self, value: object, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> Mapping[str, Any] | None: ...
    def sequence(self, value: object, path: str, max_items: int) -> Sequence[Any] | None: ...
    def string(self, value: object, path: str, *, max_length: int = ...) -> str | None: ...
    def name(self, value: object, path: str) -> str | None: ...
    def number(self, value: object, path: str) -> float | None: ...


def parse_scenarios(
    p: ConfigChecker, value: object, *, columns: frozenset[str] | None, numerical: frozenset[str]
) -> tuple[Scenario, ...] | None:
    """Validate ``scenarios``; ``columns``: the columns a condition may name (None: unknown, not checked);
    ``numerical``: those ``above`` / ``below`` apply to."""
    path = "scenarios"
    items = p.sequence(value, path, MAX_SCENARIOS)
    if items is None:
        return None
    start = len(p.errors)
    out: list[Scenario] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        item_path = f"{path}[{index}]"
        item = p.mapping(raw, item_path, _SCENARIO_KEYS, required=_SCENARIO_KEYS)
        if item is None:
            continue
        name = p.name(item["name"], f"{item_path}.name") if "name" in item else None
        if name is not None and name in seen:
            p.error(f"{item_path}.name", f"duplicate scenario name {name!r} (also {path}[{seen[name]}])")
            name = None
        elif name is not None:
            seen[name] = index
        counter = [0]
        where = (
            _condition(p, item["where"], f"{item_path}.where", columns, numerical, 1, counter)
            if "where" in item
            else None
        )
        if name is not None and where is not None:
            out.append(Scenario(name, where))
    return None if len(p.errors) > start else tuple(out)


def _condition(
    p: ConfigChecker,
    value: object,
    path: str,
    columns: frozenset[str] | None,
    numerical: frozenset[str],
    depth: int,
    counter: list[int],
) -> Condition | None:
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        if counter[0] == MAX_CONDITIONS + 1:
            p.error(path, f"too many conditions; at most {MAX_CONDITIONS} in one scenario")
        return None
    if not isinstance(value, Mapping):
        p.error(path, "expected a mapping: a condition on a column, or all: / any: of conditions")
        return None
    groups = [k for k in GROUP_OPS if k in value]
    if groups:
        p.mapping(value, path, GROUP_OPS)
        if len(groups) > 1 or len(value) != 1:
            p.error(path, "expected exactly one of all, any (and nothing beside it)")
            return None
        op = groups[0]
        if depth >= MAX_DEPTH:
            p.error(path, f"conditions nested deeper than {MAX_DEPTH} levels")
            return None
        items = p.sequence(value[op], f"{path}.{op}", MAX_CONDITIONS)
        if items is None:
            return None
        if not items:
            p.error(f"{path}.{op}", "must not be empty")
            return None
        parts = [
            _condition(p, v, f"{path}.{op}[{i}]", columns, numerical, depth + 1, counter) for i, v in enumerate(items)
        ]
        if any(part is None for part in parts):
            return None
        return Condition(op, parts=tuple(part for part in parts if part is not None))
    section = p.mapping(value, path, ("column", *LEAF_OPS), required=("column",))
    if section is None:
        return None
    column = p.string(section["column"], f"{path}.column") if "column" in section else None
    if column is not None and columns is not None and column not in columns:
        p.error(f"{path}.column", f"unknown column {column!r}; expected a column declared under columns or fairness")
        column = None
    ops = [k for k in LEAF_OPS if k in section]
    if len(ops) != 1:
        p.error(path, f"expected exactly one of {', '.join(LEAF_OPS)}; found {', '.join(ops) or 'none'}")
        return None
    op = ops[0]
    op_path = f"{path}.{op}"
    raw = section[op]
    parsed: Any = None
    if op == "equals":
        parsed = _scalar(p, raw, op_path)
    elif op == "in":
        items = p.sequence(raw, op_path, MAX_IN_VALUES)
        if items is not None:
            if not items:
                p.error(op_path, "must not be empty")
            else:
                vals = [_scalar(p, v, f"{op_path}[{i}]") for i, v in enumerate(items)]
                parsed = None if any(v is None for v in vals) else tuple(vals)
    elif op in ("above", "below"):
        parsed = p.number(raw, op_path)
        if parsed is not None and column is not None and columns is not None and column not in numerical:
            p.error(op_path, f"{op} applies to numerical columns, and {column!r} is not one")
            parsed = None
    else:  # is_missing
        if raw is not True and raw is not False:
            p.error(op_path, "expected true or false")
        else:
            parsed = raw
    if column is None or parsed is None:
        return None
    return Condition(op, column, parsed)


def _scalar(p: ConfigChecker, raw: object, path: str) -> Scalar | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return p.number(raw, path) if isinstance(raw, float) else raw
    if isinstance(raw, str):
        if len(raw) > 1024:
            p.error(path, "longer than 1024 characters")
            return None
        return raw
    p.error(path, "expected a string, number or boolean")
    return None
