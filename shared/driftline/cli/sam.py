"""``driftline local sam-env`` and ``driftline local event``: run the functions with ``sam local invoke`` against the
running local cloud.

    driftline local up --host 0.0.0.0                     # keeps serving
    driftline local sam-env > env.json                    # --env-vars for every function of the template
    driftline local event IngestFunction --key predictions/churn-v3/2026/11/23/00.parquet > event.json
    sam local invoke IngestFunction -e event.json --env-vars env.json --docker-network host

sam-env resolves each function's environment from template.yaml for the local cloud's stack (the same names and
values as the template sets and the local cloud's event pump uses), with ``AWS_ENDPOINT_URL`` pointing at the local
cloud from inside a container (a queue's ``!Ref`` is the local cloud's queue URL). event builds what Lambda would
receive for an object already in the local bucket: the SQS batch carrying its S3 notification (routed by the
bucket's notification configuration); the scheduler's tick for the evaluator; for the judge, the SQS batch of the
evaluate messages the evaluator left on its queue (or one for ``--model``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import posixpath
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from driftline.cli.local.state import read_state
from driftline.cli.stack import UsageError, session_for
from driftline.core.errors import DriftlineError


def _local() -> dict[str, Any]:
    state = read_state()
    if state is None:
        raise DriftlineError("no local cloud is running: start `driftline local up` (in another terminal) first")
    return state


def _stack(state: dict[str, Any]) -> Any:
    from driftline.cli.local.template import Stack, load_template

    template = load_template(Path(state["root"]) / "template.yaml")
    return Stack(template, name=str(state["stack"]), region=str(state["region"]))


def container_endpoint(endpoint_url: str, docker_host: str | None) -> str:
    """The local cloud's endpoint as a container reaches it: the same, or with ``docker_host`` as its host."""
    if not docker_host:
        return endpoint_url
    parts = urlsplit(endpoint_url)
    return urlunsplit((parts.scheme, f"{docker_host}:{parts.port}", parts.path, "", ""))


def _client(state: dict[str, Any], service: str) -> Any:
    endpoint, region = str(state["endpoint_url"]), str(state["region"])
    return session_for(endpoint, region).client(service, endpoint_url=endpoint, region_name=region)


QUEUE_URL = "__queue_url__:"  # what the template reader resolves a queue's Ref / QueueUrl to (the name follows)


def _queue_url(sqs: Any, name: str, docker_host: str | None) -> str:
    """The local cloud's URL of queue ``name`` (the one its event pump gives the functions), with ``docker_host``
    as its host when given (as ``AWS_ENDPOINT_URL``)."""
    try:
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        raise DriftlineError(
            f"the local cloud has no queue {name}: restart `driftline local up` after changing template.yaml"
        ) from None
    if not docker_host:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{docker_host}:{parts.port}", parts.path, parts.query, ""))


def sam_env(state: dict[str, Any], *, docker_host: str | None = None, sqs: Any = None) -> dict[str, dict[str, str]]:
    """``--env-vars`` for every function: its template environment resolved for the local stack (a queue's
    ``!Ref`` is the running local cloud's URL of that queue)."""
    stack = _stack(state)
    endpoint = container_endpoint(str(state["endpoint_url"]), docker_host)
    out: dict[str, dict[str, str]] = {}
    for logical in stack.of_type("AWS::Serverless::Function"):
        env = {k: str(v) for k, v in stack.properties(logical)["Environment"]["Variables"].items()}
        for var, value in env.items():
            if value.startswith(QUEUE_URL):
                sqs = sqs or _client(state, "sqs")
                env[var] = _queue_url(sqs, value[len(QUEUE_URL) :], docker_host)
        for var, field in (
            ("DRIFTLINE_BUCKET", "bucket"),
            ("DRIFTLINE_TABLE", "table"),
            ("DRIFTLINE_TOPIC_ARN", "topic_arn"),
        ):
            if var in env and env[var] != state.get(field):
                raise DriftlineError(
                    f"{logical}: the template's {var} ({env[var]}) is not the local cloud's ({state.get(field)}): "
                    "restart `driftline local up` after changing template.yaml"
                )
        if "AWS_ENDPOINT_URL" not in env:
            raise DriftlineError(
                f"{logical} does not declare AWS_ENDPOINT_URL: `sam local invoke --env-vars` sets "
                "only declared variables"
            )
        env["AWS_ENDPOINT_URL"] = endpoint
        out[logical] = env
    return out


