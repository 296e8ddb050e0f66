"""Least privilege on the table: each function's role may touch only its own item kinds (``dynamodb:LeadingKeys``),
and a run of every function touches no other kind than its role allows (issue 12)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from driftline.adapters import dynamodb
from driftline.cli.demo import MODEL_ID, encode

from .conftest import Pipeline
from .test_handlers import T0, evaluate_after, set_up_model, window_rows, without_labels
from .test_template import template, transformed  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

FUNCTIONS = {"config": "Config", "baseline": "Baseline", "ingest": "Ingest", "labels": "Labels", "evaluate": "Evaluate"}
ROLES = {**FUNCTIONS, "judge": "Judge"}
EXPECTED = {
    "config": {"MODELS", "MODEL#*", "FILE#*", "ERR#*", "ALERT#*"},
    "baseline": {"MODEL#*", "FILE#*", "ERR#*", "ALERT#*"},
    "ingest": {"MODEL#*", "FILE#*", "KEY#*", "PROF#*", "DIRTY#*", "JOIN#*", "JOINF#*", "ERR#*", "ALERT#*"},
    "labels": {"MODEL#*", "FILE#*", "KEY#*", "PROF#*", "DIRTY#*", "JOIN#*", "JOINF#*", "ERR#*", "ALERT#*"},
    # the scheduled dispatcher reads what tells it a model is due; the judge evaluates (services/dispatch.py)
    "evaluate": {"MODELS", "MODEL#*", "DIRTY#*", "OPEN#*"},
    "judge": {"MODELS", "MODEL#*", "DIRTY#*", "PROF#*", "FILE#*", "MET#*", "OPEN#*", "ALERT#*", "ERR#*"},
}


def leading_keys(transformed: dict[str, Any], fn: str) -> set[str]:  # noqa: F811
    """The LeadingKeys patterns of the statements that grant item access on the table to the function's role."""
    resources = transformed["Resources"]
    role = resources[f"{ROLES[fn]}Function"]["Properties"]["Role"]["Fn::GetAtt"][0]
    patterns: set[str] = set()
    granted = False
    for policy in resources[role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if not any(a in ("dynamodb:GetItem", "dynamodb:PutItem") for a in actions):
                continue
            granted = True
            keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            patterns |= set(keys)
    assert granted, fn
    return patterns


@pytest.mark.parametrize("fn", sorted(ROLES))
def test_each_function_role_allows_only_its_item_kinds(transformed: dict[str, Any], fn: str) -> None:  # noqa: F811
    assert leading_keys(transformed, fn) == EXPECTED[fn]


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """function -> the partition keys its requests named, recorded at the DynamoDB adapter."""
    current = {"fn": "test"}
    seen: dict[str, set[str]] = {}

    def note(pk: str) -> None:
        seen.setdefault(current["fn"], set()).add(pk)

    def wrap(name: str, pk_of: Any) -> None:
        original = getattr(dynamodb.DynamoTable, name)

        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            for pk in pk_of(*args):
                note(pk)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(dynamodb.DynamoTable, name, recorded)

    wrap("get", lambda pk, sk, *a: [pk])
    wrap("put", lambda item, *a: [item["pk"]])
    wrap("add", lambda pk, *a: [pk])
    wrap("delete", lambda pk, *a: [pk])
    wrap("query", lambda pk, *a: [pk])
    wrap("batch_put", lambda items, *a: [i["pk"] for i in items])
    wrap("batch_get", lambda keys, *a: [k[0] for k in keys])
    wrap("transact", lambda ops, *a: [getattr(o, "item", {}).get("pk") or getattr(o, "pk", "") for o in ops])

    call, evaluate = Pipeline.call, Pipeline.evaluate

    def call_as(self: Pipeline, fn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        current["fn"] = fn
        try:
            return call(self, fn, messages)
        finally:
            current["fn"] = "test"

    def evaluate_as(self: Pipeline, at: float) -> dict[str, Any]:
        current["fn"] = "evaluate"
        try:
            return evaluate(self, at)
        finally:
            current["fn"] = "test"

    monkeypatch.setattr(Pipeline, "call", call_as)
    monkeypatch.setattr(Pipeline, "evaluate", evaluate_as)
    return seen


def test_a_run_of_every_function_touches_only_the_item_kinds_its_role_allows(
    pipeline: Pipeline,
    transformed: dict[str, Any],  # noqa: F811
    touched: dict[str, set[str]],
) -> None:
    # Given every function at work: a config, a baseline, logs (one bad, one rejected key), labels, the evaluator
    set_up_model(pipeline)
    table = window_rows(200, seed=1, prefix="k")
    pipeline.drop(f"predictions/{MODEL_ID}/a.csv", encode(without_labels(table), "csv"))
    pipeline.drop(f"predictions/{MODEL_ID}/open.csv", encode(without_labels(window_rows(200, window=1, seed=2)), "csv"))
    pipeline.drop(f"predictions/{MODEL_ID}/bad.csv", b"no,columns\n1,2\n")
    pipeline.put(f"predictions/{MODEL_ID}//rejected.csv", b"x")
    pipeline.deliver("ingest")
    pipeline.drop(f"labels/{MODEL_ID}/l.csv", encode(table.select(["request_id", "churned"]), "csv"))
    pipeline.drop(f"models/{MODEL_ID}/config.yaml", b"model_id: [broken\n")
    evaluate_after(pipeline, 1)
    assert pipeline.container.store.series(MODEL_ID, "volume.rows", None, None, start=T0, end=T0)
    # Then each function named only partition keys its role's LeadingKeys allow
    assert set(touched) - {"test"} == set(FUNCTIONS)
    assert any(pk.startswith("OPEN#") for pk in touched["evaluate"])  # the open window was looked at (early alerts)
    for fn, pks in touched.items():
        if fn == "test":
            continue
        # without an evaluate queue (this pipeline) the scheduled handler evaluates in-process: the judge's job
        allowed = leading_keys(transformed, "judge" if fn == "evaluate" else fn)
        stray = {pk for pk in pks if not any(fnmatch.fnmatchcase(pk, p) for p in allowed)}
        assert not stray, (fn, stray)
