"""Drift detection, side by side: Driftline's ``auto`` threshold vs fixed JS 0.1 (Driftline's old default) vs
NannyML's rule vs Evidently's rule — false alarms per column-window at n = 100 .. 1M rows and power for shifts.

All four rules are computed by formula on the same samples (no peer installs):
- Driftline default: the default rules' verdict on a column: on a numerical one JS ``auto`` or W1 ``auto``, each
  at alpha/2 (``core.rules.alpha_shares``), on a categorical one JS ``auto`` at alpha.
- JS ``auto``: JS distance (base 2) on the baseline's 10 quantile bins (+ under/over slots) or categories, above
  ``core.thresholds.auto_threshold`` at ``--alpha`` (the catalogue's effect floor included); also shown without
  the floor, to show the null's calibration at large n.
- W1 ``auto`` (numerical columns): ``drift.wasserstein`` on the 400 fine bins above its ``auto`` threshold
  (``core.wnull``; floor 0.05 reference sd), at the whole alpha.
- Fixed JS 0.1: the same JS distance above 0.1.
- NannyML (univariate drift, Jensen-Shannon): the reference cut in chunks of the window's size; alarm when the
  window's JS is above the chunks' mean + 3 standard deviations (n/a when the reference holds fewer than 2 chunks).
- Evidently (data drift preset defaults): below 1,000 reference rows, KS (numerical) / chi2 (categorical)
  p < 0.05; above, Wasserstein distance normed by the reference's std >= 0.1 (numerical) or JS distance (natural
  log, as scipy's default) >= 0.1 (categorical). Numerical statistics on 400 fine quantile bins.

The power table adds, per shift and n, each statistic at a matched false-alarm rate (JS and W1 with their cut-offs
set at the 1 - alpha quantile of ``--null-windows`` no-drift windows against the same reference) and the oracle:
the most powerful test of that exact shift at alpha (Neyman-Pearson; :func:`oracle`), the ceiling. A last table
lists every cell above the effect floors where a peer's rule catches more than the default, with that peer's
false-alarm rate on the same column and n (:func:`verdict`).

Windows and references are multinomial samples over the bins, from a population of 2M values per column
(numerical) or the category proportions; each reference draw gets its own Driftline null and NannyML chunks.

    python -m bench.detect [--alpha 0.001] [--windows 20000] [--references 10] [--seed 7] [--full]

``--full`` draws 100,000 windows per cell over 20 reference draws (about 5x the default time). The open-window
"time to detect" part lives in its own module: ``bench.detect_early.section(args) -> str``, when that module
exists, is printed after these tables.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from driftline.core import catalogue
from driftline.core import thresholds as T
from driftline.core.bins import NumericBins
from driftline.core.wnull import wasserstein_null

FloatArray = NDArray[np.float64]
NS = (100, 300, 1_000, 10_000, 100_000, 1_000_000)
M = 200_000  # reference rows
DEFAULT_RULE = "driftline default"  # the default rules: JS and W1 auto on a numerical column (alpha/2 each), JS
JS_RULE = "JS auto"  # drift.jensen_shannon above: auto, alone at the whole alpha (the default before W1 joined it)
W1_RULE = "W1 auto"  # drift.wasserstein above: auto, alone at the whole alpha (numerical columns; n/a otherwise)
BARE_RULE = "JS auto, no floor"
PEERS = ("fixed JS 0.1", "NannyML mean+3sd", "Evidently")
RULES = (DEFAULT_RULE, JS_RULE, W1_RULE, BARE_RULE, *PEERS)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # numerical | categorical
    sample: Callable[[np.random.Generator, int], FloatArray]  # numerical: values; categorical: category codes
    k: int = 0  # categories
    valid_share: float = 1.0


def _cat(k: int) -> Callable[[np.random.Generator, int], FloatArray]:
    p = np.geomspace(1.0, 0.02, k)
    p /= p.sum()
    return lambda rng, n: rng.choice(k, size=n, p=p).astype(np.float64)


COLUMNS = (
    Column("normal", "numerical", lambda rng, n: rng.normal(0.0, 1.0, n)),
    Column("lognormal", "numerical", lambda rng, n: rng.lognormal(0.0, 0.8, n)),
    Column(
        "bimodal",
        "numerical",
        lambda rng, n: np.where(rng.random(n) < 0.5, rng.normal(-2, 0.5, n), rng.normal(2, 0.7, n)),
    ),
    Column("integer (Poisson 3)", "numerical", lambda rng, n: rng.poisson(3.0, n).astype(np.float64)),
    Column("4 categories", "categorical", _cat(4), 4),
    Column("10 categories", "categorical", _cat(10), 10),
    Column("40 categories", "categorical", _cat(40), 40),
    Column("200 categories", "categorical", _cat(200), 200),
    Column("normal, 30% missing", "numerical", lambda rng, n: rng.normal(0.0, 1.0, n), valid_share=0.7),
)


@dataclass
class Binned:
    """A column's population on the baseline's slots: fine (numerical: 400 quantile bins + 2 tails) and coarse."""

    fine_p: FloatArray
    coarse_map: NDArray[np.int64]  # fine slot -> coarse slot
    widths: FloatArray  # numerical: the fine intervals' widths (Wasserstein)
    std: float
    atoms: NDArray[np.bool_] | None = None  # numerical: the fine intervals holding one value (discrete columns)


POPULATION = 2_000_000  # values drawn per column to set its population proportions (--population)


def population(col: Column, rng: np.random.Generator, transform: Callable[[FloatArray], FloatArray] | None = None,
               bins: NumericBins | None = None) -> tuple[Binned, NumericBins | None]:  # fmt: skip
    values = col.sample(rng, POPULATION)
    if transform is not None:
        values = transform(values)
    if col.kind == "categorical":
        counts = np.bincount(values.astype(np.int64), minlength=col.k).astype(np.float64)
        k = counts.size
        return Binned(counts / counts.sum(), np.arange(k), np.zeros(0), 0.0), None
    bins = bins or NumericBins.from_sample(values[: POPULATION // 4], fine_bins=400, coarse_bins=10)
    fine = np.bincount(bins.slots(values), minlength=bins.n_slots("fine")).astype(np.float64)
    eye = np.eye(fine.size, dtype=np.int64)
    coarse_map = np.array([int(np.argmax(bins.coarsen(eye[i]))) for i in range(fine.size)], dtype=np.int64)
    widths = np.diff(bins.slot_edges("fine"))
    return Binned(fine / fine.sum(), coarse_map, widths, float(values.std()), bins.interval_atoms("fine")), bins


def _coarse(fine: FloatArray, cmap: NDArray[np.int64]) -> FloatArray:
    out = np.zeros((fine.shape[0], int(cmap.max()) + 1))
    np.add.at(out.T, cmap, fine.T)
    return out


def js2(ref: FloatArray, cur: FloatArray) -> FloatArray:
    """JS distance, base 2, row-wise."""
    return T.metric_scale("jensen_shannon", ref, cur)


def wasserstein_normed(ref: FloatArray, cur: FloatArray, widths: FloatArray, std: float) -> FloatArray:
    """W1 between the fine-bin CDFs (interior intervals, mass uniform within), over the reference's std."""
    fr = np.cumsum(ref, axis=1) / ref.sum(axis=1, keepdims=True)
    fc = np.cumsum(cur, axis=1) / cur.sum(axis=1, keepdims=True)
    diff = np.abs(fr - fc)[:, : widths.size + 1]
    mid = 0.5 * (diff[:, :-1] + diff[:, 1:])
    return (mid * widths).sum(axis=1) / std


