"""The cold cost of the small-window ``drift.wasserstein`` null (``core/wnull.py``), before and after, in one run.

A baseline's W1 null is simulated lazily, per process, at the grid points bracketing a window's rows (below
4,000 rows; above that too for a power-law tail). Each column: a reference of 200,000 rows of one shape, binned as
the profiler bins it (``NumericBins.from_sample``, ~420 fine slots), then

1. **cold CPU** of ``WassersteinNull.shape_at(300, m)`` (two grid points, 283 and 400, on a fresh null; process CPU,
   best of ``--reps``) with today's ``simulate_w1`` and with the old one kept here as the baseline
   (:func:`old_simulate_w1`: 3,000 Poisson tables in float64, the crossing formula everywhere), and the ratio;
2. **the same statistics**: the 0.999 quantile of ``W1 / sqrt(h)`` (Pearson III on the three moments, as
   ``w1_quantile``) at 283 rows from ``--seeds`` seeds (the reference's rows m, m+1, ... move the seed), old and
   new: their mean and spread across seeds, and their mean against a long plain run (30,000 tables).

    python -m bench.wnull [--reps 3] [--seeds 8] [--full]

``--full`` adds the grid points 25, 100, 1,131 and 3,200 rows to the cost table (about twice the time).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time
import zlib
from collections.abc import Callable

import numpy as np

from driftline.core import wnull as W
from driftline.core.bins import NumericBins
from driftline.core.chi2 import chi2_ppf

M = 200_000
SHAPES = ("normal", "lognormal", "zero-inflated", "pareto-1.5", "integers-0/1/2", "near-constant", "offset-1e9")


def draw(shape: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Raw values of one column shape (the hostile ones of ``tests/unit/test_wnull.py``)."""
    if shape == "normal":
        return rng.normal(0.0, 1.0, n)
    if shape == "lognormal":
        return rng.lognormal(0.0, 0.8, n)
    if shape == "zero-inflated":  # 80% zeros, the rest lognormal
        return np.where(rng.random(n) < 0.8, 0.0, rng.lognormal(0.0, 1.0, n))
    if shape == "pareto-1.5":  # capital-gain-like: infinite variance
        return rng.pareto(1.5, n)
    if shape == "integers-0/1/2":
        return rng.choice(np.array([0.0, 1.0, 2.0]), n, p=[0.7, 0.25, 0.05])
    if shape == "near-constant":  # 99.5% one value
        return np.where(rng.random(n) < 0.995, 1.0, rng.normal(5.0, 2.0, n))
    if shape == "offset-1e9":
        return 1e9 + rng.normal(0.0, 1.0, n)
    raise ValueError(f"unknown shape {shape!r}")


def reference_null(shape: str, m: int = M, seed: int = 1) -> W.WassersteinNull:
    ref = draw(shape, np.random.default_rng(seed), m)
    bins = NumericBins.from_sample(ref)
    counts = np.bincount(bins.slots(ref), minlength=bins.n_slots("fine"))
    lo, hi = bins.edges[0], bins.edges[-1]
    tails = float(np.sum(np.maximum(lo - ref, 0))), float(np.sum(np.maximum(ref - hi, 0)))
    null = W.wasserstein_null(counts, bins.edges, under=tails[0], over=tails[1], atoms=bins.atoms, sd=float(ref.std()))
    assert null is not None
    return null


def old_simulate_w1(wnull: W.WassersteinNull, n: int, m: int, simulations: int = 3_000) -> tuple[float, float, float]:
    """``core.wnull.simulate_w1`` before this change (the baseline): 3,000 Poisson tables in float64, the
    crossing formula evaluated on every interval."""
    p = np.asarray(wnull.p)
    p = p / p.sum()
    key = [zlib.crc32(p.tobytes()), zlib.crc32(np.asarray(wnull.widths).tobytes()), m, n]
    rng = np.random.default_rng(key)
    counts = rng.poisson(n * p, size=(simulations, p.size)).astype(np.float64)
    cur = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    z = rng.standard_normal((simulations, p.size)) * np.sqrt(p / m)
    ref = p + z - np.outer(z.sum(axis=1), p)
    d = np.cumsum(cur - ref, axis=1)[:, :-1]
    a, b = d[:, :-1], d[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(a * b >= 0, 0.5 * np.abs(a + b), (a * a + b * b) / (2.0 * (np.abs(a) + np.abs(b))))
    inner = np.where(np.asarray(wnull.atoms, dtype=bool), np.abs(b), np.nan_to_num(cross))
    w = inner @ np.asarray(wnull.widths) + np.abs(d[:, 0]) * wnull.tails[0] + np.abs(d[:, -1]) * wnull.tails[1]
    t = w / math.sqrt(1.0 / n + 1.0 / m)
    mean, var = float(t.mean()), float(t.var(ddof=1))
    skew = float(np.mean((t - mean) ** 3)) / var**1.5 if var > 0 else 0.0
    return mean, var, skew


def quantile(moments: tuple[float, float, float], q: float = 0.999) -> float:
    """``w1_quantile``'s Pearson III on given moments."""
    mean, var, skew = moments
    nu = 8.0 / max(skew, 0.05) ** 2
    return mean + math.sqrt(var / (2.0 * nu)) * (chi2_ppf(q, nu) - nu)


def cpu(fn: Callable[[], object], reps: int) -> float:
    best = math.inf
    for _ in range(reps):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def cold_cost(shape: str, reps: int, grid: tuple[int, ...]) -> list[str]:
    null = reference_null(shape)
    rows = []
    old = cpu(lambda: [old_simulate_w1(null, g, M) for g in (283, 400)], reps)
    # a fresh null each time (nothing memoised)
    new = cpu(lambda: W.WassersteinNull(null.p, null.widths, null.atoms, null.tails, null.sd).shape_at(300, M), reps)
    rows.append(f"| {shape} | 300 (283 + 400) | {old * 1e3:.0f} | {new * 1e3:.0f} | {old / new:.1f}x |")
    for g in grid:
        old = cpu(functools.partial(old_simulate_w1, null, g, M), reps)
        new = cpu(functools.partial(W.simulate_w1, null, g, M), reps)
        rows.append(f"| {shape} | {g} | {old * 1e3:.0f} | {new * 1e3:.0f} | {old / new:.1f}x |")
    return rows


def same_statistics(shape: str, seeds: int, n: int = 283) -> str:
    null = reference_null(shape)
    old = np.array([quantile(old_simulate_w1(null, n, M + i)) for i in range(seeds)])
    new = np.array([quantile(W.simulate_w1(null, n, M + i)) for i in range(seeds)])
    long = quantile(old_simulate_w1(null, n, M - 1, simulations=30_000))
    spread = [f"{x.mean():.3f} ± {x.std(ddof=1):.3f}" for x in (old, new)]
    return f"| {shape} | {long:.3f} | {spread[0]} | {spread[1]} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    grid = (25, 100, 1131, 3200) if args.full else ()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n| column (200,000 reference rows) | window rows (grid points) | old CPU ms | new CPU ms | old / new |")
    print("|---|---|---|---|---|")
    for shape in SHAPES:
        for row in cold_cost(shape, args.reps, grid):
            print(row, flush=True)
    print(f"\n0.999 quantile of W1/sqrt(h) at 283 rows, {args.seeds} seeds (mean ± sd across seeds):\n")
    print("| column | long plain run (30,000 tables) | old (3,000 tables) | new |")
    print("|---|---|---|---|")
    for shape in SHAPES:
        print(same_statistics(shape, args.seeds), flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
