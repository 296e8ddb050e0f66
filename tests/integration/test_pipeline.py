"""Properties of the whole pipeline — ingest, roll-up, evaluation, alerting — over the in-memory fakes.

Each "container" here is what one Lambda execution environment holds: its own registry (and caches) and
services, over the shared table, bucket and topic. Files go in through ``IngestService.handle`` as the SQS
handlers call it; the evaluator is ``EvaluateService`` as the scheduled handler calls it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.core.errors import StorageError
from driftline.services.alerts import RETRY_GRACE, AlertPublisher
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService, Outcome
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.store import Store
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, etag_of, generate

pytestmark = pytest.mark.integration

HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the start of a 1 h window
BUCKET = "driftline-test-data"
FORMATS = ("parquet", "csv", "jsonl", "csv.gz", "jsonl.gz", "parquet")
COUNTS = ("volume.rows", "volume.files")

Points = dict[tuple[str, str | None, str | None, int], tuple[float, int]]


# -- a deployment in memory -------------------------------------------------------------------------------------------


@dataclass
class Cloud:
    """The shared state of one deployment: table, bucket, topic."""

    table: MemoryTable
    objects: MemoryObjectStore
    sink: MemoryAlertSink
    now: float = field(default_factory=time.time)  # the services' clock (the evaluator's windows come from `at`)

    def container(self, sink: Any = None) -> Container:
        """A fresh execution environment over this deployment (cold caches)."""
        return Container(self, sink or self.sink)

    def clone(self) -> Cloud:
        table, objects = MemoryTable("driftline-test"), MemoryObjectStore(BUCKET)
        table.batch_put(self.table.items())
        for key in self.objects.keys():  # noqa: SIM118  (a method, not a dict)
            objects.put_bytes(key, self.objects.get_bytes(key))
        return Cloud(table, objects, MemoryAlertSink(), self.now)

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(p["messages"]["default"]) for p in self.sink.published]


class Container:
    def __init__(self, cloud: Cloud, sink: Any) -> None:
        self.cloud = cloud

        def clock() -> float:
            return cloud.now

        self.store = Store(cloud.table, clock=clock)
        self.registry = ModelRegistry(self.store, cloud.objects, clock=clock)
        self.alerts = AlertPublisher(self.store, sink)
        self.ingest = IngestService(self.store, self.registry, self.alerts, clock=clock)
        self.evaluate = EvaluateService(self.store, self.registry, self.alerts, clock=clock)

    def drop(self, key: str, body: bytes) -> Outcome:
        """Put an object and handle its event, as the function of its prefix does."""
        self.cloud.objects.put_bytes(key, body)
        ref = parse_key(BUCKET, key, etag_of(self.cloud.objects, key), len(body), encoded=False)
        return self.ingest.handle(ref)

    def points(self, *, windows: int) -> Points:
        return {
            (p.metric, p.column, p.segment, p.window_start): (p.value, p.rows)
            for p in self.store.points(MODEL_ID, start=T0, end=T0 + windows * HOUR)
        }


@functools.cache
def _model_cloud() -> Cloud:
    """The demo's model (segments by country) with a baseline in force; cloned by every test."""
    cloud = Cloud(MemoryTable("driftline-test"), MemoryObjectStore(BUCKET), MemoryAlertSink())
    c = cloud.container()
    assert c.drop(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode()).status == "processed"
    reference = generate(4_000, seed=11, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
    assert c.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(reference, "parquet")).status == "processed"
    return cloud


def fresh_cloud() -> Cloud:
    return _model_cloud().clone()


def logs(n: int, *, windows: int = 1, seed: int = 1, drift: float = 0.0, window: int = 0) -> pa.Table:
    """``n`` labelled prediction rows over ``windows`` windows from window ``window``, some values missing."""
    table = generate(n, seed=seed, start=T0 + window * HOUR, span=windows * HOUR - 1, drift=drift,
                     broken_country="BR" if drift else None, id_prefix=f"s{seed}w{window}")  # fmt: skip
    rng = np.random.default_rng(seed)
    for col in ("monthly_spend", "payment_method"):
        missing = pa.array(rng.random(n) < 0.05)
        i = table.schema.get_field_index(col)
        table = table.set_column(i, col, pc.if_else(missing, pa.scalar(None, table[col].type), table[col]))
    return table


