"""Early looks at an open window: the false-alarm rate with looks on, and the rows needed to alarm.

A column of 10 equiprobable bins (a numerical feature binned on its baseline's deciles) against a reference of
``m`` rows; a window that grows to ``N`` rows is looked at on the schedule of ``driftline.core.looks`` (the rules'
``min_rows``, then each doubling) and judged at the close. The test at each look is the ``auto`` drift threshold
written out: under no drift ``8 · JSD / h`` (JSD in nats, ``h = 1/n + 1/m``) is ≈ χ² with K − 1 degrees of freedom,
so a look at share ``s`` alarms when it exceeds the χ² quantile at ``1 − α·s`` (below 10,000 rows, where that
approximation is too low in the tail, the quantile of the multinomial null, simulated: :func:`critical`).

Printed, for one seeded run:
1. the false-alarm rate per column-window under no drift: close only (today), early looks with the error budget
   spent across looks (``core.looks``), and the naive schedule that judges every look at the full ``α``;
2. for mean shifts of δ σ: the rows (and the hours of a 1-day window) at which the first alarm comes with early
   looks, and the chance that the window alarms at all, beside the close-only test.

    python -m bench.early [--alpha 0.01] [--sims 20000] [--rows 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from driftline.core import looks as L

BINS = 10


@dataclass(frozen=True)
class Outcome:
    alarmed: NDArray[np.bool_]  # per simulated window: alarmed at some look or at the close
    first_rows: NDArray[np.float64]  # the rows at the first alarm (inf: none)


def decile_probs(shift: float) -> NDArray[np.float64]:
    """The probabilities of the reference's 10 decile bins of N(0, 1) under N(shift, 1)."""
    edges = stats.norm.ppf(np.linspace(0, 1, BINS + 1))
    return np.diff(stats.norm.cdf(edges - shift))


