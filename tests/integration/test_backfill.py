"""``driftline backfill`` on moto: objects put before anything listened (their notifications thrown away) are
queued as the S3 notifications S3 itself sends, ingested exactly once, labels after their predictions; a second
run queues nothing and counts nothing twice; re-delivered messages change nothing; ``--recompute`` marks windows."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

from driftline.cli.demo import MODEL_ID, encode
from driftline.runtime.events import parse_sqs_body
from driftline.services.backfill import BackfillService, RateLimit
from driftline.services.ports import ListedObject

from .conftest import Pipeline
from .test_handlers import HOUR, T0, evaluate_after, set_up_model, volume, window_rows, without_labels

pytestmark = pytest.mark.integration


def _put_silently(pipeline: Pipeline, key: str, body: bytes) -> dict[str, Any]:
    """Put an object as if before the stack existed: its notification is received and thrown away. Returns the
    notification S3 (moto) sent for it."""
    pipeline.put(key, body)
    fn = "ingest" if key.startswith("predictions/") else "labels"
    (message,) = pipeline.receive(fn)
    pipeline.sqs.delete_message(QueueUrl=pipeline.queues[fn][0], ReceiptHandle=message["ReceiptHandle"])
    return message


def _cli(pipeline: Pipeline, *extra: str) -> tuple[int, dict[str, Any], str]:
    from driftline.cli.main import main

    c = pipeline.container.settings
    argv = ["backfill", "--model", MODEL_ID, "--bucket", c.bucket, "--table", c.table, "--topic-arn", c.topic_arn]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--region", "us-east-1", "--wait-timeout", "0", *extra])
    return code, json.loads(out.getvalue()), err.getvalue()


def _deliver_all(pipeline: Pipeline, fn: str) -> int:
    n = 0
    while pipeline.depth(fn):
        messages = pipeline.receive(fn)
        assert pipeline.invoke(fn, messages) == {"batchItemFailures": []}
        n += len(messages)
    return n


def test_backfill_gives_the_notification_s3_sends_and_counts_each_file_once(pipeline: Pipeline) -> None:
    # Given a model, and three prediction files and a label file already in the bucket, never processed
    set_up_model(pipeline)
    tables = [window_rows(300, window=0, seed=s, prefix=f"f{s}") for s in range(3)]
    real = {}
    for s, t in enumerate(tables):
        key = f"predictions/{MODEL_ID}/2026/01/01/part {s}+x.parquet"  # a space and a plus: URL-encoding matters
        real[key] = _put_silently(pipeline, key, encode(without_labels(t), "parquet"))
    label_key = f"labels/{MODEL_ID}/2026/01/02/truth.csv"
    _put_silently(pipeline, label_key, encode(tables[0].select(["request_id", "churned"]), "csv"))
    assert pipeline.depth("ingest") == pipeline.depth("labels") == 0

    # When the backfill runs (labels are held back until the predictions are processed: here they are not yet)
    code, report, err = _cli(pipeline)

    # Then each prediction file is one message whose object is the one S3's own notification names
    assert code == 1 and report["predictions"]["queued"] == 3 and report["unfinished_predictions"] == 3
    assert "labels" not in report and "labels not queued" in err
    queued = pipeline.receive("ingest")
    assert len(queued) == 3
    mine = {r.key: r for m in queued for r in parse_sqs_body(m["Body"]).refs}
    theirs = {r.key: r for m in real.values() for r in parse_sqs_body(m["Body"]).refs}
    assert mine == theirs
    assert pipeline.invoke("ingest", queued) == {"batchItemFailures": []}

    # And a second run queues the labels only (the predictions are done), and a third run nothing at all
    code, report, _ = _cli(pipeline)
    assert code == 0 and report["predictions"] == {"listed": 3, "queued": 0, "already_processed": 3, "rejected": []}
    assert report["labels"]["queued"] == 1
    assert _deliver_all(pipeline, "labels") == 1
    code, report, _ = _cli(pipeline)
    assert (report["predictions"]["queued"], report["labels"]["queued"]) == (0, 0)
    assert (report["predictions"]["already_processed"], report["labels"]["already_processed"]) == (3, 1)

    # Then the window counts every file and row once, and the labels joined
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (900, 3)
    acc = pipeline.container.store.series(MODEL_ID, "performance.accuracy", None, None, start=T0, end=T0 + HOUR)
    assert acc and acc[0].rows == 300


def test_a_backfilled_file_delivered_again_and_by_its_live_notification_counts_once(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/late/a.csv"
    pipeline.put(key, encode(without_labels(window_rows(200, seed=4)), "csv"))  # its live notification waits
    c = pipeline.container
    service = BackfillService(
        c.store, c.objects, {"predictions": _queue(pipeline)}, bucket=c.settings.bucket, rate=1000.0
    )
    service.run(MODEL_ID, kinds=["predictions"])
    service.run(MODEL_ID, kinds=["predictions"])  # not yet processed: queued again
    assert pipeline.depth("ingest") == 3  # the live notification and two backfilled copies
    assert _deliver_all(pipeline, "ingest") == 3
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (200, 1)


def test_since_and_prefix_select_objects_and_bad_keys_are_reported(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    body = encode(without_labels(window_rows(50)), "csv")
    for key in ("a/1.csv", "a/2.csv", "b/3.csv"):
        _put_silently(pipeline, f"predictions/{MODEL_ID}/{key}", body)
    c = pipeline.container
    service = BackfillService(c.store, c.objects, {"predictions": _queue(pipeline)}, bucket=c.settings.bucket)
    report = service.run(MODEL_ID, prefix="a/", kinds=["predictions"])
    assert (report.kinds["predictions"].listed, report.kinds["predictions"].queued) == (2, 2)
    report = service.run(MODEL_ID, since=4_102_444_800, kinds=["predictions"])  # 2100: nothing that recent
    assert report.kinds["predictions"].listed == 0
    with pytest.raises(Exception, match="relative path"):
        service.run(MODEL_ID, prefix="../other/")


def test_recompute_marks_the_windows_since_and_the_evaluator_judges_them_again(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    for w in range(3):
        pipeline.drop(f"predictions/{MODEL_ID}/{w}.csv", encode(without_labels(window_rows(120, window=w)), "csv"))
    assert evaluate_after(pipeline, 3)["windows"] == 3
    assert evaluate_after(pipeline, 3)["windows"] == 0
    code, report, _ = _cli(pipeline, "--recompute", "--since", str(T0 + HOUR))
    assert code == 0 and report["windows_recomputed"] >= 2
    assert evaluate_after(pipeline, 3)["windows"] == 2  # windows 1 and 2 again, from their rolled-up profiles
    assert volume(pipeline, 1) == (120, 1) and volume(pipeline, 2) == (120, 1)


def test_rate_limit_spaces_messages() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limit = RateLimit(20.0, timer=lambda: now[0], sleep=sleep)
    for _ in range(10):
        limit.take(10)
    assert now[0] == pytest.approx(100 / 20)
    assert ListedObject("k", "e", 1, 0.0).key == "k"


def _queue(pipeline: Pipeline) -> Any:
    from driftline.adapters.sqs import SqsQueue

    return SqsQueue(pipeline.sqs, pipeline.queues["ingest"][0])
