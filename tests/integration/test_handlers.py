"""The Lambda handlers on moto, driven by the events S3 → SQS really produces.

Objects are put with boto3 into a bucket whose notifications feed four queues exactly as template.yaml wires
them; messages are received from SQS and handed to ``functions/<name>/app.py`` as Lambda's SQS event source
would (see the ``pipeline`` fixture). The checks read DynamoDB through ``Store`` and the alerts as an SQS
subscriber of the topic receives them (the SNS envelope).
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.s3.transfer import TransferConfig

from driftline.core.errors import StorageError
from driftline.services.store import FileRecord, file_id_for, ws_key
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, generate

from .conftest import Pipeline, make_client

pytestmark = pytest.mark.integration

HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the start of a 1 h window
CONFIG_KEY = f"models/{MODEL_ID}/config.yaml"
BASELINE_KEY = f"baselines/{MODEL_ID}/reference.parquet"
ALERT_KEYS = {"model_id", "rule", "state", "severity", "metric", "column", "segment", "value", "threshold",
              "baseline_value", "window_start", "window_end", "evaluated_at", "details"}  # fmt: skip
# SPEC §3: every metric name Driftline may store for a binary classifier with a score
SPEC_METRICS = {
    "volume.rows", "volume.files", "quality.time_error_rate", "quality.missing_rate", "quality.out_of_range_rate",
    "quality.unseen_category_rate", "quality.type_error_rate", "drift.psi", "drift.jensen_shannon",
    "drift.hellinger", "drift.kolmogorov_smirnov", "drift.wasserstein", "drift.chi2_pvalue",
    *(f"{kind}.{m}" for kind in ("performance", "estimated") for m in ("accuracy", "precision", "recall", "f1",
                                                                      "roc_auc")),
    "business.retention_value", "business.spend_at_risk", "business.churn_rate_predicted",
}  # fmt: skip
_ALERTS = CONFIG_YAML.index("alerts:\n")
# The demo's model; the tests that are not about segments drop them (six times fewer points to store on moto).
LEAN_CONFIG = CONFIG_YAML[:_ALERTS].replace("  segments: [country]\n", "") + "\n".join(
    line for line in CONFIG_YAML[_ALERTS:].splitlines() if "segment" not in line and "min_rows" not in line
)
SPEND_DRIFT_CONFIG = (
    CONFIG_YAML[:_ALERTS]
    + "alerts:\n"
    + "  - {name: spend-drift, metric: drift.jensen_shannon, columns: [monthly_spend], above: 0.2, severity: warning}\n"
)


# -- data and helpers ----------------------------------------------------------------------------------------------


@functools.cache
def _reference_parquet() -> bytes:
    return encode(generate(4_000, seed=11, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref"), "parquet")


def window_rows(n: int, *, window: int = 0, seed: int = 1, drift: float = 0.0, prefix: str = "p") -> pa.Table:
    """``n`` prediction rows (with their truth in ``churned``) whose event times fall in window ``window``."""
    return generate(n, seed=seed, start=T0 + window * HOUR, span=HOUR - 1, drift=drift, id_prefix=prefix)


def without_labels(table: pa.Table) -> pa.Table:
    return table.drop_columns(["churned"])


def set_up_model(pipeline: Pipeline, config: str = LEAN_CONFIG) -> None:
    pipeline.drop(CONFIG_KEY, config.encode())
    pipeline.drop(BASELINE_KEY, _reference_parquet())


def metric(pipeline: Pipeline, name: str, column: str | None = None, segment: str | None = None) -> dict[int, Any]:
    """window start → the stored point of one metric."""
    points = pipeline.container.store.series(MODEL_ID, name, column, segment, start=T0 - 86_400, end=T0 + 86_400)
    return {p.window_start: p for p in points}


def volume(pipeline: Pipeline, window: int = 0) -> tuple[float, float]:
    ws = T0 + window * HOUR
    return metric(pipeline, "volume.rows")[ws].value, metric(pipeline, "volume.files")[ws].value


def evaluate_after(pipeline: Pipeline, windows: int) -> dict[str, Any]:
    """Run the evaluator a minute after window ``windows - 1`` ended (so windows 0 .. windows-1 are closed)."""
    return pipeline.evaluate(T0 + windows * HOUR + 60)


def scan(pipeline: Pipeline) -> list[dict[str, Any]]:
    client = make_client("dynamodb")
    table = pipeline.container.settings.table
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        resp = client.scan(**kwargs)
        items += resp["Items"]
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def file_record(pipeline: Pipeline, key: str) -> FileRecord:
    etag = pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)["ETag"].strip('"')
    item = pipeline.container.store.get_file(file_id_for(pipeline.bucket, key, etag))
    assert item is not None, key
    return item


def sns_alerts(pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The alerts the subscribed queue received: each SNS envelope checked against SPEC §4, its message parsed."""
    out = []
    for envelope in read_alerts(pipeline.alerts_queue_url):
        assert envelope["Type"] == "Notification"
        assert 0 < len(envelope["Subject"]) < 100 and "\n" not in envelope["Subject"]
        message = json.loads(envelope["Message"])
        assert set(message) == ALERT_KEYS
        attrs = envelope["MessageAttributes"]
        assert set(attrs) == {"model_id", "severity", "state", "metric"}
        for name, attr in attrs.items():
            assert attr == {"Type": "String", "Value": message[name]}
        assert message["state"] in ("ALARM", "OK")
        assert message["severity"] in ("info", "warning", "critical")
        out.append({"subject": envelope["Subject"], **message})
    return out


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_ingest_error(alert: dict[str, Any], key: str) -> None:
    assert alert["metric"] == "ingest.error"
    assert alert["state"] == "ALARM"
    assert alert["severity"] == "critical"
    assert alert["model_id"] == MODEL_ID
    assert alert["details"]["key"] == key
    assert alert["details"]["reason"]


