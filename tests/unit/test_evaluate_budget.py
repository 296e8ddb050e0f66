"""The evaluator under a time limit: a backlog split over runs gives what one run without a limit gives; several
models share a run; a window's alert states go in one batched write (in-memory fakes, a fake timer)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.services.alerts import AlertPublisher
from driftline.services.evaluate import DEFAULT_MARGIN, Budget, EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.ports import Item
from driftline.services.store import AlertStateRecord, ModelState, Store
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, etag_of, generate

HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the start of a 1 h window
BUCKET = "driftline-test-data"
WINDOW_COST = 10.0  # seconds of the fake timer each window takes
# window → (drift, a country whose scores are noise) of its data; None: no data (a volume.rows of 0 is due)
PLAN: list[tuple[float, str | None] | None] = [
    (0.0, None),
    (0.0, None),
    (1.0, "BR"),
    (1.0, "BR"),
    None,
    (1.0, "BR"),
    (0.0, None),
    None,
    (0.0, None),
]
N = len(PLAN)
AT = T0 + N * HOUR + 60  # every window of PLAN closed
HOG = "a-hog"  # listed first (models are listed by id)
SMALL = "b-small"
SMALL_WINDOWS = [T0 + (N - 2) * HOUR, T0 + (N - 1) * HOUR]

Points = dict[tuple[str, str | None, str | None, int], tuple[float, int]]


def time_for(windows: int) -> float:
    """A run's time for exactly ``windows`` windows of WINDOW_COST each (one model): a window starts while the
    time left is at least max(margin, 2 × the slowest) = the margin here."""
    assert 2 * WINDOW_COST <= DEFAULT_MARGIN
    return DEFAULT_MARGIN + WINDOW_COST * windows - WINDOW_COST / 2


class Timer:
    """The evaluator's elapsed-time clock, moved by the store's window reads (one per window evaluated)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingTable(MemoryTable):
    """A MemoryTable that counts the write requests carrying alert states, and the state items they carry."""

    def __init__(self, table_name: str = "driftline-test") -> None:
        super().__init__(table_name)
        self.state_requests = 0
        self.state_items = 0

    @staticmethod
    def _is_state(item: Item) -> bool:
        return str(item.get("pk", "")).startswith("ALERT#") and str(item.get("sk", "")).startswith("S#")

    def put(self, item: Item, **kwargs: Any) -> None:
        if self._is_state(item):
            self.state_requests += 1
            self.state_items += 1
        super().put(item, **kwargs)

    def batch_put(self, items: Any) -> None:
        states = sum(1 for i in items if self._is_state(i))
        if states:
            self.state_requests += math.ceil(len(items) / 25)  # BatchWriteItem takes 25 items per request
            self.state_items += states
        super().batch_put(items)


@dataclass
class Deployment:
    table: CountingTable
    objects: MemoryObjectStore
    sink: MemoryAlertSink

    def clone(self) -> Deployment:
        table, objects = CountingTable(), MemoryObjectStore(BUCKET)
        table.batch_put(self.table.items())
        table.state_requests = table.state_items = 0
        for key in self.objects.keys():  # noqa: SIM118  (a method, not a dict)
            objects.put_bytes(key, self.objects.get_bytes(key))
        return Deployment(table, objects, MemoryAlertSink())

    def services(self) -> Services:
        return Services(self)

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(p["messages"]["default"]) for p in self.sink.published]


class Services:
    """One execution environment over a deployment; the window reads move ``timer`` by WINDOW_COST."""

    def __init__(self, d: Deployment) -> None:
        def clock() -> float:
            return AT

        self.timer = Timer()
        self.store = Store(d.table, clock=clock)
        self.registry = ModelRegistry(self.store, d.objects, clock=clock)
        self.alerts = AlertPublisher(self.store, d.sink)
        self.ingest = IngestService(self.store, self.registry, self.alerts, clock=clock)
        self.evaluate = EvaluateService(self.store, self.registry, self.alerts, clock=clock, timer=self.timer)
        self.objects = d.objects
        read = self.store.window_profiles

        def slow_read(model_id: str, window_start: int) -> Any:
            self.timer.now += WINDOW_COST
            return read(model_id, window_start)

        self.store.window_profiles = slow_read  # type: ignore[method-assign]

    def drop(self, key: str, body: bytes) -> None:
        self.objects.put_bytes(key, body)
        outcome = self.ingest.handle(parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False))
        assert outcome.status == "processed", outcome

    def points(self, model_id: str) -> Points:
        return {
            (p.metric, p.column, p.segment, p.window_start): (p.value, p.rows)
            for p in self.store.points(model_id, start=T0 - HOUR, end=AT)
        }

    def states(self, model_id: str) -> dict[str, AlertStateRecord]:
        return self.store.get_alert_states(model_id)

    def dirty(self, model_id: str) -> list[int]:
        return [ws for ws, _ in self.store.dirty_windows(model_id)]


