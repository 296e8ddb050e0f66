"""The alert state machine (core/rules.py ``step``): ``for`` windows, late re-judging, early looks, pruning.

The reference is a direct reading of SPEC §2: a target is ALARM at window ``w`` when the ``for`` windows ending at
``w`` all breach, OK when ``w`` does not breach, and keeps the previous state when ``w`` was not judged.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.core import rules as R
from driftline.core.config import AlertRule

W = 3600


def _target(for_windows: int) -> R.Target:
    rule = AlertRule(
        name="r", metric="drift.psi", columns=("x",), segment=None, op="above", threshold=0.2, for_windows=for_windows
    )
    return R.Target(rule, "x", None)


def _verdict(target: R.Target, w: int, breaching: bool | None) -> R.Verdict:
    value = None if breaching is None else (0.5 if breaching else 0.1)
    return R.Verdict(target, w * W, breaching, value, 0.2, 0.0)


def _reference(verdicts: dict[int, bool | None], for_windows: int) -> list[tuple[int, str]]:
    """Transitions, by window index, straight from SPEC §2's words (windows absent from ``verdicts``: not judged)."""
    out, prev = [], R.OK
    for w in range(min(verdicts, default=0), max(verdicts, default=-1) + 1):
        if w not in verdicts:
            continue
        v = verdicts[w]
        if v is None:
            state = prev
        elif not v:
            state = R.OK
        elif all(verdicts.get(w - k) is True for k in range(for_windows)):
            state = R.ALARM
        else:
            state = prev  # breaching, the run still short: an ALARM stays, an OK stays
        if state != prev:
            out.append((w, state))
        prev = state
    return out


