"""The drift job with whylogs: profile both datasets, then the drift scores of the target against the reference.

``python bench/peers/whylogs_job.py '<job JSON>'`` (in ``bench/.peers/whylogs``) reads the 20 feature columns
of both Parquet files with pandas, profiles each with ``why.log(pandas=...)`` (column types inferred from the
pandas dtypes: the string columns get frequent-items sketches, the numbers KLL distribution sketches) and
computes ``calculate_drift_scores(target_view=..., reference_view=...)`` with its default algorithms: the
Kolmogorov-Smirnov test on the sketches for numerical columns, the chi-square test on the frequent items for
categorical ones. Prints one JSON line (see ``bench/peers/__main__.py``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from _job import answer, read_frames
from _job import main as run_main


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of the reported features and the time of each phase."""
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
    start = time.perf_counter()
    import whylogs as why
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    imported = time.perf_counter()
    numerical, categorical, current, reference, read = read_frames(job)
    columns = numerical + categorical
    target_view = why.log(pandas=current).view()
    reference_view = why.log(pandas=reference).view()
    profiled = time.perf_counter()
    scores = calculate_drift_scores(target_view=target_view, reference_view=reference_view, with_thresholds=True)
    done = time.perf_counter()
    drift = {c: {s["algorithm"]: float(s["statistic"])} for c, s in scores.items() if c in columns and s}
    methods = {
        kind: ", ".join(sorted({scores[c]["algorithm"] for c in cols if scores.get(c)}))  # type: ignore[index]
        for kind, cols in (("numerical", numerical), ("categorical", categorical))
    }
    phases = {
        "import": imported - start,
        "read": read - imported,
        "profile": profiled - read,
        "compute": done - profiled,
    }
    return answer("whylogs", why.__version__, job, (current, reference), methods, drift, phases)


def main(argv: list[str] | None = None) -> int:
    return run_main("whylogs_job.py", run_job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