def w1_binned(ref: FloatArray, cur: FloatArray, widths: FloatArray, atoms: NDArray[np.bool_] | None) -> FloatArray:
    """W1 row-wise as ``driftline.core.stats.wasserstein_binned`` integrates it on the fine bins (linear within an
    interval, exact where the CDFs cross, constant across an atom interval; no tail sums: the bench has none)."""
    fr = np.cumsum(ref, axis=1) / ref.sum(axis=1, keepdims=True)
    fc = np.cumsum(cur, axis=1) / cur.sum(axis=1, keepdims=True)
    d = (fr - fc)[:, : widths.size + 1]
    a, b = d[:, :-1], d[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(a * b >= 0, 0.5 * np.abs(a + b), (a * a + b * b) / (2.0 * (np.abs(a) + np.abs(b))))
    inner = np.nan_to_num(cross) if atoms is None else np.where(atoms, np.abs(b), np.nan_to_num(cross))
    return inner @ widths


@dataclass
class Reference:
    fine: FloatArray  # (1, slots) counts
    coarse: FloatArray
    null: T.ColumnNull
    nanny: dict[int, float]  # window rows -> NannyML threshold (nan: too few chunks)


def draw_reference(pop: Binned, rng: np.random.Generator, ns: tuple[int, ...], valid_share: float) -> Reference:
    fine = rng.multinomial(int(M * valid_share), pop.fine_p)[None, :].astype(np.float64)
    coarse = _coarse(fine, pop.coarse_map)
    null = T.column_null(coarse[0], seed=int(rng.integers(1 << 30)))
    if pop.widths.size:  # numerical: the drift.wasserstein null on the fine bins, in the column's units
        edges = np.r_[0.0, np.cumsum(pop.widths)]
        wnull = wasserstein_null(fine[0], edges, atoms=pop.atoms, sd=pop.std)
        null = replace(null, wasserstein=wnull)
    nanny: dict[int, float] = {}
    for n in ns:
        nv = max(int(n * valid_share), 1)
        chunks = int(fine.sum()) // nv
        if chunks < 2:
            nanny[n] = math.nan
            continue
        # the reference's chunks: a split of its rows (a multivariate hypergeometric draw per chunk, as sampled
        # without replacement), each compared with the whole reference
        use = min(chunks, 200)
        parts = np.vstack([rng.multivariate_hypergeometric(fine[0].astype(np.int64), nv) for _ in range(use)])
        values = js2(np.broadcast_to(coarse, (use, coarse.shape[1])), _coarse(parts.astype(np.float64), pop.coarse_map))
        nanny[n] = float(values.mean() + 3 * values.std(ddof=1))
    return Reference(fine, coarse, null, nanny)


def alarms(
    col: Column, pop: Binned, ref: Reference, cur_fine: FloatArray, n: int, alpha: float
) -> dict[str, FloatArray]:
    """Each rule's verdicts (True: alarm) on windows of ``n`` rows (``cur_fine``: their fine counts)."""
    cur = _coarse(cur_fine, pop.coarse_map)
    refb = np.broadcast_to(ref.coarse, cur.shape)
    js = js2(refb, cur)
    nv = max(int(n * col.valid_share), 1)
    spec = catalogue.METRICS["drift.jensen_shannon"]
    assert spec.auto is not None
    auto = T.auto_threshold(spec.name, spec.auto, nv, ref.null, alpha, floor=spec.effect_floor)
    bare = T.auto_threshold(spec.name, spec.auto, nv, ref.null, alpha)
    out = {JS_RULE: js > auto, BARE_RULE: js > bare, "fixed JS 0.1": js > 0.1}
    out[W1_RULE] = np.full(js.shape, np.nan)
    out[DEFAULT_RULE] = out[JS_RULE]  # categorical: JS alone, at the whole alpha
    if col.kind == "numerical" and ref.null.wasserstein is not None:
        w_spec = catalogue.METRICS["drift.wasserstein"]
        assert w_spec.auto is not None
        w_auto = T.auto_threshold(w_spec.name, w_spec.auto, nv, ref.null, alpha, floor=w_spec.effect_floor)
        w1 = w1_binned(np.broadcast_to(ref.fine, cur_fine.shape), cur_fine, pop.widths, pop.atoms)
        out[W1_RULE] = w1 > w_auto
        half = alpha / 2.0
        js_half = T.auto_threshold(spec.name, spec.auto, nv, ref.null, half, floor=spec.effect_floor)
        w_half = T.auto_threshold(w_spec.name, w_spec.auto, nv, ref.null, half, floor=w_spec.effect_floor)
        out[DEFAULT_RULE] = (js > js_half) | (w1 > w_half)  # the two default rules, each at alpha/2
    nanny = ref.nanny.get(n, math.nan)
    out["NannyML mean+3sd"] = np.full(js.shape, np.nan) if math.isnan(nanny) else js > nanny
    if col.kind == "categorical":  # natural-log JS distance = base-2 distance x sqrt(ln 2)
        out["Evidently"] = js * math.sqrt(math.log(2.0)) >= 0.1
    else:
        w = wasserstein_normed(np.broadcast_to(ref.fine, cur_fine.shape), cur_fine, pop.widths, pop.std)
        out["Evidently"] = w >= 0.1
    return out


def _rate(v: FloatArray) -> float:
    return math.nan if np.isnan(v).any() else float(np.mean(v))


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}" if x < 0.1 else f"{x:.3f}"


