"""Benchmarks and their data generators (``make bench`` runs :mod:`bench.run`).

Importing the package pins the numerical libraries to one thread before numpy or pyarrow is loaded, so that
``python -m bench.run`` and its measuring subprocesses (``python -m bench.measure``) run on one core.
"""

from __future__ import annotations

import os

SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

for _key, _value in SINGLE_THREAD_ENV.items():
    os.environ.setdefault(_key, _value)
