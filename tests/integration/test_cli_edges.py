"""The CLI's edges, tried as a new user would (issue 16): every mistake is one line and a non-zero exit, never a
traceback or a silent empty answer; status and models; what the store holds shows in `errors`.

The commands run in-process (``main([...])``) on moto, the deployment named by flags."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftline.adapters.dynamodb import DynamoTable
from driftline.cli.local.state import STATE_ENV, write_state
from driftline.cli.main import build_parser, main
from driftline.cli.stack import resolve_settings, session_for
from driftline.core.config import ModelConfig
from driftline.core.metrics import MetricPoint
from driftline.services.store import AlertStateRecord, Store

pytestmark = pytest.mark.integration

MODEL = "churn-v3"
HOUR = 3600


@pytest.fixture
def deployment(table_name: str, bucket: str, topic_arn: str, churn_config: ModelConfig) -> dict[str, Any]:
    """A model with a config and a few metric points (population and segments, model- and column-level)."""
    store = Store(DynamoTable(boto3.client("dynamodb", region_name="us-east-1"), table_name))
    store.put_config(MODEL, churn_config.to_dict(), source_key=f"models/{MODEL}/config.yaml", etag="abc")
    ws = (int(time.time()) // HOUR - 2) * HOUR
    points = []
    for seg in (None, "country=US", "country=DE"):
        points.append(MetricPoint(MODEL, "volume.rows", None, seg, ws, ws + HOUR, 100.0, 100))
        points.append(MetricPoint(MODEL, "drift.jensen_shannon", "plan", seg, ws, ws + HOUR, 0.05, 100))
    store.put_points(points)
    flags = ["--bucket", bucket, "--table", table_name, "--topic-arn", topic_arn]
    return {"store": store, "flags": flags, "window": ws}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("command", ["metrics", "alerts", "errors", "status", "evaluate", "report"])
def test_unknown_model_is_named_with_a_suggestion(
    command: str, deployment: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, out, err = run(capsys, command, "--model", "churn-v4", *extra, *deployment["flags"])
    one_line_error(code, err, "unknown model 'churn-v4'", "did you mean 'churn-v3'?")
    assert code == 2 and out == ""
    assert not (tmp_path / "r.html").exists()  # no report of a model that does not exist


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--metric", "drift.jensen-shannon"], ["unknown metric 'drift.jensen-shannon'", "'drift.jensen_shannon'"]),
        (["--segment", "US"], ["segment 'US' is not '<column>=<value>'", "did you mean 'country=US'?"]),
        (["--segment", "contry=US"], ["'contry' is not a segment column", "did you mean 'country'?"]),
        (["--column", "plna"], ["unknown column 'plna'", "did you mean 'plan'?"]),
        (["--since", "yesterday"], ["--since: invalid duration 'yesterday'"]),
        (["--from", "yesterday"], ["--from: not a time: 'yesterday'"]),
        (["--from", "2026-01-02", "--to", "2026-01-01"], ["is not before --to"]),
        (["--endpoint-url", "127.0.0.1:4599"], ["is not a URL (did you mean 'http://127.0.0.1:4599'?)"]),
    ],
)
def test_metrics_mistakes_are_one_line(
    args: list[str], needles: list[str], deployment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "metrics", "--model", MODEL, *args, *deployment["flags"])
    one_line_error(code, err, *needles)
    assert code == 2 and out == ""


def test_evaluate_at_tomorrow_is_one_line(deployment: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", "--model", MODEL, "--at", "tomorrow", *deployment["flags"])
    one_line_error(code, err, "driftline evaluate: --at: not a time: 'tomorrow'")


def test_metrics_json_lists_population_and_every_segment_for_every_kind(
    deployment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for metric, column in (("volume.rows", None), ("drift.jensen_shannon", "plan")):
        for fmt in ("json", "csv"):
            extra = ["--column", column] if column else []
            code, out, _ = run(
                capsys, "metrics", "--model", MODEL, "--metric", metric, *extra, "--format", fmt, *deployment["flags"]
            )
            assert code == 0
            if fmt == "json":
                segments = {p["segment"] for p in json.loads(out)}
            else:
                segments = {line.split(",")[3] or None for line in out.splitlines()[1:]}
            assert segments == {None, "country=US", "country=DE"}, (metric, fmt, out)
        # the table shows the population unless --all-segments
        code, out, _ = run(capsys, "metrics", "--model", MODEL, "--metric", metric, *extra, *deployment["flags"])
        assert code == 0 and "country=US" not in out and len(out.splitlines()) == 2


def test_errors_and_status_show_what_the_store_holds_for_a_model_without_config(
    deployment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given error records of a model that was never configured (its baseline could not be built) and a dead letter
    store: Store = deployment["store"]
    store.record_error("nosuch", key="baselines/nosuch/ref.parquet", file_id="f1", reason="no configuration")
    store.record_error(MODEL, key="predictions/churn-v3/x.csv", file_id="f2", reason="gave up", kind="dead_letter")

    # Then `errors` lists them (a model with error records is known even without a config)
    code, out, _ = run(capsys, "errors", "--model", "nosuch", "--format", "json", *deployment["flags"])
    assert code == 0 and [e["key"] for e in json.loads(out)] == ["baselines/nosuch/ref.parquet"]
    code, out, _ = run(capsys, "status", "--model", "nosuch", "--format", "json", *deployment["flags"])
    status = json.loads(out)
    assert code == 0 and status["configuration"] is None and status["files"]["last_error"]["reason"]
    # and the dead letter counts as one in the model's status
    code, out, _ = run(capsys, "status", "--model", MODEL, "--format", "json", *deployment["flags"])
    assert json.loads(out)["files"]["dead_lettered"] == 1


def test_status_and_models_show_the_operators_first_screen(
    deployment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given files received (one done, one failed, one still processing), an alarm, a waiting window, a run
    store: Store = deployment["store"]
    for fid, status in (("a", "done"), ("b", "failed"), ("c", None)):
        assert store.claim_file(fid, model_id=MODEL, key=f"predictions/{MODEL}/{fid}.csv", kind="predictions")
        if status:
            store.finish_file(fid, status=status, rows=10)
    store.set_baseline(MODEL, "b-1", object_key="_driftline/baselines/b-1.json", created_at="2026-11-23T00:00:00Z")
    store.put_alert_states(
        MODEL,
        {
            "S#feature-drift#plan#-": AlertStateRecord(
                state="ALARM", rule="feature-drift", column="plan", segment=None, updated_at=1.0
            )
        },
    )
    store.mark_dirty(MODEL, deployment["window"])
    store.put_run(MODEL, at=time.time(), windows=3, windows_left=1, errors=["model x: boom"])

    # When status is asked for
    code, out, _ = run(capsys, "status", "--model", MODEL, "--format", "json", *deployment["flags"])
    s = json.loads(out)

    # Then every section is there
    assert code == 0
    assert s["configuration"]["version"] == "abc" and s["configuration"]["window"] == "1h"
    assert s["baseline"]["id"] == "b-1"
    assert s["last_file"]["key"] == f"predictions/{MODEL}/c.csv" and s["last_file"]["status"] == "processing"
    assert {k: s["files"][k] for k in ("received", "done", "failed", "processing")} == {
        "received": 3,
        "done": 1,
        "failed": 1,
        "processing": 1,
    }
    assert s["open_alarms"] == [
        {"rule": "feature-drift", "column": "plan", "segment": None, "since": s["open_alarms"][0]["since"]}
    ]
    assert s["windows_waiting"]["count"] == 1
    assert s["last_evaluation"]["windows"] == 3 and s["last_evaluation"]["errors"] == ["model x: boom"]
    # the table says the same in words
    code, out, _ = run(capsys, "status", "--model", MODEL, *deployment["flags"])
    for words in (
        "configuration   binary_classification",
        "baseline        b-1",
        "3 received: 1 done, 1 processing",
        "open alarms     1",
        "feature-drift plan",
        "windows waiting 1",
        "3 windows evaluated, 1 left, 1 errors",
    ):
        assert words in out, (words, out)
    # and models lists it in one line
    code, out, _ = run(capsys, "models", *deployment["flags"])
    assert code == 0 and out.splitlines()[1].startswith(MODEL)


def test_help_version_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("driftline ")
    helps = {}
    for cmd in (["alerts"], ["report"], ["metrics"], ["local", "up"], ["local", "sam-env"], ["status"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*cmd, "--help"])
        helps[" ".join(cmd)] = " ".join(capsys.readouterr().out.split())
    assert "(default 7d)" in helps["alerts"] and "(default 7d)" in helps["report"]
    assert "(default 24h)" in helps["metrics"]
    assert "(default: 4566)" in helps["local up"] and "0.0.0.0" in helps["local up"]
    assert "host.docker.internal" in helps["local sam-env"]
    # every option of every command says what it is
    for name, text in helps.items():
        assert "--model MODEL the model id" in text or name.startswith("local")


def test_local_up_without_the_local_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a))
    for argv in (["local", "up"], ["demo"]):
        code, out, err = run(capsys, *argv)
        one_line_error(code, err, "pip install 'driftline[local]'")
        assert code == 1 and out == ""


def test_local_up_on_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "local", "up", "--port", str(port))
    one_line_error(code, err, f"port {port} on 127.0.0.1 is in use", "--port")
    assert out == ""


def test_settings_from_the_running_local_cloud_and_dummy_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the settings `local up` leaves, of a running process (this one)
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "local.json"))
    ready = {
        "endpoint_url": "http://127.0.0.1:4599",
        "region": "us-east-1",
        "bucket": "b",
        "table": "t",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:a",
    }
    write_state(ready, stack="driftline-local", root=tmp_path, host="127.0.0.1")

    def settings(*argv: str) -> Any:
        for k in ("DRIFTLINE_BUCKET", "DRIFTLINE_TABLE", "DRIFTLINE_TOPIC_ARN", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(k, raising=False)
        return resolve_settings(build_parser().parse_args(["metrics", "--model", "m", *argv]))

    # Then no flags, or --stack of the local cloud, resolve to it
    for argv in ((), ("--stack", "driftline-local")):
        s = settings(*argv)
        assert (s.endpoint_url, s.bucket, s.table, s.topic_arn) == (
            "http://127.0.0.1:4599",
            "b",
            "t",
            ready["topic_arn"],
        )
    # and flags naming another deployment win
    assert settings("--bucket", "x", "--table", "y", "--topic-arn", "z").endpoint_url is None
    # and a dead process's settings are ignored
    write_state(ready, stack="driftline-local", root=tmp_path, host="127.0.0.1", pid=2**22 + 12345)
    with pytest.raises(Exception, match="no --bucket"):
        settings()

    # Given no credentials anywhere, a local endpoint gets dummy ones; AWS does not
    for k in list(os.environ):
        if k.startswith("AWS_") and k not in ("AWS_DEFAULT_REGION",):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert session_for("http://127.0.0.1:4566", "us-east-1").get_credentials().access_key == "testing"
    assert session_for(None, "us-east-1").get_credentials() is None


def test_sam_commands_without_a_local_cloud_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "none.json"))
    for argv in (["local", "sam-env"], ["local", "event", "ingest", "--key", "predictions/m/a.csv"]):
        code, out, err = run(capsys, *argv)
        one_line_error(code, err, "no local cloud is running", "driftline local up")
        assert code == 1 and out == ""
