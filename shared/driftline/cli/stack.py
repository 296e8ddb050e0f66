"""Where the CLI finds a Driftline deployment: flags, environment, a CloudFormation stack's outputs, or the running
local cloud (``driftline local up`` leaves its settings where the next commands find them)."""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import urlsplit

import boto3

from driftline.cli.local.state import read_state
from driftline.core.errors import DriftlineError
from driftline.runtime.settings import Settings

OUTPUTS = {"DataBucketName": "bucket", "MetricsTableName": "table", "AlertsTopicArn": "topic_arn"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "host.docker.internal")  # noqa: S104 - names, not binds
DUMMY_KEY = "testing"  # moto accepts any credentials


class UsageError(DriftlineError):
    """A mistake in the command line: one line, exit 2."""


def check_endpoint(url: str | None) -> str | None:
    """``--endpoint-url`` must be a URL: ``127.0.0.1:4566`` (no scheme) is refused with the fix."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--endpoint-url {url!r} is not a URL (did you mean 'http://{url.split('://')[-1]}'?)")
    return url


def is_local(url: str | None) -> bool:
    return bool(url) and (urlsplit(url).hostname or "") in LOCAL_HOSTS


def session_for(endpoint_url: str | None, region: str | None) -> Any:
    """boto3's default session; against a local endpoint with no credentials configured, dummy ones (moto accepts
    any, and a fresh machine has none: NoCredentialsError otherwise)."""
    session = boto3.session.Session(region_name=region)
    if is_local(endpoint_url) and session.get_credentials() is None:
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region
        )
    return session


def stack_outputs(stack: str, *, endpoint_url: str | None, region: str | None) -> dict[str, str]:
    cfn = session_for(endpoint_url, region).client("cloudformation", endpoint_url=endpoint_url, region_name=region)
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as err:  # botocore ClientError or connection errors: name the stack
        raise DriftlineError(f"cannot read the outputs of stack {stack!r}: {err}") from err
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Flags (and their environment variables) first; then ``--stack``'s outputs; then, when nothing names a
    deployment, the running local cloud's settings. ``--stack`` of the local cloud resolves against it too."""
    endpoint_url = check_endpoint(args.endpoint_url)
    region = args.region
    values = {"bucket": args.bucket, "table": args.table, "topic_arn": args.topic_arn}
    event_bus = os.environ.get("DRIFTLINE_EVENT_BUS") or None  # alerts the CLI's evaluator publishes go there too
    local = read_state()
    if local and endpoint_url not in (None, local["endpoint_url"]):
        local = None  # another endpoint was named: not the local cloud
    if local and args.stack not in (None, local.get("stack")):
        local = None
    use_local = local is not None and (args.stack is not None or not any(values.values()))
    if use_local and local is not None:
        endpoint_url = endpoint_url or local["endpoint_url"]
        region = region or local.get("region")
        for field in values:
            values[field] = values[field] or local.get(field)
        event_bus = event_bus or local.get("event_bus")
    elif args.stack:
        outputs = stack_outputs(args.stack, endpoint_url=endpoint_url, region=region)
        for out_key, field in OUTPUTS.items():
            if out_key in outputs and not values[field]:
                values[field] = outputs[out_key]
        event_bus = event_bus or outputs.get("EventBusName")
    missing = [k for k, v in values.items() if not v]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise DriftlineError(
            f"no {flags}: pass --stack NAME, the flags, or DRIFTLINE_BUCKET/TABLE/TOPIC_ARN (or `driftline local up`)"
        )
    return Settings(
        bucket=str(values["bucket"]),
        table=str(values["table"]),
        topic_arn=str(values["topic_arn"]),
        endpoint_url=endpoint_url,
        region=region or boto3.session.Session().region_name or "us-east-1",
        event_bus=event_bus,
    )
