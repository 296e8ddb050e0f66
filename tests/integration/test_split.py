"""Large files in parts on moto: a prediction file above the split size is queued in parts on the ingest queue
(CSV and JSON Lines by byte ranges, Parquet by row groups); the parts give the rows exactly once and the file
once in volume.files, the metrics of the same file unsplit; a part redelivered changes nothing."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pyarrow.parquet as pq
import pytest

from driftline.testing import MODEL_ID, encode

from .conftest import Pipeline
from .test_handlers import HOUR, T0, set_up_model, window_rows, without_labels

pytestmark = pytest.mark.integration


def split_at(pipeline: Pipeline, split_bytes: int) -> Pipeline:
    """The pipeline with its ingest splitting files above ``split_bytes`` into parts on its ingest queue."""
    from driftline.runtime.container import Container, reset_container

    c = pipeline.container
    settings = replace(c.settings, ingest_queue_url=pipeline.queues["ingest"][0], split_bytes=split_bytes)
    pipeline.container = Container(settings, session=c.session)
    reset_container(pipeline.container)
    return pipeline


@pytest.fixture
def splitting(pipeline: Pipeline) -> Pipeline:
    return split_at(pipeline, 8192)


def _drain(pipeline: Pipeline) -> list[dict[str, Any]]:
    seen = []
    while pipeline.depth("ingest"):
        messages = pipeline.receive("ingest")
        seen += messages
        assert pipeline.invoke("ingest", messages) == {"batchItemFailures": []}
    return seen


def _metrics(pipeline: Pipeline, model: str) -> dict[tuple[str, str | None, int], float]:
    points = pipeline.container.store.points(model, start=T0, end=T0 + 3 * HOUR)
    return {(p.metric, p.column, p.window_start): p.value for p in points if p.segment is None}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "csv-quoted"])
def test_a_large_file_in_parts_counts_every_row_and_the_file_once(splitting: Pipeline, fmt: str) -> None:
    pipeline = splitting
    set_up_model(pipeline)
    rows = without_labels(window_rows(900, window=0, seed=9, prefix="big"))
    if fmt == "csv-quoted":  # quoted fields holding line breaks, commas and quotes: cut only between records
        import pyarrow as pa

        notes = [f'note {i},\n"quoted"\r\nend' if i % 3 else "" for i in range(rows.num_rows)]
        rows, fmt = rows.append_column("note", pa.array(notes)), "csv"
        assert encode(rows, "csv").count(b"\n") > 1.5 * rows.num_rows
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(rows, buf, row_group_size=100)
        body = buf.getvalue()
    else:
        body = encode(rows, fmt)
    assert len(body) > 8192
    # When the file arrives, its notification is answered by queueing its parts, which are then processed
    pipeline.put(f"predictions/{MODEL_ID}/big.{fmt}", body)
    first = pipeline.receive("ingest")
    assert pipeline.invoke("ingest", first) == {"batchItemFailures": []}
    parts = [json.loads(m["Body"]) for m in _drain(pipeline)]
    assert len(parts) >= 2 and all("driftline_part" in p for p in parts)
    # And a part delivered again changes nothing
    pipeline.sqs.send_message(QueueUrl=pipeline.queues["ingest"][0], MessageBody=json.dumps(parts[-1]))
    _drain(pipeline)
    pipeline.evaluate(T0 + HOUR + 60)
    got = _metrics(pipeline, MODEL_ID)
    assert got[("volume.rows", None, T0)] == 900 and got[("volume.files", None, T0)] == 1
    # Then the metrics are those of the same file unsplit (another model, the same config and baseline)
    pipeline.container.ingest.splitter.split_bytes = 10**9  # type: ignore[union-attr]
    from .test_handlers import LEAN_CONFIG, _reference_parquet

    other = "whole-" + fmt
    config = LEAN_CONFIG.replace(f"model_id: {MODEL_ID}", f"model_id: {other}")
    pipeline.drop(f"models/{other}/config.yaml", config.encode())
    pipeline.drop(f"baselines/{other}/reference.parquet", _reference_parquet())
    pipeline.drop(f"predictions/{other}/big.{fmt}", body)
    pipeline.evaluate(T0 + HOUR + 60)
    want = _metrics(pipeline, other)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k


def test_a_part_that_fails_every_try_gets_an_error_record_and_the_file_one_alert(
    splitting: Pipeline, read_alerts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline.cli.status import model_status
    from driftline.services.split import FileSplitter

    from .test_handlers import assert_ingest_error, sns_alerts

    pipeline = splitting
    set_up_model(pipeline)
    body = encode(without_labels(window_rows(900, window=0, seed=9, prefix="big")), "csv")
    key = f"predictions/{MODEL_ID}/big.csv"
    # Given a file split in parts, two of which fail on every try (a bug, a throttled table: not the file's fault)
    real_open = FileSplitter.open_part

    def failing_open(self: FileSplitter, ref: Any, part: Any) -> Any:
        if part.index in (1, 2):
            raise RuntimeError("simulated failure")
        return real_open(self, ref, part)

    monkeypatch.setattr(FileSplitter, "open_part", failing_open)
    pipeline.put(key, body)
    assert pipeline.invoke("ingest", pipeline.receive("ingest")) == {"batchItemFailures": []}
    # When SQS delivers them up to the queue's maxReceiveCount (5), as Lambda's event source hands them over
    counts: list[list[str]] = []
    for attempt in range(1, 6):
        messages = pipeline.receive("ingest")
        counts.append(sorted({m["Attributes"]["ApproximateReceiveCount"] for m in messages}))
        failures = [pipeline.invoke("ingest", [m])["batchItemFailures"] for m in messages]  # one part an invocation
        assert sum(len(f) for f in failures) == 2
        # Then nothing is reported before the last try
        records = pipeline.container.store.error_records(MODEL_ID)
        assert len(records) == (2 if attempt == 5 else 0), attempt
    assert counts[0] == ["1"] and counts[-1] == ["5"]  # the parts that went through left after the first try
    # And the last try leaves an error record per part, naming the file and the part, each part dead-lettered
    records = pipeline.container.store.error_records(MODEL_ID)
    parts = sorted(r.key for r in records)
    assert [p.split(" (part ")[0] for p in parts] == [key, key]
    assert [p.split(" (part ")[1].split(" of ")[0] for p in parts] == ["2", "3"]
    assert all(r.kind == "dead_letter" and "dead-letter queue" in r.reason and "simulated" in r.reason for r in records)
    assert {getattr(pipeline.container.store.get_file(r.file_id), "status", None) for r in records} == {"dead_lettered"}
    # And one ingest.error alert for the file, naming it and a part
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, alert["details"]["key"])
    assert alert["details"]["key"] in parts
    # And `driftline status` shows them
    status = model_status(pipeline.container, MODEL_ID)
    assert status["files"]["dead_lettered"] == 2 and " (part " in status["files"]["last_error"]["key"]
    # And a redrive from the dead-letter queue that fails again alerts no more, and records nothing new
    for m in pipeline.receive("ingest"):  # still visible here (no redrive policy on moto's queue): a 6th try
        assert int(m["Attributes"]["ApproximateReceiveCount"]) == 6
        pipeline.invoke("ingest", [m])
    assert len(pipeline.container.store.error_records(MODEL_ID)) == 2
    assert sns_alerts(pipeline, read_alerts) == []


def test_a_gzip_file_too_large_for_one_function_is_refused_with_the_documented_reason(
    splitting: Pipeline, read_alerts: Any
) -> None:
    from driftline.services.split import GZIP_MAX_BYTES

    from .test_handlers import assert_ingest_error, sns_alerts

    pipeline = splitting
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/huge.jsonl.gz"
    pipeline.put(key, encode(without_labels(window_rows(50, window=0, seed=3, prefix="gz")), "jsonl.gz"))
    # Given S3's notification of a gzip file above the limit (the size as S3 reports it; the body here is small)
    (message,) = pipeline.receive("ingest")
    note = json.loads(message["Body"])
    note["Records"][0]["s3"]["object"]["size"] = GZIP_MAX_BYTES + 1
    message["Body"] = json.dumps(note)
    # Then it is refused at once (not retried), with the reason, an error record and an ingest.error alert
    assert pipeline.invoke("ingest", [message]) == {"batchItemFailures": []}
    assert pipeline.depth("ingest") == 0
    (record,) = pipeline.container.store.error_records(MODEL_ID)
    assert record.key == key and record.kind == "failed"
    assert "gzip file cannot be split" in record.reason and "at most 4 GiB" in record.reason
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, key)


def test_a_last_try_ended_by_lambdas_timeout_still_leaves_an_error_record(
    splitting: Pipeline, read_alerts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from driftline.runtime import lasttry
    from driftline.services.split import FileSplitter

    from .conftest import FakeLambdaContext, load_handler
    from .test_handlers import sns_alerts

    class Killed(BaseException):
        """Lambda ending the invocation at its timeout: no handler code runs after it."""

    class EndingContext(FakeLambdaContext):
        def __init__(self, seconds: float) -> None:
            super().__init__("ingest")
            self.deadline = time.time() + seconds

        def get_remaining_time_in_millis(self) -> int:
            return max(int((self.deadline - time.time()) * 1000), 0)

    pipeline = splitting
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/big.csv"
    pipeline.put(key, encode(without_labels(window_rows(900, window=0, seed=9, prefix="big")), "csv"))
    assert pipeline.invoke("ingest", pipeline.receive("ingest")) == {"batchItemFailures": []}
    small = f"predictions/{MODEL_ID}/small.csv"
    pipeline.put(small, encode(without_labels(window_rows(20, window=0, seed=4, prefix="small")), "csv"))
    # Given the file's parts and a small file, received four times already (each try timed out: no code ran after)
    for _ in range(4):
        for m in pipeline.receive("ingest"):
            pipeline.sqs.change_message_visibility(
                QueueUrl=pipeline.queues["ingest"][0], ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
    received = pipeline.receive("ingest")
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in received} == {"5"}
    whole = [m for m in received if "driftline_part" not in m["Body"]]
    second = [m for m in received if '"index":1,' in m["Body"]]
    assert len(whole) == 1 and len(second) == 1
    # When the last try's invocation (a whole file and a part: one part an invocation) processes the small file,
    # then hangs on the part until Lambda ends it
    real_open = FileSplitter.open_part

    def slow_open(self: FileSplitter, ref: Any, part: Any) -> Any:
        if part.index == 1:  # hangs past the watch's time (MARGIN_S before the end), then Lambda ends it
            until = time.time() + 30
            while time.time() < until and not pipeline.container.store.error_records(MODEL_ID):
                time.sleep(0.1)
            time.sleep(0.5)
            raise Killed
        return real_open(self, ref, part)

    monkeypatch.setattr(FileSplitter, "open_part", slow_open)
    handler = load_handler("ingest")
    with pytest.raises(Killed):  # the watch fires 6 s in: the small file has long finished
        handler(pipeline.sqs_event("ingest", whole + second), EndingContext(lasttry.MARGIN_S + 6))
    # Then the part not finished by then has an error record; the file that finished none
    records = pipeline.container.store.error_records(MODEL_ID)
    count = json.loads(second[0]["Body"])["driftline_part"]["count"]
    assert [r.key for r in records] == [f"{key} (part 2 of {count})"]
    assert all(r.kind == "dead_letter" and "time ran out" in r.reason for r in records)
    # And the file one ingest.error alert
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert alert["metric"] == "ingest.error" and alert["details"]["key"] == records[0].key


def test_a_csv_with_a_stray_quote_is_profiled_whole_not_cut(splitting: Pipeline) -> None:
    import pyarrow as pa

    from .test_handlers import file_record

    pipeline = splitting
    set_up_model(pipeline)
    rows = without_labels(window_rows(900, window=0, seed=9, prefix="big"))
    notes = ["5'11\" tall" if i == 450 else f"n{i}" for i in range(rows.num_rows)]  # unquoted: pyarrow reads " as-is
    body = b"".join(
        line if b"5'11" not in line else line.replace(b'"5\'11"" tall"', b"5'11\" tall")
        for line in encode(rows.append_column("note", pa.array(notes)), "csv").splitlines(keepends=True)
    )
    assert b"5'11\" tall" in body and len(body) > 8192
    key = f"predictions/{MODEL_ID}/stray.csv"
    pipeline.put(key, body)
    assert pipeline.invoke("ingest", pipeline.receive("ingest")) == {"batchItemFailures": []}
    assert "queued in 1 part (profiled whole: a quote at byte" in str(file_record(pipeline, key).reason)
    (part,) = [json.loads(m["Body"]) for m in _drain(pipeline)]
    assert (part["driftline_part"]["start"], part["driftline_part"]["end"]) == (0, len(body))
    pipeline.evaluate(T0 + HOUR + 60)
    got = _metrics(pipeline, MODEL_ID)
    assert got[("volume.rows", None, T0)] == 900 and got[("volume.files", None, T0)] == 1
