"""The drift job with Evidently: a ``DataDriftPreset`` report of the current data against the reference.

``python bench/peers/evidently_job.py '<job JSON>'`` (in ``bench/.peers/evidently``) reads the 20 feature
columns of both Parquet files with pandas, declares them numerical or categorical (``DataDefinition``, the
column mapping of Evidently 0.7), runs ``Report([DataDriftPreset()])`` and serialises the snapshot to JSON,
so that every metric and test is computed. Evidently picks each column's method by its defaults: for more
than 1,000 rows, the normed Wasserstein distance for numerical columns and the Jensen-Shannon distance
(natural logarithm) for categorical ones. Prints one JSON line (see ``bench/peers/__main__.py``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from typing import Any


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of the reported features and the time of each phase."""
    start = time.perf_counter()
    import evidently
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    numerical, categorical = list(job["numerical"]), list(job["categorical"])
    columns = numerical + categorical
    current = pd.read_parquet(job["current"], columns=columns)
    reference = pd.read_parquet(job["reference"], columns=columns)
    read = time.perf_counter()
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset(columns=columns)]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    answer = json.loads(snapshot.json())
    done = time.perf_counter()
    drift: dict[str, dict[str, float]] = {}
    methods: dict[str, str] = {}
    for metric in answer["metrics"]:
        column = metric["config"].get("column")
        if metric["config"]["type"].endswith(":ValueDrift") and column in columns:
            drift[column] = {metric["config"]["method"]: float(metric["value"])}
            methods["numerical" if column in numerical else "categorical"] = metric["config"]["method"]
    return {
        "tool": "evidently",
        "version": evidently.__version__,
        "python": platform.python_version(),
        "libs": {"pandas": pd.__version__, "numpy": np.__version__, "pyarrow": pa.__version__},
        "rows": {"current": len(current), "reference": len(reference)},
        "methods": methods,
        "drift_columns": len(drift),
        "drift": {c: drift[c] for c in job["report"] if c in drift},
        "phases": {"import": imported - start, "read": read - imported, "compute": done - read},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: evidently_job.py '<job as JSON>'", file=sys.stderr)
        return 2
    print(json.dumps(run_job(json.loads(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