FarTable = dict[tuple[str, int], dict[str, float]]  # (column, n) -> rule -> false-alarm rate


def false_alarms(args: argparse.Namespace, rng: np.random.Generator, table: FarTable | None = None) -> list[str]:
    """The false-alarm table's lines; each cell's rates also into ``table`` (the power verdict reads them)."""
    lines = [
        f"### False alarms per column-window (no drift; alpha = {args.alpha}; reference {M:,} rows; "
        f"{args.windows:,} windows per cell over {args.references} reference draws)",
        "",
        "| column | n | " + " | ".join(RULES) + " |",
        "|---|---:|" + "---:|" * len(RULES),
    ]
    worst, bare, worst_w, worst_both = 0.0, 0.0, 0.0, 0.0
    for col in COLUMNS:
        pop, _ = population(col, rng)
        refs = [draw_reference(pop, rng, NS, col.valid_share) for _ in range(args.references)]
        for n in NS:
            nv = max(int(n * col.valid_share), 1)
            per = args.windows // len(refs)
            verdicts: dict[str, list[FloatArray]] = {r: [] for r in RULES}
            for ref in refs:
                cur = rng.multinomial(nv, pop.fine_p, size=per).astype(np.float64)
                for rule, v in alarms(col, pop, ref, cur, n, args.alpha).items():
                    verdicts[rule].append(np.asarray(v, dtype=np.float64))
            rates = {r: _rate(np.concatenate(v)) for r, v in verdicts.items()}
            if table is not None:
                table[(col.name, n)] = rates
            worst = max(worst, rates[JS_RULE] / args.alpha)
            bare = max(bare, rates[BARE_RULE] / args.alpha)
            worst_both = max(worst_both, rates[DEFAULT_RULE] / args.alpha)
            if not math.isnan(rates[W1_RULE]):
                worst_w = max(worst_w, rates[W1_RULE] / args.alpha)
            lines.append(f"| {col.name} | {n:,} | " + " | ".join(_fmt(rates[r]) for r in RULES) + " |")
    lines += [
        "",
        f"Driftline default (JS and W1 at alpha/2 each on numerical columns, JS on categories), worst cell: "
        f"{worst_both:.2f}x alpha (the contract: within 2x at every n). Its parts alone at the whole alpha: JS auto "
        f"{worst:.2f}x (without the effect floor: {bare:.2f}x), W1 auto (numerical columns) {worst_w:.2f}x.",
        "",
    ]
    return lines


