"""The cost model: its arithmetic, not its prices."""

from __future__ import annotations

import pytest
from bench import cost


def test_delayed_labels_add_two_writes_and_one_read_per_prediction() -> None:
    base = cost.inputs_of(cost.parse_args([]))
    labelled = cost.inputs_of(cost.parse_args(["--delayed-labels"]))
    for volume in (1e6, 10e6):
        extra = cost.monthly(labelled, volume)["DynamoDB"] - cost.monthly(base, volume)["DynamoDB"]
        assert extra == pytest.approx(volume * cost.DAYS * (2 * cost.DDB_WRU + cost.DDB_RRU))


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
