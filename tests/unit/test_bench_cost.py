"""The cost model: its arithmetic, not its prices."""

from __future__ import annotations

import pytest
from bench import cost


def test_delayed_labels_add_the_join_and_it_grows_with_files_not_predictions() -> None:
    base = cost.inputs_of(cost.parse_args([]))
    labelled = cost.inputs_of(cost.parse_args(["--delayed-labels"]))
    for volume in (1e6, 10e6):
        extra = cost.monthly(labelled, volume)["DynamoDB"] - cost.monthly(base, volume)["DynamoDB"]
        assert extra == pytest.approx(cost.label_join(labelled, volume)["DynamoDB"])
    # DynamoDB and S3 requests count files, not predictions: the same at 1M and 100M a day
    small, big = cost.label_join(labelled, 1e6), cost.label_join(labelled, 100e6)
    assert small["DynamoDB"] == big["DynamoDB"] and small["S3 requests"] == big["S3 requests"]
    # storage and CPU grow with the rows (large packs are tiered: cheaper by the GB)
    assert 40 * small["S3 storage"] < big["S3 storage"] < 100 * small["S3 storage"]
    assert big["Lambda"] > 50 * small["Lambda"]
    # the per-prediction id index it replaced: two writes and a read per prediction
    assert cost.id_index(1e6) == pytest.approx(1e6 * cost.DAYS * (2 * cost.DDB_WRU + cost.DDB_RRU))


def test_labels_without_event_times_read_every_prediction_pack_in_retention() -> None:
    timed = cost.inputs_of(cost.parse_args(["--delayed-labels"]))
    untimed = cost.inputs_of(cost.parse_args(["--delayed-labels", "--labels-without-time"]))
    a, b = cost.label_join(timed, 1e6), cost.label_join(untimed, 1e6)
    assert b["S3 requests"] > 10 * a["S3 requests"] and b["Lambda"] > 10 * a["Lambda"]


def test_profiling_time_scales_with_rows_and_the_cpu_share() -> None:
    small = cost.inputs_of(cost.parse_args(["--ingest-memory-mb", "1769"]))
    big = cost.inputs_of(cost.parse_args(["--ingest-memory-mb", "3538"]))  # twice the memory, no more CPU
    lam = [cost.monthly(i, 100e6)["Lambda"] - cost.monthly(i, 1e6)["Lambda"] for i in (small, big)]
    assert lam[1] == pytest.approx(2 * lam[0])  # same seconds, twice the GB


def test_the_table_has_a_row_per_service_and_the_alternatives() -> None:
    lines = cost.table(cost.inputs_of(cost.parse_args([])))
    assert lines[0].startswith("| $ / month, one model | 1M")
    assert any(line.startswith("| **Driftline, per model**") for line in lines)
    assert any(line.startswith("| SageMaker Model Monitor") for line in lines)
    assert any(line.startswith("| Evidently in Lambda") for line in lines)


def test_scaling_out_adds_five_reads_a_tick_and_a_counter_write_a_file() -> None:
    i = cost.inputs_of(cost.parse_args([]))
    extra = cost.scale_out(i, 1e6)
    windows = cost.DAYS * 24
    files = 288 * cost.DAYS  # 12 files a window: no merge
    want = (windows * 2 + files) * cost.DDB_WRU + (cost.TICKS * 5 + windows) * cost.DDB_RRU
    assert extra["DynamoDB"] == pytest.approx(want)
    many = cost.inputs_of(cost.parse_args(["--files-per-day", str(24 * 640)]))  # 640 a window: 10 merges each
    merges = cost.scale_out(many, 1e6)["DynamoDB"] - cost.scale_out(i, 1e6)["DynamoDB"]
    assert merges > 10 * windows * 17 * cost.DDB_WRU
    lines = cost.scale_table(i)
    assert any(line.startswith("| **a 1,000-model stack**") for line in lines)


def test_early_looks_cost_a_few_looks_per_window_and_stay_within_ten_percent_at_1m_a_day() -> None:
    inputs = cost.inputs_of(cost.parse_args([]))
    # 288 files a day, 1 h windows of 41,667 rows: looks at the 1st, 2nd, 4th and 8th file (rows doubled each time)
    assert cost.looks_per_window(1e6 / 288, 12, 100) == (4, 1 + 2 + 4 + 8)
    assert cost.looks_per_window(50, 12, 100) == (3, 2 + 4 + 8)  # 100, 200, 400 rows (50 a file)
    assert 10 < inputs.open_points_kb < 40  # measured: 1,140 points packed in one item
    on = cost.monthly(inputs, 1e6)
    off = cost.monthly(cost.inputs_of(cost.parse_args(["--no-early"])), 1e6)
    assert 1.0 < on["DynamoDB"] / off["DynamoDB"] <= 1.10
    assert sum(on.values()) / sum(off.values()) <= 1.10
    assert "DynamoDB $" in cost.early_line(inputs)
