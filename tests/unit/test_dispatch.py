"""The evaluator fanned out (in-memory fakes): the dispatcher queues the models with windows due, workers evaluate
them under per-model leases; two workers never judge one model at once; 1,000 models each with a due window are
all evaluated within two ticks (counted)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryQueue, MemoryTable
from driftline.core.errors import InputError
from driftline.services.alerts import AlertPublisher
from driftline.services.dispatch import (
    EvaluationDispatcher,
    EvaluationWorker,
    evaluate_message,
    parse_evaluate_message,
)
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.store import Store
from driftline.testing import encode, etag_of, generate, lean_config, registration_copy

HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
AT = T0 + HOUR + 60  # window T0 closed
BUCKET = "driftline-test-data"
LEAN_ALERTS = (
    "  - {name: feature-drift, metric: drift.jensen_shannon, columns: all_features, above: 0.1, severity: warning}\n"
)


class Clock:
    def __init__(self, now: float = AT) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Env:
    """One execution environment (a Lambda container) over a shared table and bucket."""

    def __init__(self, table: MemoryTable, objects: MemoryObjectStore, sink: MemoryAlertSink, clock: Clock) -> None:
        self.store = Store(table, clock=clock)
        self.registry = ModelRegistry(self.store, objects, clock=clock, max_baselines=2_000)
        self.alerts = AlertPublisher(self.store, sink)
        self.evaluate = EvaluateService(self.store, self.registry, self.alerts, clock=clock)
        self.ingest = IngestService(self.store, self.registry, self.alerts, clock=clock)
        self.objects = objects

    def drop(self, key: str, body: bytes) -> None:
        self.objects.put_bytes(key, body)
        outcome = self.ingest.handle(parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False))
        assert outcome.status == "processed", outcome


@functools.cache
def _one_model() -> list[dict[str, Any]]:
    """The table items of one model ("m0000") with a config, a baseline and one file in window T0."""
    table, objects, clock = MemoryTable(), MemoryObjectStore(BUCKET), Clock()
    env = Env(table, objects, MemoryAlertSink(), clock)
    env.drop("models/m0000/config.yaml", lean_config("m0000", alerts=LEAN_ALERTS).encode())
    ref = generate(2_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref")
    env.drop("baselines/m0000/reference.parquet", encode(ref, "parquet"))
    rows = generate(200, seed=3, start=T0, span=HOUR - 1, id_prefix="w")
    env.drop("predictions/m0000/a.parquet", encode(rows, "parquet"))
    global _BASELINE_OBJECTS
    _BASELINE_OBJECTS = {k: objects.get_bytes(k) for k in objects.keys() if k.startswith("_driftline/")}  # noqa: SIM118
    return table.items()


_BASELINE_OBJECTS: dict[str, bytes] = {}


def deployment(models: int) -> tuple[MemoryTable, MemoryObjectStore, MemoryAlertSink, Clock]:
    """``models`` copies of the one-model deployment (ids m0000, m0001, ...), each with a window due."""
    items = _one_model()
    table, objects = MemoryTable(), MemoryObjectStore(BUCKET)
    copies = []
    for i in range(models):
        mid = f"m{i:04d}"
        for k, v in _BASELINE_OBJECTS.items():
            objects.put_bytes(k.replace("m0000", mid), v)
        copies += registration_copy(items, "m0000", mid)
    table.batch_put(copies)
    return table, objects, MemoryAlertSink(), Clock()


def windows_evaluated(table: MemoryTable, models: int) -> int:
    store = Store(table)
    return sum(1 for i in range(models) if (store.get_state(f"m{i:04d}").last_closed or 0) >= T0)


# -- messages ---------------------------------------------------------------------------------------------------


def test_evaluate_messages_round_trip_and_bad_ones_are_refused() -> None:
    assert parse_evaluate_message(evaluate_message("churn-v3", at=None)) == ("churn-v3", None)
    assert parse_evaluate_message(evaluate_message("churn-v3", at=12.5)) == ("churn-v3", 12.5)
    for bad in ("", "[]", "{}", '{"model_id": "../x"}', '{"model_id": "a", "at": "soon"}'):
        with pytest.raises(InputError, match="not an evaluate message"):
            parse_evaluate_message(bad)


# -- the dispatcher ---------------------------------------------------------------------------------------------


def test_the_dispatcher_queues_only_models_with_windows_due() -> None:
    # Given three models with a file in window T0, one of them already evaluated, and a model without a config
    table, objects, sink, clock = deployment(3)
    env = Env(table, objects, sink, clock)
    env.evaluate.evaluate("m0001", at=AT)
    env.store.table.put({"pk": "MODELS", "sk": "ghost", "model_id": "ghost"})
    queue = MemoryQueue()
    # When a tick runs before T0's window closed, then after
    early = EvaluationDispatcher(env.store, env.registry, queue).dispatch(at=T0 + 600)
    report = EvaluationDispatcher(env.store, env.registry, queue).dispatch(at=AT)
    # Then before the close, the models whose open window got a file since its last look are due (an early look,
    # SPEC §4: the worker decides whether the rows so far call for one); after it, the two models not yet
    # evaluated are, one message each
    assert early.queued == ["m0000", "m0002"]
    assert report.queued == ["m0000", "m0002"] and report.models == 4
    assert "ghost" in report.errors
    assert [parse_evaluate_message(m) for m in queue.take()][2:] == [("m0000", AT), ("m0002", AT)]
    # And an hour later every model is due again (its next window closed: a no-data window is judged too)
    assert EvaluationDispatcher(env.store, env.registry, queue).dispatch(at=AT + HOUR).queued == [
        "m0000",
        "m0001",
        "m0002",
    ]


# -- leases -----------------------------------------------------------------------------------------------------


def test_a_lease_is_exclusive_until_it_expires_and_one_taker_wins() -> None:
    clock = Clock(1000.0)
    store = Store(MemoryTable(), clock=clock)
    assert store.acquire_lease("m", "a", seconds=60)
    assert store.acquire_lease("m", "a", seconds=60)  # renewal by its holder
    assert not store.acquire_lease("m", "b", seconds=60)
    clock.now += 61
    # Two takers read the same expired lease; the first write wins, the second's condition fails
    stale = store.table.get("MODEL#m", "LEASE")
    assert store.acquire_lease("m", "b", seconds=60)
    store.table.get = lambda pk, sk, **kw: stale  # type: ignore[method-assign]
    assert not store.acquire_lease("m", "c", seconds=60)
    del store.table.get
    # The expired holder cannot release (or renew) what was taken over
    store.release_lease("m", "a")
    assert store.table.get("MODEL#m", "LEASE")["owner"] == "b"
    store.release_lease("m", "b")
    assert store.table.get("MODEL#m", "LEASE") is None


def test_two_workers_on_one_model_never_judge_it_at_once() -> None:
    # Given a model with a window due, and two workers (two Lambda containers) over the same table
    table, objects, sink, clock = deployment(1)
    first, second = Env(table, objects, sink, clock), Env(table, objects, sink, clock)
    judged: list[str] = []
    inner: list[Any] = []

    class Watching(EvaluateService):
        def evaluate_all(self, **kw: Any) -> Any:
            for m in kw.get("models") or []:
                judged.append(m)
                # while the first worker holds the model, the second gets a message for it
                inner.append(EvaluationWorker(second.store, second.evaluate).run([(m, AT)], time_left=300))
            return super().evaluate_all(**kw)

    watching = Watching(first.store, first.registry, first.alerts, clock=clock)
    # When the first worker evaluates it
    report = EvaluationWorker(first.store, watching).run([("m0000", AT), ("m0000", AT)], time_left=300)
    # Then the second worker skipped it (held), the first judged it once, and released it
    assert [r.busy for r in inner] == [["m0000"]] and inner[0].reports == []
    assert judged == ["m0000"] and [r.windows for r in report.reports] == [[T0]]
    assert first.store.table.get("MODEL#m0000", "LEASE") is None
    # And a later message for the model finds nothing left to judge
    again = EvaluationWorker(second.store, second.evaluate).run([("m0000", AT)], time_left=300)
    assert again.busy == [] and [r.windows for r in again.reports] == [[]]


def test_an_in_process_evaluator_run_leases_each_model_and_skips_one_another_holds() -> None:
    # Given two models with a window due, one of them held by a worker (the scheduled judge) right now
    table, objects, sink, clock = deployment(2)
    env = Env(table, objects, sink, clock)
    assert env.store.acquire_lease("m0001", "judge", seconds=300 + 60)
    # When `driftline evaluate` (the in-process run, no queue) runs for every model, and for the held one alone
    reports = env.evaluate.evaluate_all(at=AT)
    alone = env.evaluate.evaluate("m0001", at=AT)
    # Then it judged the free model under a lease it released, and left the held one to its holder, untouched
    assert [(r.model_id, r.windows) for r in reports] == [("m0000", [T0])]
    assert env.store.table.get("MODEL#m0000", "LEASE") is None
    assert alone.windows == [] and "another evaluator is judging this model" in alone.errors[0]
    assert env.store.table.get("MODEL#m0001", "LEASE")["owner"] == "judge"
    assert [ws for ws, _ in env.store.dirty_windows("m0001")] == [T0]  # still due


def test_a_dead_workers_lease_expires_and_the_model_is_judged_on_a_later_tick() -> None:
    table, objects, sink, clock = deployment(1)
    env = Env(table, objects, sink, clock)
    assert env.store.acquire_lease("m0000", "crashed", seconds=300 + 60)
    queue = MemoryQueue()
    EvaluationDispatcher(env.store, env.registry, queue).dispatch(at=AT)
    report = EvaluationWorker(env.store, env.evaluate).run([parse_evaluate_message(m) for m in queue.take()])
    assert report.busy == ["m0000"] and env.store.has_dirty("m0000")
    clock.now += 361
    EvaluationDispatcher(env.store, env.registry, queue).dispatch(at=AT)
    report = EvaluationWorker(env.store, env.evaluate).run([parse_evaluate_message(m) for m in queue.take()])
    assert [r.windows for r in report.reports] == [[T0]] and not env.store.has_dirty("m0000")


# -- many models ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_thousand_models_each_with_a_window_due_are_all_evaluated_within_two_ticks() -> None:
    # Given 1,000 models each with a file in the window that just closed
    models = 1_000
    table, objects, sink, clock = deployment(models)
    tick_env = Env(table, objects, sink, clock)
    queue = MemoryQueue()
    workers = [Env(table, objects, sink, clock) for _ in range(10)]  # EvaluateMaxConcurrency containers
    counts = {"messages": 0, "batches": 0, "busy": 0, "windows": 0}
    for tick in range(2):
        # When the tick dispatches, and the workers take the queue ten messages a batch
        dispatched = EvaluationDispatcher(tick_env.store, tick_env.registry, queue).dispatch(at=AT + 60 * tick)
        counts["messages"] += len(dispatched.queued)
        while queue.messages:
            env = workers[counts["batches"] % len(workers)]
            batch = [parse_evaluate_message(m) for m in queue.take(10)]
            result = EvaluationWorker(env.store, env.evaluate).run(batch, time_left=300)
            counts["batches"] += 1
            counts["busy"] += len(result.busy)
            counts["windows"] += sum(len(r.windows) for r in result.reports)
        if tick == 0:
            first_tick = windows_evaluated(table, models)
    # Then every model's window was evaluated, once, by the first tick; the second tick had nothing to queue
    assert first_tick == models
    assert counts == {"messages": models, "batches": models // 10, "busy": 0, "windows": models}
    assert windows_evaluated(table, models) == models
