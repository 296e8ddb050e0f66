"""The peer benchmark (bench/peers/) without the peers: the Driftline job on tiny files, measuring, the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
from bench.peers import __main__ as peers
from bench.peers import data, driftline_job

ROWS, REFERENCE_ROWS = 2_000, 1_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return data.prepare(ROWS, REFERENCE_ROWS, 42, tmp_path_factory.mktemp("peers-data"))


def _job(files: dict[str, object], **extra: object) -> dict[str, object]:
    keys = ("current", "reference", "config", "numerical", "categorical")
    return {**{k: files[k] for k in keys}, "report": ["num_00", "product"], **extra}


def test_driftline_job_reads_both_files_and_drifts_every_feature(files: dict[str, object]) -> None:
    # Given the tiny current and reference files of the 20 features
    features = len(files["numerical"]) + len(files["categorical"])  # type: ignore[arg-type]

    # When the Driftline job builds its baseline (drift only, then the full monitoring configuration), then loads
    # the prebuilt one instead
    drift = driftline_job.run_job(_job(files, config=files["drift_config"]))
    built = driftline_job.run_job(_job(files))
    prebuilt = driftline_job.run_job(_job(files, baseline=files["baseline"]))

    # Then each reads every row, drifts every feature, prints the asked features, and they agree with each other
    for answer in (drift, built, prebuilt):
        assert answer["rows"] == {"current": ROWS, "reference": REFERENCE_ROWS}
        assert answer["drift_columns"] == features == 20
        assert set(answer["drift"]) == {"num_00", "product"}
        assert set(answer["drift"]["num_00"]) == {"jensen_shannon", "kolmogorov_smirnov"}
        assert 0 <= answer["drift"]["product"]["jensen_shannon"] <= 1
        assert set(answer["phases"]) == {"import", "baseline", "profile", "metrics"}
    assert built["drift"] == prebuilt["drift"] == drift["drift"]
    assert (drift["groups"], built["groups"]) == (1, 24 * 6)  # one daily window; 24 hourly windows x (all + 5 regions)


def test_arguments_default_to_the_goal_sizes_and_always_include_driftline() -> None:
    # Given no option, then a subset of the tools
    default = peers.parse_args([])
    subset = peers.parse_args(["--tools", "NannyML, evidently", "--repeat", "2"])

    # Then the defaults are the benchmark's sizes and Driftline always runs, first
    assert (default.rows, default.reference_rows, default.repeat) == (1_000_000, 100_000, 1)
    assert default.tools == ["driftline", "evidently", "whylogs", "nannyml"]
    assert subset.tools == ["driftline", "evidently", "nannyml"]
    assert subset.repeat == 2


@pytest.mark.parametrize("argv", [["--tools", "pandas-profiling"], ["--repeat", "0"], ["--rows", "-1"]])
def test_bad_arguments_are_rejected(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        peers.parse_args(argv)


def test_a_child_is_measured_from_outside_with_its_own_peak_memory() -> None:
    # Given a child process that holds 200 MiB and prints its answer
    code = "import json; b = bytearray(200 << 20); print(json.dumps({'ok': len(b)}))"

    # When it is run and measured
    run = peers.run_process([sys.executable, "-c", code], peers.job_env())

    # Then its answer, wall time and peak memory are reported (ru_maxrss of the child: at least what it held;
    # no upper bound here, since a forked child's high-water mark starts at its parent's, a pytest worker's)
    assert run.answer == {"ok": 200 << 20}
    assert run.wall_s > 0
    assert run.peak_mib >= 200


def test_a_failing_child_raises_with_its_error() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        peers.run_process([sys.executable, "-c", "raise SystemExit('boom')"], peers.job_env())


def _measured(label: str, tool: str, wall: float, peak: float, drift: dict[str, dict[str, float]]) -> peers.Measured:
    answer = {"version": "1.0", "drift": drift, "phases": {"import": 0.1}, "python": "3.12.1", "libs": {}}
    return peers.Measured(label, tool, [peers.Run(wall, wall, peak, answer)])


def test_report_gives_the_ratios_and_a_verdict_per_goal(tmp_path: Path) -> None:
    # Given Driftline and two peers: Evidently 40× slower with more memory, NannyML 2× slower with less
    results = [
        _measured("driftline", "driftline", 1.0, 300, {"num_00": {"jensen_shannon": 0.01}}),
        _measured(peers.FULL, "driftline", 1.6, 310, {"num_00": {"jensen_shannon": 0.01}}),
        _measured(peers.PREBUILT, "driftline", 0.8, 290, {"num_00": {"jensen_shannon": 0.01}}),
        _measured("evidently", "evidently", 40.0, 900, {"num_00": {"wasserstein": 0.02}}),
        _measured("nannyml", "nannyml", 2.0, 250, {}),
    ]
    args = argparse.Namespace(rows=10, reference_rows=5, repeat=1)
    files = {"numerical": ["num_00"], "categorical": []}

    # When the report is rendered
    text = peers.report(results, args, files, (1.0, 1.0), 60.0)

    # Then each job has its row and ratios, and each goal its verdict
    assert "| Evidently | 1.0 | 40.00 | 40.00 | 900 | 40.0× | 40.0× | 3.00× |" in text
    assert "| Driftline, drift job | 1.0 | 1.00 |" in text
    assert "| Driftline, full monitoring | 1.0 | 1.60 | 1.60 | 310 | 1.60× |" in text
    assert "| Driftline, full monitoring, baseline prebuilt | 1.0 | 0.80 |" in text
    assert "vs Evidently: 40.0× faster (full monitoring: 25.0× faster), goal ≥ 30×: PASS;" in text
    assert "(3.00×), goal lower: PASS" in text
    nannyml = "vs NannyML: 2.0× faster (full monitoring: 1.2× faster), goal ≥ 5×: MISS"
    assert f"{nannyml} (Driftline would need to be 2.5× faster)" in text
    assert "(0.83×), goal lower: MISS" in text
    assert "| num_00 | 0.0100 (jensen_shannon) | 0.0200 (wasserstein) | - |" in text