def _shift(d: float) -> Callable[[FloatArray], FloatArray]:
    return lambda x: x + d


def _scale(s: float) -> Callable[[FloatArray], FloatArray]:
    return lambda x: x * s


SHIFTS: tuple[tuple[str, Callable[[FloatArray], FloatArray]], ...] = (
    *((f"mean +{d}σ", _shift(d)) for d in (0.05, 0.1, 0.2, 0.3, 0.5)),
    *((f"scale x{s}", _scale(s)) for s in (1.1, 1.25, 1.5)),
)
MIXES = (0.05, 0.1, 0.2, 0.4)  # 10 categories: this share of the rows moved to the reversed proportions


MATCHED = ("JS, matched FAR", "W1, matched FAR", "oracle")


def oracle(label: str, n: int, alpha: float, p: FloatArray | None = None, q: FloatArray | None = None) -> float:
    """The power of the most powerful test of that exact shift at level ``alpha`` (Neyman-Pearson), on the raw values
    and with the distribution family known: the ceiling no alpha-level rule passes. Mean shift of a normal: the
    one-sided two-sample z-test of the mean (h = 1/n + 1/M); scale change: the one-sided F-test of the variances;
    a category mix: the likelihood ratio of the two known proportion vectors (normal approximation of its sum)."""
    from scipy import stats

    h = 1.0 / n + 1.0 / M
    if label.startswith("mean +"):
        d = float(label.split("+")[1].rstrip("σ"))
        return float(stats.norm.sf(stats.norm.isf(alpha) - d / math.sqrt(h)))
    if label.startswith("scale x"):
        s2 = float(label.split("x")[1]) ** 2
        return float(stats.f.sf(stats.f.isf(alpha, n - 1, M - 1) / s2, n - 1, M - 1))
    assert p is not None and q is not None
    llr = np.log(q / p)
    m0, m1 = float(p @ llr), float(q @ llr)
    v0, v1 = float(p @ llr**2) - m0 * m0, float(q @ llr**2) - m1 * m1
    cut = n * m0 + stats.norm.isf(alpha) * math.sqrt(n * v0)
    return float(stats.norm.sf((cut - n * m1) / math.sqrt(n * v1)))