def window_of(table: pa.Table) -> np.ndarray:
    ms = np.asarray(table.column("event_time").to_pylist(), dtype=np.int64)
    return (ms // 1000 - T0) // HOUR * HOUR + T0


def expected_files(parts: list[pa.Table]) -> Counter[tuple[str | None, int]]:
    """(segment, window) → how many parts have rows there."""
    out: Counter[tuple[str | None, int]] = Counter()
    for part in parts:
        ws = window_of(part)
        countries = part.column("country").to_pylist()
        cells = {(None, int(w)) for w in ws} | {(f"country={c}", int(w)) for c, w in zip(countries, ws, strict=True)}
        out.update(cells)
    return out


def assert_same_metrics(got: Points, want: Points, files: Counter[tuple[str | None, int]]) -> None:
    assert set(got) == set(want)
    for key, (value, rows) in want.items():
        metric, _, segment, ws = key
        got_value, got_rows = got[key]
        if metric == "volume.files":
            assert got_value == files[(segment, ws)], key
        elif metric in COUNTS:
            assert got_value == value, key
        else:
            assert math.isclose(got_value, value, rel_tol=1e-9, abs_tol=1e-12), (key, got_value, value)
        assert got_rows == rows, key


# -- splitting and ordering --------------------------------------------------------------------------------------------

ROWS = logs(360, windows=2, seed=3)
AT = T0 + 2 * HOUR + 60  # both windows closed


@functools.cache
def _one_file_points() -> Points:
    c = fresh_cloud().container()
    assert c.drop(f"predictions/{MODEL_ID}/all.parquet", encode(ROWS, "parquet")).status == "processed"
    (report,) = c.evaluate.evaluate_all(at=AT)
    assert report.errors == []
    return c.points(windows=2)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, ROWS.num_rows - 1), min_size=1, max_size=6, unique=True).map(sorted),
    data=st.data(),
)
def test_any_split_of_the_rows_in_any_order_gives_the_metrics_of_one_file(cuts: list[int], data: Any) -> None:
    # Given the same rows split into files at arbitrary points, in arbitrary formats
    bounds = [0, *cuts, ROWS.num_rows]
    parts = [ROWS.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    order = data.draw(st.permutations(range(len(parts))), label="order")
    formats = data.draw(st.lists(st.sampled_from(FORMATS), min_size=len(parts), max_size=len(parts)), label="fmts")
    evaluate_after = data.draw(st.integers(0, len(parts)), label="an evaluation after this many files")
    c = fresh_cloud().container()

    # When they are ingested in that order (with an evaluation part-way, rolling some of them up)
    for n, i in enumerate(order):
        if n == evaluate_after:
            c.evaluate.evaluate_all(at=AT)
        key = f"predictions/{MODEL_ID}/part-{i:02d}.{formats[i]}"
        assert c.drop(key, encode(parts[i], formats[i])).status == "processed"
    (report,) = c.evaluate.evaluate_all(at=AT)

    # Then every metric of every window and segment is the one file's: counts exactly, the others to 1e-9
    assert report.errors == []
    assert_same_metrics(c.points(windows=2), _one_file_points(), expected_files(parts))


# -- concurrent ingestion ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("evaluator", ["after", "racing"])
def test_fifty_files_of_one_window_ingested_from_eight_threads_are_counted_exactly(evaluator: str) -> None:
    cloud = fresh_cloud()
    files = [logs(12, seed=100 + i) for i in range(50)]
    at = T0 + HOUR + 60
    done = threading.Event()
    runs = []

    def evaluate_meanwhile() -> None:
        c = cloud.container()
        while not done.is_set():
            runs.append(c.evaluate.evaluate_all(at=at))

    racer = threading.Thread(target=evaluate_meanwhile) if evaluator == "racing" else None

    # When 50 files of one window are ingested at once, each by one of 8 execution environments
    containers = [cloud.container() for _ in range(8)]
    if racer:
        racer.start()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda i: containers[i % 8].drop(f"predictions/{MODEL_ID}/f{i:02d}.csv",
                                                                  encode(files[i], "csv")), range(50)))  # fmt: skip
    done.set()
    if racer:
        racer.join()
    (report,) = cloud.container().evaluate.evaluate_all(at=at)

    # Then each is processed once, and the window counts every row and file exactly
    assert [o.status for o in outcomes] == ["processed"] * 50
    assert report.errors == []
    points = cloud.container().points(windows=1)
    assert points[("volume.rows", None, None, T0)] == (600.0, 600)
    assert points[("volume.files", None, None, T0)][0] == 50.0
    every = pa.concat_tables(files)
    for country, n in Counter(every.column("country").to_pylist()).items():
        assert points[("volume.rows", None, f"country={country}", T0)][0] == n
    assert not list(Store(cloud.table).dirty_windows(MODEL_ID))
    assert runs or evaluator == "after"


# -- alerts exactly once -----------------------------------------------------------------------------------------------

ALERT_AT = T0 + 3 * HOUR + 60


