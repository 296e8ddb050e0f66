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
    assert "### Where a peer's rule catches more than Driftline's default" in out


def test_verdict_says_whether_a_peers_extra_catches_are_bought_with_false_alarms() -> None:
    """A peer above the default is listed with its false-alarm rate on that column and n; above 2 alpha its catches
    are bought, within it they are a real loss; the cells at the effect floor are not judged."""
    alpha = 0.001
    base = {r: 0.2 for r in (*detect.RULES, *detect.MATCHED)}
    cells = [
        ("mean +0.1σ", "normal", 300, {**base, "Evidently": 0.5}),  # Evidently cries wolf at 0.145 there
        ("scale x1.1", "normal", 1_000, {**base, "NannyML mean+3sd": 0.3}),  # NannyML within 2 alpha there
        ("mean +0.2σ", "10 categories", 300, {**base, "Evidently": 0.3, "JS, matched FAR": 0.25}),
        ("mean +0.05σ", "normal", 10_000, {**base, "Evidently": 0.9}),  # at the floor: not judged
        ("mean +0.2σ", "normal", 1_000, {**base, "fixed JS 0.1": 0.1}),  # below the default: not listed
    ]
    far = {("normal", 300): {"Evidently": 0.145}, ("normal", 1_000): {"NannyML mean+3sd": 0.0015},
           ("10 categories", 300): {"Evidently": 0.0094}}  # fmt: skip
    lines = detect.verdict(cells, far, alpha)
    # the categorical Evidently win: its statistic at alpha is JS (matched), 0.25 > the default's 0.2
    assert "3 cells, 2 of them" in lines[0] and "catches more in 1 of them (by at most 0.050)" in lines[0]
    rows = [line for line in lines if line.startswith("| mean") or line.startswith("| scale")]
    assert len(rows) == 3 and rows[2].endswith("| 0.250 |")
    assert "Evidently" in rows[0] and "145.0x α" in rows[0] and "bought with false alarms" in rows[0]
    assert "NannyML" in rows[1] and "1.5x α" in rows[1] and "a real loss" in rows[1]