def matched_cutoffs(
    col: Column, pop: Binned, ref: Reference, n: int, alpha: float, windows: int, rng: np.random.Generator
) -> tuple[float, float]:
    """The (1 - alpha) quantiles of JS (coarse bins) and W1 (fine bins) over ``windows`` no-drift windows against
    ``ref``: each statistic's cut-off re-set so that its false-alarm rate is alpha (conditional on this reference,
    as every rule's power here is)."""
    cur = rng.multinomial(n, pop.fine_p, size=windows).astype(np.float64)
    js = js2(np.broadcast_to(ref.coarse, (windows, ref.coarse.shape[1])), _coarse(cur, pop.coarse_map))
    w = math.nan
    if col.kind == "numerical":
        w1 = w1_binned(np.broadcast_to(ref.fine, cur.shape), cur, pop.widths, pop.atoms)
        w = float(np.quantile(w1, 1.0 - alpha))
    return float(np.quantile(js, 1.0 - alpha)), w


def _peer_statistic(peer: str, column: str) -> str:
    """The matched-FAR column of a peer's statistic: JS for fixed JS 0.1 and NannyML (both judge the JS distance),
    W1 for Evidently on a numerical column, JS on a categorical one (its natural-log JS orders windows the same)."""
    numerical = next(c for c in COLUMNS if c.name == column).kind == "numerical"
    return "W1, matched FAR" if peer == "Evidently" and numerical else "JS, matched FAR"


def verdict(cells: list[tuple[str, str, int, dict[str, float]]], far: FarTable, alpha: float) -> list[str]:
    """Every power cell above the effect floors where a peer's rule catches more drifted windows than Driftline's
    default, with that peer's false-alarm rate on the same column and n (a rule that cries wolf more often than
    2 alpha is not an alpha-level test: its extra catches are the price of its false alarms) and the power of the
    peer's statistic at Driftline's alpha (matched FAR): what the peer's rule would catch if it kept the promise."""
    wins, bought, beaten, worst = [], 0, 0, 0.0
    for label, column, n, rates in cells:
        if label.startswith("mean +0.05"):
            continue  # at the effect floor, not above it
        for peer in PEERS:
            if math.isnan(rates[peer]) or rates[peer] <= rates[DEFAULT_RULE]:
                continue
            peer_far = far.get((column, n), {}).get(peer, math.nan)
            honest = not peer_far > 2 * alpha
            bought += not honest
            at_alpha = rates[_peer_statistic(peer, column)]
            gap = at_alpha - rates[DEFAULT_RULE]
            beaten += gap > 0
            worst = max(worst, gap)
            wins.append(
                f"| {label} | {n:,} | {peer} | {_fmt(rates[peer])} | {_fmt(rates[DEFAULT_RULE])} | {_fmt(peer_far)} "
                f"({peer_far / alpha:.1f}x α) | {'holds α: a real loss' if honest else 'bought with false alarms'} | "
                f"{_fmt(at_alpha)} |"
            )
    head = [
        f"### Where a peer's rule catches more than Driftline's default (above the floors): {len(wins)} cells, "
        f"{bought} of them with the peer crying wolf at more than 2x alpha on the same column and n; at Driftline's "
        f"alpha the peer's statistic catches more in {beaten} of them (by at most {worst:.3f})",
        "",
        "| shift | n | peer | peer's power | Driftline default | peer's false alarms (no drift) | verdict | "
        "peer's statistic at α (matched FAR) |",
        "|---|---:|---|---:|---:|---:|---|---:|",
    ]
    return [*head, *wins, ""]


