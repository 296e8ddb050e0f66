"""``make bench-peers``: the same drift job with Driftline, Evidently, whylogs and NannyML, each a fresh process.

The job: drift of the 20 features of ``bench/config.yaml`` (15 numerical, 5 categorical) of the benchmark's
generated current file (``--rows``, Parquet) against the reference file ``bench.run`` builds its baseline from
(``--reference-rows``, seed + 1), from reading the files to the drift numbers. Each peer runs in its own virtual
environment under ``bench/.peers/<tool>/``, created from ``bench/peers/requirements-<tool>.txt`` when missing,
on the project's Python. Driftline runs three times: the drift job (``bench/peers/drift.yaml``: the same features,
drift only, one daily window — what the peers compute; the headline, baseline built from the reference file),
then the full monitoring configuration ``bench/config.yaml`` (hourly windows, a segment column, quality,
performance and business metrics: 144 profiles instead of one) building its baseline, and loading a prebuilt
one (as production does, once per model).

Each job is timed from outside: wall time (``perf_counter`` around the process, interpreter start and imports
included), CPU time and peak resident memory from the ``rusage`` that ``os.wait4`` returns for that child
(``ru_maxrss``). This process imports neither numpy nor pyarrow (the files are prepared in a subprocess) so
that its own small peak, which ``ru_maxrss`` of a child carries over from the parent at exec, stays below
every job's. Prints a Markdown table and the goals, and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import SINGLE_THREAD_ENV

HERE: Final = Path(__file__).resolve().parent
BENCH_DIR: Final = HERE.parent
REPO_ROOT: Final = BENCH_DIR.parent
PEERS_DIR: Final = BENCH_DIR / ".peers"
TOOLS: Final = ("driftline", "evidently", "whylogs", "nannyml")
NAMES: Final = {"driftline": "Driftline", "evidently": "Evidently", "whylogs": "whylogs", "nannyml": "NannyML"}
IMPORTS: Final = {"evidently": "evidently.presets", "whylogs": "whylogs.viz.drift", "nannyml": "nannyml"}
#: How many times faster than each peer Driftline should be (with a lower peak memory than each).
GOALS: Final = {"evidently": 30.0, "whylogs": 15.0, "nannyml": 5.0}
#: The features whose drift each job prints: two numerical (one integer), one of high cardinality, one categorical.
REPORTED: Final = ("num_00", "num_10", "amount", "product")
#: The headline runs ``bench/peers/drift.yaml`` (the peers' computation); these two run ``bench/config.yaml``.
FULL: Final = "driftline (full monitoring)"
PREBUILT: Final = "driftline (full monitoring, baseline prebuilt)"
LABELS: Final = {
    "driftline": "Driftline, drift job",
    FULL: "Driftline, full monitoring",
    PREBUILT: "Driftline, full monitoring, baseline prebuilt",
}
#: Telemetry off in every job (there is no network here; a library that tries would wait for it).
NO_TELEMETRY: Final = {"DO_NOT_TRACK": "1", "WHYLOGS_NO_ANALYTICS": "True", "NML_DISABLE_USAGE_LOGGING": "1"}


@dataclass(frozen=True)
class Run:
    """One process: wall and CPU seconds, peak resident memory in MiB, and the JSON line it printed."""

    wall_s: float
    cpu_s: float
    peak_mib: float
    answer: dict[str, Any]


@dataclass
class Measured:
    """Every run of one job (a row of the table)."""

    label: str
    tool: str
    runs: list[Run]

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.wall_s)

    @property
    def peak_mib(self) -> float:
        return max(r.peak_mib for r in self.runs)


def _log(message: str) -> None:
    print(f"[peers] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the current file (default 1,000,000)")
    p.add_argument("--reference-rows", type=int, default=100_000, help="rows of the reference file (default 100,000)")
    p.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated, of: " + ", ".join(TOOLS) + " (Driftline always runs)"
    )
    p.add_argument("--repeat", type=int, default=1, help="runs of each job; the best wall time counts (default 1)")
    p.add_argument("--seed", type=int, default=42, help="seed of the current file (the reference uses seed + 1)")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "peers.md", help="Markdown report")
    args = p.parse_args(argv)
    tools = [t.strip().lower() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        p.error(f"--tools: unknown {', '.join(unknown)}; expected some of {', '.join(TOOLS)}")
    if args.rows < 1 or args.reference_rows < 1 or args.repeat < 1:
        p.error("--rows, --reference-rows and --repeat must be positive")
    args.tools = [t for t in TOOLS if t == "driftline" or t in tools]
    return args


def run_process(argv: list[str], env: dict[str, str]) -> Run:
    """Run one job to its end; its last stdout line is its JSON answer. Raises RuntimeError if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=REPO_ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({child.returncode}):\n{stderr[-4000:]}")
    lines = stdout.strip().splitlines()
    answer: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    peak_kib = usage.ru_maxrss  # KiB on Linux
    return Run(wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024, answer)


