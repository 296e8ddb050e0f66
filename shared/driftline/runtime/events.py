"""Event parsing at the edge: SQS bodies carrying S3 event notifications → object references. No boto3."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from driftline.core.errors import InputError
from driftline.services.models import ObjectRef, parse_key


@dataclass(frozen=True)
class S3Notification:
    refs: list[ObjectRef]
    rejected: list[tuple[str, str]]  # (key, reason) of records that name no usable object
    test_event: bool = False


def parse_sqs_body(body: str) -> S3Notification:
    """The S3 event inside one SQS message body (S3 → SQS delivers it as a JSON string). ``s3:TestEvent``
    (sent when notifications are configured) carries no records. Keys are URL-encoded by S3: decoded here.
    Raises InputError when the body is not an S3 event at all."""
    try:
        event: Any = json.loads(body)
    except (TypeError, ValueError) as err:
        raise InputError(f"the SQS message body is not JSON: {err}") from err
    if not isinstance(event, dict):
        raise InputError("the SQS message body is not an S3 event")
    if event.get("Event") == "s3:TestEvent":
        return S3Notification([], [], test_event=True)
    records = event.get("Records")
    if not isinstance(records, list):
        raise InputError("the SQS message body has no S3 event Records")
    refs: list[ObjectRef] = []
    rejected: list[tuple[str, str]] = []
    for rec in records:
        try:
            s3 = rec["s3"]
            bucket = s3["bucket"]["name"]
            obj = s3["object"]
            raw_key = obj["key"]
        except (KeyError, TypeError) as err:
            raise InputError(f"an S3 event record lacks {err}") from err
        if not str(rec.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        try:
            refs.append(parse_key(bucket, raw_key, str(obj.get("eTag", "")), int(obj.get("size", 0) or 0)))
        except InputError as err:
            rejected.append((err.key or raw_key, err.reason))
    return S3Notification(refs, rejected)
