"""bench.detect runs end to end on a few windows and prints its two tables with every rule."""

from __future__ import annotations

import pytest
from bench import detect


def test_bench_detect_small(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--windows", "200", "--references", "1", "--power-windows", "20", "--null-windows", "200"]
    args += ["--seed", "3", "--population", "100000"]
    assert detect.main(args) == 0
    out = capsys.readouterr().out
    assert "### False alarms per column-window" in out and "### Power" in out
    for rule in detect.RULES:
        assert rule in out
    rows = [line for line in out.splitlines() if line.startswith("| 40 categories |")]
    assert len(rows) == len(detect.NS)
    # NannyML's rule has no chunks when the window is larger than the reference
    assert rows[-1].rstrip(" |").split(" | ")[-2] == "n/a"
