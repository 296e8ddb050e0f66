"""moto fixtures for integration tests: the mock, a table shaped like Driftline's, a bucket, an alerts topic with an
SQS queue subscribed, and a reader of what the queue received.

Dummy credentials are set before any client exists, and every client is created after ``mock_aws()`` started.
Request ``aws`` (or any fixture below, which all depend on it) before creating clients of your own.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
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


# -- the pipeline: bucket notifications → SQS → the Lambda handlers, in-process ------------------------------------

# Powertools off before any handler module (and so driftline.runtime.lambda_runtime) is imported.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "driftline-test")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DriftlineTest")

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
# function → (queue name, the notification filter rules of template.yaml)
PIPELINE_QUEUES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "config": (
        "driftline-config",
        [{"Name": "prefix", "Value": "models/"}, {"Name": "suffix", "Value": "config.yaml"}],
    ),
    "baseline": ("driftline-baseline", [{"Name": "prefix", "Value": "baselines/"}]),
    "ingest": ("driftline-ingest", [{"Name": "prefix", "Value": "predictions/"}]),
    "labels": ("driftline-labels", [{"Name": "prefix", "Value": "labels/"}]),
}
FUNCTION_OF_PREFIX = {"models": "config", "baselines": "baseline", "predictions": "ingest", "labels": "labels"}


@functools.cache
def load_handler(name: str) -> Callable[[dict[str, Any], Any], Any]:
    """``functions/<name>/app.py``'s ``handler``, loaded by file path once per run (as Lambda loads it once per
    execution environment)."""
    path = FUNCTIONS_DIR / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"driftline_test_fn_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


class FakeLambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    def __init__(self, name: str) -> None:
        self.function_name = f"driftline-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:driftline-{name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/driftline-{name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _real_s3_event_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's S3 notifications carry the key URL-encoded, as real S3 does (``'a b+c'`` → ``'a+b%2Bc'``):
    moto 5.0 puts the raw key in the event (the local cloud's moto server is patched the same way)."""
    from moto.s3 import notifications

    from driftline.cli.local.motoserver import moto_encodes_keys, with_encoded_keys

    if not moto_encodes_keys(notifications._get_s3_event):
        monkeypatch.setattr(notifications, "_get_s3_event", with_encoded_keys(notifications._get_s3_event))


class Pipeline:
    """Driftline's data path on moto: S3 puts notify the four queues (as template.yaml wires them), messages are
    received from SQS and handed to the functions' handlers as Lambda's SQS event source would, with partial
    batch responses honoured (successes deleted, failures made visible again)."""

    def __init__(self, s3: Any, sqs: Any, bucket: str, container: Any, alerts_queue_url: str) -> None:
        self.s3, self.sqs, self.bucket, self.container = s3, sqs, bucket, container
        self.alerts_queue_url = alerts_queue_url
        self.queues: dict[str, tuple[str, str]] = {}  # function → (url, arn)
        for fn, (name, _) in PIPELINE_QUEUES.items():
            url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queues[fn] = (url, arn)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"Id": fn, "QueueArn": self.queues[fn][1], "Events": ["s3:ObjectCreated:*"],
                     "Filter": {"Key": {"FilterRules": rules}}}
                    for fn, (_, rules) in PIPELINE_QUEUES.items()
                ]
            },
        )  # fmt: skip
        # Configuring notifications sends an s3:TestEvent to each queue: kept aside for the test that wants them.
        self.test_events = {fn: self.receive(fn) for fn in self.queues}
        for fn, messages in self.test_events.items():
            for m in messages:
                sqs.delete_message(QueueUrl=self.queues[fn][0], ReceiptHandle=m["ReceiptHandle"])

    # -- S3 and SQS ------------------------------------------------------------------------------------------------

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def receive(self, fn: str) -> list[dict[str, Any]]:
        """Every visible message of the function's queue (they become in flight)."""
        url = self.queues[fn][0]
        out: list[dict[str, Any]] = []
        while True:
            resp = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            AttributeNames=["All"], MessageAttributeNames=["All"])  # fmt: skip
            messages = resp.get("Messages", [])
            if not messages:
                return out
            out += messages

    def depth(self, fn: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[fn][0],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def sqs_event(self, fn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The event Lambda's SQS event source gives the function for these received messages."""
        arn = self.queues[fn][1]
        return {
            "Records": [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
                 "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION}
                for m in messages
            ]
        }  # fmt: skip

    # -- the functions ---------------------------------------------------------------------------------------------

    def call(self, fn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One invocation of the function on a batch of received messages; its partial batch response."""
        response: dict[str, Any] = load_handler(fn)(self.sqs_event(fn, messages), FakeLambdaContext(fn))
        return response

    def invoke(self, fn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One invocation on a batch; then what the event source mapping does with the partial batch response."""
        response = self.call(fn, messages)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        url = self.queues[fn][0]
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return response

    def deliver(self, fn: str) -> dict[str, Any]:
        """Receive what the function's queue holds and invoke the function on it (one batch)."""
        messages = self.receive(fn)
        assert messages, f"no message in the {fn} queue"
        return self.invoke(fn, messages)

    def drop(self, key: str, body: bytes) -> dict[str, Any]:
        """Put an object and run the function its prefix notifies; the batch must succeed."""
        self.put(key, body)
        response = self.deliver(FUNCTION_OF_PREFIX[key.split("/", 1)[0]])
        assert response == {"batchItemFailures": []}, response
        return response

    def evaluate(self, at: float) -> dict[str, Any]:
        """The evaluator, invoked as EventBridge Scheduler does, with ``at`` fixing the time."""
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.scheduler",
                 "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": REGION, "resources": [],
                 "detail": {}, "at": at}  # fmt: skip
        return load_handler("evaluate")(event, FakeLambdaContext("evaluate"))  # type: ignore[no-any-return]


@pytest.fixture
def pipeline(
    monkeypatch: pytest.MonkeyPatch,
    s3_client: Any,
    sqs_client: Any,
    table_name: str,
    bucket: str,
    topic_arn: str,
    alerts_queue_url: str,
) -> Iterator[Pipeline]:
    """The deployed data path on moto, with the runtime's container built inside the mock and installed."""
    from moto.dynamodb.models.table import Table

    from driftline.cli.local import motoserver
    from driftline.runtime.container import Container, reset_container
    from driftline.runtime.settings import Settings

    _real_s3_event_keys(monkeypatch)
    # The local cloud's speed-up: a Query sorts only its partition, not the whole table (same results).
    monkeypatch.setattr(Table, "all_items", motoserver._partition_items)
    monkeypatch.setattr(Table, "query", motoserver._partition_query)
    env = {"DRIFTLINE_BUCKET": bucket, "DRIFTLINE_TABLE": table_name, "DRIFTLINE_TOPIC_ARN": topic_arn}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    container = Container(Settings.from_env(), session=_session())
    reset_container(container)
    try:
        yield Pipeline(s3_client, sqs_client, bucket, container, alerts_queue_url)
    finally:
        reset_container(None)