def install(s: Services, model_id: str, windows: list[tuple[float, str | None] | None]) -> None:
    config = CONFIG_YAML.replace(f"model_id: {MODEL_ID}", f"model_id: {model_id}")
    s.drop(f"models/{model_id}/config.yaml", config.encode())
    reference = generate(4_000, seed=11, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
    s.drop(f"baselines/{model_id}/reference.parquet", encode(reference, "parquet"))
    for w, spec in enumerate(windows):
        if spec is None:
            continue
        drift, broken = spec
        rows = generate(300, seed=100 + w, start=T0 + w * HOUR, span=HOUR - 1, drift=drift, broken_country=broken,
                        id_prefix=f"{model_id}-w{w}")  # fmt: skip
        s.drop(f"predictions/{model_id}/w{w}.parquet", encode(rows, "parquet"))


@functools.cache
def _backlog() -> Deployment:
    """One model with PLAN's files ingested, nothing evaluated yet."""
    d = Deployment(CountingTable(), MemoryObjectStore(BUCKET), MemoryAlertSink())
    install(d.services(), MODEL_ID, PLAN)
    return d


@functools.cache
def _two_models() -> Deployment:
    """A model with a backlog of N windows (listed first) and a model with two (the last two: it started then)."""
    d = Deployment(CountingTable(), MemoryObjectStore(BUCKET), MemoryAlertSink())
    s = d.services()
    install(s, HOG, [(0.0, None)] * N)
    install(s, SMALL, [None] * (N - 2) + [(0.0, None), (1.0, None)])
    return d


@functools.cache
def _evaluated() -> Deployment:
    """PLAN's backlog after one run without a limit."""
    d = _backlog().clone()
    s = d.services()
    (report,) = s.evaluate.evaluate_all(at=AT)
    assert report.errors == [] and report.windows == [T0 + w * HOUR for w in range(N)] and report.windows_left == 0
    assert d.published(), "PLAN publishes alerts (so that the comparisons below mean something)"
    return d


def _outcome(d: Deployment) -> tuple[Points, list[dict[str, Any]], dict[str, AlertStateRecord], ModelState]:
    """Points, alerts published, alert states, model state."""
    s = d.services()
    return s.points(MODEL_ID), d.published(), s.states(MODEL_ID), s.store.get_state(MODEL_ID)


def _unlimited() -> tuple[Points, list[dict[str, Any]], dict[str, AlertStateRecord], ModelState]:
    """What one run without a limit gives on PLAN."""
    return _outcome(_evaluated())


def drop_late_files(s: Services) -> None:
    """Late files into windows already judged: window 2 diluted by normal rows (its drift verdicts turn), 3 and 5
    given a few more drifted rows (both judged again: window 2's new verdicts move transitions into them)."""
    for w, (n, drift) in {2: (3_000, 0.0), 3: (100, 1.0), 5: (100, 1.0)}.items():
        rows = generate(n, seed=500 + w, start=T0 + w * HOUR, span=HOUR - 1, drift=drift, id_prefix=f"late-w{w}")
        s.drop(f"predictions/{MODEL_ID}/late-w{w}.parquet", encode(rows, "parquet"))


@functools.cache
def _late_unlimited() -> tuple[Points, list[dict[str, Any]], dict[str, AlertStateRecord], ModelState]:
    """What one run without a limit gives after the late files."""
    d = _evaluated().clone()
    s = d.services()
    drop_late_files(s)
    (report,) = s.evaluate.evaluate_all(at=AT)
    assert report.windows == [T0 + w * HOUR for w in (2, 3, 5)]
    assert any(a["window_start"] != "2026-01-01T02:00:00Z" for a in d.published()), "a transition moved"
    return _outcome(d)


def _runs_until_done(s: Services, model_id: str, time_left: float, *, max_runs: int = 50) -> list[list[int]]:
    """Evaluator runs with ``time_left`` each until nothing is left; the windows of each run."""
    runs: list[list[int]] = []
    for _ in range(max_runs):
        (report,) = s.evaluate.evaluate_all(at=AT, time_left=time_left)
        assert report.errors == []
        runs.append(report.windows)
        if report.windows_left == 0:
            return runs
    raise AssertionError(f"{model_id}: still windows left after {max_runs} runs: {runs}")


# -- a backlog split over runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 4])
def test_a_run_with_time_for_k_windows_evaluates_the_oldest_k_and_leaves_the_rest_due(k: int) -> None:
    # Given a model with N closed windows due (files in most, none in two: those get a volume.rows of 0)
    d = _backlog().clone()
    s = d.services()
    data = [T0 + w * HOUR for w, spec in enumerate(PLAN) if spec is not None]
    assert s.dirty(MODEL_ID) == data

    # When the evaluator runs with time for k windows
    (report,) = s.evaluate.evaluate_all(at=AT, time_left=time_for(k))

    # Then exactly the oldest k are evaluated, the others are reported as left, and stay due
    oldest = [T0 + w * HOUR for w in range(k)]
    assert report.windows == oldest
    assert report.windows_left == N - k
    assert s.dirty(MODEL_ID) == [ws for ws in data if ws not in oldest]
    assert {ws for (*_, ws) in s.points(MODEL_ID)} == set(oldest)
    # and the model's state does not pass the last window evaluated (no-data windows after it stay due)
    assert s.store.get_state(MODEL_ID).last_closed == oldest[-1]


@pytest.mark.parametrize("k", [1, 2, 4, 5])
def test_a_backlog_split_over_runs_gives_the_points_and_alerts_of_one_unlimited_run(k: int) -> None:
    points, alerts, states, state = _unlimited()
    # Given the same backlog
    d = _backlog().clone()
    s = d.services()

    # When runs with time for k windows each follow one another
    runs = _runs_until_done(s, MODEL_ID, time_for(k))

    # Then each run goes on from the oldest window left, k at a time, no window skipped or done twice
    every = [T0 + w * HOUR for w in range(N)]
    assert runs == [every[i : i + k] for i in range(0, N, k)]
    assert s.dirty(MODEL_ID) == []
    # and the stored points (the no-data windows' volume.rows of 0 included), the alerts published (same order,
    # same content), the alert states and the model's state are those of one run without a limit
    got = s.points(MODEL_ID)
    assert got == points
    for gap in (w for w, spec in enumerate(PLAN) if spec is None):
        assert got[("volume.rows", None, None, T0 + gap * HOUR)] == (0.0, 0)
    assert d.published() == alerts
    assert s.states(MODEL_ID) == states
    assert s.store.get_state(MODEL_ID) == state


@pytest.mark.parametrize("k", [1, 2])
def test_late_files_judged_again_over_several_runs_publish_what_one_run_publishes(k: int) -> None:
    points, alerts, states, state = _late_unlimited()
    # Given windows judged already, then late files in three of them (window 2's verdicts change, and with them
    # the transitions of windows 3 and 5, judged again after it)
    d = _evaluated().clone()
    s = d.services()
    drop_late_files(s)

    # When runs with time for k windows each follow one another
    runs = _runs_until_done(s, MODEL_ID, time_for(k))

    # Then the windows are judged again oldest first, and the points, the alerts (each published by the window
    # it belongs to, with its value, even when that window was left for the next run), the states and the
    # model's state are those of one run without a limit
    again = [T0 + w * HOUR for w in (2, 3, 5)]
    assert runs == [again[i : i + k] for i in range(0, len(again), k)]
    assert _outcome(d) == (points, alerts, states, state)
    assert all(a["value"] is not None for a in alerts)


def test_a_run_without_time_for_a_window_changes_nothing_and_the_next_one_does_it_all() -> None:
    points, alerts, _, _ = _unlimited()
    d = _backlog().clone()
    s = d.services()
    # When a run has less than the margin
    (report,) = s.evaluate.evaluate_all(at=AT, time_left=DEFAULT_MARGIN - 1)
    # Then it evaluates nothing, reports every window as left, and writes no state
    assert (report.windows, report.windows_left, report.points) == ([], N, 0)
    assert s.store.get_state(MODEL_ID).last_closed is None
    assert d.published() == []
    # and a run without a limit then does what one run would have done
    (report,) = s.evaluate.evaluate_all(at=AT)
    assert (len(report.windows), report.windows_left) == (N, 0)
    assert s.points(MODEL_ID) == points
    assert d.published() == alerts


def test_the_slowest_window_so_far_sets_the_limit_when_twice_it_exceeds_the_margin() -> None:
    # Given windows of 20 s: after the first, a window starts only with 2 x 20 = 40 s left
    timer = Timer()
    budget = Budget(100.0, margin=30.0, timer=timer)
    started = 0
    while budget.may_start(first=started == 0):
        timer.now += 20.0
        budget.record(20.0)
        started += 1
    # Then 4 windows start (100, 80, 60 and 40 s left), not a fifth (20 s left)
    assert started == 4
    assert budget.end - timer.now == 20.0


# -- several models -------------------------------------------------------------------------------------------------


def test_a_model_with_a_long_backlog_does_not_starve_the_next_one() -> None:
    # Given a model with N windows due, listed before a model with 2
    d = _two_models().clone()
    s = d.services()

    # When a run has time for 6 windows in all (85 s: 55 s usable once the margin is kept)
    hog, small = s.evaluate.evaluate_all(at=AT, time_left=time_for(6))

    # Then the first model stops within its share (half of 55 s: 2 windows, a third would end at 30 s) and the
    # second is evaluated whole, in the time the first did not take
    assert (hog.model_id, small.model_id) == (HOG, SMALL)
    assert len(hog.windows) == 2 and hog.windows_left == N - 2
    assert small.windows == SMALL_WINDOWS and small.windows_left == 0
    assert s.dirty(SMALL) == []

    # When runs follow until nothing is left
    for _ in range(10):
        reports = s.evaluate.evaluate_all(at=AT, time_left=time_for(6))
        if sum(r.windows_left for r in reports) == 0:
            break
    # Then the first model's backlog is done too, with every window's points
    assert s.dirty(HOG) == []
    assert {ws for (*_, ws) in s.points(HOG)} == {T0 + w * HOUR for w in range(N)}


def test_every_model_gets_its_first_window_even_when_the_shares_are_smaller_than_a_window() -> None:
    # Given two models with windows due, and time for 2 windows in all: the first model's share (half of the 15 s
    # usable) is smaller than a window
    d = _two_models().clone()
    s = d.services()
    hog, small = s.evaluate.evaluate_all(at=AT, time_left=time_for(2))
    # Then each model has evaluated its oldest window
    assert hog.windows == [T0] and small.windows == SMALL_WINDOWS[:1]
    assert hog.windows_left == N - 1 and small.windows_left == 1


# -- alert states ---------------------------------------------------------------------------------------------------


def _one_put_per_state(store: Store) -> Callable[..., int]:
    """The writes as they were before batching: one PutItem per target judged, changed or not."""

    batched = store.put_alert_states

    def put_each(model_id: str, states: dict[str, AlertStateRecord], *, previous: Any = None) -> int:
        for key, state in states.items():
            batched(model_id, {key: state})  # no previous: written whether changed or not, one request each
        return len(states)

    return put_each


def test_a_windows_alert_states_are_written_in_one_batch_with_the_same_content() -> None:
    # Given the same backlog evaluated twice: states written one PutItem per target (as before), and batched
    before, after = _backlog().clone(), _backlog().clone()
    s_before, s_after = before.services(), after.services()
    s_before.store.put_alert_states = _one_put_per_state(s_before.store)  # type: ignore[method-assign]
    (r_before,) = s_before.evaluate.evaluate_all(at=AT)
    (r_after,) = s_after.evaluate.evaluate_all(at=AT)
    assert r_before.windows == r_after.windows and len(r_after.windows) == N

    # Then the same state items are written (every window adds a verdict: none is unchanged), in far fewer
    # requests: at most ceil(targets / 25) per window (here one: 13 targets) instead of one per target
    targets = len(s_after.states(MODEL_ID))  # the demo model: 6 features, 5 countries, 4 rules
    assert before.table.state_requests == before.table.state_items == after.table.state_items > 6 * N
    assert after.table.state_requests <= N * math.ceil(targets / 25)
    assert after.table.state_requests * 10 < before.table.state_requests
    # and the items read back are the same (all of them: verdicts, state, rule, column, segment, updated_at)
    assert s_after.states(MODEL_ID) == s_before.states(MODEL_ID)
    assert after.published() == before.published()


def test_a_state_whose_content_did_not_change_is_not_written_again() -> None:
    # Given a backlog evaluated
    d = _evaluated().clone()
    s = d.services()
    states = s.states(MODEL_ID)
    written = d.table.state_items

    # When a window is judged again on the same data (marked dirty again, as a late no-op change would)
    s.store.mark_dirty(MODEL_ID, T0 + 3 * HOUR)
    (report,) = s.evaluate.evaluate_all(at=AT + 1)

    # Then no state item is written (same verdicts, same state), nothing is published, and the items are unchanged
    assert report.windows == [T0 + 3 * HOUR]
    assert d.table.state_items == written
    assert report.alerts == []
    assert s.states(MODEL_ID) == states
