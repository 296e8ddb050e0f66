"""The drift job with Driftline, from files to drift numbers, as one process.

``python bench/peers/driftline_job.py '<job JSON>'`` (in the project's environment) reads the reference Parquet
file and builds the baseline from it (``build_baseline``, two streamed passes) — or, when the job names a
prebuilt ``baseline`` JSON, loads that instead, as production does once per model — then profiles the current
file (``profile_file``: per hourly window and segment, with quality, performance and business aggregates),
merges the profiles of the whole population and computes its metrics (``compute_metrics``: drift, quality,
performance, estimated performance and business metrics). It prints one JSON line (see
``bench/peers/__main__.py``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

STATS = ("jensen_shannon", "kolmogorov_smirnov")


class _NoPandas:
    """An import finder under which ``import pandas`` raises ImportError, as where pandas is not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":  # its submodules load only once it is imported (then this finder is never asked)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of every feature and the time of each phase."""
    start = time.perf_counter()
    # pandas is in the project's dev venv (tests write files with it), never in a Lambda layer; pyarrow's
    # to_numpy imports it whenever it is importable (0.4-0.7 s). The job runs as Lambda would: without it.
    # (a finder that refuses it: a None in sys.modules makes pyarrow's pandas shim fail on str scalars). Where the
    # job runs in a process that already imported pandas (the tests), that one stays; the finder goes at the end.
    finder = None if "pandas" in sys.modules else _NoPandas()
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        return _run(job, start)
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)


def _run(job: dict[str, Any], start: float) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa

    import driftline
    from driftline.core.baseline import Baseline
    from driftline.core.config import load_config_file
    from driftline.core.metrics import compute_metrics
    from driftline.core.profile import merge_all
    from driftline.services.profiling import build_baseline, profile_file

    imported = time.perf_counter()
    config = load_config_file(job["config"])
    if job.get("baseline"):
        baseline = Baseline.from_json(Path(job["baseline"]).read_bytes())
    else:
        reference = Path(job["reference"])
        baseline = build_baseline(config, [(reference.name, lambda: reference)], created_at="2026-01-01T00:00:00Z")
    baselined = time.perf_counter()
    current = Path(job["current"])
    result = profile_file(current, name=current.name, config=config, baseline=baseline)
    profiled = time.perf_counter()
    whole = merge_all([p for (_, segment), p in result.profiles.items() if segment is None], baseline.baseline_id)
    metrics = compute_metrics(whole, baseline, config)
    done = time.perf_counter()
    features = set(job["numerical"]) | set(job["categorical"])
    drift: dict[str, dict[str, float]] = {}
    for m in metrics:
        if m.column is not None and m.column in features and m.metric.startswith("drift."):
            drift.setdefault(m.column, {})[m.metric.removeprefix("drift.")] = m.value
    return {
        "tool": "driftline",
        "version": driftline.__version__,
        "python": platform.python_version(),
        "libs": {"numpy": np.__version__, "pyarrow": pa.__version__},
        "rows": {"current": result.stats.rows, "reference": baseline.reference_for(None).rows},
        "methods": {"numerical": "jensen_shannon, kolmogorov_smirnov (+4)", "categorical": "jensen_shannon (+3)"},
        "drift_columns": len(drift),
        "drift": {c: {s: v for s, v in drift[c].items() if s in STATS} for c in job["report"] if c in drift},
        "metrics": len(metrics),
        "groups": len(result.profiles),
        "phases": {
            "import": imported - start,
            "baseline": baselined - imported,
            "profile": profiled - baselined,
            "metrics": done - profiled,
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: driftline_job.py '<job as JSON>'", file=sys.stderr)
        return 2
    print(json.dumps(run_job(json.loads(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