def jsd_nats(counts: NDArray[np.int64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """Jensen–Shannon divergence (nats) of each row of ``counts`` against the proportions ``ref`` (rows)."""
    p = counts / counts.sum(axis=1, keepdims=True)
    m = (p + ref) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(ref > 0, ref * np.log(ref / m), 0.0)
    return np.asarray(0.5 * (a.sum(axis=1) + b.sum(axis=1)), dtype=np.float64)


EXACT_BELOW = 10_000  # rows under which the χ² approximation is too low in the tail (2x at n = 100): simulate


@functools.cache
def critical(n: int, tail: float, ref_rows: int, cap: int = 2_000_000) -> float:
    """The ``auto`` threshold of ``8 · JSD / h`` at a window of ``n`` rows for a false-alarm probability ``tail``:
    the χ² quantile where the approximation holds (n ≥ EXACT_BELOW: within 3% of the simulated rate), else the
    quantile of the multinomial null simulated (window and reference drawn from the same proportions), as ``auto``
    does where counts are small. Seeded, and independent of the simulations it judges."""
    if n >= EXACT_BELOW:
        return float(stats.chi2.isf(tail, BINS - 1))
    draws = int(min(cap, max(min(200_000, cap), 50 / tail)))
    rng = np.random.default_rng(n)
    base = decile_probs(0.0)
    null = np.empty(draws)
    for lo in range(0, draws, 250_000):
        size = min(250_000, draws - lo)
        ref = rng.multinomial(ref_rows, base, size=size) / ref_rows
        null[lo : lo + size] = 8.0 * jsd_nats(rng.multinomial(n, base, size=size), ref) / (1.0 / n + 1.0 / ref_rows)
    return float(np.quantile(null, 1.0 - tail))


def simulate(
    *,
    shift: float,
    alpha: float,
    rows: int,
    ref_rows: int,
    min_rows: int,
    sims: int,
    seed: int,
    schedule: str = "spent",
    null_cap: int = 2_000_000,
) -> Outcome:
    """``sims`` windows growing to ``rows``; ``schedule``: ``spent`` (the shares of core.looks), ``naive`` (every
    look at α) or ``close`` (no early look: today). ``null_cap``: the most null draws per simulated quantile (tests
    pass fewer, for speed)."""
    rng = np.random.default_rng(seed)
    base = decile_probs(0.0)
    ref = rng.multinomial(ref_rows, base, size=sims) / ref_rows  # each simulated model has its own reference
    q = decile_probs(shift)
    looks = [] if schedule == "close" else [n for n in L.look_rows_schedule(rows, min_rows) if n < rows]
    points = [*looks, rows]
    counts = np.zeros((sims, BINS), dtype=np.int64)
    alarmed = np.zeros(sims, dtype=bool)
    first = np.full(sims, np.inf)
    done = 0
    for k, n in enumerate(points):
        counts += rng.multinomial(n - done, q, size=sims)
        done = n
        closing = k == len(points) - 1
        share = 1.0 if schedule != "spent" else (L.close_share(len(looks)) if closing else L.look_share(k))
        h = 1.0 / n + 1.0 / ref_rows
        hit = 8.0 * jsd_nats(counts, ref) / h > critical(n, alpha * share, ref_rows, null_cap)
        first = np.where(hit & ~alarmed, float(n), first)
        alarmed |= hit
    return Outcome(alarmed, first)


def far_table(alpha: float, rows: int, ref_rows: int, min_rows: int, sims: int, seed: int) -> list[str]:
    looks = len([n for n in L.look_rows_schedule(rows, min_rows) if n < rows])
    lines = [
        f"False alarms per column-window, no drift: alpha = {alpha}, {sims:,} windows of {rows:,} rows, "
        f"{looks} early looks + the close, reference {ref_rows:,} rows",
        "| schedule | false-alarm rate | 95% interval | vs alpha |",
        "|---|---|---|---|",
    ]
    for schedule, label in (
        ("close", "close only (today)"),
        ("spent", "early looks, budget spent across looks"),
        ("naive", "early looks, alpha at every look"),
    ):
        o = simulate(
            shift=0.0,
            alpha=alpha,
            rows=rows,
            ref_rows=ref_rows,
            min_rows=min_rows,
            sims=sims,
            seed=seed,
            schedule=schedule,
        )
        k = int(o.alarmed.sum())
        lo, hi = stats.binomtest(k, sims).proportion_ci(0.95)
        lines.append(f"| {label} | {k / sims:.5f} | {lo:.5f} – {hi:.5f} | {k / sims / alpha:.2f}x |")
    return lines


def detect_table(alpha: float, rows: int, ref_rows: int, min_rows: int, sims: int, seed: int) -> list[str]:
    lines = [
        f"Rows to the first alarm, mean shift of delta sigma: alpha = {alpha}, a 1-day window of {rows:,} rows "
        f"arriving evenly, {sims:,} windows",
        "| shift (sigma) | JS distance (base 2) | median rows to alarm, early | hours into the day | "
        "alarmed, early | alarmed at the close, today |",
        "|---|---|---|---|---|---|",
    ]
    for shift in (0.02, 0.03, 0.05, 0.1, 0.2, 0.5):
        early = simulate(
            shift=shift, alpha=alpha, rows=rows, ref_rows=ref_rows, min_rows=min_rows, sims=sims, seed=seed
        )
        close = simulate(
            shift=shift, alpha=alpha, rows=rows, ref_rows=ref_rows, min_rows=min_rows, sims=sims, seed=seed,
            schedule="close",
        )  # fmt: skip
        q, p = decile_probs(shift), decile_probs(0.0)
        js = math.sqrt(float(jsd_nats((q * 1e12).astype(np.int64)[None, :], p)[0]) / math.log(2))
        med = float(np.median(early.first_rows))
        hours = "-" if math.isinf(med) else f"{24 * med / rows:.2f}"
        lines.append(
            f"| {shift} | {js:.3f} | {'never (median)' if math.isinf(med) else f'{med:,.0f}'} | {hours} | "
            f"{early.alarmed.mean():.3f} | {close.alarmed.mean():.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alpha", type=float, default=0.01, help="detection.false_alarm_rate (0.01: a precise estimate)")
    p.add_argument("--sims", type=int, default=20_000)
    p.add_argument("--rows", type=int, default=100_000, help="rows of the window when it closes")
    p.add_argument("--ref-rows", type=int, default=60_000)
    p.add_argument("--min-rows", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    print("\n".join(far_table(a.alpha, a.rows, a.ref_rows, a.min_rows, a.sims, a.seed)))
    print()
    print("\n".join(detect_table(a.alpha, a.rows, a.ref_rows, a.min_rows, max(a.sims // 10, 500), a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
