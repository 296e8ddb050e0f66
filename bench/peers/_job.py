"""What the three peer jobs share: reading the two Parquet files with pandas, the answer's shape, the command.

Each job runs as a script in its own virtual environment (``python bench/peers/<tool>_job.py '<job JSON>'``),
so this module sits beside them (the script's folder is first on ``sys.path``) and imports only what every
peer environment has: pandas, numpy and pyarrow.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

Job = dict[str, Any]


def read_frames(job: Job) -> tuple[list[str], list[str], Any, Any, float]:
    """(numerical columns, categorical columns, current frame, reference frame, the time the read ended)."""
    import pandas as pd

    numerical, categorical = list(job["numerical"]), list(job["categorical"])
    columns = numerical + categorical
    current = pd.read_parquet(job["current"], columns=columns)
    reference = pd.read_parquet(job["reference"], columns=columns)
    return numerical, categorical, current, reference, time.perf_counter()


def answer(
    tool: str,
    version: str,
    job: Job,
    frames: tuple[Any, Any],
    methods: dict[str, str],
    drift: dict[str, dict[str, float]],
    phases: dict[str, float],
) -> Job:
    """The JSON line a job prints (see ``bench/peers/__main__.py``)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    current, reference = frames
    return {
        "tool": tool,
        "version": version,
        "python": platform.python_version(),
        "libs": {"pandas": pd.__version__, "numpy": np.__version__, "pyarrow": pa.__version__},
        "rows": {"current": len(current), "reference": len(reference)},
        "methods": methods,
        "drift_columns": len(drift),
        "drift": {c: drift[c] for c in job["report"] if c in drift},
        "phases": phases,
    }


def main(name: str, run_job: Callable[[Job], Job], argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: {name} '<job as JSON>'", file=sys.stderr)
        return 2
    print(json.dumps(run_job(json.loads(args[0]))))
    return 0
