"""The drift job with NannyML: univariate drift of the current data, fitted on the reference.

``python bench/peers/nannyml_job.py '<job JSON>'`` (in ``bench/.peers/nannyml``) reads the 20 feature columns
of both Parquet files with pandas, fits ``UnivariateDriftCalculator`` on the reference (numerical and
categorical columns declared, ``jensen_shannon`` for both kinds, which are NannyML's defaults; base-2
Jensen-Shannon distance, on Doane histogram bins of the reference for numerical columns) and calculates on the
current data as one chunk (``chunk_number=1``), then reads the results as a DataFrame. Prints one JSON line
(see ``bench/peers/__main__.py``).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

from _job import answer, read_frames
from _job import main as run_main

METHOD = "jensen_shannon"


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of the reported features and the time of each phase."""
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    warnings.simplefilter("ignore")  # one chunk: NannyML warns that its thresholds need more, once per column
    start = time.perf_counter()
    import nannyml as nml

    imported = time.perf_counter()
    numerical, categorical, current, reference, read = read_frames(job)
    columns = numerical + categorical
    calculator = nml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_numerical=numerical,
        treat_as_categorical=categorical,
        continuous_methods=[METHOD],
        categorical_methods=[METHOD],
        chunk_number=1,
    )
    calculator.fit(reference)
    fitted = time.perf_counter()
    results = calculator.calculate(current).filter(period="analysis").to_df()
    done = time.perf_counter()
    drift = {c: {METHOD: float(results[(c, METHOD, "value")].iloc[0])} for c in columns}
    phases = {"import": imported - start, "read": read - imported, "fit": fitted - read, "compute": done - fitted}
    methods = {"numerical": METHOD, "categorical": METHOD}
    return answer("nannyml", nml.__version__, job, (current, reference), methods, drift, phases)


def main(argv: list[str] | None = None) -> int:
    return run_main("nannyml_job.py", run_job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