def power(args: argparse.Namespace, rng: np.random.Generator, far: FarTable | None = None) -> list[str]:
    cols = (*RULES, *MATCHED)
    cells: list[tuple[str, str, int, dict[str, float]]] = []
    lines = [
        f"### Power: share of drifted windows alarmed ({args.power_windows:,} windows per cell; JS = the shift's "
        f"population JS distance; the effect floors are JS {catalogue.METRICS['drift.jensen_shannon'].effect_floor}"
        f" and W1 {catalogue.METRICS['drift.wasserstein'].effect_floor} sd; matched FAR: the statistic's cut-off "
        f"set at the (1 - alpha) quantile of {args.null_windows:,} no-drift windows; oracle: the most powerful "
        "test of that exact shift at alpha)",
        "",
        "| shift | JS | n | " + " | ".join(cols) + " |",
        "|---|---:|---:|" + "---:|" * len(cols),
    ]
    ns = (300, 1_000, 10_000, 100_000)
    normal = COLUMNS[0]
    base, bins = population(normal, rng)
    ref = draw_reference(base, rng, ns, 1.0)
    cases: list[tuple[str, Column, Binned, Reference, FloatArray]] = []
    for label, f in SHIFTS:
        shifted, _ = population(normal, rng, f, bins)
        cases.append((label, normal, shifted, ref, shifted.fine_p))
    cat = COLUMNS[5]
    cbase, _ = population(cat, rng)
    cref = draw_reference(cbase, rng, ns, 1.0)
    for t in MIXES:
        p = (1 - t) * cbase.fine_p + t * cbase.fine_p[::-1]
        cases.append((f"10 categories, {t:.0%} mix", cat, cbase, cref, p))
    cuts = {
        (c.name, n): matched_cutoffs(c, b, r, n, args.alpha, args.null_windows, rng)
        for c, b, r in ((normal, base, ref), (cat, cbase, cref))
        for n in ns
    }
    for label, col, _pop, r, p in cases:
        base_pop = base if col is normal else cbase
        js_pop = float(
            js2(_coarse(base_pop.fine_p[None, :], base_pop.coarse_map), _coarse(p[None, :], base_pop.coarse_map))[0]
        )
        for n in ns:
            cur = rng.multinomial(n, p, size=args.power_windows).astype(np.float64)
            got = alarms(col, base_pop, r, cur, n, args.alpha)
            rates = {k: _rate(np.asarray(v, dtype=np.float64)) for k, v in got.items()}
            js_cut, w_cut = cuts[(col.name, n)]
            rates["JS, matched FAR"] = float(
                np.mean(
                    js2(np.broadcast_to(r.coarse, (cur.shape[0], r.coarse.shape[1])), _coarse(cur, base_pop.coarse_map))
                    > js_cut
                )
            )
            rates["W1, matched FAR"] = (
                math.nan
                if math.isnan(w_cut)
                else float(
                    np.mean(w1_binned(np.broadcast_to(r.fine, cur.shape), cur, base_pop.widths, base_pop.atoms) > w_cut)
                )
            )
            rates["oracle"] = (
                oracle(label, n, args.alpha, cbase.fine_p, p) if col is cat else oracle(label, n, args.alpha)
            )
            lines.append(f"| {label} | {js_pop:.3f} | {n:,} | " + " | ".join(_fmt(rates[k]) for k in cols) + " |")
            cells.append((label, col.name, n, rates))
    return [*lines, "", *verdict(cells, far or {}, args.alpha)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.detect", description=__doc__.split("\n\n")[0])
    ap.add_argument("--alpha", type=float, default=0.001, help="detection.false_alarm_rate (default 0.001)")
    ap.add_argument("--windows", type=int, default=20_000, help="no-drift windows per (column, n) cell")
    ap.add_argument("--power-windows", type=int, default=1_000, help="drifted windows per (shift, n) cell")
    ap.add_argument(
        "--null-windows", type=int, default=20_000, help="no-drift windows per n for the matched-FAR cut-offs"
    )
    ap.add_argument("--references", type=int, default=10, help="reference draws per column")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--population", type=int, default=POPULATION, help="values drawn per column for its population")
    ap.add_argument("--full", action="store_true", help="100,000 no-drift windows per cell, 20 reference draws")
    args = ap.parse_args(argv)
    if args.full:
        args.windows, args.references = 100_000, 20
    return args


def main(argv: list[str] | None = None) -> int:
    global POPULATION
    args = parse_args(argv)
    POPULATION = args.population
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    lines = [f"## bench.detect (seed {args.seed})", ""]
    far: FarTable = {}
    lines += false_alarms(args, rng, far)
    lines += power(args, rng, far)
    try:  # the open-window part (time to detect), when its module is there
        early = importlib.import_module("bench.detect_early")
        lines.append(early.section(args))
    except ModuleNotFoundError:
        pass
    lines.append(f"({time.perf_counter() - started:.0f} s)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
