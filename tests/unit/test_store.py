"""The store's window rollups: crash-safe, no double counting, late files merged (in-memory table)."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.adapters.memory import MemoryTable
from driftline.core.errors import StorageError
from driftline.core.profile import CategoricalProfile, Profile
from driftline.services.store import Store, ws_key

WS = 1_763_856_000


def file_profiles(rows: int) -> dict[tuple[int, str | None], Profile]:
    col = CategoricalProfile(np.array([rows, 0, 0], dtype=np.int64))
    return {(WS, None): Profile("b", rows=rows, files=1, categorical={"plan": col})}


def rows_of(store: Store) -> tuple[int, int]:
    wp = store.window_profiles("m", WS)
    p = wp.profiles[None]
    return p.rows, p.files


def test_rollup_then_late_file_counts_every_file_once() -> None:
    # Given two files of one window, rolled up
    store = Store(MemoryTable())
    store.put_file_profiles("m", "f1", file_profiles(10))
    store.put_file_profiles("m", "f2", file_profiles(20))
    assert store.roll_up("m", store.window_profiles("m", WS))
    # Then the window reads the same from the rollup alone, with no file item left
    assert rows_of(store) == (30, 2)
    assert store.window_profiles("m", WS).file_ids == frozenset()
    assert [i["sk"] for i in store.table.query(f"PROF#m#{ws_key(WS)}", sk_prefix="F#")] == []
    # When a late file arrives and the window is rolled up again
    store.put_file_profiles("m", "f3", file_profiles(5))
    assert rows_of(store) == (35, 3)
    assert store.roll_up("m", store.window_profiles("m", WS))
    # Then it counts once, and only the newest rollup's parts remain
    assert rows_of(store) == (35, 3)
    sks = [i["sk"] for i in store.table.query(f"PROF#m#{ws_key(WS)}")]
    assert len(sks) == 2 and sks[0].startswith("R#00000002#") and sks[1] == "R#HEAD"


def test_a_crash_after_the_rollup_and_before_the_deletes_counts_nothing_twice() -> None:
    # Given a rollup whose head moved but whose file items could not be deleted (the evaluator died)
    table = MemoryTable()
    store = Store(table)
    store.put_file_profiles("m", "f1", file_profiles(10))
    wp = store.window_profiles("m", WS)
    table.fail_next("delete", StorageError("killed", retryable=True))
    with pytest.raises(StorageError):
        store.roll_up("m", wp)
    # Then the next read counts the file once (the rollup remembers it), and the next rollup cleans up
    assert rows_of(store) == (10, 1)
    store.put_file_profiles("m", "f2", file_profiles(1))
    assert store.roll_up("m", store.window_profiles("m", WS))
    assert rows_of(store) == (11, 2)


def test_two_rollups_from_the_same_read_move_the_head_once() -> None:
    store = Store(MemoryTable())
    store.put_file_profiles("m", "f1", file_profiles(10))
    wp = store.window_profiles("m", WS)
    assert store.roll_up("m", wp)
    assert not store.roll_up("m", wp)  # a concurrent evaluator that read the same state loses
    assert rows_of(store) == (10, 1)


def test_window_keys_sort_like_times_before_and_after_1970() -> None:
    times = [-315_619_200, -3600, 0, 3600, WS, 4_102_444_800]
    assert sorted(times, key=ws_key) == times
    assert ws_key(1.5) > ws_key(1) and ws_key(1.5) < ws_key(2)


def test_status_records_files_runs_alarms_and_errors() -> None:
    # Given a store, three files claimed (one twice: a redelivery), two finished, an alarm, a run, two errors
    from driftline.adapters.memory import MemoryTable
    from driftline.services.store import AlertStateRecord, Store

    clock = iter(range(1_000, 2_000)).__next__
    store = Store(MemoryTable(), clock=lambda: float(clock()))
    for fid in ("a", "b", "c"):
        assert store.claim_file(fid, model_id="m", key=f"predictions/m/{fid}.csv", kind="predictions")
    assert store.claim_file("c", model_id="m", key="predictions/m/c.csv", kind="predictions")  # unfinished: again
    store.finish_file("a", status="done", rows=5)
    store.finish_file("b", status="failed", reason="bad")
    assert not store.claim_file("a", model_id="m", key="predictions/m/a.csv", kind="predictions")  # duplicate
    store.put_alert_states("m", {"S#r#c#-": AlertStateRecord(state="ALARM", rule="r", column="c", segment=None)})
    store.put_alert_states("m", {"S#r#d#-": AlertStateRecord(state="OK", rule="r", column="d", segment=None)})
    store.put_run("m", at=5.0, windows=2, windows_left=1, errors=["boom"])
    store.record_error("m", key="k1", file_id="f1", reason="r1", at=1.0)
    store.record_error("m", key="k2", file_id="f2", reason="r2", at=2.0, kind="dead_letter")

    # Then the typed records say so: a redelivery or a duplicate is not a new file
    counts = store.file_counts("m")
    assert (counts.received, counts.done, counts.failed, counts.processing) == (3, 1, 1, 1)
    assert counts.last_key == "predictions/m/c.csv" and counts.last_kind == "predictions"
    assert [(a.rule, a.column) for a in store.open_alarms("m")] == [("r", "c")]
    run = store.last_run("m")
    assert run is not None and (run.windows, run.windows_left, run.errors) == (2, 1, ("boom",))
    assert [(e.key, e.kind) for e in store.error_records("m")] == [("k2", "dead_letter"), ("k1", "failed")]
    assert store.file_counts("other").received == 0 and store.last_run("other") is None
    # and a file whose message was dead-lettered leaves the processing count
    store.finish_file("c", status="dead_lettered", reason="5 tries")
    counts = store.file_counts("m")
    assert (counts.dead_lettered, counts.processing) == (1, 0)


def test_looks_between_reads_the_look_records_of_a_range_only() -> None:
    """The report's early-look counts: one Query of ``OPEN#`` look records, windows in [start, end) that had a look;
    the packed partial points in the same partition are not read as looks."""
    store = Store(MemoryTable())
    for ws, looks in ((0, 1), (3_600, 0), (7_200, 2), (10_800, 4)):
        store.record_look("m", ws, looks=looks, looked_rows=100 * looks, checked="t")
    store.put_partial_points("m", 7_200, 10_800, [], old_parts=0)
    assert store.looks_between("m", start=3_600, end=10_800) == {7_200: 2}
    assert store.looks_between("m", start=0, end=20_000) == {0: 1, 7_200: 2, 10_800: 4}
    assert store.looks_between("other", start=0, end=20_000) == {}
