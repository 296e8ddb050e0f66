"""``make load`` (bench/load.py) end to end at a tiny size, so that it does not rot between full runs.

The local cloud runs in this process (its moto server in a subprocess): starting it and writing 1,140 metric points
per evaluated window to moto take most of the 25-50 s this test needs, hence the ``slow`` mark.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import load

pytestmark = pytest.mark.slow

FILES, ROWS, WINDOWS = 6, 200, 2


@pytest.fixture
def clean_environment() -> Iterator[None]:
    """The local cloud points this process's environment at itself (endpoint, bucket, table): undo that."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_load_runs_end_to_end_and_its_numbers_add_up(tmp_path: Path, clean_environment: None) -> None:
    # Given a tiny load run: 6 files of 200 rows in one window, then 6 more spread over 2 windows
    out = tmp_path / "results" / "load.md"
    argv = ["--files", str(FILES), "--rows-per-file", str(ROWS), "--range-files", str(FILES)]
    argv += ["--range-windows", str(WINDOWS), "--reference-rows", "2000", "--workers", "2"]
    argv += ["--data-dir", str(tmp_path / "data"), "--out", str(out)]

    # When the command runs
    code = load.main(argv)

    # Then it succeeds, and writes the report and its figures
    assert code == 0
    markdown = out.read_text()
    assert "| ingest end to end:" in markdown and "## Checks" in markdown and "FAILED" not in markdown
    numbers = json.loads(out.with_suffix(".json").read_text())
    # every check passed: each file processed once, rows counted = rows sent, windows evaluated, DLQs empty
    assert numbers["ok"], [c for c in numbers["checks"] if not c[1]]
    a, b = numbers["A.ingest"], numbers["B.ingest"]
    for phase in (a, b):
        assert phase["files"] == FILES
        assert phase["rows_counted"] == phase["rows_sent"] == FILES * ROWS
        assert phase["end_to_end_s"] > 0
        assert phase["rows_per_s"] == pytest.approx(phase["files_per_s"] * ROWS)
        # one profile item per file (its one window), written once; its FILE record claimed, then finished
        assert phase["writes"]["profile (file)"]["items"] == FILES
        assert phase["writes"]["file record"]["items"] == 2 * FILES
        assert phase["handler"]["handle"] >= phase["handler"]["profile"] > 0
    assert numbers["A.eval"]["windows"] == 1
    assert numbers["B.eval"]["windows"] == WINDOWS
    # the one-window evaluation deleted each file's profile item once it was rolled up
    a_eval, b_eval = numbers["A.eval"]["writes"], numbers["B.eval"]["writes"]
    assert a_eval["profile (file)"]["items"] == FILES
    assert b_eval["metric point"]["items"] == WINDOWS * a_eval["metric point"]["items"]
    # the reads: one series point per window, row counts that add up to the rows sent, every point written
    reads = {r["label"]: r for r in numbers["reads"]}
    assert reads["one drift series"]["population"] == WINDOWS  # and a point per segment and window besides
    assert reads["row counts"]["value_sum"] == FILES * ROWS
    assert reads["every metric, last day"]["points"] == b_eval["metric point"]["items"]


def test_wire_sizes_follow_dynamodb_rules() -> None:
    # Given items in DynamoDB's wire format
    item = {"pk": {"S": "ab"}, "n": {"N": "12345"}, "b": {"B": b"xyz"}, "m": {"M": {"k": {"BOOL": True}}}}

    # When their sizes are computed
    size = load.wire_item_size(item)

    # Then names and values count as DynamoDB counts them
    assert size == (2 + 2) + (1 + 4) + (1 + 3) + (1 + 3 + 1 + 1 + 1)
    assert load.write_units(1024) == 1 and load.write_units(1025) == 2
    assert load.item_kind("PROF#m#1", "F#abc#p000") == "profile (file)"
    assert load.item_kind("PROF#m#1", "R#HEAD") == "rollup"
    assert load.spread(4, 2, 1) == [1, 1, 2, 2]