def self_peak_mib() -> float | None:
    """This process's own peak resident memory (VmHWM), the floor under every child's ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def job_env() -> dict[str, str]:
    """The environment of every job: this one, BLAS/OpenMP on one thread (as ``make bench``), telemetry off."""
    return {**os.environ, **SINGLE_THREAD_ENV, **NO_TELEMETRY}


def ensure_venv(tool: str) -> Path:
    """The Python of ``bench/.peers/<tool>``, created or updated from its requirements file when needed."""
    requirements = HERE / f"requirements-{tool}.txt"
    venv = PEERS_DIR / tool
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    _log(f"installing {NAMES[tool]} into {venv.relative_to(REPO_ROOT)} from {requirements.name} (a few minutes)")
    if not python.exists():
        # From the project's environment, venv bases the new one on the same interpreter (3.12 here).
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check", "-r", str(requirements)],
        check=True,
        stdout=sys.stderr,
    )
    stamp.write_text(digest)
    return python


def check_imports(tool: str, python: Path, env: dict[str, str]) -> None:
    """Import the peer once, untimed: a broken environment fails here, and every job starts with a warm disk cache."""
    _log(f"checking that {NAMES[tool]} imports")
    subprocess.run([str(python), "-c", f"import {IMPORTS[tool]}"], check=True, env=env, stdout=subprocess.DEVNULL)


def compile_driftline() -> None:
    """Byte-compile Driftline's package, as pip does for every package it installs (the peers' included) and as
    the Lambda layers ship it; the editable install's modules would otherwise be compiled from source in every
    job process where bytecode is not written (``PYTHONDONTWRITEBYTECODE``): 0.16 s of each run."""
    package = REPO_ROOT / "shared" / "driftline"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, stdout=subprocess.DEVNULL)


def prepare_data(args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or reuse) the files and the prebuilt baseline, in a subprocess (see the module's docstring)."""
    _log(f"generating or reusing {args.rows:,} current rows and {args.reference_rows:,} reference rows in bench/data")
    sizes = ["--rows", str(args.rows), "--reference-rows", str(args.reference_rows), "--seed", str(args.seed)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.peers.data", *sizes],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def jobs(tools: list[str], data: dict[str, Any], pythons: dict[str, Path]) -> list[tuple[str, str, list[str]]]:
    """(label, tool, argv) of every job: Driftline three times — the drift job (the peers' computation, baseline
    built), the full monitoring configuration (baseline built, then prebuilt) — then each peer."""
    common = {k: data[k] for k in ("current", "reference", "config", "numerical", "categorical")}
    common["report"] = [c for c in REPORTED if c in data["numerical"] + data["categorical"]]
    out = []
    for tool in tools:
        script = str(HERE / f"{tool}_job.py")
        if tool == "driftline":
            drift = {**common, "config": data["drift_config"]}
            out.append(("driftline", tool, [sys.executable, script, json.dumps(drift)]))
            out.append((FULL, tool, [sys.executable, script, json.dumps(common)]))
            prebuilt = {**common, "baseline": data["baseline"]}
            out.append((PREBUILT, tool, [sys.executable, script, json.dumps(prebuilt)]))
        else:
            out.append((tool, tool, [str(pythons[tool]), script, json.dumps(common)]))
    return out


def check_answer(m: Measured, args: argparse.Namespace, features: int) -> None:
    """Every job must have read every row of both files and found a drift for each feature."""
    a = m.best.answer
    rows = {"current": args.rows, "reference": args.reference_rows}
    if a.get("rows") != rows or a.get("drift_columns") != features:
        raise RuntimeError(
            f"{m.label}: {a.get('rows')} rows read (expected {rows}), drift of {a.get('drift_columns')} features "
            f"(expected {features})"
        )


def _ratio(value: float, base: float) -> str:
    return f"{value / base:,.1f}×" if value / base >= 10 else f"{value / base:.2f}×"


def _version(m: Measured) -> str:
    return str(m.best.answer.get("version", "-"))


def table(results: list[Measured]) -> list[str]:
    """The main table: one row per job; ratios to Driftline's whole process."""
    base = next(m for m in results if m.label == "driftline")
    lines = [
        "| tool | version | wall s | CPU s | peak MiB | × slower than Driftline | × CPU time | × more memory |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        name = LABELS.get(m.label, NAMES[m.tool])
        b = m.best
        lines.append(
            f"| {name} | {_version(m)} | {b.wall_s:,.2f} | {b.cpu_s:,.2f} | {m.peak_mib:,.0f} "
            f"| {_ratio(b.wall_s, base.best.wall_s)} | {_ratio(b.cpu_s, base.best.cpu_s)} "
            f"| {_ratio(m.peak_mib, base.peak_mib)} |"
        )
    return lines


def goals(results: list[Measured]) -> list[str]:
    """One line per peer: the speed goal and the memory goal of the drift job, each PASS or MISS, and the speed
    ratio of the full monitoring configuration beside it."""
    base = next(m for m in results if m.label == "driftline")
    full = next((m for m in results if m.label == FULL), None)
    lines = []
    for m in results:
        if m.tool not in GOALS:
            continue
        speed, memory = m.best.wall_s / base.best.wall_s, m.peak_mib / base.peak_mib
        goal = GOALS[m.tool]
        fast = "PASS" if speed >= goal else f"MISS (Driftline would need to be {goal / speed:.1f}× faster)"
        small = "PASS" if memory > 1 else "MISS"
        also = "" if full is None else f" (full monitoring: {m.best.wall_s / full.best.wall_s:,.1f}× faster)"
        lines.append(
            f"- vs {NAMES[m.tool]}: {speed:,.1f}× faster{also}, goal ≥ {goal:g}×: {fast}; "
            f"peak memory {m.peak_mib:,.0f} vs {base.peak_mib:,.0f} MiB ({memory:.2f}×), goal lower: {small}"
        )
    return lines or ["- no peer was run (--tools)"]


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:g}"


def drift_table(results: list[Measured]) -> list[str]:
    """The drift each job printed for the reported features, with its method: evidence of the same computation."""
    shown = [m for m in results if m.label not in (FULL, PREBUILT)]
    features = list(shown[0].best.answer.get("drift", {}))
    lines = ["| feature | " + " | ".join(NAMES[m.tool] for m in shown) + " |", "|---|" + "---|" * len(shown)]
    for feature in features:
        cells = []
        for m in shown:
            stats = m.best.answer.get("drift", {}).get(feature, {})
            cells.append(", ".join(f"{_fmt(v)} ({s})" for s, v in stats.items()) or "-")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return lines


def phases(results: list[Measured]) -> list[str]:
    """Where each job's wall time went: start (interpreter and what the phases leave out), then its phases."""
    lines = []
    for m in results:
        b = m.best
        parts = b.answer.get("phases", {})
        start = b.wall_s - sum(parts.values())
        detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        lines.append(f"- {m.label}: {b.wall_s:.2f} s = start {start:.2f} + {detail}")
    return lines


def environment(results: list[Measured], load: tuple[float, float]) -> str:
    """The machine, its load, and each job's Python and libraries."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    libs = "; ".join(
        f"{NAMES[m.tool]}: Python {m.best.answer.get('python')}, "
        + ", ".join(f"{k} {v}" for k, v in m.best.answer.get("libs", {}).items())
        for m in results
        if m.label not in (FULL, PREBUILT)
    )
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, load average {load[0]:.1f} before and {load[1]:.1f} after the runs; "
        f"{libs}; {time.strftime('%Y-%m-%d %H:%M')}"
    )


def report(
    results: list[Measured], args: argparse.Namespace, data: dict[str, Any], load: tuple[float, float], elapsed: float
) -> str:
    """The whole Markdown report."""
    launcher = self_peak_mib()
    n_num, n_cat = len(data["numerical"]), len(data["categorical"])
    lines = [
        f"Drift of {n_num + n_cat} features ({n_num} numerical, {n_cat} categorical), {args.rows:,} current rows "
        f"against {args.reference_rows:,} reference rows, Parquet, from the files to the drift numbers; each job one "
        f"fresh process, best wall time of {args.repeat}.",
        "",
        *table(results),
        "",
        "Goals (the drift job: Driftline's whole process, baseline build included, computing what the peers "
        "compute; the full monitoring configuration's ratio in brackets):",
        *goals(results),
        "",
        "Drift of a few features as each tool computed it (value and method):",
        "",
        *drift_table(results),
        "",
        "Where the time went (seconds, measured inside each job; start = interpreter start and exit, outside the "
        "phases):",
        *phases(results),
        "",
        "Wall time: perf_counter around the process. CPU time and peak memory: the rusage of that child from os.wait4 "
        f"(ru_utime + ru_stime; ru_maxrss, which carries over this launcher's own peak of "
        f"{launcher or 0:,.0f} MiB at exec). BLAS/OpenMP on one thread in every job; pyarrow's own thread pools at "
        f"their defaults. The whole run took {elapsed / 60:.1f} min.",
        environment(results, load),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    env = job_env()
    pythons = {tool: ensure_venv(tool) for tool in args.tools if tool != "driftline"}
    for tool, python in pythons.items():
        check_imports(tool, python, env)
    data = prepare_data(args)
    compile_driftline()
    todo = jobs(args.tools, data, pythons)
    results = {label: Measured(label, tool, []) for label, tool, _ in todo}
    load_before = os.getloadavg()[0]
    for i in range(args.repeat):
        for label, _, argv_ in todo:
            _log(f"running {label} ({i + 1}/{args.repeat})")
            run = run_process(argv_, env)
            results[label].runs.append(run)
            _log(f"{label}: {run.wall_s:.2f} s, CPU {run.cpu_s:.2f} s, peak {run.peak_mib:,.0f} MiB")
    measured = list(results.values())
    for m in measured:
        check_answer(m, args, len(data["numerical"]) + len(data["categorical"]))
    text = report(measured, args, data, (load_before, os.getloadavg()[0]), time.perf_counter() - started)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Drift job: Driftline and its peers\n\n{text}\n")
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