def function_id(stack: Any, name: str) -> str:
    """``IngestFunction``, ``ingest`` or ``Ingest`` → the template's logical id."""
    functions = stack.of_type("AWS::Serverless::Function")
    by_lower = {f.lower(): f for f in functions} | {f.lower().removesuffix("function"): f for f in functions}
    found = by_lower.get(name.lower())
    if found is None:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
        hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
        raise UsageError(f"no function {name!r} in template.yaml{hint}; functions: {', '.join(functions)}")
    return str(found)


def _route(stack: Any, key: str) -> str | None:
    """The queue (logical id) the data bucket's notification configuration sends ``key``'s creation to."""
    for bucket in stack.of_type("AWS::S3::Bucket"):
        for qc in (stack.properties(bucket).get("NotificationConfiguration") or {}).get("QueueConfigurations", []):
            rules = {
                r["Name"].lower(): r["Value"] for r in ((qc.get("Filter") or {}).get("S3Key") or {}).get("Rules", [])
            }
            if key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
                arn = str(qc["Queue"])
                return next((q for q in stack.of_type("AWS::SQS::Queue") if stack.get_att(q, "Arn") == arn), None)
    return None


def _sqs_queue(stack: Any, logical: str) -> str | None:
    for ev in (stack.properties(logical).get("Events") or {}).values():
        if ev.get("Type") == "SQS":
            arn = str((ev.get("Properties") or {})["Queue"])
            return next((q for q in stack.of_type("AWS::SQS::Queue") if stack.get_att(q, "Arn") == arn), None)
    return None


def _notified(stack: Any, queue: str) -> bool:
    """Whether a bucket's notification configuration sends to ``queue`` (else its messages come from a function)."""
    arn = stack.get_att(queue, "Arn")
    return any(
        str(qc.get("Queue")) == arn
        for bucket in stack.of_type("AWS::S3::Bucket")
        for qc in (stack.properties(bucket).get("NotificationConfiguration") or {}).get("QueueConfigurations", [])
    )


def _message_event(
    state: dict[str, Any], stack: Any, logical: str, queue: str, model: str | None, *, sqs: Any = None
) -> dict[str, Any]:
    """The SQS batch of evaluate messages ``logical`` (the judge) would get: one for ``model``, or those waiting on
    its queue (received and deleted, as Lambda's event source does once the batch succeeded; the models stay due
    until evaluated, so a failed invoke is retried by the next evaluator tick)."""
    from driftline.cli.local.events import sqs_event, sqs_message_record, sqs_record
    from driftline.services.dispatch import evaluate_message, parse_evaluate_message

    region, arn = str(state["region"]), stack.get_att(queue, "Arn")
    if model is not None:
        body = evaluate_message(model, at=None)
        try:
            parse_evaluate_message(body)
        except DriftlineError as err:
            raise UsageError(f"--model {model!r}: {err}") from None
        return sqs_event(sqs_record(body, queue_arn=arn, region=region))
    sqs = sqs or _client(state, "sqs")
    url = _queue_url(sqs, stack.physical_name(queue), None)
    batch_size = int(
        next(
            (ev.get("Properties") or {}).get("BatchSize", 10)
            for ev in (stack.properties(logical).get("Events") or {}).values()
            if ev.get("Type") == "SQS"
        )
    )
    records: list[dict[str, Any]] = []
    while len(records) < batch_size:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, batch_size - len(records)),
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not got:
            break
        for m in got:
            records.append(sqs_message_record(m, queue_arn=arn, region=region))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if not records:
        raise DriftlineError(
            f"no messages waiting on {queue}: invoke EvaluateFunction first (it queues the models with windows due), "
            "or pass --model ID"
        )
    return sqs_event(*records)


def _schedule(stack: Any, logical: str) -> str | None:
    for ev in (stack.properties(logical).get("Events") or {}).values():
        if ev.get("Type") in ("ScheduleV2", "Schedule"):
            return str((ev.get("Properties") or {}).get("Name") or f"{stack.name}-{logical}")
    return None


