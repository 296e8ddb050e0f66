"""The inputs of the peer benchmark: the current and reference Parquet files, the features, a prebuilt baseline.

Run as ``python -m bench.peers.data --rows N --reference-rows M --seed S`` in the project's environment (the
command runs it in a subprocess, so that its own process stays small; see ``bench/peers/__main__.py``); it
prints one JSON object: ``current``, ``reference``, ``baseline`` (paths), ``config`` (``bench/config.yaml``),
``drift_config`` (``bench/peers/drift.yaml``: the same features, drift only), ``numerical`` and ``categorical``
(the feature columns of those configurations).

The current file is the one ``bench.run`` profiles (seed ``S``); the reference file is the one it builds its
baseline from (seed ``S + 1``, ``stem="reference"``); both are cached in ``bench/data/`` by ``bench.generate``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench import generate as gen
from driftline.core.config import load_config_file
from driftline.services.profiling import build_baseline

#: Driftline's configuration for the peers' computation: the same features, drift only (see the file).
DRIFT_CONFIG = Path(__file__).resolve().parent / "drift.yaml"
CREATED_AT = "2026-01-01T00:00:00Z"  # as bench.run: the same reference gives the same baseline bytes


def ensure_baseline(reference: Path, rows: int, seed: int, data_dir: Path) -> Path:
    """The baseline JSON built from ``reference`` (``rows`` rows of seed ``seed``), cached beside it."""
    path = data_dir / f"baseline-v{gen.VERSION}-n{rows}-s{seed}.json"
    if path.exists():
        return path
    config = load_config_file(gen.CONFIG_PATH)
    baseline = build_baseline(config, [(reference.name, lambda: reference)], created_at=CREATED_AT)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(baseline.to_json())
    tmp.replace(path)
    return path


def prepare(rows: int, reference_rows: int, seed: int, data_dir: Path = gen.DATA_DIR) -> dict[str, Any]:
    """Generate (or reuse) the files and the baseline; describe them."""
    current = gen.ensure(rows, seed, "parquet", data_dir=data_dir)
    reference = gen.ensure(reference_rows, seed + 1, "parquet", data_dir=data_dir, stem="reference")
    features = load_config_file(gen.CONFIG_PATH).columns.features
    if load_config_file(DRIFT_CONFIG).columns.features != features:
        raise RuntimeError(f"{DRIFT_CONFIG} must monitor the features of {gen.CONFIG_PATH}")
    return {
        "current": str(current),
        "reference": str(reference),
        "baseline": str(ensure_baseline(reference, reference_rows, seed + 1, data_dir)),
        "config": str(gen.CONFIG_PATH),
        "drift_config": str(DRIFT_CONFIG),
        "numerical": list(features.numerical),
        "categorical": list(features.categorical),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peers.data", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reference-rows", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--data-dir", type=Path, default=gen.DATA_DIR)
    args = p.parse_args(argv)
    print(json.dumps(prepare(args.rows, args.reference_rows, args.seed, args.data_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
