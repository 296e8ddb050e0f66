"""``AlertSink`` over one SNS topic, with the boto3 client.

One alert is one ``Publish`` with ``MessageStructure="json"``: ``messages`` maps protocols (``default``,
``email``, ``sqs``, ...) to their text, and each subscriber gets the text of its protocol, else ``default``.
Subjects and attributes are checked here against SNS's rules (``ValueError``: the caller formats them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from driftline.adapters._errors import translate
from driftline.core.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

MAX_SUBJECT_CHARS = 99  # SNS: "less than 100 characters"
MAX_ATTRIBUTES = 10
MAX_PUBLISH_BYTES = 256 * 1024  # message and attributes together
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,256}")
_RETRYABLE = frozenset(
    {
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "KMSThrottling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


def check_publish(subject: str, messages: Mapping[str, str], attributes: Mapping[str, str]) -> str:
    """Check one alert against SNS's rules; returns the JSON message body. Raises ValueError naming the fault."""
    if not isinstance(subject, str) or not subject:
        raise ValueError("subject: must be a non-empty string")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise ValueError(f"subject: {len(subject)} characters; SNS needs fewer than 100: {subject[:40]!r}...")
    bad = sorted({c for c in subject if not " " <= c <= "~"})
    if bad:
        raise ValueError(f"subject: only printable ASCII without line breaks is allowed, found {bad}: {subject!r}")
    if subject[0] == " ":
        raise ValueError(f"subject: must begin with a letter, digit or punctuation mark: {subject!r}")
    if "default" not in messages:
        raise ValueError(f"messages: a 'default' entry is required (MessageStructure=json), got {sorted(messages)}")
    for proto, text in messages.items():
        if not isinstance(proto, str) or not isinstance(text, str):
            raise ValueError(f"messages[{proto!r}]: protocol and message must be strings")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"attributes: at most {MAX_ATTRIBUTES}, got {len(attributes)}")
    size = 0
    for name, value in attributes.items():
        if (
            not _ATTRIBUTE_NAME.fullmatch(name)
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
            or name.lower().startswith(("aws.", "amazon."))
        ):
            raise ValueError(f"attributes[{name!r}]: not a valid SNS message attribute name")
        if not isinstance(value, str) or not value:
            raise ValueError(f"attributes[{name!r}]: the value must be a non-empty string, got {value!r}")
        size += len(name.encode()) + len(b"String") + len(value.encode())
    body = json.dumps(dict(messages), ensure_ascii=False)
    size += len(body.encode())
    if size > MAX_PUBLISH_BYTES:
        raise ValueError(f"messages: {size} bytes with attributes; SNS allows {MAX_PUBLISH_BYTES}")
    return body


class SnsAlertSink:
    """``ports.AlertSink`` over one topic. ``client`` is a boto3 SNS client created once by the runtime."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def publish(self, *, subject: str, messages: Mapping[str, str], attributes: Mapping[str, str]) -> str:
        body = check_publish(subject, messages, attributes)
        attrs: dict[str, Any] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        try:
            resp = self._client.publish(
                TopicArn=self.topic_arn,
                Subject=subject,
                Message=body,
                MessageStructure="json",
                MessageAttributes=attrs,
            )
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, subject) from err
        return str(resp["MessageId"])

    def _error(self, err: Exception, subject: str) -> StorageError:
        where = f"topic {self.topic_arn!r}, alert {subject!r}"
        special = dict.fromkeys(
            ("NotFound", "NotFoundException"), lambda m: StorageError(f"{where}: topic not found ({m})")
        )
        return translate(err, where, retryable=_RETRYABLE, special=special)
