"""bench/slices.py on 5,000 rows, so that it does not rot."""

from __future__ import annotations

from typing import Any

from bench import slices


def test_the_slices_benchmark_runs_and_prints_every_variant(capsys: Any) -> None:
    assert slices.main(["--rows", "5000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for label in slices.VARIANTS:
        assert f"| {label} |" in out
