"""Where the CLI finds a Driftline deployment: flags, environment, or a CloudFormation stack's outputs."""

from __future__ import annotations

import argparse
import os

import boto3

from driftline.core.errors import DriftlineError
from driftline.runtime.settings import Settings

OUTPUTS = {"DataBucketName": "bucket", "MetricsTableName": "table", "AlertsTopicArn": "topic_arn"}


def stack_outputs(stack: str, *, endpoint_url: str | None, region: str | None) -> dict[str, str]:
    cfn = boto3.client("cloudformation", endpoint_url=endpoint_url, region_name=region)
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as err:  # botocore ClientError or connection errors: name the stack
        raise DriftlineError(f"cannot read the outputs of stack {stack!r}: {err}") from err
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def resolve_settings(args: argparse.Namespace) -> Settings:
    values = {"bucket": args.bucket, "table": args.table, "topic_arn": args.topic_arn}
    event_bus = os.environ.get("DRIFTLINE_EVENT_BUS") or None  # alerts the CLI's evaluator publishes go there too
    if args.stack:
        outputs = stack_outputs(args.stack, endpoint_url=args.endpoint_url, region=args.region)
        for out_key, field in OUTPUTS.items():
            if out_key in outputs and not values[field]:
                values[field] = outputs[out_key]
        event_bus = event_bus or outputs.get("EventBusName")
    missing = [k for k, v in values.items() if not v]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise DriftlineError(f"no {flags}: pass --stack NAME, the flags, or DRIFTLINE_BUCKET/TABLE/TOPIC_ARN")
    return Settings(
        bucket=str(values["bucket"]),
        table=str(values["table"]),
        topic_arn=str(values["topic_arn"]),
        endpoint_url=args.endpoint_url,
        region=args.region or boto3.session.Session().region_name or "us-east-1",
        event_bus=event_bus,
    )
