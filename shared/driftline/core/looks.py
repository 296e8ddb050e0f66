"""Early looks at a window that is still open (SPEC §4): when to look, and how much of the error budget each look
may spend.

A window is looked at as its rows grow, at most once per doubling: the first look once the rows so far reach the
rules' ``min_rows``, the next once they reach twice the rows of the previous look, and so on. A window of ``N`` rows
is therefore looked at no more than ``1 + log2(N / min_rows)`` times (15 looks for 1,000,000 rows from 100), and a
look costs one evaluation, whatever the number of files.

Each look judges ``auto`` rules at a share of the false-alarm rate ``α`` (``alpha_scale`` of ``core.rules.judge``):
look ``k`` (0, 1, 2, …) gets ``s_k = ½ · 1 / ((k + 1)(k + 2))`` — ¼, 1/12, 1/24, 1/40, … — a series that sums to ½
however many looks there are, so the schedule needs no estimate of the window's final size. The close, which judges
the whole window, gets what the looks actually made have left: ``1 − Σ_{k<K} s_k = ½ + 1 / (2(K + 1))`` after ``K``
looks (1 after none: a window with no early look is judged exactly as before). By the union bound the chance that a
column-window that does not drift alarms at some look or at the close is at most ``α``; the looks of one growing
window are strongly positively correlated, so the real rate is lower (``python -m bench.early`` measures it).

Which metrics may be judged on an open window lives in :func:`judged_on_open_window`, the one place to point at the
metric catalogue later.
"""

from __future__ import annotations

import math

from driftline.core.config import AlertRule, ModelConfig

GROWTH = 2.0  # a new look once the rows so far reach this multiple of the previous look's rows
OPEN_SHARE = 0.5  # the part of α that the looks of one window may spend together (the close keeps the rest)


def look_share(k: int) -> float:
    """The share of α that look ``k`` (0-based, in the order looks were made in this window) may spend."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return OPEN_SHARE / ((k + 1) * (k + 2))


def close_share(looks: int) -> float:
    """The share of α left for the close of a window after ``looks`` early looks: ``1 − Σ_{k<looks} look_share(k)``."""
    if looks < 0:
        raise ValueError(f"looks must be >= 0, got {looks}")
    return 1.0 - OPEN_SHARE * (1.0 - 1.0 / (looks + 1))


def next_look_rows(looked_rows: int, min_rows: int) -> int:
    """The rows the open window must reach before its next look: ``min_rows`` before any look, then ``GROWTH`` times
    the rows of the previous look."""
    if looked_rows <= 0:
        return max(1, min_rows)
    return max(min_rows, math.ceil(GROWTH * looked_rows))


def look_rows_schedule(total_rows: int, min_rows: int) -> list[int]:
    """The row counts at which a window growing row by row to ``total_rows`` would be looked at (for benches and
    tests; the evaluator looks at the rows it finds at its ticks, which can only be later and fewer)."""
    out: list[int] = []
    looked = 0
    while (need := next_look_rows(looked, min_rows)) <= total_rows:
        out.append(need)
        looked = need
    return out


def judged_on_open_window(rule: AlertRule, config: ModelConfig) -> bool:
    """Whether ``rule`` is also judged on the window still open (SPEC §4): ``for: 1`` on a rate, distance or
    performance metric. Not ``volume.*`` nor a business sum (``sum``, ``cost_matrix``): they grow with the window,
    so a part of it says nothing about the whole. (At merge: the metric catalogue's per-metric flag.)"""
    if rule.for_windows != 1:
        return False
    family, _, name = rule.metric.partition(".")
    if family in ("drift", "quality", "performance", "estimated", "fairness"):
        return True
    if family == "business":
        kinds = {bm.name: bm.type for bm in config.business_metrics}
        return kinds.get(name) == "mean"
    return False
