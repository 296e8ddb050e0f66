"""Lambda events as the services deliver them (see infra/events/): the S3 notification of one object, carried in an
SQS batch (its body a JSON *string*, the key URL-encoded as real S3 encodes it), and EventBridge Scheduler's tick.

Used by ``driftline local event`` (an event for ``sam local invoke``), bench/coldstart.py and the tests.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account


def _iso(at: float, *, millis: bool = True) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")


def s3_notification(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None = None,
    at: float | None = None,
    region: str = REGION,
    principal: str = "AWS:AROAEXAMPLEROLEID:driftline-local",
) -> dict[str, Any]:
    """The S3 ``ObjectCreated:Put`` notification of one object; the key URL-encoded as real S3 encodes it."""
    at = time.time() if at is None else at
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"')}
    if version_id and version_id != "null":  # the data bucket is versioned
        obj["versionId"] = version_id
    obj["sequencer"] = f"{int(at * 1e6):018X}"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": _iso(at),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": principal},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "driftline-local",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def sqs_record(
    body: dict[str, Any] | str, *, queue_arn: str, at: float | None = None, region: str = REGION
) -> dict[str, Any]:
    """One SQS message as Lambda's SQS event source hands it over: the body is a JSON *string*."""
    at = time.time() if at is None else at
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    sent = str(int(at * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex + "local",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent,
            "SenderId": "AIDAJHIPRHEMV73VRJEBU",
            "ApproximateFirstReceiveTimestamp": sent,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_message_record(message: dict[str, Any], *, queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """A message received from SQS (``receive_message`` with ``AttributeNames=["All"]``) as Lambda's SQS event
    source hands it over."""
    attrs = message.get("Attributes") or {}
    sent = str(attrs.get("SentTimestamp") or int(time.time() * 1000))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": str(attrs.get("ApproximateReceiveCount", "1")),
            "SentTimestamp": sent,
            "SenderId": str(attrs.get("SenderId", "AIDAJHIPRHEMV73VRJEBU")),
            "ApproximateFirstReceiveTimestamp": str(attrs.get("ApproximateFirstReceiveTimestamp", sent)),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def schedule_event(
    *, schedule: str = "driftline-evaluate", at: float | None = None, region: str = REGION, account: str = ACCOUNT
) -> dict[str, Any]:
    """What EventBridge Scheduler sends EvaluateFunction: template.yaml's ``Input``, filled in."""
    at = time.time() if at is None else at
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": account,
        "time": _iso(at - at % 60, millis=False),
        "region": region,
        "resources": [f"arn:aws:scheduler:{region}:{account}:schedule/default/{schedule}"],
        "detail": {"attempt_number": "1"},
    }