def accuracy(table: pa.Table) -> float:
    pred = np.asarray(table.column("will_churn").to_pylist())
    truth = np.asarray(table.column("churned").to_pylist())
    return float(np.mean(pred == truth))


# -- 1. configs ----------------------------------------------------------------------------------------------------


def test_a_valid_config_is_stored_and_an_invalid_one_is_rejected_with_an_alert(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    store = pipeline.container.store
    # Given a valid configuration dropped under models/
    pipeline.drop(CONFIG_KEY, CONFIG_YAML.encode())
    stored = store.get_config(MODEL_ID)
    assert stored is not None
    assert stored["model_id"] == MODEL_ID
    assert store.list_models() == [MODEL_ID]
    assert store.error_records(MODEL_ID) == []
    assert sns_alerts(pipeline, read_alerts) == []

    # When an invalid one (an unknown key) replaces it
    response = pipeline.drop(CONFIG_KEY, (CONFIG_YAML + "colour: blue\n").encode())

    # Then the batch succeeds (retrying cannot help), the previous configuration stays in force ...
    assert response == {"batchItemFailures": []}
    assert store.get_config(MODEL_ID) == stored
    assert pipeline.container.registry.config(MODEL_ID).to_dict() == stored
    # ... an error record names the file and the key at fault ...
    (error,) = store.error_records(MODEL_ID)
    assert error.key == CONFIG_KEY
    assert "colour" in error.reason
    assert file_record(pipeline, CONFIG_KEY).status == "failed"
    # ... and one ingest.error alert reaches the topic's subscribers
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, CONFIG_KEY)
    assert "colour" in alert["details"]["reason"]
    assert alert["subject"].startswith(f"[driftline] CRITICAL {MODEL_ID} ingest.error")


# -- 2. s3:TestEvent -----------------------------------------------------------------------------------------------


