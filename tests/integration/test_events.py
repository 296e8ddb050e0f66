"""Alert events on EventBridge (SPEC §4): every published alert is also put on the bus once, with the SNS
``default`` JSON as detail; a failed put is retried later without sending the SNS message again."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from driftline.adapters.eventbridge import DETAIL_TYPE, SOURCE, EventBridgeSink
from driftline.adapters.memory import MemoryAlertSink, MemoryEventSink, MemoryTable
from driftline.core.errors import StorageError
from driftline.services.alerts import RETRY_GRACE, Alert, AlertPublisher, sns_messages
from driftline.services.store import Store

pytestmark = pytest.mark.integration

T0 = 1_767_225_600


def alert(rule: str = "r", state: str = "ALARM") -> Alert:
    return Alert("m1", rule, state, "critical", "fairness.disparate_impact", "gender", "gender=male",
                 0.7, 0.8, 1.0, T0, T0 + 3600, T0 + 3700.0, "below")  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = float(T0 + 3700)

    def __call__(self) -> float:
        return self.now


def test_every_published_alert_is_put_once_with_the_sns_json_as_detail() -> None:
    # Given a publisher with a topic and a bus
    store, sns, bus = Store(MemoryTable(), clock=Clock()), MemoryAlertSink(), MemoryEventSink()
    pub = AlertPublisher(store, sns, bus)
    # When two alerts are published, one of them twice
    assert pub.publish(alert("a")) and pub.publish(alert("b")) and not pub.publish(alert("a"))
    # Then each went to SNS once and to the bus once, the event's detail the SNS default message
    assert len(sns.published) == 2 and len(bus.events) == 2
    for msg, event in zip(sns.published, bus.events, strict=True):
        assert event["source"] == "driftline" and event["detail_type"] == "Driftline Alert"
        assert json.loads(event["detail"]) == json.loads(msg["messages"]["default"])


def test_a_failed_put_is_retried_later_and_the_sns_message_is_not_sent_again() -> None:
    clock = Clock()
    store, sns, bus = Store(MemoryTable(), clock=clock), MemoryAlertSink(), MemoryEventSink()
    pub = AlertPublisher(store, sns, bus)
    # Given the bus fails once
    bus.fail_next("put", StorageError("throttled", retryable=True))
    with pytest.raises(StorageError):
        pub.publish(alert())
    assert len(sns.published) == 1 and bus.events == []
    # When the next evaluator runs retry (too early, then after the grace period, then again)
    assert pub.retry_unpublished("m1") == 0
    clock.now += RETRY_GRACE + 1
    assert pub.retry_unpublished("m1") == 1
    assert pub.retry_unpublished("m1") == 0
    # Then the event went out once, and SNS still has one message
    assert len(bus.events) == 1 and len(sns.published) == 1
    assert json.loads(bus.events[0]["detail"]) == json.loads(sns_messages(alert())["default"])


def test_a_failed_sns_publish_is_retried_then_put_on_the_bus() -> None:
    clock = Clock()
    store, sns, bus = Store(MemoryTable(), clock=clock), MemoryAlertSink(), MemoryEventSink()
    pub = AlertPublisher(store, sns, bus)
    sns.fail_next("publish", StorageError("down", retryable=True))
    with pytest.raises(StorageError):
        pub.publish(alert())
    clock.now += RETRY_GRACE + 1
    assert pub.retry_unpublished("m1") == 1
    assert len(sns.published) == 1 and len(bus.events) == 1


def test_alerts_recorded_before_the_bus_existed_are_not_put_on_it() -> None:
    clock = Clock()
    table = MemoryTable()
    AlertPublisher(Store(table, clock=clock), MemoryAlertSink()).publish(alert())
    item = next(i for i in table.items() if i["sk"].startswith("H#"))
    table.put({k: v for k, v in item.items() if k != "evented"})  # an item written by a version without the bus
    clock.now += RETRY_GRACE + 1
    bus = MemoryEventSink()
    assert AlertPublisher(Store(table, clock=clock), MemoryAlertSink(), bus).retry_unpublished("m1") == 0
    assert bus.events == []


@mock_aws
def test_the_adapter_puts_the_event_on_the_bus_and_a_rule_routes_it_to_sqs() -> None:
    # Given a bus with a rule matching driftline's events, targeting a queue (moto's EventBridge)
    events, sqs = boto3.client("events", "us-east-1"), boto3.client("sqs", "us-east-1")
    events.create_event_bus(Name="alerts")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE], "detail-type": [DETAIL_TYPE], "detail": {"severity": ["critical"]}}
    events.put_rule(Name="r", EventBusName="alerts", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="r", EventBusName="alerts", Targets=[{"Id": "q", "Arn": arn}])
    # When an alert is put
    detail = sns_messages(alert())["default"]
    event_id = EventBridgeSink(events, "alerts").put(detail=detail)
    # Then the queue holds the event, its detail the alert's JSON
    (msg,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    body = json.loads(msg["Body"])
    assert event_id and body["source"] == "driftline" and body["detail-type"] == "Driftline Alert"
    assert body["detail"] == json.loads(detail)


@mock_aws
def test_a_bus_that_does_not_exist_is_an_error_naming_it() -> None:
    with pytest.raises(StorageError, match="event bus 'nope'"):
        EventBridgeSink(boto3.client("events", "us-east-1"), "nope").put(detail='{"a": 1}')
