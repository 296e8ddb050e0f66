"""Faults on the deployed data path (issue 5, item 2): each one is retried or redriven, and the final state is the
state a fault-free run of the same inputs ends in.

The faults are injected into the real boto3 clients of the runtime's container — the DynamoDB, S3 and SNS adapters
on moto — through botocore's event system, so that botocore's own retries, then Driftline's code, meet them as
they would meet them on AWS:

* a throttled request is answered in ``before-send`` with the 400 response DynamoDB or SNS gives, and is not
  executed (a throttled write has no effect). It is answered so ``sends`` times in a row; botocore's budget is
  ``BOTO_SENDS`` sends per call (the runtime's client config), so a fault of that many sends fails the call in our
  code, and a smaller one is absorbed by botocore;
* a partial ``BatchWriteItem`` executes the first half of its items and returns the rest as ``UnprocessedItems``;
* an S3 body breaks after some bytes: its raw stream raises what urllib3 raises (connection reset, read timeout),
  or ends early (botocore's content-length check then raises ``IncompleteReadError``);
* a conflict is another writer — another container, i.e. another Lambda execution environment — that runs to its
  end just before the conditional write of the first one is sent; and a crash is an exception out of a service.

botocore's retry sleeps and the adaptive mode's client-side pacing are made instant (they wait real seconds; their
timing is not what these tests are about). Every injection is counted, and each test asserts that its fault fired.

Each test compares the final state with the one of a fault-free run (``Snapshot``): the metric points (counts
exactly, other values to 1e-9: a redelivery can merge the same profiles in another order), the alert history and
the alerts the topic's subscriber received (each once), the error records and the file records. The fault-free run
is made once per process, under another model id in the same mock (``reference``).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import botocore.endpoint
import numpy as np
import pyarrow as pa
import pytest
import urllib3.exceptions
from botocore.awsrequest import AWSResponse
from botocore.retries.bucket import TokenBucket
from moto.core.botocore_stubber import MockRawResponse

from driftline.adapters.s3 import S3ObjectStore
from driftline.core.baseline import Baseline
from driftline.core.config import load_config
from driftline.core.errors import StorageError
from driftline.runtime.container import _BOTO_CONFIG, Container
from driftline.runtime.settings import Settings
from driftline.services.alerts import RETRY_GRACE
from driftline.services.models import parse_key
from driftline.services.profiling import build_baseline
from driftline.services.store import file_id_for, ws_key
from driftline.testing import MODEL_ID, encode, generate, lean_config

from .conftest import Pipeline, _session
from .test_handlers import HOUR, T0, _reference_parquet, window_rows, without_labels

pytestmark = pytest.mark.integration

Reader = Callable[[str], list[dict[str, Any]]]

REF_MODEL = "churn-ref"  # the fault-free run's model, in the same mock
AT = T0 + 2 * HOUR + 60  # windows 0 and 1 closed
FAULT_URL = "https://fault-injected.invalid/"  # a request sent here is not executed by moto
BOTO_SENDS = 1 + int(_BOTO_CONFIG.retries["max_attempts"])  # type: ignore[index]  # botocore: 1 send + 8 retries
ADAPTER_TRIES = 8  # DynamoTable's tries of the unprocessed rest of a batch (its max_attempts)


# -- inputs ----------------------------------------------------------------------------------------------------------

# name → (first window, windows, seed, drift): window 0 normal, window 1 drifted (the feature-drift rule alarms
# there); b spans both windows (its profiles are two items, written in one request)
LOGS = {
    "a.csv": (0, 1, 31, 0.0),
    "b.jsonl.gz": (0, 2, 32, 0.0),
    "c.parquet": (1, 1, 33, 1.0),
    "d.csv": (0, 1, 34, 0.0),  # a late log for window 0
}
BAD = "bad.csv.gz"  # a truncated gzip: an error record and an ingest.error alert
BATCH = ("a.csv", "b.jsonl.gz", "c.parquet", BAD)  # one SQS batch
ROWS = 120  # per log: windows are judged from 100 rows
# A lean model (moto's DynamoDB is slow: few metric points and alert targets per window), no label column.
ALERTS = (
    "  - {name: feature-drift, metric: drift.jensen_shannon, columns: all_features, above: 0.2, severity: warning}\n"
    "  - {name: estimated-accuracy, metric: estimated.accuracy, below_baseline_by: 0.05, severity: warning}\n"
)


@functools.cache
def _log(name: str) -> pa.Table:
    window, windows, seed, drift = LOGS[name]
    start, span = T0 + window * HOUR, windows * HOUR - 1
    return without_labels(generate(ROWS, seed=seed, start=start, span=span, drift=drift, id_prefix=name[0]))


@functools.cache
def body(name: str) -> bytes:
    if name == BAD:
        whole = encode(without_labels(window_rows(ROWS, seed=35, prefix="bad")), "csv.gz")
        return whole[: len(whole) // 2]
    if name == "c.parquet":  # with a column Driftline does not read: Parquet is then read in several ranges
        padding = np.random.default_rng(7).integers(0, 256, (ROWS, 1000), dtype=np.uint8)
        return encode(_log(name).append_column("padding", pa.array([r.tobytes().hex() for r in padding])), "parquet")
    return encode(_log(name), name.split(".", 1)[1])


def key(model: str, name: str) -> str:
    return f"predictions/{model}/2026/01/01/{name}"


@functools.cache
def _baseline(model: str) -> Baseline:
    config = load_config(lean_config(model, alerts=ALERTS), expected_model_id=model)
    ref = f"baselines/{model}/reference.parquet"
    return build_baseline(config, [(ref, lambda: io.BytesIO(_reference_parquet()))], created_at="2025-12-25T00:00:00Z")


def install_model(pipeline: Pipeline, model: str) -> None:
    """The model's config and baseline in force (as their drops leave them; not what is tested here)."""
    c = pipeline.container
    config = load_config(lean_config(model, alerts=ALERTS), expected_model_id=model)
    c.store.put_config(model, config.to_dict(), source_key=f"models/{model}/config.yaml", etag="setup")
    c.registry.save_baseline(_baseline(model))