@functools.cache
def _alerting_cloud() -> Cloud:
    """Three windows: normal, then drift and a model broken for one country; labels in the logs."""
    cloud = fresh_cloud()
    c = cloud.container()
    for w, drift in enumerate((0.0, 1.0, 1.0)):
        body = encode(logs(600, seed=20 + w, drift=drift, window=w), "parquet")
        assert c.drop(f"predictions/{MODEL_ID}/w{w}.parquet", body).status == "processed"
    return cloud


def _alerts_of_one_clean_run() -> list[dict[str, Any]]:
    cloud = _alerting_cloud().clone()
    cloud.container().evaluate.evaluate_all(at=ALERT_AT)
    alerts = cloud.published()
    assert len(alerts) >= 3, alerts
    assert {a["state"] for a in alerts} == {"ALARM"}
    return alerts


def _key(alert: dict[str, Any]) -> str:
    """An alert's whole message but for when it was evaluated (a later run evaluates later)."""
    return json.dumps({k: v for k, v in alert.items() if k != "evaluated_at"}, sort_keys=True)


def test_two_evaluator_runs_at_once_publish_each_alert_once() -> None:
    want = sorted(map(_key, _alerts_of_one_clean_run()))
    for _ in range(3):
        # Given a deployment with alerts due
        cloud = _alerting_cloud().clone()
        a, b = cloud.container(), cloud.container()
        start = threading.Barrier(2)

        def run(c: Container, start: threading.Barrier) -> None:
            start.wait()
            c.evaluate.evaluate_all(at=ALERT_AT)

        # When two evaluator runs overlap
        threads = [threading.Thread(target=run, args=(c, start)) for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        # Then each alert is published exactly once, and they are those of one run
        assert sorted(map(_key, cloud.published())) == want


def test_an_evaluator_starting_while_another_publishes_does_not_publish_its_alert_again() -> None:
    want = sorted(map(_key, _alerts_of_one_clean_run()))
    cloud = _alerting_cloud().clone()
    b_done = threading.Event()

    class SlowSink:
        """Run A's first publish is slow: run B starts and ends meanwhile."""

        def __init__(self) -> None:
            self.calls = 0

        def publish(self, **kwargs: Any) -> str:
            self.calls += 1
            if self.calls == 1:
                assert b_done.wait(30)
            return cloud.sink.publish(**kwargs)

    a, b = cloud.container(SlowSink()), cloud.container()
    run_a = threading.Thread(target=a.evaluate.evaluate_all, kwargs={"at": ALERT_AT})

    # When run B starts while run A is publishing its first alert (recorded, not yet sent)
    run_a.start()
    while not Store(cloud.table).alert_history(MODEL_ID, start=0, end=ALERT_AT):
        threading.Event().wait(0.005)
    b.evaluate.evaluate_all(at=ALERT_AT)
    b_done.set()
    run_a.join()

    # Then each alert is still published once
    published = Counter(map(_key, cloud.published()))
    assert [json.loads(k)["column"] for k, n in published.items() if n > 1] == []
    assert sorted(published.elements()) == want


@pytest.mark.parametrize(
    "kill",
    [StorageError("topic throttled (test)", retryable=True), TimeoutError("Task timed out after 300 seconds")],
    ids=["sns-error", "timeout"],
)
def test_an_evaluator_killed_before_publishing_leaves_the_alert_to_a_later_run(kill: Exception) -> None:
    want = sorted(map(_key, _alerts_of_one_clean_run()))
    cloud = _alerting_cloud().clone()

    # Given an evaluator run that dies after it computed and recorded its first alert, before publishing it
    cloud.sink.fail_next("publish", kill)
    if isinstance(kill, StorageError):
        (report,) = cloud.container().evaluate.evaluate_all(at=ALERT_AT)
        assert report.errors
    else:
        with pytest.raises(TimeoutError):
            cloud.container().evaluate.evaluate_all(at=ALERT_AT)
    assert cloud.published() == []

    # When the next scheduled runs come, each in a new execution environment: a minute later (the dead run's
    # alert may still look in flight then), and after the retry grace (longer than a publish with all its retries)
    for later in (60, RETRY_GRACE + 60):
        cloud.now += later
        cloud.container().evaluate.evaluate_all(at=ALERT_AT + later)
        published = Counter(map(_key, cloud.published()))
        assert [k for k, n in published.items() if n > 1] == []

    # Then every alert has been published exactly once, the missing one included
    assert sorted(map(_key, cloud.published())) == want
    # and a later run publishes nothing more
    cloud.now += RETRY_GRACE + 60
    cloud.container().evaluate.evaluate_all(at=ALERT_AT + 2 * RETRY_GRACE + 180)
    assert sorted(map(_key, cloud.published())) == want