def test_the_s3_test_event_is_acknowledged_and_writes_nothing(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    for fn, messages in pipeline.test_events.items():
        # Given the s3:TestEvent that configuring the notifications sent to the function's queue
        (message,) = messages
        assert json.loads(message["Body"])["Event"] == "s3:TestEvent"
        # When the function gets it
        response = pipeline.call(fn, messages)
        # Then the batch succeeds
        assert response == {"batchItemFailures": []}, fn
    # and nothing was written nor published
    assert scan(pipeline) == []
    assert sns_alerts(pipeline, read_alerts) == []


# -- 3. keys that need URL-encoding, every format -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl.gz"])
def test_predictions_under_a_key_that_needs_url_encoding_are_profiled(pipeline: Pipeline, fmt: str) -> None:
    # Given a model with its baseline
    set_up_model(pipeline)
    rows = without_labels(window_rows(300))
    key = f"predictions/{MODEL_ID}/2026 11/part+1 é=x.{fmt}"

    # When a prediction log lands under a key with a space, '+', '=' and a non-ASCII letter
    pipeline.put(key, encode(rows, fmt))
    (message,) = pipeline.receive("ingest")
    assert "2026+11/part%2B1+%C3%A9%3Dx" in message["Body"]  # the key as S3 sends it: URL-encoded
    assert pipeline.invoke("ingest", [message]) == {"batchItemFailures": []}

    # Then the file is recorded under its real key and its profiles are written
    record = file_record(pipeline, key)
    assert record.status == "done"
    assert record.key == key
    assert record.rows == rows.num_rows
    assert any(i["pk"]["S"] == f"PROF#{MODEL_ID}#{ws_key(T0)}" for i in scan(pipeline))
    # and the evaluated window counts its rows
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (rows.num_rows, 1)


# -- 4. duplicate deliveries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["one batch", "three invocations"])
def test_the_same_s3_event_delivered_three_times_is_counted_once(pipeline: Pipeline, how: str) -> None:
    set_up_model(pipeline)
    rows = without_labels(window_rows(300))
    key = f"predictions/{MODEL_ID}/2026/01/01/00.csv"
    pipeline.put(key, encode(rows, "csv"))
    (message,) = pipeline.receive("ingest")
    url = pipeline.queues["ingest"][0]

    # When S3's event reaches the function three times (at-least-once delivery)
    if how == "one batch":
        for _ in range(2):
            pipeline.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
        batch = [message, *pipeline.receive("ingest")]
        assert [m["Body"] for m in batch] == [message["Body"]] * 3
        assert pipeline.invoke("ingest", batch) == {"batchItemFailures": []}
    else:
        assert pipeline.invoke("ingest", [message]) == {"batchItemFailures": []}
        for _ in range(2):
            pipeline.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
            assert pipeline.deliver("ingest") == {"batchItemFailures": []}

    # Then the file is counted once
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (rows.num_rows, 1)
    assert sum(1 for i in scan(pipeline) if i["pk"]["S"].startswith("FILE#")) == 3  # config, baseline, log
    assert pipeline.depth("ingest") == 0


# -- 5. multipart uploads ---------------------------------------------------------------------------------------------


def test_a_multipart_upload_gives_two_events_and_is_counted_once(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    rows = window_rows(300)
    # a Parquet file over 5 MiB (an incompressible column the config does not name), so that two parts are needed
    padded = rows.append_column("padding", pa.array([os.urandom(12_000).hex() for _ in range(rows.num_rows)]))
    buf = io.BytesIO()
    pq.write_table(padded, buf, compression="none")
    assert buf.tell() > 6 * 1024 * 1024
    key = f"predictions/{MODEL_ID}/big/part-00000.parquet"

    # When it is uploaded in parts
    buf.seek(0)
    mib5 = 5 * 1024 * 1024
    pipeline.s3.upload_fileobj(buf, pipeline.bucket, key, Config=TransferConfig(multipart_threshold=mib5,
                                                                                 multipart_chunksize=mib5))  # fmt: skip
    messages = pipeline.receive("ingest")

    # Then moto sends two events for it (like real S3 when a client retries), and both are handled
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages]
    assert keys == [key, key]
    assert json.loads(messages[-1]["Body"])["Records"][0]["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert pipeline.invoke("ingest", messages) == {"batchItemFailures": []}
    # and the file is counted once
    assert file_record(pipeline, key).status == "done"
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (rows.num_rows, 1)


# -- 6. terminal and transient failures ------------------------------------------------------------------------------


def test_a_corrupt_file_is_reported_and_not_retried_and_its_batch_neighbour_is_processed(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    set_up_model(pipeline)
    good = window_rows(300)
    good_key = f"predictions/{MODEL_ID}/good.csv.gz"
    bad_key = f"predictions/{MODEL_ID}/bad.csv.gz"
    whole = encode(window_rows(300, seed=2), "csv.gz")
    # Given a good file and a truncated gzip in the same SQS batch
    pipeline.put(good_key, encode(good, "csv.gz"))
    pipeline.put(bad_key, whole[: len(whole) // 2])
    messages = pipeline.receive("ingest")
    assert len(messages) == 2

    # When the function gets the batch
    response = pipeline.invoke("ingest", messages)

    # Then no record is reported failed: the corrupt file is a terminal error, retrying cannot help
    assert response == {"batchItemFailures": []}
    assert pipeline.depth("ingest") == 0
    # the corrupt file has an error record and an ingest.error alert naming it
    (error,) = pipeline.container.store.error_records(MODEL_ID)
    assert error.key == bad_key
    assert error.reason
    assert file_record(pipeline, bad_key).status == "failed"
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, bad_key)
    # and the good one is counted, alone
    assert file_record(pipeline, good_key).status == "done"
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (good.num_rows, 1)


def test_a_transient_storage_failure_fails_only_its_record_and_redelivery_counts_it_once(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_up_model(pipeline)
    table = pipeline.container.store.table
    real_add = table.add
    dirty_puts = []

    def flaky_add(pk: str, sk: str, counters: Any, **kwargs: Any) -> Any:
        # the second file's "window changed" mark (an update that counts its rows) fails once, after its profiles
        # were written
        if pk.startswith("DIRTY#"):
            dirty_puts.append(pk)
            if len(dirty_puts) == 2:
                raise StorageError("ProvisionedThroughputExceededException (test)", retryable=True)
        return real_add(pk, sk, counters, **kwargs)

    monkeypatch.setattr(table, "add", flaky_add)
    first, second = window_rows(200, seed=1), window_rows(150, seed=2, prefix="q")
    pipeline.put(f"predictions/{MODEL_ID}/a.jsonl", encode(first, "jsonl"))
    pipeline.put(f"predictions/{MODEL_ID}/b.jsonl", encode(second, "jsonl"))
    messages = pipeline.receive("ingest")
    assert len(messages) == 2

    # When the second file's write fails transiently
    response = pipeline.invoke("ingest", messages)

    # Then only its record is reported failed (SQS retries it), with no error record and no alert
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}
    assert pipeline.container.store.error_records(MODEL_ID) == []
    assert sns_alerts(pipeline, read_alerts) == []
    # and when SQS delivers it again, it is processed
    (again,) = pipeline.receive("ingest")
    assert again["Body"] == messages[1]["Body"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert pipeline.invoke("ingest", [again]) == {"batchItemFailures": []}
    # with exact counts: its profiles, written twice, count once
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (first.num_rows + second.num_rows, 2)


# -- 7. predictions before the baseline --------------------------------------------------------------------------------


def test_predictions_before_the_baseline_are_retried_not_lost(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # Given a model with a configuration but no baseline yet
    pipeline.drop(CONFIG_KEY, CONFIG_YAML.encode())
    rows = window_rows(300)
    key = f"predictions/{MODEL_ID}/early.parquet"

    # When a prediction log arrives
    pipeline.put(key, encode(rows, "parquet"))
    (message,) = pipeline.receive("ingest")
    response = pipeline.invoke("ingest", [message])

    # Then its record is reported failed, so SQS keeps it and retries it; it is no error (nothing to alert)
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert pipeline.depth("ingest") == 1
    assert pipeline.container.store.error_records(MODEL_ID) == []
    assert sns_alerts(pipeline, read_alerts) == []

    # and once the baseline has arrived, the redelivered message is processed
    pipeline.drop(BASELINE_KEY, _reference_parquet())
    assert pipeline.deliver("ingest") == {"batchItemFailures": []}
    assert file_record(pipeline, key).status == "done"
    evaluate_after(pipeline, 1)
    assert volume(pipeline) == (rows.num_rows, 1)


# -- 8. labels ---------------------------------------------------------------------------------------------------------


def _labels(table: pa.Table) -> pa.Table:
    return table.select(["request_id", "churned"])


def test_labels_arriving_later_give_the_performance_of_their_windows(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    # Given two windows of predictions logged without labels
    w0, w1 = window_rows(300, window=0, seed=3, prefix="a"), window_rows(250, window=1, seed=4, prefix="b")
    pipeline.drop(f"predictions/{MODEL_ID}/w0.parquet", encode(without_labels(w0), "parquet"))
    pipeline.drop(f"predictions/{MODEL_ID}/w1.csv", encode(without_labels(w1), "csv"))
    evaluate_after(pipeline, 2)
    assert metric(pipeline, "performance.accuracy") == {}
    assert set(metric(pipeline, "estimated.accuracy")) == {T0, T0 + HOUR}

    # When the truth of some of them arrives in one label file (id and label only)
    lab0, lab1 = w0.slice(0, 220), w1.slice(50, 150)
    labels = pa.concat_tables([_labels(lab1), _labels(lab0)])
    pipeline.drop(f"labels/{MODEL_ID}/2026-01-01/batch-1.csv", encode(labels, "csv"))
    evaluate_after(pipeline, 2)

    # Then each window's accuracy is that of its labelled predictions, counted on the labelled rows
    acc = metric(pipeline, "performance.accuracy")
    assert math.isclose(acc[T0].value, accuracy(lab0), rel_tol=1e-9)
    assert math.isclose(acc[T0 + HOUR].value, accuracy(lab1), rel_tol=1e-9)
    assert (acc[T0].rows, acc[T0 + HOUR].rows) == (220, 150)
    # and the label file adds no prediction rows nor files
    assert volume(pipeline, 0) == (300, 1)
    assert volume(pipeline, 1) == (250, 1)


def test_labels_with_unknown_and_duplicate_ids_count_each_known_prediction_once(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    preds = window_rows(300, seed=5)
    pipeline.drop(f"predictions/{MODEL_ID}/p.jsonl.gz", encode(without_labels(preds), "jsonl.gz"))
    known = preds.slice(0, 200)
    unknown = _labels(window_rows(40, seed=6, prefix="zz"))  # ids never predicted
    duplicates = _labels(known.slice(0, 40))

    # When a label file mixes known ids, unknown ids and ids repeated within the file
    labels = pa.concat_tables([_labels(known.slice(0, 100)), unknown, duplicates, _labels(known.slice(100))])
    pipeline.drop(f"labels/{MODEL_ID}/mixed.parquet", encode(labels, "parquet"))
    # and a later file labels some of the same predictions again, and new ones
    relabel = pa.concat_tables([_labels(known.slice(150, 50)), _labels(preds.slice(200, 30))])
    pipeline.drop(f"labels/{MODEL_ID}/later.csv", encode(relabel, "csv"))
    evaluate_after(pipeline, 1)

    # Then only known ids count, each prediction once
    (point,) = metric(pipeline, "performance.accuracy").values()
    assert point.rows == 230
    assert math.isclose(point.value, accuracy(preds.slice(0, 230)), rel_tol=1e-9)


def test_the_same_label_file_delivered_twice_is_counted_once(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    preds = window_rows(250, seed=7)
    pipeline.drop(f"predictions/{MODEL_ID}/p.csv", encode(without_labels(preds), "csv"))
    labelled = preds.slice(0, 150)
    key = f"labels/{MODEL_ID}/once.csv"
    pipeline.put(key, encode(_labels(labelled), "csv"))
    (message,) = pipeline.receive("labels")

    # When the label file's event is delivered, evaluated, and delivered again
    assert pipeline.invoke("labels", [message]) == {"batchItemFailures": []}
    evaluate_after(pipeline, 1)
    pipeline.sqs.send_message(QueueUrl=pipeline.queues["labels"][0], MessageBody=message["Body"])
    assert pipeline.deliver("labels") == {"batchItemFailures": []}
    evaluate_after(pipeline, 1)

    # Then its labels count once
    (point,) = metric(pipeline, "performance.accuracy").values()
    assert point.rows == 150
    assert math.isclose(point.value, accuracy(labelled), rel_tol=1e-9)


# -- 9. the scheduled evaluator ----------------------------------------------------------------------------------------


def test_the_evaluator_stores_spec_metrics_and_publishes_a_drift_alarm_once_then_ok(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    set_up_model(pipeline, SPEND_DRIFT_CONFIG)
    # Given a normal window, then one where monthly_spend drifts
    pipeline.drop(f"predictions/{MODEL_ID}/w0.parquet", encode(without_labels(window_rows(500, seed=8)), "parquet"))
    pipeline.drop(f"predictions/{MODEL_ID}/w1.parquet",
                  encode(without_labels(window_rows(500, window=1, seed=9, drift=1.0)), "parquet"))  # fmt: skip

    # When the scheduler invokes the evaluator after both windows closed
    result = evaluate_after(pipeline, 2)

    # Then the metric points carry SPEC §3's names
    assert result == {"models": 1, "windows": 2, "alerts": 1}
    points = list(pipeline.container.store.points(MODEL_ID, start=T0, end=T0 + 2 * HOUR))
    names = {p.metric for p in points}
    assert names <= SPEC_METRICS
    needs_labels = {f"performance.{m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc")}
    assert names >= SPEC_METRICS - needs_labels - {"business.retention_value"}  # no labels yet
    numerical = {"tenure_months", "monthly_spend", "support_tickets", "churn_probability"}
    assert {p.column for p in points if p.metric == "drift.kolmogorov_smirnov"} <= numerical
    assert {p.column for p in points if p.metric == "drift.chi2_pvalue"}.isdisjoint(numerical)
    assert {p.segment for p in points} >= {None, "country=US", "country=BR"}
    # and one drift alarm reached the subscribers, for the drifted window
    (alarm,) = sns_alerts(pipeline, read_alerts)
    drift = metric(pipeline, "drift.jensen_shannon", "monthly_spend")
    assert drift[T0].value <= 0.2 < drift[T0 + HOUR].value
    assert {k: alarm[k] for k in ("rule", "state", "severity", "metric", "column", "segment", "threshold")} == {
        "rule": "spend-drift", "state": "ALARM", "severity": "warning", "metric": "drift.jensen_shannon",
        "column": "monthly_spend", "segment": None, "threshold": 0.2}  # fmt: skip
    assert math.isclose(alarm["value"], drift[T0 + HOUR].value, rel_tol=1e-9)
    assert (alarm["window_start"], alarm["window_end"]) == (iso(T0 + HOUR), iso(T0 + 2 * HOUR))
    assert alarm["subject"].startswith(f"[driftline] WARNING {MODEL_ID} drift.jensen_shannon monthly_spend ")
    others = alarm["details"]["drifted_columns"]  # the window's other drifted columns, worst first
    assert "monthly_spend" not in [d["column"] for d in others]
    assert [d["value"] for d in others] == sorted((d["value"] for d in others), reverse=True)
    assert all(d["value"] > 0.2 for d in others)

    # When the evaluator runs again with nothing new
    result = evaluate_after(pipeline, 2)
    # Then it publishes nothing
    assert result["alerts"] == 0
    assert sns_alerts(pipeline, read_alerts) == []

    # When the drift ends in the next window
    pipeline.drop(f"predictions/{MODEL_ID}/w2.parquet",
                  encode(without_labels(window_rows(500, window=2, seed=10)), "parquet"))  # fmt: skip
    result = evaluate_after(pipeline, 3)
    # Then an OK alert is published, once, for that window
    assert result["alerts"] == 1
    (ok,) = sns_alerts(pipeline, read_alerts)
    assert (ok["rule"], ok["state"], ok["column"], ok["window_start"]) == (
        "spend-drift", "OK", "monthly_spend", iso(T0 + 2 * HOUR))  # fmt: skip
    assert ok["subject"].startswith(f"[driftline] OK {MODEL_ID} drift.jensen_shannon monthly_spend ")
    assert math.isclose(ok["value"], metric(pipeline, "drift.jensen_shannon", "monthly_spend")[T0 + 2 * HOUR].value)
    assert ok["value"] <= 0.2
    assert evaluate_after(pipeline, 3)["alerts"] == 0
    assert sns_alerts(pipeline, read_alerts) == []


# -- 10. the evaluator's time limit ------------------------------------------------------------------------------------


def test_the_evaluator_leaves_what_it_has_no_time_for_to_the_next_tick(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import FakeLambdaContext, load_handler

    class ShortContext(FakeLambdaContext):
        def __init__(self, remaining_ms: int) -> None:
            super().__init__("evaluate")
            self.remaining_ms = remaining_ms

        def get_remaining_time_in_millis(self) -> int:
            return self.remaining_ms

    def invoke(remaining_ms: int) -> dict[str, Any]:
        event = {"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}, "at": T0 + 3 * HOUR + 60}
        return load_handler("evaluate")(event, ShortContext(remaining_ms))  # type: ignore[no-any-return]

    set_up_model(pipeline)
    for w in range(3):
        rows = window_rows(200, window=w, seed=20 + w)
        pipeline.drop(f"predictions/{MODEL_ID}/w{w}.parquet", encode(rows, "parquet"))
    store = pipeline.container.store
    due = [T0 + w * HOUR for w in range(3)]
    assert [ws for ws, _ in store.dirty_windows(MODEL_ID)] == due

    # When Lambda gives the invocation less time than the evaluator's margin
    result = invoke(1_000)
    # Then no window is started: all three are reported as left, and stay due
    assert result == {"models": 1, "windows": 0, "alerts": 0, "windows_left": 3}
    assert [ws for ws, _ in store.dirty_windows(MODEL_ID)] == due
    assert metric(pipeline, "volume.rows") == {}

    # When it has 45 s and each window takes 10 s (a window starts while 30 s are left)
    timer = [0.0]
    read = store.window_profiles

    def slow_read(model_id: str, window_start: int) -> Any:
        timer[0] += 10.0
        return read(model_id, window_start)

    monkeypatch.setattr(pipeline.container.evaluate, "timer", lambda: timer[0])
    monkeypatch.setattr(store, "window_profiles", slow_read)
    result = invoke(45_000)
    # Then the two oldest are evaluated and the third is left for the next tick
    assert (result["windows"], result["windows_left"]) == (2, 1)
    assert [ws for ws, _ in store.dirty_windows(MODEL_ID)] == due[2:]
    assert sorted(metric(pipeline, "volume.rows")) == due[:2]

    # When the next tick has its full time
    result = invoke(300_000)
    # Then it evaluates the last one, and nothing is left
    assert result["windows"] == 1 and "windows_left" not in result
    assert store.dirty_windows(MODEL_ID) == []
    assert {ws: p.value for ws, p in metric(pipeline, "volume.rows").items()} == dict.fromkeys(due, 200)