# -- the data path ---------------------------------------------------------------------------------------------------


def put(pipeline: Pipeline, model: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Put the objects and receive the ingest queue's messages for them (in flight), in the order put."""
    for name in names:
        pipeline.put(key(model, name), body(name))
    messages = pipeline.receive("ingest")
    order = {key(model, n): i for i, n in enumerate(names)}
    messages.sort(key=lambda m: order[unquote(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"])])
    assert len(messages) == len(names)
    return messages


def failed(response: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """The object keys of the records a partial batch response reports failed."""
    ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    return [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages if m["MessageId"] in ids]


def redeliver(pipeline: Pipeline, fn: str = "ingest") -> None:
    """SQS delivers the failed messages again; this time they succeed."""
    assert pipeline.depth(fn) > 0, "nothing to redeliver"
    assert pipeline.deliver(fn) == {"batchItemFailures": []}
    assert pipeline.depth(fn) == 0


def evaluate(pipeline: Pipeline, at: float = AT) -> list[str]:
    """One scheduled evaluator run (the service as the handler calls it); the errors it reports."""
    return [e for r in pipeline.container.evaluate.evaluate_all(at=at) for e in r.errors]


def file_id(pipeline: Pipeline, model: str, name: str) -> str:
    k = key(model, name)
    return file_id_for(pipeline.bucket, k, pipeline.s3.head_object(Bucket=pipeline.bucket, Key=k)["ETag"].strip('"'))


def file_items(pipeline: Pipeline, model: str, fid: str) -> list[dict[str, Any]]:
    """The profile items that a file wrote (in windows 0 and 1) and the evaluator has not rolled up yet."""
    table = pipeline.container.store.table
    return [i for w in (0, 1) for i in table.query(f"PROF#{model}#{ws_key(T0 + w * HOUR)}", sk_prefix=f"F#{fid}#")]


class Clock:
    """The store's clock (alert records and the retry grace), driven by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drive_clock(pipeline: Pipeline) -> Clock:
    import time

    clock = Clock(time.time())
    pipeline.container.store.clock = clock
    return clock


# -- what the state is -----------------------------------------------------------------------------------------------


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def _alert_text(alert: dict[str, Any], model: str) -> str:
    """An alert without what differs between two runs of the same inputs: the model id, when it was evaluated
    (ingest errors: the wall clock), and the file id (a hash of the key); floats to 9 digits."""
    a = {k: v for k, v in alert.items() if k not in ("evaluated_at", "model_id")}
    a["details"] = {k: v for k, v in (a.get("details") or {}).items() if k != "file_id"}
    return json.dumps(_round(a), sort_keys=True).replace(model, "<model>")


@dataclass(frozen=True)
class Snapshot:
    points: dict[tuple[str, str | None, str | None, int], tuple[float, int]]
    history: list[tuple[str, bool]]  # every alert recorded, and whether it was published
    published: list[str]  # every alert the topic's subscriber received (a duplicate would show twice)
    errors: list[tuple[str, str]]  # (key, reason)
    files: dict[str, tuple[str, int]]  # file → (status, rows)
    dirty: list[int]


def snapshot(pipeline: Pipeline, model: str, read_alerts: Reader) -> Snapshot:
    store = pipeline.container.store
    points = {
        (p.metric, p.column, p.segment, p.window_start): (p.value, p.rows)
        for p in store.points(model, start=T0 - HOUR, end=T0 + 4 * HOUR)
    }
    history = sorted(
        (_alert_text(dict(r.alert), model), r.published) for r in store.alert_history(model, start=0, end=2**33)
    )
    published = sorted(
        _alert_text(json.loads(e["Message"]), model)
        for e in read_alerts(pipeline.alerts_queue_url)
        if json.loads(e["Message"])["model_id"] == model
    )
    errors = sorted((e.key.replace(model, "<model>"), e.reason) for e in store.error_records(model))
    files = {}
    for obj in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix=f"predictions/{model}/")["Contents"]:
        record = store.get_file(file_id_for(pipeline.bucket, obj["Key"], obj["ETag"].strip('"')))
        files[obj["Key"].rsplit("/", 1)[1]] = ("None", 0) if record is None else (record.status, record.rows)
    return Snapshot(points, history, published, errors, files, [ws for ws, _ in store.dirty_windows(model)])


def file_status(pipeline: Pipeline, file_id: str) -> str | None:
    record = pipeline.container.store.get_file(file_id)
    return None if record is None else record.status


def assert_same(got: Snapshot, want: Snapshot) -> None:
    assert set(got.points) == set(want.points)
    for k, (value, rows) in want.points.items():
        got_value, got_rows = got.points[k]
        assert got_rows == rows, k
        if k[0].startswith("volume."):
            assert got_value == value, k
        else:
            assert math.isclose(got_value, value, rel_tol=1e-9, abs_tol=1e-12), (k, got_value, value)
    assert got.history == want.history
    assert got.published == want.published
    assert got.errors == want.errors
    assert got.files == want.files
    assert got.dirty == want.dirty == []


# -- the fault-free runs ---------------------------------------------------------------------------------------------


def run_batch(pipeline: Pipeline, model: str) -> None:
    """Three prediction logs (two windows) and a corrupt file in one SQS batch, then the evaluator."""
    messages = put(pipeline, model, BATCH)
    assert pipeline.invoke("ingest", messages) == {"batchItemFailures": []}
    assert evaluate(pipeline) == []


def run_late(pipeline: Pipeline, model: str) -> None:
    """The batch and an evaluation; then a late log for window 0, and the evaluator again."""
    run_batch(pipeline, model)
    assert pipeline.invoke("ingest", put(pipeline, model, ("d.csv",))) == {"batchItemFailures": []}
    assert evaluate(pipeline) == []


FLOWS: dict[str, Callable[[Pipeline, str], None]] = {"batch": run_batch, "late": run_late}
_references: dict[str, Snapshot] = {}


def reference(pipeline: Pipeline, read_alerts: Reader, flow: str) -> Snapshot:
    """The final state of a fault-free run of ``flow`` (made under another model id, once per process)."""
    if flow not in _references:
        install_model(pipeline, REF_MODEL)
        FLOWS[flow](pipeline, REF_MODEL)
        _references[flow] = snapshot(pipeline, REF_MODEL, read_alerts)
        pipeline.container.store.table.delete("MODELS", REF_MODEL)  # the evaluator leaves it alone from now on
    want = _references[flow]
    assert want.published and want.errors and want.points  # the flow exercises alerts, errors and metrics
    return want


@pytest.fixture
def model(pipeline: Pipeline) -> str:
    install_model(pipeline, MODEL_ID)
    return MODEL_ID


# -- injecting faults --------------------------------------------------------------------------------------------------


def _response(status: int, body: str, headers: dict[str, str] | None = None) -> AWSResponse:
    return AWSResponse(FAULT_URL, status, headers or {}, MockRawResponse(body))  # type: ignore[arg-type]


def dynamodb_error(code: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": f"{code} (injected)"})
    return _response(400, body, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"})


def sns_error(code: str) -> AWSResponse:
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>Rate exceeded (injected)</Message></Error><RequestId>fault</RequestId>"
        "</ErrorResponse>"
    )
    return _response(400, body, {"Content-Type": "text/xml"})


def _text(request: Any) -> str:
    data = request.body
    if isinstance(data, bytes | bytearray):
        return unquote(data.decode("utf-8", "replace"))
    return "" if data is None else unquote(str(data))


Match = str | tuple[str, ...]  # what a request must contain (every one of them)


def _matches(request: Any, match: Match) -> bool:
    text = _text(request)
    return all(m in text for m in ((match,) if isinstance(match, str) else match))


def _parsed_values(wire: Any) -> Any:
    """DynamoDB JSON from a request as botocore parses it in a response: binary values decoded to bytes."""
    if isinstance(wire, list):
        return [_parsed_values(v) for v in wire]
    if isinstance(wire, dict):
        return {k: base64.b64decode(v) if k == "B" else _parsed_values(v) for k, v in wire.items()}
    return wire


STREAM_ERRORS: dict[str, Callable[[], Exception] | None] = {
    "connection-reset": lambda: urllib3.exceptions.ProtocolError(
        "Connection broken: ConnectionResetError(104, 'Connection reset by peer')",
        ConnectionResetError(104, "Connection reset by peer"),
    ),
    "read-timeout": lambda: urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out. (read timeout=60)"),  # type: ignore[arg-type]
    "truncated": None,  # the body ends early: botocore's length check raises IncompleteReadError
}


class _BreakingStream:
    """A raw HTTP body that breaks after ``after`` bytes (raises ``error``, or ends early when it is None)."""

    def __init__(self, raw: Any, after: int, error: Callable[[], Exception] | None, fired: Callable[[], None]) -> None:
        self._raw, self._left, self._error, self._fired = raw, after, error, fired

    def read(self, amt: int | None = None) -> bytes:
        if self._left <= 0:
            self._fired()
            if self._error is None:
                return b""
            raise self._error()
        data: bytes = self._raw.read(self._left if amt is None else min(amt, self._left))
        self._left -= len(data)
        if amt is None and self._left <= 0:  # a whole read ends where the connection broke
            self._fired()
            if self._error is not None:
                raise self._error()
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


class Faults:
    """Faults for the clients of one container; ``fired`` counts the sends (or reads) each fault answered."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, *, dynamodb: Any = None, s3: Any = None, sns: Any = None
    ) -> None:
        self.fired: Counter[str] = Counter()
        self.retry_delays: list[float] = []  # what botocore would have slept
        self._lock = threading.Lock()
        self._on = True
        self.dynamodb, self.s3, self.sns = dynamodb, s3, sns
        monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=self.retry_delays.append))
        monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)

    @classmethod
    def of(cls, container: Container, monkeypatch: pytest.MonkeyPatch) -> Faults:
        """Faults for the clients of the adapters of a container (and no sleeping in the adapter's own backoff)."""
        table: Any = container.store.table
        monkeypatch.setattr(table, "_sleep", lambda _: None)
        sink: Any = container.alerts.sink
        return cls(monkeypatch, dynamodb=table._client, s3=container.objects._client, sns=sink._client)

    def stop(self) -> None:
        """No more faults from now on (the fault is over: the redelivery meets a healthy service)."""
        self._on = False

    def _take(self, budget: list[int], name: str) -> bool:
        with self._lock:
            if not self._on or budget[0] <= 0:
                return False
            budget[0] -= 1
            self.fired[name] += 1
            return True

    def throttle(
        self,
        operation: str,
        *,
        match: Match,
        sends: int = BOTO_SENDS,
        requests: int = 1,
        code: str = "ProvisionedThroughputExceededException",
    ) -> None:
        """The first ``requests`` distinct DynamoDB ``operation`` requests that contain ``match`` are throttled, each
        for its next ``sends`` sends (botocore sends the same request again when it retries)."""
        budgets: dict[str, list[int]] = {}

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            if not _matches(request, match):
                return None
            with self._lock:
                budget = budgets.get(_text(request))
                if budget is None and len(budgets) < requests:
                    budget = budgets[_text(request)] = [sends]
            if budget is None or not self._take(budget, operation):
                return None
            request.url = FAULT_URL
            return dynamodb_error(code)

        self.dynamodb.meta.events.register(f"before-send.dynamodb.{operation}", before_send)

    def unprocessed(self, *, match: Match, requests: int = 10**6) -> None:
        """The next ``requests`` BatchWriteItem requests containing ``match`` write the first half of their items
        (rounded down) and return the others as UnprocessedItems."""
        budget = [requests]
        local = threading.local()

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            local.rest = None
            if not _matches(request, match) or not self._take(budget, "BatchWriteItem.unprocessed"):
                return None
            data = json.loads(request.body)
            ((table, writes),) = data["RequestItems"].items()
            keep = len(writes) // 2
            if keep == 0:
                request.url = FAULT_URL
                return _response(200, json.dumps({"UnprocessedItems": {table: writes}}))
            local.rest = (table, writes[keep:])
            data["RequestItems"][table] = writes[:keep]
            request.body = json.dumps(data).encode()
            request.headers["Content-Length"] = str(len(request.body))
            return None

        def after_call(parsed: dict[str, Any], **_: Any) -> None:
            rest = getattr(local, "rest", None)
            local.rest = None
            if rest is not None:  # as botocore parses them: binary values as bytes
                parsed["UnprocessedItems"] = {rest[0]: _parsed_values(rest[1])}

        self.dynamodb.meta.events.register("before-send.dynamodb.BatchWriteItem", before_send)
        self.dynamodb.meta.events.register("after-call.dynamodb.BatchWriteItem", after_call)

    def sns_throttle(self, *, match: Match, sends: int = BOTO_SENDS, code: str = "Throttling") -> None:
        """The next ``sends`` Publish sends whose request contains ``match`` are throttled."""
        budget = [sends]

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            if not _matches(request, match) or not self._take(budget, "Publish"):
                return None
            request.url = FAULT_URL
            return sns_error(code)

        self.sns.meta.events.register("before-send.sns.Publish", before_send)

    def kill_before_publish(self, error: BaseException) -> None:
        """The process dies (``error`` escapes) as it is about to publish its first alert."""
        budget = [1]

        def before_call(**_: Any) -> None:
            if self._take(budget, "killed"):
                raise error

        self.sns.meta.events.register("before-call.sns.Publish", before_call)

    def break_stream(self, object_key: str, *, error: str, after: int, nth: int = 1) -> None:
        """The ``nth`` GetObject of ``object_key`` (ranged ones count) breaks after ``after`` bytes of its body."""
        calls = [0]

        def after_call(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
            if object_key not in unquote(str(http_response.url)) or "Body" not in parsed:
                return
            calls[0] += 1
            if calls[0] != nth or not self._on:
                return
            stream = parsed["Body"]
            stream._raw_stream = _BreakingStream(stream._raw_stream, after, STREAM_ERRORS[error], self._fired_s3)

        self.s3.meta.events.register("after-call.s3.GetObject", after_call)

    def _fired_s3(self) -> None:
        with self._lock:
            self.fired["GetObject"] += 1

    def before_write(self, operation: str, *, match: Match, run: Callable[[], None]) -> None:
        """Just before the first ``operation`` request containing ``match`` is sent, ``run`` (another writer) runs
        to its end; the ConditionalCheckFailed answers the request then gets are counted as ``conflict``."""
        budget = [1]

        def before_send(request: Any, **_: Any) -> None:
            if _matches(request, match) and self._take(budget, f"overtaken.{operation}"):
                run()

        self.dynamodb.meta.events.register(f"before-send.dynamodb.{operation}", before_send)
        self.count_conflicts(operation)

    def count_conflicts(self, operation: str) -> None:
        """Count the ConditionalCheckFailed answers (a transaction's: cancelled) ``operation`` gets, as ``conflict``."""

        def after_call(parsed: dict[str, Any], **_: Any) -> None:
            code = parsed.get("Error", {}).get("Code")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                with self._lock:
                    self.fired[f"conflict.{operation}"] += 1

        self.dynamodb.meta.events.register(f"after-call.dynamodb.{operation}", after_call)


@pytest.fixture
def faults(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults.of(pipeline.container, monkeypatch)


def other_container() -> Container:
    """Another execution environment of the same deployment (its own clients and caches)."""
    return Container(Settings.from_env(), session=_session())


# == 1. DynamoDB throttling ============================================================================================


def _assert_only_b_failed(pipeline: Pipeline, model: str, messages: list[dict[str, Any]], response: Any) -> None:
    """b's record alone failed, with no error record nor alert of its own (the corrupt file has its own)."""
    assert failed(response, messages) == [key(model, "b.jsonl.gz")]
    assert [e.key for e in pipeline.container.store.error_records(model)] == [key(model, BAD)]


@pytest.mark.parametrize(
    ("operation", "what"),
    [
        ("BatchWriteItem", "profiles"),  # b's profile items (both windows, one request)
        ("PutItem", "claim"),  # b's exactly-once claim (a conditional put)
        ("UpdateItem", "finish"),  # b marked done, after its profiles were written
    ],
)
def test_throttling_during_ingest_fails_the_record_and_its_redelivery_counts_exactly(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader, operation: str, what: str
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    messages = put(pipeline, model, BATCH)
    fid = file_id(pipeline, model, "b.jsonl.gz")
    # Given DynamoDB throttling every send of one of b's requests, beyond botocore's retries
    faults.throttle(operation, match=f"F#{fid}#" if what == "profiles" else f"FILE#{fid}")

    # When the batch is delivered
    response = pipeline.invoke("ingest", messages)

    # Then botocore retried, then b's record alone failed; b is not done, and its profiles are there only if the
    # throttled request came after them
    assert faults.fired[operation] == BOTO_SENDS
    assert len(faults.retry_delays) == BOTO_SENDS - 1
    _assert_only_b_failed(pipeline, model, messages, response)
    assert file_status(pipeline, fid) == (None if what == "claim" else "processing")
    assert len(file_items(pipeline, model, fid)) == (2 if what == "finish" else 0)
    # and when SQS delivers it again, the final state is the fault-free one
    redeliver(pipeline)
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


@pytest.mark.parametrize("requests", [3, 10**6], ids=["absorbed", "beyond-the-adapter-retries"])
def test_unprocessed_items_during_ingest_are_retried_then_fail_the_record(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader, requests: int
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    messages = put(pipeline, model, BATCH)
    fid = file_id(pipeline, model, "b.jsonl.gz")
    # Given BatchWriteItem writing half of b's profile items per request and returning the rest unprocessed
    faults.unprocessed(match=f"F#{fid}#", requests=requests)

    response = pipeline.invoke("ingest", messages)

    if requests == 3:
        # Then the adapter's own retries absorb a short spell: nothing fails
        assert faults.fired["BatchWriteItem.unprocessed"] == 3
        assert response == {"batchItemFailures": []}
    else:
        # Then after its tries the adapter gives up: one of b's two window items was written, not the other, and b's
        # record fails
        assert faults.fired["BatchWriteItem.unprocessed"] == ADAPTER_TRIES
        _assert_only_b_failed(pipeline, model, messages, response)
        assert len(file_items(pipeline, model, fid)) == 1
        faults.stop()
        redeliver(pipeline)
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


W1 = ws_key(T0 + HOUR)


@pytest.mark.parametrize(
    ("operation", "match"),
    [
        ("Query", f"PROF#{MODEL_ID}#{W1}"),  # reading window 1's profiles
        ("BatchWriteItem", ("MET#", W1)),  # window 1's metric points
        ("TransactWriteItems", (f"ALERT#{MODEL_ID}", "H#")),  # recording the first alert (with its outbox item)
        ("PutItem", "R#HEAD"),  # moving window 0's rollup head, after its points were stored
        ("UpdateItem", f"MODEL#{MODEL_ID}"),  # the model's state, at the end of the run
    ],
    ids=["query-profiles", "batch-write-points", "put-alert-record", "put-rollup-head", "update-state"],
)
def test_throttling_during_evaluation_fails_the_run_cleanly_and_the_next_run_completes_it(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader, operation: str, match: Match
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    # Given DynamoDB throttling one of the evaluator's requests beyond botocore's retries
    faults.throttle(operation, match=match, code="ThrottlingException")

    # When the evaluator runs, it reports the model not evaluated (the other models would go on)
    (error,) = evaluate(pipeline)
    assert "ThrottlingException" in error
    assert faults.fired[operation] == BOTO_SENDS

    # Then the next scheduled run completes the work, and the state is the fault-free one: no alert twice
    assert evaluate(pipeline, AT + 60) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


def test_unprocessed_metric_points_fail_the_run_and_the_next_run_rewrites_them(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    # Given BatchWriteItem writing only half of window 1's metric points per request
    faults.unprocessed(match=("MET#", W1))

    (error,) = evaluate(pipeline)

    assert "unprocessed" in error
    assert faults.fired["BatchWriteItem.unprocessed"] >= ADAPTER_TRIES
    written = pipeline.container.store.series(model, "volume.rows", None, None, start=T0, end=T0 + 2 * HOUR)
    assert [p.window_start for p in written] in ([T0], [T0, T0 + HOUR])  # window 1's points: some or none
    faults.stop()
    assert evaluate(pipeline, AT + 60) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


def test_throttling_absorbed_by_botocore_changes_nothing(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    # Given throttling shorter than botocore's budget, on every kind of request
    for operation in ("BatchWriteItem", "PutItem", "UpdateItem", "Query", "GetItem"):
        faults.throttle(operation, match=MODEL_ID, sends=BOTO_SENDS - 1)
    faults.sns_throttle(match=MODEL_ID, sends=BOTO_SENDS - 1)

    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    assert evaluate(pipeline) == []

    assert set(faults.fired.values()) == {BOTO_SENDS - 1}
    assert len(faults.fired) == 6
    assert_same(snapshot(pipeline, model, read_alerts), want)


# == the late file: a failed record redelivered after the evaluator rolled its window up twice ======================


def test_a_record_that_failed_after_writing_its_profiles_is_counted_once_when_redelivered_much_later(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "late")
    messages = put(pipeline, model, BATCH)
    fid = file_id(pipeline, model, "b.jsonl.gz")
    # Given b's record failing after its profiles were written (marking it done is throttled)
    faults.throttle("UpdateItem", match=f"FILE#{fid}")
    _assert_only_b_failed(pipeline, model, messages, pipeline.invoke("ingest", messages))
    assert faults.fired["UpdateItem"] == BOTO_SENDS
    (held,) = pipeline.receive("ingest")  # b's message, invisible until its visibility timeout ends
    url = pipeline.queues["ingest"][0]
    pipeline.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=3600)
    # and, before SQS delivers it again, the evaluator rolling b's windows up, then a late log for window 0, and the
    # evaluator rolling window 0 up again
    assert evaluate(pipeline) == []
    assert pipeline.invoke("ingest", put(pipeline, model, ("d.csv",))) == {"batchItemFailures": []}
    assert evaluate(pipeline) == []

    # When b's message comes back
    pipeline.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=0)
    redeliver(pipeline)
    assert evaluate(pipeline) == []

    # Then b is counted once
    assert_same(snapshot(pipeline, model, read_alerts), want)


# == 2. conditional-check conflicts =================================================================================


def test_two_writers_of_the_same_file_one_wins_and_the_other_sees_a_duplicate(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    messages = put(pipeline, model, BATCH)
    k = key(model, "b.jsonl.gz")
    ref = parse_key(pipeline.bucket, k, pipeline.s3.head_object(Bucket=pipeline.bucket, Key=k)["ETag"], encoded=False)
    other = other_container()
    outcomes = []
    # Given another execution environment, given the same S3 event, that processes b while this one claims it
    faults.before_write("PutItem", match=f"FILE#{file_id(pipeline, model, 'b.jsonl.gz')}",
                        run=lambda: outcomes.append(other.ingest.handle(ref)))  # fmt: skip

    response = pipeline.invoke("ingest", messages)

    # Then this one's conditional claim failed, and the file was processed once: by the other
    assert response == {"batchItemFailures": []}
    assert [o.status for o in outcomes] == ["processed"]
    assert faults.fired["conflict.PutItem"] == 1
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


@pytest.mark.parametrize("where", ["rollup-head", "alert-record"])
def test_two_evaluators_at_once_count_once_and_publish_each_alert_once(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader, where: str
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    other = other_container()
    # Given another evaluator run that runs from start to end just as this one is about to move window 0's rollup
    # head (it has computed and stored window 0), or to record its first alert
    # (an alert is recorded with its outbox item in one transaction)
    operation = "PutItem" if where == "rollup-head" else "TransactWriteItems"
    match = "R#HEAD" if where == "rollup-head" else "H#"
    faults.before_write(operation, match=match, run=lambda: other.evaluate.evaluate_all(at=AT))
    if where == "alert-record":
        faults.count_conflicts("PutItem")

    # When this run goes on, it finds the other's writes: its conditional writes fail, cleanly
    assert evaluate(pipeline) == []

    # Then the windows are counted once and every alert was published once
    assert faults.fired[f"overtaken.{operation}"] == 1
    assert faults.fired[f"conflict.{operation}"] >= 1
    assert faults.fired["conflict.PutItem"] >= 1
    assert_same(snapshot(pipeline, model, read_alerts), want)


# == 3. S3 bodies breaking mid-stream ===============================================================================


@pytest.mark.parametrize(
    ("name", "error", "nth"),
    [
        ("a.csv", "connection-reset", 1),
        ("b.jsonl.gz", "read-timeout", 1),  # gzip, streamed
        ("c.parquet", "truncated", 2),  # the second ranged read: the data, after the footer was read
    ],
)
def test_an_s3_body_breaking_mid_stream_fails_the_record_stores_nothing_and_the_retry_counts_once(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader, name: str, error: str, nth: int
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    pipeline.container.objects._read_ahead = 4096  # Parquet in ranged reads of (at least) 4 KiB
    messages = put(pipeline, model, BATCH)
    fid = file_id(pipeline, model, name)
    # Given the S3 body of one log breaking after 1,000 of its bytes were read
    faults.break_stream(key(model, name), error=error, after=1_000, nth=nth)

    response = pipeline.invoke("ingest", messages)

    # Then its record fails: no error record, no alert, no partial profile, the file not done
    assert faults.fired["GetObject"] == 1
    assert failed(response, messages) == [key(model, name)]
    assert [e.key for e in pipeline.container.store.error_records(model)] == [key(model, BAD)]
    assert file_items(pipeline, model, fid) == []
    assert file_status(pipeline, fid) == "processing"
    # and the retry counts it once
    redeliver(pipeline)
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


@pytest.mark.parametrize("error", list(STREAM_ERRORS))
@pytest.mark.parametrize("how", ["open", "open_seekable"])
def test_a_broken_s3_stream_is_a_retryable_storage_error_naming_the_object(
    s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch, error: str, how: str
) -> None:
    # Given an object whose body breaks after 5,000 of its 16,384 bytes
    k = "predictions/m/x.parquet"
    s3_client.put_object(Bucket=bucket, Key=k, Body=bytes(range(256)) * 64)
    faults = Faults(monkeypatch, s3=s3_client)
    faults.break_stream(k, error=error, after=5_000)

    # When it is read through the adapter, streamed or in ranges
    stream = getattr(S3ObjectStore(s3_client, bucket, read_ahead=8192), how)(k)

    def read_all() -> None:
        while stream.read(1024):
            pass

    with pytest.raises(StorageError, match=k) as got:
        read_all()

    # Then the reader gets a retryable StorageError that names the object (not a botocore or urllib3 exception)
    assert got.value.retryable
    assert faults.fired["GetObject"] == 1


# == 4. SNS publish failing =========================================================================================


def test_an_alert_whose_publish_fails_is_published_once_after_the_grace_period(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    clock = drive_clock(pipeline)
    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    # Given SNS throttling the publish of the first drift alert beyond botocore's retries
    faults.sns_throttle(match="drift.jensen_shannon")

    # When the evaluator runs: it recorded the alert, could not publish it, and stops there
    (error,) = evaluate(pipeline)
    assert "Throttling" in error
    assert faults.fired["Publish"] == BOTO_SENDS
    unpublished = pipeline.container.store.unpublished_alerts(model, older_than=0)
    assert len(unpublished) == 1

    # Then a minute later, the run judges the rest of the window; the alert still looks in flight: not retried
    clock.now += 60
    assert evaluate(pipeline, AT + 60) == []
    assert len(pipeline.container.store.unpublished_alerts(model, older_than=0)) == 1
    # and after the grace period the next run publishes it; a later run publishes nothing more
    for _ in range(2):
        clock.now += RETRY_GRACE
        assert evaluate(pipeline, AT + 120) == []
    assert pipeline.container.store.unpublished_alerts(model, older_than=0) == []
    assert faults.fired["Publish"] == BOTO_SENDS
    assert_same(snapshot(pipeline, model, read_alerts), want)


def test_an_ingest_error_alert_whose_publish_fails_is_published_once_later(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    clock = drive_clock(pipeline)
    messages = put(pipeline, model, BATCH)
    # Given SNS throttling the ingest.error alert of the corrupt file beyond botocore's retries
    faults.sns_throttle(match="ingest.error")

    response = pipeline.invoke("ingest", messages)

    # Then its record fails, and its redelivery records the same error and the same alert (once each)
    assert faults.fired["Publish"] == BOTO_SENDS
    assert failed(response, messages) == [key(model, BAD)]
    redeliver(pipeline)
    store = pipeline.container.store
    assert [e.key for e in store.error_records(model)] == [key(model, BAD)]
    (unpublished,) = store.unpublished_alerts(model, older_than=0)
    assert unpublished.alert["metric"] == "ingest.error"
    # and the evaluator publishes it once the grace period is over
    assert evaluate(pipeline) == []
    clock.now += RETRY_GRACE + 60
    assert evaluate(pipeline, AT + 60) == []
    assert store.unpublished_alerts(model, older_than=0) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


def test_an_ingest_error_whose_record_cannot_be_written_is_recorded_and_alerted_on_redelivery(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    messages = put(pipeline, model, BATCH)
    # Given DynamoDB throttling the corrupt file's error record beyond botocore's retries
    faults.throttle("PutItem", match=f"ERR#{model}")

    response = pipeline.invoke("ingest", messages)

    # Then its record fails, the file is not marked failed yet (so that the redelivery reports it) ...
    assert faults.fired["PutItem"] == BOTO_SENDS
    assert failed(response, messages) == [key(model, BAD)]
    assert file_status(pipeline, file_id(pipeline, model, BAD)) == "processing"
    # ... and its redelivery records the error and publishes its alert, once
    redeliver(pipeline)
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


# == 5. a handler crashing mid-batch ================================================================================


def test_a_crash_on_the_second_record_fails_it_alone_and_its_redelivery_counts_exactly(
    pipeline: Pipeline, model: str, read_alerts: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    store = pipeline.container.store
    real = store.put_file_profiles
    calls = []

    def crashing(*args: Any, **kwargs: Any) -> list[int]:
        windows = real(*args, **kwargs)
        calls.append(windows)
        if len(calls) == 2:
            raise RuntimeError("the service crashed (test)")
        return windows

    monkeypatch.setattr(store, "put_file_profiles", crashing)
    messages = put(pipeline, model, BATCH)

    # When the service crashes on the batch's second record, after writing its profiles
    response = pipeline.invoke("ingest", messages)

    # Then that record alone fails, and its redelivery counts it once
    assert len(calls) == 3
    assert failed(response, messages) == [key(model, BATCH[1])]
    redeliver(pipeline)
    assert evaluate(pipeline) == []
    assert_same(snapshot(pipeline, model, read_alerts), want)


# == 6. the evaluator killed between computing and publishing ========================================================


def test_an_evaluator_killed_before_publishing_leaves_its_alert_to_a_later_run(
    pipeline: Pipeline, model: str, faults: Faults, read_alerts: Reader
) -> None:
    want = reference(pipeline, read_alerts, "batch")
    clock = drive_clock(pipeline)
    assert pipeline.invoke("ingest", put(pipeline, model, BATCH)) == {"batchItemFailures": []}
    # Given the evaluator function timing out just as it is about to publish its first alert
    faults.kill_before_publish(TimeoutError("Task timed out after 300.00 seconds"))
    with pytest.raises(TimeoutError):
        pipeline.evaluate(AT)
    assert faults.fired["killed"] == 1
    store = pipeline.container.store
    assert [p.window_start for p in store.series(model, "volume.rows", None, None, start=T0, end=AT)] == [
        T0,
        T0 + HOUR,
    ]  # both windows computed
    assert len(store.unpublished_alerts(model, older_than=0)) == 1  # and the alert recorded, not published

    # When the next scheduled runs come: a minute later, and after the retry grace
    for later in (60, 60 + RETRY_GRACE):
        clock.now += later
        pipeline.evaluate(AT + later)

    # Then every alert has been published exactly once
    assert_same(snapshot(pipeline, model, read_alerts), want)
