"""moto fixtures for integration tests: the mock, a table shaped like Driftline's, a bucket, an alerts topic with an
SQS queue subscribed, and a reader of what the queue received.

Dummy credentials are set before any client exists, and every client is created after ``mock_aws()`` started.
Request ``aws`` (or any fixture below, which all depend on it) before creating clients of your own.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
TABLE_NAME = "driftline-test"
BUCKET = "driftline-test-data"
TOPIC_NAME = "driftline-alerts"
ALERTS_QUEUE_NAME = "driftline-alerts-tap"

# Dummy credentials at import time, before any boto3 client can be created (never real ones).
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}.items():
    os.environ[_name] = _value


@functools.cache
def _session() -> boto3.Session:
    """One boto3 session for the whole run (moto resets boto3's default session at every start, and a new
    session reloads the service models: ~0.2 s per client). Created after moto is imported, so its clients go
    through moto's handler; each test still creates its clients after its mock started."""
    return boto3.Session(region_name=REGION)


def make_client(service: str) -> Any:
    """A boto3 client for ``service`` on the mock (call it inside a test that requested ``aws``)."""
    return _session().client(service)  # type: ignore[call-overload]


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto's mock of every AWS service, started before any client of the test is created."""
    with mock_aws() as mock:
        yield mock


@pytest.fixture
def dynamodb_client(aws: Any) -> Any:
    return make_client("dynamodb")


@pytest.fixture
def s3_client(aws: Any) -> Any:
    return make_client("s3")


@pytest.fixture
def sns_client(aws: Any) -> Any:
    return make_client("sns")


@pytest.fixture
def sqs_client(aws: Any) -> Any:
    return make_client("sqs")


@pytest.fixture
def table_name(dynamodb_client: Any) -> str:
    """A table with keys pk/sk (S) and the GSI ``gsi1`` on gsi1pk/gsi1sk (S), projecting all attributes."""
    dynamodb_client.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return TABLE_NAME


@pytest.fixture
def bucket(s3_client: Any) -> str:
    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def topic_arn(sns_client: Any) -> str:
    return str(sns_client.create_topic(Name=TOPIC_NAME)["TopicArn"])


@pytest.fixture
def alerts_queue_url(topic_arn: str, sns_client: Any, sqs_client: Any) -> str:
    """An SQS queue subscribed to the topic, raw delivery off: each message body is the SNS envelope (JSON)."""
    url = str(sqs_client.create_queue(QueueName=ALERTS_QUEUE_NAME)["QueueUrl"])
    arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns_client.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
    return url


@pytest.fixture
def read_alerts(sqs_client: Any) -> Callable[[str], list[dict[str, Any]]]:
    """``read_alerts(queue_url)``: the SNS envelopes waiting in the queue, parsed, oldest first; they are
    deleted from the queue."""

    def read(queue_url: str) -> list[dict[str, Any]]:
        envelopes: list[dict[str, Any]] = []
        while True:
            resp = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = resp.get("Messages", [])
            if not messages:
                return envelopes
            for m in messages:
                envelopes.append(json.loads(m["Body"]))
                sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    return read
