"""`sam local invoke` against the local cloud, tested up to the container (no Docker here).

``driftline local sam-env`` and ``driftline local event`` against a running local cloud: the env vars are the
template's, resolved as the local cloud's event pump resolves them, and the events have the shape S3 → SQS → Lambda
delivers (the moto message of the same object, and infra/events/). Then each function's handler runs in a fresh
clean interpreter holding only its code and layers (bench/coldstart.py's probe, on bench/sourcebuild.py's layout of
what `sam build` would ship), with those env vars and events, against the local cloud: the metric points, alerts,
file counts and error records equal what the event pump produces from the same files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_plus

import pytest
from bench import coldstart as cs
from bench.sourcebuild import runtime_links, source_build

from driftline.adapters.dynamodb import DynamoTable
from driftline.cli.local.cloud import LocalCloud
from driftline.cli.local.state import read_state, write_state
from driftline.cli.main import main
from driftline.cli.sam import lambda_event, sam_env
from driftline.services.dispatch import evaluate_message, parse_evaluate_message
from driftline.services.store import Store
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, generate

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "infra" / "events"
HOUR = 3600
PREDICTION_KEYS = (
    f"predictions/{MODEL_ID}/date=2026-11-23/batch 1 (retry).parquet",  # encoded by S3: = space ( )
    f"predictions/{MODEL_ID}/date=2026-11-23/batch+2.csv",  # a literal +
)
LABELS_KEY = f"labels/{MODEL_ID}/labels.csv"
BASELINE_KEY = f"baselines/{MODEL_ID}/reference.parquet"
CONFIG_KEY = f"models/{MODEL_ID}/config.yaml"


@contextlib.contextmanager
def saved_environ() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def local_cloud(*, pumps: bool) -> Iterator[LocalCloud]:
    """A local cloud whose settings are where the CLI finds them (as `driftline local up` leaves them)."""
    with saved_environ(), LocalCloud(tick=0, pumps=pumps) as cloud:
        write_state(cloud.ready_line, stack=cloud.stack_name, root=cloud.root, host=cloud.host)
        yield cloud


def workload(now: float) -> dict[str, list[tuple[str, bytes]]]:
    """The files of each stage: config, baseline, two prediction files (the second drifted), their labels."""
    closed = int(now // HOUR) * HOUR - HOUR
    ref = generate(2_000, seed=1, start=now - 8 * 86_400, span=7 * 86_400, id_prefix="ref")
    calm = generate(600, seed=2, start=closed - HOUR, span=HOUR - 1, id_prefix="a")
    drifted = generate(600, seed=3, start=closed, span=HOUR - 1, drift=1.0, id_prefix="b")
    import pyarrow as pa

    labels = pa.concat_tables([calm.select(["request_id", "churned"]), drifted.select(["request_id", "churned"])])
    return {
        "config": [(CONFIG_KEY, CONFIG_YAML.encode())],
        "baseline": [(BASELINE_KEY, encode(ref, "parquet"))],
        "ingest": [
            (PREDICTION_KEYS[0], encode(calm.drop_columns(["churned"]), "parquet")),
            (PREDICTION_KEYS[1], encode(drifted.drop_columns(["churned"]), "csv")),
        ],
        "labels": [(LABELS_KEY, encode(labels, "csv"))],
    }


def snapshot(cloud: LocalCloud, now: float) -> dict[str, Any]:
    """What Driftline stored: metric points, alerts (the parts that do not depend on when), files, errors."""
    store = Store(DynamoTable(cloud.client("dynamodb"), cloud.outputs["MetricsTableName"]))
    start, end = int(now) - 3 * 86_400, int(now) + HOUR
    points = sorted(
        (p.metric, p.column or "", p.segment or "", p.window_start, round(p.value, 12), p.rows)
        for p in store.points(MODEL_ID, start=start, end=end)
    )
    alerts = sorted(
        tuple(r.alert[k] for k in ("rule", "state", "metric", "column", "segment", "window_start"))
        for r in store.alert_history(MODEL_ID, start=start, end=end)
    )
    errors = sorted((e.key, e.reason) for e in store.error_records(MODEL_ID))
    files = dataclasses.replace(store.file_counts(MODEL_ID), last_at=None)  # when: not what
    return {"points": points, "alerts": alerts, "files": files, "errors": errors}


def keys_of(value: Any) -> Any:
    """The shape of a JSON value: nested key sets."""
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_of(value[0])] if value else []
    return type(value).__name__


def test_sam_env_and_event_match_the_template_the_pump_and_s3(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with local_cloud(pumps=False) as cloud:
        s3, sqs = cloud.client("s3"), cloud.client("sqs")
        bucket = cloud.outputs["DataBucketName"]
        state = read_state()
        assert state is not None and state["endpoint_url"] == cloud.endpoint_url

        # When sam-env is asked for (the command, and with a Docker host)
        assert main(["local", "sam-env", "--out", str(tmp_path / "env.json")]) == 0
        env = json.loads((tmp_path / "env.json").read_text())
        docker = sam_env(state, docker_host="host.docker.internal")

        # Then every function has the template's variables with the values the event pump gives it
        assert set(env) == set(cloud.functions) == {f"{n.capitalize()}Function" for n in cs.FUNCTIONS}
        for logical, fn in cloud.functions.items():
            assert set(env[logical]) == set(fn.env)
            assert {k: v for k, v in env[logical].items() if k != "AWS_ENDPOINT_URL"} == {
                k: v for k, v in fn.env.items() if k != "AWS_ENDPOINT_URL"
            }
            assert env[logical]["AWS_ENDPOINT_URL"] == cloud.endpoint_url
            assert docker[logical]["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{cloud.port}"
            for var, value in fn.env.items():  # a queue's !Ref: the local cloud's URL, as a container reaches it
                if var.endswith("_QUEUE_URL"):
                    assert value.startswith(cloud.endpoint_url + "/"), (var, value)
                    assert docker[logical][var] == value.replace(
                        cloud.endpoint_url, f"http://host.docker.internal:{cloud.port}"
                    )
            assert env[logical]["DRIFTLINE_BUCKET"] == bucket
            assert all(isinstance(v, str) for v in env[logical].values())

        # Given an object with a key S3 must URL-encode, and the message moto's S3 really sent for it
        key = PREDICTION_KEYS[0]
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        queue = cloud.functions["IngestFunction"].queue_url
        deadline, notes = time.time() + 20, []
        while not notes and time.time() < deadline:  # s3:TestEvent messages (no Records) first
            got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
            notes = [json.loads(m["Body"]) for m in got if "Records" in json.loads(m["Body"])]
        (real,) = notes
        real_s3 = real["Records"][0]

        # When `driftline local event` builds the event (by short name too)
        capsys.readouterr()
        assert main(["local", "event", "ingest", "--key", key]) == 0
        event = json.loads(capsys.readouterr().out)

        # Then it is an SQS batch of one record carrying that object's notification, shaped as infra/events/ are
        sample = json.loads((EVENTS / "ingest-sqs.json").read_text())
        assert keys_of(event)["Records"][0].keys() == keys_of(sample)["Records"][0].keys()
        (record,) = event["Records"]
        assert record["eventSourceARN"] == cloud.functions["IngestFunction"].queue_arn
        assert record["attributes"].keys() == sample["Records"][0]["attributes"].keys()
        body = json.loads(record["body"])["Records"][0]
        sample_body = json.loads(sample["Records"][0]["body"])["Records"][0]
        assert keys_of(body) == keys_of(sample_body)
        # and names the object as S3 (here moto's S3) did: the key encoded the same, size, ETag, bucket
        for field in ("key", "size", "eTag"):
            assert body["s3"]["object"][field] == real_s3["s3"]["object"][field], field
        assert body["s3"]["object"]["key"] == "predictions/churn-demo/date%3D2026-11-23/batch+1+%28retry%29.parquet"
        assert unquote_plus(body["s3"]["object"]["key"]) == key
        assert body["s3"]["bucket"]["name"] == real_s3["s3"]["bucket"]["name"] == bucket
        assert body["eventName"].startswith("ObjectCreated:")

        # And the evaluator's event is the scheduler's, named as the template names the schedule
        tick = lambda_event(state, "EvaluateFunction", None)
        assert keys_of(tick) == keys_of(json.loads((EVENTS / "evaluate-schedule.json").read_text()))
        assert tick["resources"] == [
            f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{cloud.stack_name}-evaluate"
        ]

        # And the judge's event is an SQS batch of evaluate messages from JudgeQueue, shaped as the sample
        judge_sample = json.loads((EVENTS / "judge-sqs.json").read_text())
        capsys.readouterr()
        assert main(["local", "event", "judge", "--model", "churn-demo"]) == 0
        (judge,) = json.loads(capsys.readouterr().out)["Records"]
        assert judge.keys() == judge_sample["Records"][0].keys()
        assert judge["eventSourceARN"] == cloud.functions["JudgeFunction"].queue_arn
        assert parse_evaluate_message(judge["body"]) == ("churn-demo", None)
        # and without --model, the messages waiting on the queue, taken off it as Lambda's event source does
        evaluate_url = env["EvaluateFunction"]["DRIFTLINE_EVALUATE_QUEUE_URL"]
        assert evaluate_url == cloud.functions["JudgeFunction"].queue_url
        for model in ("churn-demo", "fraud-v1"):
            sqs.send_message(QueueUrl=evaluate_url, MessageBody=evaluate_message(model, at=123.0))
        batch = lambda_event(state, "JudgeFunction", None)["Records"]
        assert sorted(parse_evaluate_message(r["body"]) for r in batch) == [("churn-demo", 123.0), ("fraud-v1", 123.0)]
        assert all(r.keys() == judge_sample["Records"][0].keys() for r in batch)
        assert all(r["md5OfBody"] == hashlib.md5(r["body"].encode()).hexdigest() for r in batch)
        assert not sqs.receive_message(QueueUrl=evaluate_url, WaitTimeSeconds=0).get("Messages")

        # And the mistakes are one line each, exit non-zero
        for argv, message in (
            (["local", "event", "ingest", "--key", key + ".missing"], "no object s3://"),
            (["local", "event", "labels", "--key", key], "goes to IngestQueue (IngestFunction), not to LabelsQueue"),
            (["local", "event", "ingest"], "pass --key KEY"),
            (["local", "event", "ingset", "--key", key], "did you mean 'IngestFunction'"),
            (["local", "event", "evaluate", "--key", key], "takes no --key"),
            (["local", "event", "judge", "--key", key], "takes no --key"),
            (["local", "event", "judge"], "no messages waiting on JudgeQueue"),
            (["local", "event", "judge", "--model", "Not A Model!"], "not an evaluate message"),
            (["local", "event", "ingest", "--key", key, "--model", "churn-demo"], "not --model"),
        ):
            capsys.readouterr()
            assert main(argv) != 0, argv
            err = capsys.readouterr().err
            assert message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_handlers_in_fresh_interpreters_store_what_the_event_pump_stores(tmp_path: Path) -> None:
    now = time.time()
    if now % HOUR > HOUR - 120:  # both runs must see the same closed windows
        time.sleep(HOUR - now % HOUR + 1)
        now = time.time()
    files = workload(now)
    at = now

    # Given the files delivered by the local cloud's event pump (stage by stage), then a tick of the evaluator
    with local_cloud(pumps=True) as cloud:
        s3, bucket = cloud.client("s3"), cloud.outputs["DataBucketName"]
        for stage in ("config", "baseline", "ingest", "labels"):
            for key, body in files[stage]:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            cloud.wait_idle()
        cloud.invoke_scheduled(at=at)
        pumped = snapshot(cloud, now)
    assert pumped["alerts"], "the drifted file must raise alerts, or the comparison proves little"
    assert pumped["files"].done == 5 and pumped["files"].last_key == LABELS_KEY

    # When the same files are put into a local cloud without pump, and each function runs in a fresh clean
    # interpreter with only its code and layers, the env vars of `local sam-env` and the events of `local event`
    build = source_build(tmp_path / "build")
    runtime = runtime_links(tmp_path / "runtime")
    try:
        python = cs.find_python312()  # the runtime's version where there is one
    except SystemExit:
        python = [sys.executable]
    by_name = {fn.logical_id: fn for fn in build.functions}
    home = tmp_path / "home"
    home.mkdir()
    with local_cloud(pumps=False) as cloud:
        s3, bucket = cloud.client("s3"), cloud.outputs["DataBucketName"]
        state = read_state()
        assert state is not None
        env_vars = sam_env(state)
        for stage in ("config", "baseline", "ingest", "labels", "evaluate", "judge"):
            logical = f"{stage.capitalize()}Function"
            events = []
            for key, body in files.get(stage, []):
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                events.append(lambda_event(state, logical, key))
            if stage == "evaluate":
                events = [{**lambda_event(state, logical, None), "at": at}]
            if stage == "judge":  # the messages EvaluateFunction queued, as Lambda's SQS event source hands them
                events = [lambda_event(state, logical, None)]
                assert [parse_evaluate_message(r["body"]) for r in events[0]["Records"]] == [(MODEL_ID, at)]
            fn = by_name[logical]
            wiring = SimpleNamespace(name=cloud.functions[logical].name, env=env_vars[logical])
            endpoint = SimpleNamespace(endpoint_url=env_vars[logical]["AWS_ENDPOINT_URL"])
            env = cs.lambda_environment(fn, wiring, endpoint, runtime, home, tracing=False)
            env["AWS_SAM_LOCAL"] = "true"  # what `sam local invoke` sets (Powertools' tracer then stays off)
            probe, output = cs.run_probe(python, fn, events, env, back=[runtime], timeout=300)
            assert probe.error is None, f"{logical}: {probe.error}\n{output[-3000:]}"
            assert len(probe.calls) == len(events)
        invoked = snapshot(cloud, now)

    # Then Driftline stored the same: every metric point, alert, file count and error record
    assert invoked["points"] == pumped["points"]
    assert invoked["alerts"] == pumped["alerts"]
    assert invoked["files"] == pumped["files"]
    assert invoked["errors"] == pumped["errors"]


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_sample_events_name_the_local_clouds_resources(name: str) -> None:
    """infra/events/ are consistent with the local cloud: its bucket, the queue each key is routed to, its schedule
    (so `sam local invoke -e infra/events/...` against it reads an object of its bucket once the object is put)."""
    from driftline.cli.local.cloud import STACK_NAME, project_root
    from driftline.cli.sam import _route, _stack

    stack = _stack({"root": str(project_root()), "stack": STACK_NAME, "region": "us-east-1"})
    bucket = stack.physical_name("DataBucket")
    event = json.loads((EVENTS / name).read_text())
    if "Records" not in event:
        assert event["resources"] == [
            f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{STACK_NAME}-evaluate"
        ]
        return
    for record in event["Records"]:
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        if name.startswith("judge"):  # evaluate messages, on the judge's queue
            assert record["eventSourceARN"] == stack.get_att("JudgeQueue", "Arn")
            assert (
                record["eventSourceARN"]
                == stack.properties("JudgeFunction")["Events"]["ModelsDue"]["Properties"]["Queue"]
            )
            model_id, _ = parse_evaluate_message(record["body"])
            assert model_id
            continue
        body = json.loads(record["body"])
        if "Records" not in body:  # s3:TestEvent
            assert body["Bucket"] == bucket
            continue
        s3_record = body["Records"][0]["s3"]
        assert s3_record["bucket"]["name"] == bucket and s3_record["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
        queue = _route(stack, unquote_plus(s3_record["object"]["key"]))
        assert queue is not None and record["eventSourceARN"] == stack.get_att(queue, "Arn")
