"""Early alerts end to end (SPEC §4), through the local cloud's public interfaces: ``driftline local up`` with a
tick under a minute, a 1-day-window model, a drifted prediction log stamped now put with boto3 → a drift ALARM on
the topic (read by an SQS subscriber) within 60 s of the put, marked partial with the rows so far; then the window's
points are listed partial by ``driftline metrics``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline.cli.demo import CONFIG_YAML, MODEL_ID, encode, generate

from .test_local_cloud import READY_TIMEOUT, Cloud, drain, free_port, iso, wait_for_item

pytestmark = pytest.mark.e2e

DAY = 86_400
TICK = 15  # seconds between evaluator runs (≤ 60: the schedule of a deployment is one minute)
EARLY_WITHIN = 60.0  # seconds from the put to the ALARM on the topic
_ALERTS = CONFIG_YAML.index("alerts:\n")
DAILY_CONFIG = (
    CONFIG_YAML[:_ALERTS].replace("  segments: [country]\n", "").replace("window: 1h", "window: 1d")
    + "alerts:\n"
    + "  - {name: spend-drift, metric: drift.jensen_shannon, columns: [monthly_spend], above: 0.2, severity: warning}\n"
)


@pytest.fixture
def slow_cloud(tmp_path: Path) -> Iterator[Cloud]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRIFTLINE_")) or k == "DRIFTLINE_HOME"}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "PYTHONUNBUFFERED": "1"})  # fmt: skip
    stdout, stderr = tmp_path / "local-up.stdout", tmp_path / "local-up.stderr"
    cmd = [sys.executable, "-m", "driftline.cli.main", "local", "up", "--port", str(free_port()), "--tick", str(TICK)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    c = Cloud(proc, stdout, stderr, env)
    try:
        yield c
    finally:
        c.stop()


def test_a_drifted_file_stamped_now_alarms_within_a_minute_of_its_put(slow_cloud: Cloud) -> None:
    cloud = slow_cloud
    ready = cloud.wait_ready(READY_TIMEOUT)
    s3, sqs, sns, ddb = (cloud.client(s) for s in ("s3", "sqs", "sns", "dynamodb"))
    bucket, table = ready["bucket"], ready["table"]
    queue_url = sqs.create_queue(QueueName="e2e-early")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=ready["topic_arn"], Protocol="sqs", Endpoint=queue_arn)

    # Given a 1-day-window model and its baseline
    s3.put_object(Bucket=bucket, Key=f"models/{MODEL_ID}/config.yaml", Body=DAILY_CONFIG.encode())
    wait_for_item(ddb, table, f"MODEL#{MODEL_ID}", "CONFIG", timeout=30, what="the model configuration", cloud=cloud)
    now = time.time()
    reference = generate(4_000, seed=11, start=now - 8 * DAY, span=7 * DAY, id_prefix="ref")
    s3.put_object(Bucket=bucket, Key=f"baselines/{MODEL_ID}/reference.parquet", Body=encode(reference, "parquet"))
    wait_for_item(ddb, table, f"MODEL#{MODEL_ID}", "BASELINE", timeout=45, what="the baseline", cloud=cloud)

    # When a log of drifted rows stamped in the last five minutes is put, the day far from over
    now = time.time()
    rows = generate(500, seed=31, start=now - 300, span=300, drift=1.0, id_prefix="d").drop_columns(["churned"])
    if int(now // DAY) != int((now - 300) // DAY):
        pytest.skip("the five minutes before now straddle midnight UTC: run again")
    day = int(now // DAY) * DAY
    put_at = time.monotonic()
    s3.put_object(Bucket=bucket, Key=f"predictions/{MODEL_ID}/now.parquet", Body=encode(rows, "parquet"))

    # Then a drift ALARM for the open day reaches the subscriber within a minute, partial, with the rows so far
    envelopes: list[dict[str, Any]] = []

    def alarms() -> list[dict[str, Any]]:
        return [m for e in envelopes if (m := json.loads(e["Message"]))["state"] == "ALARM"]

    while not alarms() and time.monotonic() - put_at < EARLY_WITHIN:
        drain(sqs, queue_url, envelopes)
    took = time.monotonic() - put_at
    assert alarms(), f"no ALARM within {EARLY_WITHIN:.0f} s of the put\n{cloud.logs()}"
    (alarm,) = alarms()
    assert took <= EARLY_WITHIN
    print(f"early ALARM {took:.1f} s after the put (tick {TICK} s)")
    assert (alarm["rule"], alarm["metric"], alarm["column"]) == ("spend-drift", "drift.jensen_shannon", "monthly_spend")
    assert (alarm["window_start"], alarm["window_end"]) == (iso(day), iso(day + DAY))
    assert alarm["details"]["partial"] is True and alarm["details"]["rows"] == 500
    assert alarm["value"] > 0.2

    # and `driftline metrics` lists the open day's points, partial
    done = cloud.driftline("metrics", "--model", MODEL_ID, "--metric", "volume.rows", "--format", "json",
                           "--from", iso(day), "--to", iso(day + DAY))  # fmt: skip
    (point,) = json.loads(done.stdout)
    assert (point["value"], point["rows"], point["partial"]) == (500, 500, True)

    # and more ticks publish nothing more
    time.sleep(2 * TICK)
    drain(sqs, queue_url, envelopes)
    assert len(envelopes) == 1, [json.loads(e["Message"]) for e in envelopes]
    assert cloud.stop() == 0
