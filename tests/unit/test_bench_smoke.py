"""The benchmark harness (bench/) end to end on 5,000 rows, so that it does not rot between `make bench` runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.json as pajson
import pytest
from bench import generate as gen
from bench import run

ROWS = 5_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


def test_generator_is_seeded_and_writes_readable_json_lines() -> None:
    # Given two tables generated with the same seed and one with another
    first, again, other = gen.generate_table(1_000, 7), gen.generate_table(1_000, 7), gen.generate_table(1_000, 8)

    # When the first is written as JSON Lines and read back by pyarrow
    back = pajson.read_json(io.BytesIO(gen.jsonl_bytes(first)))

    # Then the generator is deterministic, and the JSON Lines hold every row and column
    assert first.equals(again)
    assert not first.equals(other)
    assert back.num_rows == 1_000
    assert back.column_names == first.column_names
    assert set(first.column_names) >= {*gen.NUMERICAL, *gen.CATEGORICAL, "score", "prediction", "label"}


def test_benchmark_runs_end_to_end_in_process(data_dir: Path) -> None:
    # Given a small benchmark, measured in this process
    out = data_dir / "latest.md"
    argv = ["--rows", str(ROWS), "--repeat", "1", "--data-dir", str(data_dir), "--out", str(out), "--in-process"]

    # When it runs
    code = run.main(argv)

    # Then it succeeds, caches its files and reports every format against its goal
    assert code == 0
    report = out.read_text()
    for fmt in gen.FORMATS:
        assert gen.data_path(ROWS, 42, fmt, data_dir=data_dir).exists()
        assert f"| {fmt} | {ROWS:,} |" in report
    assert "goal <=" in report


def test_measurement_in_a_fresh_process_reports_times_and_peak_memory(data_dir: Path) -> None:
    # Given the cached Parquet file and baseline of the end-to-end test (or fresh ones)
    path = gen.ensure(ROWS, 42, "parquet", data_dir=data_dir)
    baseline = run.ensure_baseline(43, data_dir)
    job = {"path": str(path), "format": "parquet", "config": str(gen.CONFIG_PATH), "baseline": str(baseline)}

    # When both passes are measured in a subprocess
    answer = run.measure({**job, "kinds": ["floor", "driftline"], "repeat": 1}, in_process=False)

    # Then both read every row, with times and a plausible peak memory
    assert answer["rows"] == {"floor": ROWS, "driftline": ROWS}
    assert all(t > 0 for kind in ("floor", "driftline") for t in answer["times"][kind])
    assert 10 < answer["peak_rss_mib"] < 4096
    json.dumps(answer)


def test_evaluator_bench_merges_and_computes() -> None:
    from bench.evaluator import file_profiles, time_window

    profiles, baseline = file_profiles(rows=2_000)
    merge_s, metrics_s, count = time_window(3, profiles, baseline)
    assert merge_s >= 0 and metrics_s >= 0
    assert count > 100
