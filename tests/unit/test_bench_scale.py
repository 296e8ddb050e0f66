"""bench/scale.py at small sizes: its counts are the ones the README quotes at full size."""

from __future__ import annotations

from bench import scale


def test_window_merges_bound_the_evaluations_reads() -> None:
    merged, plain = scale.window_run(300, 16), scale.window_run(300, None)
    assert merged["volume.files"] == plain["volume.files"] == 300
    assert merged["items_read_by_evaluation"] < plain["items_read_by_evaluation"] - 200


def test_models_are_all_evaluated_on_the_first_tick_and_backfill_counts_once() -> None:
    out = scale.models_run(12, workers=3, batch=5)
    first, second = out["ticks"]
    assert (first["queued"], first["windows"], first["models_evaluated_so_far"]) == (12, 12, 12)
    assert (second["queued"], second["windows"]) == (0, 0) and out["worker_batches"] == 3
    bf = scale.backfill_run(6)
    assert [r["processed"] for r in bf["runs"]] == [6, 0] and bf["volume.rows"] == bf["rows_expected"]
