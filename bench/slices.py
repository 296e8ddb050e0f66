"""The cost of scenarios and fairness in profiling: ``python -m bench.slices [--rows N] [--repeat R]``.

One Parquet file of the benchmark model (bench/config.yaml, bench/generate.py; default 1,000,000 rows) profiled
in-process against a 100,000-row baseline, with: nothing added; 5 scenarios (each a numerical and a categorical
condition, selecting 20-50% of the rows); fairness on one sensitive column (``device``, 20 groups); both. The
best of ``--repeat`` runs, as seconds and as a multiple of the plain profile. About a minute at the default size.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from bench import generate as gen
from driftline.core.config import load_config_dict
from driftline.services.profiling import build_baseline, profile_file

SCENARIOS = [
    {"name": f"s{i}", "where": {"all": [{"column": "num_00", "above": q}, {"column": "region", "in": regions}]}}
    for i, (q, regions) in enumerate(
        [
            (-1.0, ["reg_0", "reg_1"]),
            (-0.5, ["reg_0", "reg_1", "reg_2"]),
            (0.0, ["reg_0"]),
            (-2.0, ["reg_1", "reg_2"]),
            (-1.5, ["reg_0", "reg_3"]),
        ]
    )
]
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "5 scenarios": {"scenarios": SCENARIOS},
    "fairness (1 column, 20 groups)": {"fairness": {"sensitive": ["device"]}},
    "both": {"scenarios": SCENARIOS, "fairness": {"sensitive": ["device"]}},
}


def _parquet(table: Any) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    base = yaml.safe_load((Path(__file__).parent / "config.yaml").read_text())
    logs = _parquet(gen.generate_table(args.rows, 1))
    ref = _parquet(gen.generate_table(100_000, 2))
    print(f"| profile of {args.rows:,} rows | seconds (best of {args.repeat}) | × plain |")
    print("| --- | --- | --- |")
    plain = 0.0
    for label, extra in VARIANTS.items():
        config = load_config_dict({**base, **extra})
        baseline = build_baseline(config, [("ref.parquet", lambda: io.BytesIO(ref))], created_at="bench")
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            profile_file(io.BytesIO(logs), name="logs.parquet", config=config, baseline=baseline)
            best = min(best, time.perf_counter() - t)
        plain = plain or best
        print(f"| {label} | {best:.2f} | {best / plain:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
