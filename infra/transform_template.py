#!/usr/bin/env python3
"""Transform template.yaml with the SAM translator, offline, and write the CloudFormation JSON.

What CloudFormation would run after the AWS::Serverless-2016-10-31 transform: the generated roles, event
source mappings, schedules and layer versions, so cfn-lint and reviewers can see them. Offline: local
CodeUri/ContentUri paths become placeholder S3 locations (as `sam package` would upload them), the region
is us-east-1 unless AWS_DEFAULT_REGION says otherwise, and no managed policy is looked up (the template
names none).

    transform_template.py [--template template.yaml] [--out FILE]   (stdout without --out)

Needs aws-sam-translator (the project's dev extra, or the SAM CLI's venv).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

_LOCAL_ARTIFACTS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class _NoManagedPolicies:
    """The translator asks for AWS managed-policy ARNs by name; this template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def sam_to_cfn(template: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(template)
    for logical_id, resource in doc.get("Resources", {}).items():
        key = _LOCAL_ARTIFACTS.get(resource.get("Type", ""))
        props = resource.get("Properties") or {}
        if key and isinstance(props.get(key), str) and not props[key].startswith("s3://"):
            props[key] = f"s3://driftline-artifacts/{logical_id}.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        return transform(doc, {}, _NoManagedPolicies())
    except InvalidDocumentException as err:
        causes = "; ".join(str(cause) for cause in err.causes)
        raise SystemExit(f"SAM transform failed: {causes}") from err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = sam_to_cfn(yaml_parse(args.template.read_text(encoding="utf-8")))
    text = json.dumps(result, indent=2, sort_keys=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
