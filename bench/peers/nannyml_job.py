"""The drift job with NannyML: univariate drift of the current data, fitted on the reference.

``python bench/peers/nannyml_job.py '<job JSON>'`` (in ``bench/.peers/nannyml``) reads the 20 feature columns
of both Parquet files with pandas, fits ``UnivariateDriftCalculator`` on the reference (numerical and
categorical columns declared, ``jensen_shannon`` for both kinds, which are NannyML's defaults; base-2
Jensen-Shannon distance, on Doane histogram bins of the reference for numerical columns) and calculates on the
current data as one chunk (``chunk_number=1``), then reads the results as a DataFrame. Prints one JSON line
(see ``bench/peers/__main__.py``).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from typing import Any

METHOD = "jensen_shannon"


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the answer holds the rows, the drift of the reported features and the time of each phase."""
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    warnings.simplefilter("ignore")  # one chunk: NannyML warns that its thresholds need more, once per column
    start = time.perf_counter()
    import nannyml as nml
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    imported = time.perf_counter()
    numerical, categorical = list(job["numerical"]), list(job["categorical"])
    columns = numerical + categorical
    current = pd.read_parquet(job["current"], columns=columns)
    reference = pd.read_parquet(job["reference"], columns=columns)
    read = time.perf_counter()
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
    return {
        "tool": "nannyml",
        "version": nml.__version__,
        "python": platform.python_version(),
        "libs": {"pandas": pd.__version__, "numpy": np.__version__, "pyarrow": pa.__version__},
        "rows": {"current": len(current), "reference": len(reference)},
        "methods": {"numerical": METHOD, "categorical": METHOD},
        "drift_columns": len(drift),
        "drift": {c: drift[c] for c in job["report"] if c in drift},
        "phases": {"import": imported - start, "read": read - imported, "fit": fitted - read, "compute": done - fitted},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: nannyml_job.py '<job as JSON>'", file=sys.stderr)
        return 2
    print(json.dumps(run_job(json.loads(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
