"""Reading template.yaml for the local cloud: CloudFormation short tags, intrinsic functions, SAM Globals.

Only what provisioning needs: physical names are derived as CloudFormation would (a stack name plus the
logical id where the template gives none), and ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::If``/``Fn::Join``/
``Fn::Select``/``Fn::Equals``/``Fn::Not`` are resolved against them.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"  # moto's default account
PARTITION = "aws"
NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    fn = name if name in ("Ref", "Condition") else f"Fn::{name}"  # !Condition is {"Condition": name}

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {fn: value}

    return construct


for _name in (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Join",
    "Select",
    "Split",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Condition",
    "Cidr",
):
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = yaml.load(f, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass with CloudFormation tags only
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path}: not a CloudFormation template")
    return data


class Stack:
    """A template resolved for one stack name, region and parameter values."""

    def __init__(self, template: dict[str, Any], *, name: str, region: str, parameters: dict[str, str] | None = None):
        self.template = template
        self.name = name
        self.region = region
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.params: dict[str, str] = {}
        for key, spec in (template.get("Parameters") or {}).items():
            self.params[key] = str((parameters or {}).get(key, spec.get("Default", "")))
        self.conditions: dict[str, bool] = {}
        for key, expr in (template.get("Conditions") or {}).items():
            self.conditions[key] = bool(self.resolve(expr))
        self.globals = (template.get("Globals") or {}).get("Function", {})

    # -- names ---------------------------------------------------------------------------------------------------

    def physical_name(self, logical: str) -> str:
        res = self.resources[logical]
        props = res.get("Properties") or {}
        kind = res["Type"]
        explicit = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Serverless::Function": "FunctionName",
        }.get(kind)
        if explicit and explicit in props:
            return str(self.resolve(props[explicit]))
        base = f"{self.name}-{logical}"
        return base.lower() if kind == "AWS::S3::Bucket" else base

    def ref(self, logical: str) -> str:
        pseudo = {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": self.name,
        }
        if logical in pseudo:
            return pseudo[logical]
        if logical in self.params:
            return self.params[logical]
        kind = self.resources[logical]["Type"]
        name = self.physical_name(logical)
        if kind == "AWS::SQS::Queue":
            return f"__queue_url__:{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{self.region}:{ACCOUNT}:{name}"
        return name

    def get_att(self, logical: str, attr: str) -> str:
        kind = self.resources[logical]["Type"]
        name = self.physical_name(logical)
        if kind == "AWS::SQS::Queue":
            return {
                "Arn": f"arn:{PARTITION}:sqs:{self.region}:{ACCOUNT}:{name}",
                "QueueName": name,
                "QueueUrl": f"__queue_url__:{name}",
            }[attr]
        if kind == "AWS::S3::Bucket":
            return {"Arn": f"arn:{PARTITION}:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}.get(attr, name)
        if kind == "AWS::DynamoDB::Table":
            return f"arn:{PARTITION}:dynamodb:{self.region}:{ACCOUNT}:table/{name}"
        if kind == "AWS::SNS::Topic":
            return {"TopicArn": self.ref(logical), "TopicName": name}.get(attr, self.ref(logical))
        return f"arn:{PARTITION}:{kind.split('::')[1].lower()}:{self.region}:{ACCOUNT}:{name}"

    # -- intrinsics ----------------------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(logical, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.conditions.get(cond, False) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(x) for x in self.resolve(items))
            if key == "Fn::Select":
                idx, items = arg
                return self.resolve(items)[int(self.resolve(idx))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Condition":
                return self.conditions.get(arg, False)
        out = {}
        for k, v in value.items():
            r = self.resolve(v)
            if r is not NO_VALUE:
                out[k] = r
        return out

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, extra = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, extra = arg, {}

        def repl(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in extra:
                return str(extra[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical, attr = expr.split(".", 1)
                return self.get_att(logical, attr)
            return str(self.ref(expr))

        return re.sub(r"\$\{([^}]+)\}", repl, str(text))

    # -- resources -----------------------------------------------------------------------------------------------

    def of_type(self, kind: str) -> list[str]:
        return [
            k
            for k, r in self.resources.items()
            if r["Type"] == kind and (r.get("Condition") is None or self.conditions.get(r["Condition"], False))
        ]

    def properties(self, logical: str) -> dict[str, Any]:
        props = copy.deepcopy(self.resources[logical].get("Properties") or {})
        if self.resources[logical]["Type"] == "AWS::Serverless::Function":
            merged = copy.deepcopy(self.globals)
            env = merged.get("Environment", {}).get("Variables", {})
            env.update((props.get("Environment") or {}).get("Variables", {}))
            merged.update(props)
            merged["Environment"] = {"Variables": env}
            props = merged
        resolved = self.resolve(props)
        assert isinstance(resolved, dict)
        return resolved
