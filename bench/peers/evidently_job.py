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
import time
from typing import Any

from _job import answer, read_frames
from _job import main as run_main


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of the reported features and the time of each phase."""
    start = time.perf_counter()
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    numerical, categorical, current, reference, read = read_frames(job)
    columns = numerical + categorical
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset(columns=columns)]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = json.loads(snapshot.json())
    done = time.perf_counter()
    drift: dict[str, dict[str, float]] = {}
    methods: dict[str, str] = {}
    for metric in result["metrics"]:
        column = metric["config"].get("column")
        if metric["config"]["type"].endswith(":ValueDrift") and column in columns:
            drift[column] = {metric["config"]["method"]: float(metric["value"])}
            methods["numerical" if column in numerical else "categorical"] = metric["config"]["method"]
    phases = {"import": imported - start, "read": read - imported, "compute": done - read}
    return answer("evidently", evidently.__version__, job, (current, reference), methods, drift, phases)


def main(argv: list[str] | None = None) -> int:
    return run_main("evidently_job.py", run_job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
