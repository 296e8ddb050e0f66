"""The evaluator fanned out on moto: the scheduled handler queues the models due on a real SQS queue, the judge
handler consumes the batch Lambda's event source would give it, under leases; a bad message fails alone."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.cli.demo import MODEL_ID, encode

from .conftest import FakeLambdaContext, Pipeline, load_handler
from .test_handlers import HOUR, T0, set_up_model, volume, window_rows, without_labels

pytestmark = pytest.mark.integration


@pytest.fixture
def fanout(pipeline: Pipeline) -> tuple[Pipeline, str, str]:
    from dataclasses import replace

    from driftline.runtime.container import Container, reset_container

    url = str(pipeline.sqs.create_queue(QueueName="driftline-judge")["QueueUrl"])
    arn = pipeline.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    c = pipeline.container
    pipeline.container = Container(replace(c.settings, evaluate_queue_url=url), session=c.session)
    reset_container(pipeline.container)
    return pipeline, url, arn


def _judge(pipeline: Pipeline, url: str, arn: str) -> list[dict[str, Any]]:
    responses = []
    while True:
        messages = pipeline.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return responses
        event = {"Records": [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {},
             "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
             "awsRegion": "us-east-1"} for m in messages]}  # fmt: skip
        response = load_handler("judge")(event, FakeLambdaContext("judge"))
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                pipeline.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        responses.append(response)
        if failed:
            return responses


def test_a_tick_queues_the_model_and_the_judge_evaluates_it(fanout: tuple[Pipeline, str, str]) -> None:
    pipeline, url, arn = fanout
    set_up_model(pipeline)
    for w in range(2):
        pipeline.drop(f"predictions/{MODEL_ID}/{w}.csv", encode(without_labels(window_rows(150, window=w)), "csv"))
    # When the scheduled tick runs: it evaluates nothing itself, it queues the model
    answer = pipeline.evaluate(T0 + 2 * HOUR + 60)
    assert answer == {"models": 1, "queued": 1, "errors": 0}
    # Then the judge evaluates both windows, in order, and releases the model's lease
    (response,) = _judge(pipeline, url, arn)
    assert response["batchItemFailures"] == []
    assert response["summary"]["windows"] == 2 and response["summary"]["busy"] == 0
    assert volume(pipeline, 0) == (150, 1) and volume(pipeline, 1) == (150, 1)
    assert pipeline.container.store.table.get(f"MODEL#{MODEL_ID}", "LEASE") is None
    # And the next tick has nothing to queue
    assert pipeline.evaluate(T0 + 2 * HOUR + 120)["queued"] == 0


def test_a_model_held_by_another_worker_is_skipped_and_a_bad_message_fails_alone(
    fanout: tuple[Pipeline, str, str],
) -> None:
    pipeline, url, arn = fanout
    set_up_model(pipeline)
    pipeline.drop(f"predictions/{MODEL_ID}/a.csv", encode(without_labels(window_rows(120)), "csv"))
    store = pipeline.container.store
    assert store.acquire_lease(MODEL_ID, "another-worker", seconds=600)
    pipeline.evaluate(T0 + HOUR + 60)
    pipeline.sqs.send_message(QueueUrl=url, MessageBody='{"model_id": "Not A Model"}')
    responses = _judge(pipeline, url, arn)
    failures = [f for r in responses for f in r["batchItemFailures"]]
    assert len(failures) == 1
    assert sum(r["summary"]["busy"] for r in responses) == 1
    assert sum(r["summary"]["windows"] for r in responses) == 0
    assert store.has_dirty(MODEL_ID)  # still due: the next tick queues it again
    store.release_lease(MODEL_ID, "another-worker")
    pipeline.sqs.purge_queue(QueueUrl=url)
    assert pipeline.evaluate(T0 + HOUR + 120)["queued"] == 1
    assert sum(r["summary"]["windows"] for r in _judge(pipeline, url, arn)) == 1
