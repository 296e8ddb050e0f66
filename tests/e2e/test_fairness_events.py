"""Fairness, scenarios and alert events end to end through the local cloud (``driftline local up`` in a
subprocess, public interfaces only): a sensitive column whose group ``male`` is approved at 0.7 of the reference
group's rate in the second hour gives one ``fairness.disparate_impact`` ALARM, for that group only; an EventBridge
rule with an SQS target on the stack's bus receives every alert, source ``driftline``, the SNS JSON as detail;
``driftline metrics --segment scenario:<name>`` lists the scenario's points."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest

from driftline.cli.demo import encode
from tests.e2e import test_local_cloud as e2e
from tests.e2e.test_local_cloud import READY_TIMEOUT, Cloud, drain, iso, wait_for_item
from tests.integration.test_fairness import CONFIG, MODEL, world

pytestmark = pytest.mark.e2e

HOUR = 3600
TIMEOUT = 150.0
cloud = e2e.cloud  # the fixture: `driftline local up` in a subprocess
SCENARIO_CONFIG = CONFIG + "scenarios:\n  - {name: high-income, where: {column: income, above: 25000}}\n"


def test_a_group_below_four_fifths_alarms_and_every_alert_reaches_an_eventbridge_rule(cloud: Cloud) -> None:
    # Given the local cloud, an SQS queue on the alerts topic, and a rule on the stack's bus with an SQS target
    ready = cloud.wait_ready(READY_TIMEOUT)
    assert ready["event_bus"] == "default"
    s3, sqs, sns, ddb, events = (cloud.client(s) for s in ("s3", "sqs", "sns", "dynamodb", "events"))
    queues = {}
    for name in ("sns-alerts", "bus-alerts"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queues[name] = (
            url,
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
        )
    sns.subscribe(TopicArn=ready["topic_arn"], Protocol="sqs", Endpoint=queues["sns-alerts"][1])
    events.put_rule(
        Name="driftline-alerts",
        EventBusName=ready["event_bus"],
        EventPattern=json.dumps({"source": ["driftline"], "detail-type": ["Driftline Alert"]}),
        State="ENABLED",
    )
    events.put_targets(
        Rule="driftline-alerts", EventBusName=ready["event_bus"], Targets=[{"Id": "q", "Arn": queues["bus-alerts"][1]}]
    )

    # When a fairness model with a scenario gets its baseline, then two closed hours of predictions: in the
    # second, men are approved at 0.7 of their rate
    bucket, table = ready["bucket"], ready["table"]
    s3.put_object(Bucket=bucket, Key=f"models/{MODEL}/config.yaml", Body=SCENARIO_CONFIG.encode())
    wait_for_item(ddb, table, f"MODEL#{MODEL}", "CONFIG", timeout=30, what="the configuration", cloud=cloud)
    origin = (int(time.time() // HOUR) - 2) * HOUR
    reference = world(3000, seed=1, start=origin - 86400, span=86400)
    s3.put_object(Bucket=bucket, Key=f"baselines/{MODEL}/ref.parquet", Body=encode(reference, "parquet"))
    wait_for_item(ddb, table, f"MODEL#{MODEL}", "BASELINE", timeout=45, what="the baseline", cloud=cloud)
    hours = [
        world(900, seed=2, start=origin, span=HOUR, prefix="a"),
        world(900, seed=3, start=origin + HOUR, span=HOUR, male_rate=0.7, prefix="b"),
    ]
    for i, rows in enumerate(hours):
        s3.put_object(Bucket=bucket, Key=f"predictions/{MODEL}/h{i}.parquet", Body=encode(rows, "parquet"))

    # Then one fairness ALARM arrives on the topic: gender=male, the second hour, the four-fifths rule
    envelopes: list[dict[str, Any]] = []

    def fairness_alarms() -> list[dict[str, Any]]:
        msgs = [json.loads(e["Message"]) for e in envelopes]
        return [m for m in msgs if m["metric"] == "fairness.disparate_impact"]

    deadline = time.monotonic() + TIMEOUT
    while not fairness_alarms() and time.monotonic() < deadline:
        drain(sqs, queues["sns-alerts"][0], envelopes)
    time.sleep(5)  # anything else due from the same ticks
    drain(sqs, queues["sns-alerts"][0], envelopes)
    alarms = fairness_alarms()
    assert [(a["state"], a["column"], a["segment"], a["window_start"], a["rule"]) for a in alarms] == [
        ("ALARM", "gender", "gender=male", iso(origin + HOUR), "default-fairness")
    ], f"{alarms}\n{cloud.logs()}"
    assert alarms[0]["severity"] == "warning" and alarms[0]["threshold"] == 0.8 and alarms[0]["value"] < 0.8

    # And the rule's queue receives every alert the topic got, source driftline, the SNS JSON as detail
    sent = sorted(json.dumps(json.loads(e["Message"]), sort_keys=True) for e in envelopes)
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline:
        drain(sqs, queues["bus-alerts"][0], received)
    assert all(e["source"] == "driftline" and e["detail-type"] == "Driftline Alert" for e in received)
    assert sorted(json.dumps(e["detail"], sort_keys=True) for e in received) == sent

    # And the metrics: the disparate impact of both hours, and the scenario's own points
    def metrics(*args: str) -> list[dict[str, Any]]:
        done = cloud.driftline("metrics", "--model", MODEL, "--format", "json", "--from", iso(origin), "--to",
                               iso(origin + 2 * HOUR), *args)  # fmt: skip
        out: list[dict[str, Any]] = json.loads(done.stdout)
        return out

    di = metrics("--metric", "fairness.disparate_impact", "--segment", "gender=male")
    assert [p["window_start"] for p in di] == [iso(origin), iso(origin + HOUR)]
    assert di[0]["value"] > 0.8 > di[1]["value"] and all(p["column"] == "gender" for p in di)
    scen = metrics("--segment", "scenario:high-income", "--metric", "volume.rows")
    income = [np.asarray(h["income"]) for h in hours]
    assert [p["value"] for p in scen] == [float((x > 25000).sum()) for x in income]
    assert all(p["segment"] == "scenario:high-income" for p in scen)
