"""bench/coldstart.py without a `sam build`: its events are what the services deliver and the handlers accept, its
workload is consistent, its table and -X importtime parsing are right, and it falls back when nothing is built."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SQSEvent
from bench import coldstart as cs

from driftline.runtime.events import parse_sqs_body
from driftline.services.models import parse_key

EVENTS = Path(__file__).resolve().parents[2] / "infra" / "events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:driftline-local-IngestQueue"


def test_sqs_event_carries_an_s3_notification_the_handlers_parse() -> None:
    # Given the notification of a prediction file whose key needs URL-encoding, in an SQS batch
    key = "predictions/churn-v3/date=2024-05-01/batch 11 (retry).parquet"
    note = cs.s3_notification("bucket-1", key, size=1234, etag='"abc123"', version_id="v1", at=1_714_558_530.123)
    event = cs.sqs_event(cs.sqs_record(note, queue_arn=QUEUE_ARN, at=1_714_558_530.2))

    # When the handlers' parser and Powertools read it
    record = event["Records"][0]
    parsed = parse_sqs_body(record["body"])
    powertools = next(iter(SQSEvent(event).records))

    # Then the body is the S3 event as a JSON string, its key encoded as S3 encodes it, and it names the object
    assert isinstance(record["body"], str)
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    raw_key = json.loads(record["body"])["Records"][0]["s3"]["object"]["key"]
    assert raw_key == "predictions/churn-v3/date%3D2024-05-01/batch+11+%28retry%29.parquet"
    assert unquote_plus(raw_key) == key
    assert parsed.rejected == [] and not parsed.test_event
    (ref,) = parsed.refs
    assert (ref.bucket, ref.key, ref.etag, ref.size, ref.prefix, ref.model_id) == (
        "bucket-1",
        key,
        "abc123",
        1234,
        "predictions",
        "churn-v3",
    )
    assert powertools.event_source_arn == QUEUE_ARN
    assert powertools.attributes.approximate_receive_count == "1"


def test_events_have_the_shape_of_the_sample_events() -> None:
    # Given the sample events of infra/events (as the services deliver them) and built ones
    sample_sqs = json.loads((EVENTS / "ingest-sqs.json").read_text())["Records"][0]
    sample_s3 = json.loads(sample_sqs["body"])["Records"][0]
    sample_schedule = json.loads((EVENTS / "evaluate-schedule.json").read_text())
    note = cs.s3_notification("b", "labels/m/x.csv", size=1, etag="e", version_id="v")
    built_sqs = cs.sqs_record(note, queue_arn=QUEUE_ARN)
    built_schedule = cs.schedule_event(at=1_714_558_577.5)

    # Then they have the same fields, nested ones included
    assert built_sqs.keys() == sample_sqs.keys()
    assert built_sqs["attributes"].keys() == sample_sqs["attributes"].keys()
    assert note["Records"][0].keys() == sample_s3.keys()
    assert note["Records"][0]["s3"]["object"].keys() == sample_s3["s3"]["object"].keys()
    assert built_schedule.keys() == sample_schedule.keys()
    # and the tick's time is the scheduled minute, as the scheduler sends it
    tick = EventBridgeEvent(built_schedule)
    assert tick.detail_type == "Scheduled Event" and tick.source == "aws.scheduler"
    assert built_schedule["time"] == "2024-05-01T10:16:00Z"


def test_workload_is_two_files_per_function_that_fit_together() -> None:
    # Given a round's files
    files = cs.workload_files(1_714_558_530.0, seed=1, rows=50, reference_rows=100)

    # Then each SQS function gets two distinct files under its prefix and the model's id
    assert set(files) == set(cs.PREFIXES)
    for name, pair in files.items():
        assert len(pair) == 2 and pair[0][1] != pair[1][1]  # distinct content: never a duplicate delivery
        for key, _body in pair:
            ref = parse_key("bucket", key, encoded=False)
            assert (ref.prefix, ref.model_id) == (cs.PREFIXES[name], cs.MODEL_ID)
    # the config is the model's, the predictions carry no labels, and the labels name the predictions' ids
    assert f"model_id: {cs.MODEL_ID}" in files["config"][0][1].decode()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    predictions = pq.read_table(pa_buffer(files["ingest"][0][1]))
    labels = pacsv.read_csv(pa_buffer(files["labels"][0][1]))
    assert "churned" not in predictions.column_names
    assert labels.column_names == ["request_id", "churned"]
    assert set(labels.column("request_id").to_pylist()) == set(predictions.column("request_id").to_pylist())


def pa_buffer(data: bytes):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.BufferReader(data)


def test_table_shows_wall_and_cpu_seconds_errors_and_the_aim() -> None:
    # Given a fast function, a slow one and a broken one
    fast = cs.Result(
        "evaluate", 51.9, cs.Timing(0.5, 0.4), cs.Timing(0.2, 0.1), cs.Timing(0.7, 0.5), cs.Timing(0.01, 0.01)
    )
    slow = cs.Result("ingest", 157.8, cs.Timing(1.5, 1.2), cs.Timing(2.0, 1.0), cs.Timing(3.5, 2.2), None)
    broken = cs.Result("labels", 157.8, error="import failed: Traceback\nModuleNotFoundError: No module named 'x'")

    # When the table is rendered
    table = cs.render_table([fast, slow, broken], repeat=3).splitlines()

    # Then every function has its row, a measured cell is "wall (cpu)", a missing one "-"
    assert "best of 3" in table[0]
    assert table[2] == "| evaluate | 51.9 | 0.500 (0.40) | 0.200 (0.10) | 0.700 (0.50) | 0.010 (0.01) |  |"
    assert table[3].endswith("| 3.500 (2.20) | - | import over the 1 s aim |")
    assert table[4] == "| labels | 157.8 | - | - | - | - | ERROR: import failed: Traceback |"


def test_best_of_takes_the_least_wall_and_cpu_separately() -> None:
    assert cs.best([cs.Timing(2.0, 1.0), cs.Timing(1.5, 1.2)]) == cs.Timing(1.5, 1.0)
    assert cs.Timing(1.0, 0.5) + cs.Timing(0.25, 0.25) == cs.Timing(1.25, 0.75)


def test_check_work_needs_each_file_processed_and_the_first_tick_to_evaluate() -> None:
    # Given the probe's output: a marker before each call, then Powertools' JSON log lines
    def logs(*statuses: str) -> str:
        out = "cold-start noise\n"
        for status in statuses:
            out += cs.MARK + "call\n" + json.dumps({"message": "object handled", "status": status}) + "\n"
        return out

    calls: list[dict[str, Any]] = [{"response": {"batchItemFailures": []}}] * 2

    # Then two processed files pass; a duplicate, a failure or a batch item failure do not
    assert cs.check_work("IngestFunction", calls, logs("processed", "processed")) is None
    assert "not processed" in (cs.check_work("IngestFunction", calls, logs("processed", "duplicate")) or "")
    failing = [{"response": {"batchItemFailures": [{"itemIdentifier": "1"}]}}, calls[1]]
    assert "batch item failures" in (cs.check_work("LabelsFunction", failing, logs("processed", "processed")) or "")
    # and the evaluator's first tick must have queued the model, and the judge's first batch evaluated windows
    # (the second may find nothing new)
    ticks = [{"response": {"models": 1, "queued": 1, "errors": 0}}, {"response": {"queued": 0}}]
    assert cs.check_work("EvaluateFunction", ticks, "") is None
    assert cs.check_work("EvaluateFunction", ticks[::-1], "") is not None
    judged = [{"response": {"batchItemFailures": [], "summary": {"windows": 2}}},
              {"response": {"batchItemFailures": [], "summary": {"windows": 0}}}]  # fmt: skip
    assert cs.check_work("JudgeFunction", judged, "") is None
    assert cs.check_work("JudgeFunction", judged[::-1], "") is not None


def test_importtime_output_is_summed_by_package() -> None:
    # Given -X importtime's stderr
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   _io",
            "import time:      2000 |       2000 |     numpy._core",
            "import time:      1000 |       3000 |   numpy",
            "import time:       500 |       3600 |   driftline.core.metrics",
            "import time:       100 |       3700 | app",
        ]
    )

    # Then self times add up per top-level package, the standard library as one, the largest first
    assert cs.importtime_by_package(stderr) == [
        ("numpy", 0.003),
        ("driftline", 0.0005),
        ("(standard library)", 0.0001),
        ("app", 0.0001),
    ]
    assert cs.importtime_tree(stderr, top=2) == [(" app", 0.0037), ("   driftline.core.metrics", 0.0036)]


def test_without_a_build_it_says_so_and_measures_the_venv_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no `sam build` output (the venv measurement itself stubbed: it spawns interpreters)
    monkeypatch.setattr(cs, "import_seconds", lambda name, repeat: 0.25)

    # When the benchmark runs
    code = cs.main(["--build-dir", str(tmp_path / "build"), "--repeat", "2", "--functions", "config,evaluate"])

    # Then it says so and labels the fallback as the project venv's import
    out = capsys.readouterr().out
    assert code == 0
    assert "No `sam build` output" in out and "NOT the Lambda environment" in out
    assert "| function | handler import s in the project venv (best of 2) |" in out
    assert "| config | 0.250 |" in out and "| evaluate | 0.250 |" in out


def test_unknown_function_is_refused() -> None:
    with pytest.raises(SystemExit):
        cs.main(["--functions", "nope"])
