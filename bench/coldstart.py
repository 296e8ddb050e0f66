"""Cold start, the part that is ours: the import time of each Lambda handler in a fresh interpreter.

Each handler module (``functions/<name>/app.py``) is imported in a new process, best of ``--repeat``; this is
what a cold Lambda container pays before its first event (plus the runtime's own start, not measured here).

    python -m bench.coldstart [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("config", "baseline", "ingest", "labels", "evaluate")
PROBE = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
    "print(time.perf_counter() - t)"
)


def import_seconds(name: str, repeat: int) -> float:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    code = PROBE.format(path=str(ROOT / "functions" / name))
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"| function | handler import s (best of {args.repeat}) |")
    print("|---|---|")
    for name in FUNCTIONS:
        print(f"| {name} | {import_seconds(name, args.repeat):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