def _published(due: tuple[tuple[R.Verdict, str], ...]) -> list[tuple[int, str]]:
    return [(v.window_start // W, s) for v, s in due]


def _run(order: list[int], verdicts: dict[int, bool | None], for_windows: int) -> tuple[R.TargetState, set]:
    """Judge the windows one by one in ``order``; every transition published on the way."""
    target, state, published = _target(for_windows), R.TargetState(), set()
    for w in order:
        s = R.step(state, _verdict(target, w, verdicts[w]), width=W)
        if s is not None:
            state = s.state
            published.update(_published(s.due))
    return state, published


# -- unit ------------------------------------------------------------------------------------------------------------


def test_for_windows_needs_a_run_of_breaches():
    t = _target(3)
    state = R.TargetState()
    seen = []
    for w, b in enumerate([True, True, False, True, True, True, True, False]):
        s = R.step(state, _verdict(t, w, b), width=W)
        assert s is not None
        state = s.state
        seen.append((s.current, _published(s.due)))
    assert [c for c, _ in seen] == ["OK", "OK", "OK", "OK", "OK", "ALARM", "ALARM", "OK"]
    assert [d for _, d in seen if d] == [[(5, "ALARM")], [(7, "OK")]]


def test_not_judged_keeps_the_state_and_breaks_no_run_but_counts_as_no_breach():
    t = _target(2)
    state = R.TargetState()
    for w, b in [(0, True), (1, True)]:
        s = R.step(state, _verdict(t, w, b), width=W)
        assert s is not None
        state = s.state
    assert s.current == R.ALARM
    # a window with too few rows (value present, not judged): the ALARM holds
    s = R.step(state, R.Verdict(t, 2 * W, None, 0.9, None, 0.0), width=W)
    assert s is not None and s.current == R.ALARM and s.due == ()
    # a window with no value and no verdict, never seen before: nothing to say
    assert R.step(s.state, R.Verdict(t, 3 * W, None, None, None, 0.0), width=W) is None


def test_a_late_rejudged_window_publishes_its_own_and_the_later_windows_transitions():
    t = _target(2)
    state, _ = _run([0, 1, 2], {0: False, 1: True, 2: True}, 2)
    # window 0 judged again, now breaching (delayed labels): the ALARM moves to window 1
    s = R.step(state, _verdict(t, 0, True), width=W)
    assert s is not None
    assert _published(s.due) == [(1, "ALARM")]
    moved = s.due[0][0]
    assert moved.window_start == W and moved.breaching is True and moved.value is None  # the stored verdict only
    # window 2 judged again, not breaching: OK at 2
    s2 = R.step(s.state, _verdict(t, 2, False), width=W)
    assert s2 is not None and _published(s2.due) == [(2, "OK")] and s2.current == R.OK


def test_later_windows_publish_their_own():
    t = _target(1)
    state, _ = _run([0], {0: False}, 1)
    s = R.step(state, _verdict(t, 1, True), width=W, later=frozenset({2 * W}))
    assert s is not None and _published(s.due) == [(1, "ALARM")]
    state = R.TargetState({**s.state.verdicts, 2 * W: False})
    s = R.step(state, _verdict(t, 1, True), width=W, later=frozenset({2 * W}))
    assert s is not None and _published(s.due) == [(1, "ALARM")]  # window 2's OK is its own to publish


def test_an_early_alarm_returns_to_ok_once_when_the_window_closes_clear():
    t = _target(1)
    state = R.TargetState()
    assert R.step(state, _verdict(t, 0, False), width=W, open_window=True) is None  # only a breach is news
    s = R.step(state, _verdict(t, 0, True), width=W, open_window=True)
    assert s is not None and _published(s.due) == [(0, "ALARM")] and s.state.early == (0,)
    assert R.step(s.state, _verdict(t, 0, True), width=W, open_window=True) is None  # already breaching
    closed = R.step(s.state, _verdict(t, 0, False), width=W)
    assert closed is not None and _published(closed.due) == [(0, "OK")] and closed.state.early == ()
    again = R.step(closed.state, _verdict(t, 0, False), width=W)
    assert again is not None and again.due == ()  # once


def test_an_early_alarm_confirmed_at_the_close_is_the_same_transition():
    t = _target(1)
    s = R.step(R.TargetState(), _verdict(t, 0, True), width=W, open_window=True)
    assert s is not None
    closed = R.step(s.state, _verdict(t, 0, True), width=W)
    # the same (window, state): the publisher's key, so it goes out once; no OK follows
    assert closed is not None and _published(closed.due) == [(0, "ALARM")]
    assert closed.current == R.ALARM and closed.state.early == ()


def test_the_history_is_pruned_to_the_recent_windows():
    t = _target(1)
    state = R.TargetState({w * W: False for w in range(R.HISTORY_WINDOWS + 10)})
    s = R.step(state, _verdict(t, R.HISTORY_WINDOWS + 10, True), width=W)
    assert s is not None and len(s.state.verdicts) == R.HISTORY_WINDOWS
    assert max(s.state.verdicts) == (R.HISTORY_WINDOWS + 10) * W


# -- properties ------------------------------------------------------------------------------------------------------

verdict_maps = st.dictionaries(st.integers(0, 40), st.sampled_from([True, False, None]), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(verdicts=verdict_maps, for_windows=st.integers(1, 4))
def test_judged_in_order_publishes_exactly_the_specs_transitions(verdicts, for_windows):
    state, published = _run(sorted(verdicts), verdicts, for_windows)
    assert published == set(_reference(verdicts, for_windows))
    assert dict(state.verdicts) == {w * W: v for w, v in sorted(verdicts.items()) if _kept(w, verdicts)}


def _kept(w: int, verdicts: dict[int, bool | None]) -> bool:
    # a window with no verdict and no value is never stored unless it was judged before
    return verdicts[w] is not None


@settings(max_examples=300, deadline=None)
@given(data=st.data(), verdicts=verdict_maps, for_windows=st.integers(1, 4))
def test_any_order_ends_in_the_same_state_and_publishes_every_final_transition(data, verdicts, for_windows):
    """Late files and delayed labels judge windows out of order: whatever the order, the stored verdicts and the
    current state are the same, and every transition of the final history went out (the publisher sends each
    (target, window, state) once)."""
    order = data.draw(st.permutations(sorted(verdicts)))
    state, published = _run(list(order), verdicts, for_windows)
    in_order, _ = _run(sorted(verdicts), verdicts, for_windows)
    assert dict(state.verdicts) == dict(in_order.verdicts)
    final = set(_reference(verdicts, for_windows))
    assert final <= published
    current = R.state_series(state.verdicts, width=W, for_windows=for_windows) if state.verdicts else {0: R.OK}
    assert current[max(current)] == (max(final)[1] if final else R.OK)


@settings(max_examples=200, deadline=None)
@given(verdicts=verdict_maps, for_windows=st.integers(1, 4), rejudged=st.data())
def test_rejudging_a_window_publishes_the_new_series_from_that_window_on(verdicts, for_windows, rejudged):
    state, _ = _run(sorted(verdicts), verdicts, for_windows)
    w = rejudged.draw(st.sampled_from(sorted(verdicts)))
    new = rejudged.draw(st.sampled_from([True, False]))
    s = R.step(state, _verdict(_target(for_windows), w, new), width=W)
    assert s is not None
    changed = {**verdicts, w: new}
    assert _published(s.due) == [(x, st_) for x, st_ in _reference(changed, for_windows) if x >= w]
