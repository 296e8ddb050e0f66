"""Reading the template that `sam build` writes (.aws-sam/build/template.yaml): functions, layers, their dirs.

Shared by measure_sizes.py, prune_layers.py and check_imports.py. Runs on the SAM CLI's own interpreter
(infra/.venv-sam), which has PyYAML; standard library otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: function code + all its layers, unzipped (250 MiB)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) into their long form."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        doc = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise SystemExit(f"{path}: not a CloudFormation template")
    return doc


@dataclasses.dataclass(frozen=True)
class Layer:
    logical_id: str
    path: Path  # the layer's root (its zip's root); python/ is inside


@dataclasses.dataclass(frozen=True)
class Function:
    logical_id: str
    code: Path
    handler: str
    layers: tuple[Layer, ...]
    environment: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Build:
    root: Path
    template: dict[str, Any]
    layers: dict[str, Layer]
    functions: tuple[Function, ...]


def _layer_ref(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return None


def read_build(build_dir: Path) -> Build:
    template_path = build_dir / "template.yaml"
    if not template_path.is_file():
        raise SystemExit(f"{template_path} not found: run `sam build` (infra/build.sh) first")
    template = load_template(template_path)
    resources: dict[str, Any] = template["Resources"]
    globals_fn: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}

    layers: dict[str, Layer] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = resource.get("Properties", {}).get("ContentUri")
            if isinstance(content, str) and not content.startswith("s3://"):
                layers[logical_id] = Layer(logical_id, (build_dir / content).resolve())

    functions: list[Function] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props: dict[str, Any] = resource.get("Properties", {})
        code = props.get("CodeUri")
        if not isinstance(code, str) or code.startswith("s3://"):
            continue
        refs = [_layer_ref(v) for v in (globals_fn.get("Layers") or []) + (props.get("Layers") or [])]
        missing = [r for r in refs if r is None or r not in layers]
        if missing:
            raise SystemExit(f"{logical_id}: layers not built locally: {missing}")
        env: dict[str, Any] = {}
        env.update(((globals_fn.get("Environment") or {}).get("Variables")) or {})
        env.update(((props.get("Environment") or {}).get("Variables")) or {})
        functions.append(
            Function(
                logical_id=logical_id,
                code=(build_dir / code).resolve(),
                handler=str(props.get("Handler") or globals_fn.get("Handler") or "app.handler"),
                layers=tuple(layers[r] for r in refs if r is not None),
                environment=env,
            )
        )
    return Build(build_dir.resolve(), template, layers, tuple(functions))


def tree_size(path: Path) -> int:
    """Bytes of every regular file under path (what the unzipped deployment package holds)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:  # dangling symlink: not packaged
                continue
    return total


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}"