def lambda_event(
    state: dict[str, Any], function: str, key: str | None, *, model: str | None = None, s3: Any = None, sqs: Any = None
) -> dict[str, Any]:
    """The event ``function`` would get: for an S3-notified one, the SQS batch carrying the S3 notification of
    ``key`` (which must exist in the local bucket and be routed to that function's queue); for the judge, the SQS
    batch of evaluate messages (``model``'s, or those waiting on its queue); for the evaluator, a tick."""
    from driftline.cli.local.events import s3_notification, schedule_event, sqs_event, sqs_record

    stack = _stack(state)
    logical = function_id(stack, function)
    region = str(state["region"])
    queue = _sqs_queue(stack, logical)
    if queue is None:
        schedule = _schedule(stack, logical)
        if schedule is None:
            raise UsageError(f"{logical} has neither an SQS nor a schedule event in template.yaml")
        if key or model:
            raise UsageError(f"{logical} runs on a schedule: it takes no --{'key' if key else 'model'}")
        return schedule_event(schedule=schedule, region=region)
    if not _notified(stack, queue):
        if key:
            raise UsageError(f"{logical} gets evaluate messages from {queue}: it takes no --key (--model ID, or none)")
        return _message_event(state, stack, logical, queue, model, sqs=sqs)
    if model:
        raise UsageError(f"{logical} is triggered by S3 notifications: it takes --key KEY, not --model")
    if not key:
        raise UsageError(f"{logical} is triggered by S3 notifications: pass --key KEY (an object in the local bucket)")
    routed = _route(stack, key)
    if routed != queue:
        owner = next((f for f in stack.of_type("AWS::Serverless::Function") if _sqs_queue(stack, f) == routed), None)
        where = (
            f"goes to {routed} ({owner})"
            if routed
            else "notifies no queue (prefixes: models/…/config.yaml, baselines/, predictions/, labels/)"
        )
        raise UsageError(f"key {key!r} {where}, not to {queue} ({logical})")
    bucket = str(state["bucket"])
    if s3 is None:
        s3 = _client(state, "s3")
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=posixpath.dirname(key) + "/", MaxKeys=1000).get(
            "Contents", []
        )
        close = difflib.get_close_matches(key, [o["Key"] for o in listed], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DriftlineError(f"no object s3://{bucket}/{key} in the local cloud{hint}: upload it first") from None
    note = s3_notification(
        bucket,
        key,
        size=int(head["ContentLength"]),
        etag=str(head["ETag"]),
        version_id=head.get("VersionId"),
        at=head["LastModified"].timestamp(),
        region=region,
    )
    return sqs_event(sqs_record(note, queue_arn=stack.get_att(queue, "Arn"), region=region))


# -- the commands ------------------------------------------------------------------------------------------------


def _write(doc: Any, out: str | None) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def cmd_sam_env(args: argparse.Namespace) -> int:
    state = _local()
    if args.docker_host and state.get("host") in ("127.0.0.1", "localhost", "::1"):
        print(
            f"driftline: warning: the local cloud listens on {state['host']} only, which {args.docker_host} does not "
            "reach: restart it with `driftline local up --host 0.0.0.0`",
            file=sys.stderr,
        )
    _write(sam_env(state, docker_host=args.docker_host), args.out)
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    _write(lambda_event(_local(), args.function, args.key, model=args.model), args.out)
    return 0


def add_sam_commands(local: Any, sub: Callable[..., argparse.ArgumentParser]) -> None:
    env = sub(local, "sam-env", "the --env-vars JSON of every function for `sam local invoke` against the local cloud")
    env.add_argument(
        "--docker-host",
        default=None,
        help="the local cloud's host as a container sees it, e.g. host.docker.internal (default: the endpoint's own "
        "host, right with `sam local invoke --docker-network host`)",
    )
    env.add_argument("--out", default=None, help="write to this file (default: stdout)")
    env.set_defaults(func=cmd_sam_env)
    ev = sub(local, "event", "the event Lambda would get, for `sam local invoke -e`")
    ev.add_argument("function", help="IngestFunction, ingest, EvaluateFunction, ... (template.yaml's functions)")
    ev.add_argument("--key", default=None, help="an object in the local bucket (not for the evaluator or the judge)")
    ev.add_argument(
        "--model",
        default=None,
        help="JudgeFunction: a batch of this model's evaluate message (default: the messages EvaluateFunction left "
        "on JudgeQueue, taken off it)",
    )
    ev.add_argument("--out", default=None, help="write to this file (default: stdout)")
    ev.set_defaults(func=cmd_event)
