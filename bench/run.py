"""``make bench``: Driftline's profiling throughput against a floor measured in the same run, and peak memory.

For each format (Parquet, CSV, gzip JSON Lines) of the same generated file (``bench/generate.py``, model
``bench/config.yaml``, baseline built from a separate 100k-row reference file of another seed):

- *time*: one fresh process alternates the floor pass and Driftline's ``profile_file`` ``--repeat`` times,
  single-threaded; the best time of each counts (``bench/measure.py`` defines the floor);
- *peak memory*: each of the two passes once more, alone in a fresh process, which reports its own
  peak resident memory (VmHWM, imports included).

``--big`` adds the memory goal: Driftline on a gzip JSON Lines file of ``--memory-gb`` GiB (compressed).
Prints a table and whether the goals hold, writes it as Markdown to ``--out``, and exits 0 unless it crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa

from bench import SINGLE_THREAD_ENV
from bench import generate as gen
from bench.measure import run_job
from driftline.core.config import load_config_file
from driftline.services.profiling import build_baseline

REFERENCE_ROWS: Final = 100_000
GOAL_RATIO: Final = {"parquet": 1.5, "csv": 2.0, "jsonl.gz": 2.0}
GOAL_PEAK_MIB: Final = 512.0
REPO_ROOT: Final = gen.BENCH_DIR.parent


@dataclass
class Result:
    fmt: str
    rows: int
    file_mib: float
    floor_s: float
    driftline_s: float
    floor_cpu_s: float
    driftline_cpu_s: float
    floor_peak_mib: float | None = None
    driftline_peak_mib: float | None = None
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.driftline_s / self.floor_s

    @property
    def cpu_ratio(self) -> float:
        return self.driftline_cpu_s / self.floor_cpu_s

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.driftline_s

    @property
    def meets_goal(self) -> bool:
        return self.ratio <= GOAL_RATIO[self.fmt]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated file (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="timed passes of each kind; the best counts (default 3)")
    p.add_argument("--formats", default=",".join(gen.FORMATS), help="comma-separated, of: " + ", ".join(gen.FORMATS))
    p.add_argument("--seed", type=int, default=42, help="seed of the generated file (the reference uses seed + 1)")
    p.add_argument("--out", type=Path, default=gen.BENCH_DIR / "results" / "latest.md", help="Markdown report")
    p.add_argument("--data-dir", type=Path, default=gen.DATA_DIR, help="where generated files are cached")
    p.add_argument("--big", action="store_true", help="also the peak-memory test on a large gzip JSON Lines file")
    p.add_argument("--memory-gb", type=float, default=2.0, help="compressed size of that file in GiB (default 2)")
    p.add_argument(
        "--in-process", action="store_true", help="measure in this process (no subprocess, no peak memory; for tests)"
    )
    args = p.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in gen.FORMATS]
    if unknown or not formats:
        p.error(f"--formats: unknown {', '.join(unknown) or '(none given)'}; expected some of {', '.join(gen.FORMATS)}")
    if args.rows < 1 or args.repeat < 1 or args.memory_gb <= 0:
        p.error("--rows, --repeat and --memory-gb must be positive")
    args.formats = formats
    return args


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_baseline(seed: int, data_dir: Path) -> Path:
    """The baseline JSON built from the reference file (REFERENCE_ROWS rows, ``seed``), cached."""
    path = data_dir / f"baseline-v{gen.VERSION}-n{REFERENCE_ROWS}-s{seed}.json"
    if path.exists():
        return path
    reference = gen.ensure(REFERENCE_ROWS, seed, "parquet", data_dir=data_dir, stem="reference")
    config = load_config_file(gen.CONFIG_PATH)
    baseline = build_baseline(config, [(reference.name, lambda: reference)], created_at="2026-01-01T00:00:00Z")
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(baseline.to_json())
    tmp.replace(path)
    return path


def measure(job: dict[str, Any], *, in_process: bool) -> dict[str, Any]:
    """Run a job of ``bench.measure`` in a fresh single-threaded process (or here, for tests)."""
    if in_process:
        return run_job(job)
    env = {**os.environ, **SINGLE_THREAD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", json.dumps(job)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.measure failed ({done.returncode}) on {job['path']}:\n{done.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def bench_format(fmt: str, path: Path, baseline: Path, args: argparse.Namespace) -> Result:
    job = {"path": str(path), "format": fmt, "config": str(gen.CONFIG_PATH), "baseline": str(baseline)}
    timed = measure({**job, "kinds": ["floor", "driftline"], "repeat": args.repeat}, in_process=args.in_process)
    rows = timed["rows"]
    if rows["floor"] != rows["driftline"] or rows["floor"] != args.rows:
        raise RuntimeError(f"{fmt}: the floor read {rows['floor']:,} rows and Driftline {rows['driftline']:,}")
    result = Result(
        fmt,
        args.rows,
        path.stat().st_size / (1 << 20),
        min(timed["times"]["floor"]),
        min(timed["times"]["driftline"]),
        min(timed["cpu"]["floor"]),
        min(timed["cpu"]["driftline"]),
        times=timed["times"],
    )
    if not args.in_process:
        result.floor_peak_mib = measure({**job, "kinds": ["floor"], "repeat": 1}, in_process=False)["peak_rss_mib"]
        result.driftline_peak_mib = measure({**job, "kinds": ["driftline"], "repeat": 1}, in_process=False)[
            "peak_rss_mib"
        ]
    return result


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(results: list[Result]) -> list[str]:
    columns = [
        "format", "rows", "file MiB", "floor s", "driftline s", "rows/s", "ratio to floor", "goal",
        "ratio (CPU time)", "peak MiB floor", "peak MiB driftline",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        verdict = "ok" if r.meets_goal else "MISSED"
        lines.append(
            f"| {r.fmt} | {r.rows:,} | {r.file_mib:,.1f} | {r.floor_s:.2f} | {r.driftline_s:.2f} | {r.rows_per_s:,.0f} "
            f"| {r.ratio:.2f}x | <= {GOAL_RATIO[r.fmt]:g}x {verdict} | {r.cpu_ratio:.2f}x | {_mib(r.floor_peak_mib)} "
            f"| {_mib(r.driftline_peak_mib)} |"
        )
    return lines


def big_test(args: argparse.Namespace, baseline: Path) -> tuple[list[str], bool]:
    """Peak memory of Driftline on a gzip JSON Lines file of ``--memory-gb`` GiB."""
    _log(f"generating (or reusing) the {args.memory_gb:g} GiB gzip JSON Lines file; this takes a while")
    path, rows = gen.ensure_big_jsonl(args.memory_gb, args.seed, data_dir=args.data_dir)
    _log(f"profiling {path.name} ({rows:,} rows) in a fresh process")
    job = {"path": str(path), "format": "jsonl.gz", "config": str(gen.CONFIG_PATH), "baseline": str(baseline)}
    answer = measure({**job, "kinds": ["driftline"], "repeat": 1}, in_process=False)
    peak, seconds = answer["peak_rss_mib"], answer["times"]["driftline"][0]
    ok = peak < GOAL_PEAK_MIB and answer["rows"]["driftline"] == rows
    size = path.stat().st_size / (1 << 30)
    lines = [
        f"Large file: {path.name}, {size:.2f} GiB gzip JSON Lines, {rows:,} rows: Driftline {seconds:,.1f} s "
        f"({rows / seconds:,.0f} rows/s), peak {peak:,.0f} MiB (imports {answer['rss_before_mib']:,.0f} MiB): "
        f"goal < {GOAL_PEAK_MIB:g} MiB {'holds' if ok else 'MISSED'}."
    ]
    return lines, ok


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"Python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}, {cpu}, "
        f"{os.cpu_count()} logical CPUs (one used), {time.strftime('%Y-%m-%d %H:%M')}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _log(f"data in {args.data_dir} (cached by rows and seed)")
    baseline = ensure_baseline(args.seed + 1, args.data_dir)
    results: list[Result] = []
    for fmt in args.formats:
        path = gen.ensure(args.rows, args.seed, fmt, data_dir=args.data_dir)
        _log(f"{fmt}: {path.name}, timing floor and Driftline, best of {args.repeat}")
        results.append(bench_format(fmt, path, baseline, args))
        r = results[-1]
        _log(f"{fmt}: floor {r.floor_s:.2f} s, Driftline {r.driftline_s:.2f} s: {r.ratio:.2f}x, CPU {r.cpu_ratio:.2f}x")
    lines = table(results)
    lines.append("")
    for r in results:
        holds = "holds" if r.meets_goal else "MISSED"
        lines.append(f"- {r.fmt}: {r.ratio:.2f}x the floor, goal <= {GOAL_RATIO[r.fmt]:g}x: {holds}")
    if args.big:
        big_lines, _ = big_test(args, baseline)
        lines += ["", *big_lines]
    else:
        lines += ["", f"Peak-memory goal (< {GOAL_PEAK_MIB:g} MiB on a 2 GiB gzip JSON Lines file): not run (--big)."]
    notes = [
        "",
        "Floor: minimal pyarrow read of the same columns + np.histogram on the frozen edges + pc.value_counts per "
        f"batch (bench/measure.py). Single-threaded, best of {args.repeat} wall-clock (perf_counter; the goal) and "
        "CPU time (process_time: less sensitive to other load on the machine); peak memory is the VmHWM of a fresh "
        "process running one pass (imports included).",
        environment(),
    ]
    lines += notes
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Driftline profiling benchmark\n\n{report}\n")
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
