"""False alarms of the DEFAULT drift rules on real-world columns, through the real code path.

Each data set's rows are the population (its empirical distribution). A reference of ``m`` rows is drawn from them
with replacement and built into a baseline by ``services.profiling.build_baseline`` (from a Parquet file, as the
baseline function does: frozen bins, reference profile, nulls with the chunks' overdispersion). Windows of ``n``
rows are drawn the same way, written to Parquet files with event times that put each window's rows in one 5-minute
window, and profiled by ``services.profiling.profile_file``. Each window is then judged as
``services.evaluate.EvaluateService._judge`` judges a closed window without early looks, without storage:
``core.metrics.window_points`` -> ``core.autonull.auto_context`` -> ``core.rules.default_rules`` / ``targets`` /
``alpha_shares`` -> ``core.rules.judge`` (alpha scale = the target's share x ``core.looks.close_share(0)``). A column
alarms in a window when either of its default drift rules breaches (``drift.jensen_shannon`` and, on a numerical
column, ``drift.wasserstein``, each at alpha/2; JS alone on a categorical one).

Why alpha = 0.01 for the main table: the contract (within 2x of alpha) is checked per (data set, n) cell on a few
thousand column-windows; at 0.01 a cell of 5,000 expects 50 alarms, so 2x is ~7 standard deviations away, while at
0.001 the same cell expects 5. The ``--alpha2`` table (0.001) runs on a subset with tens of thousands of
column-windows per cell, where 2x is visible. The 99% interval is Clopper-Pearson on column-windows; they are not
independent (the columns of one window share its rows, the windows of one reference share its baseline: where n is
large against m, a reference draw's alarms cluster), so it is narrower than the true uncertainty. A cell or a column
is flagged only when its whole interval is above 2 alpha; a flagged column lists its alarms by reference draw.

    python -m bench.detect_real [--seed 11] [--column-windows 6000] [--references 3] [--datasets digits,wine]
                                [--full] [--out bench/results/detect_real.md]

``--full``: 5x the column-windows per cell and 5 reference draws (about 5x the default time).
"""

from __future__ import annotations

import argparse
import io
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.real_data import LOADERS, Data
from driftline.core import rules as R
from driftline.core.autonull import NullCache, auto_context, column_null_for
from driftline.core.baseline import Baseline
from driftline.core.config import ModelConfig, load_config_dict
from driftline.core.looks import close_share
from driftline.core.metrics import compute_metrics, window_points
from driftline.services.profiling import build_baseline, profile_file

NS = (100, 300, 1_000, 10_000)
WIDTH = 300  # 5-minute windows
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the first window
MAX_FILE_WINDOWS = 200  # windows per prediction file (the profiles of one file are held together)
MAX_FILE_ROWS = 2_000_000
OUT = Path(__file__).parent / "results" / "detect_real.md"
# data set -> n of the alpha = 0.001 table (columns x windows enough to see 2x)
SUBSET = (
    ("digits", 300),
    ("digits_edges", 100),
    ("digits_edges", 300),
    ("digits_edges", 1_000),
    ("seattle_weather", 1_000),
    ("airports", 300),
)
# the main table's data sets (digits_edges: only in the alpha2 subset, unless asked for)
MAIN = (
    "digits",
    "breast_cancer",
    "diabetes",
    "wine",
    "seattle_weather",
    "sf_temps",
    "seattle_temps",
    "airports",
    "cars",
)


def config_for(data: Data, alpha: float) -> ModelConfig:
    """The model: a regression on the data set, its columns as features, default rules, 5-minute windows."""
    return load_config_dict(
        {
            "model_id": data.name.replace("_", "-"),
            "task": "regression",
            "window": "5m",
            "columns": {
                "id": "request_id",
                "timestamp": "event_time",
                "prediction": "prediction",
                "features": {"numerical": list(data.numerical), "categorical": list(data.categorical)},
            },
            "detection": {"false_alarm_rate": alpha},
        }
    )


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@dataclass
class Reference:
    baseline: Baseline
    base: dict[tuple[str, str | None, str | None], float]  # the reference's own metric values (relative rules)
    nulls: NullCache = field(default_factory=dict)


def reference(data: Data, table: pa.Table, config: ModelConfig, m: int, rng: np.random.Generator, k: int) -> Reference:
    """A baseline from ``m`` rows drawn with replacement, through ``build_baseline`` (a Parquet reference file)."""
    blob = _parquet(table.take(rng.integers(0, data.rows, m)))
    baseline = build_baseline(
        config, [(f"reference-{k}.parquet", lambda: io.BytesIO(blob))], created_at="2026-01-01T00:00:00Z"
    )
    base: dict[tuple[str, str | None, str | None], float] = {}
    for seg, prof in baseline.reference.items():  # as EvaluateService._baseline_values
        for mp in compute_metrics(prof, baseline, config, segment=seg):
            base[(mp.metric, mp.column, seg if mp.segment is None else mp.segment)] = mp.value
    return Reference(baseline, base)


@dataclass
class Cell:
    """One (data set, n, alpha): column-windows judged and alarmed, per column and per rule."""

    dataset: str
    n: int
    alpha: float
    windows: int = 0
    judged: Counter[str] = field(default_factory=Counter)
    alarms: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)  # (column, metric) -> alarms
    by_ref: Counter[tuple[str, int]] = field(default_factory=Counter)  # (column, reference draw) -> alarms
    notes: dict[str, str] = field(default_factory=dict)  # column -> its null's shape (columns that alarmed)
    seconds: float = 0.0

    @property
    def total_judged(self) -> int:
        return sum(self.judged.values())

    @property
    def total_alarms(self) -> int:
        return sum(self.alarms.values())


Transform = Callable[[pa.Table], pa.Table]


def judge_windows(
    cell: Cell, config: ModelConfig, ref: Reference, table: pa.Table, n: int, windows: int, rng: np.random.Generator,
    transform: Transform | None = None, k: int = 0,
) -> None:  # fmt: skip
    """Draw ``windows`` windows of ``n`` rows, profile them from Parquet files and judge each with the default rules."""
    rules = R.default_rules(config, {(mt, c): v for (mt, c, s), v in ref.base.items() if s is None})
    every = R.targets(rules, [None])
    shares = R.alpha_shares(every)  # each auto rule's share, from every rule in force (as the evaluator does)
    drift = [t for t in every if t.rule.metric.startswith("drift.")]
    per_file = max(1, min(MAX_FILE_WINDOWS, MAX_FILE_ROWS // n))
    done = 0
    while done < windows:
        w = min(per_file, windows - done)
        rows = table.take(rng.integers(0, table.num_rows, w * n))
        if transform is not None:
            rows = transform(rows)
        start = T0 + done * WIDTH
        times = start + (np.arange(w * n) // n) * WIDTH + rng.integers(0, WIDTH, w * n)
        rows = rows.append_column("event_time", pa.array(times.astype(np.int64)))
        result = profile_file(
            io.BytesIO(_parquet(rows)), name=f"w-{done}.parquet", config=config, baseline=ref.baseline,
            now=float(start + (w + 1) * WIDTH),
        )  # fmt: skip
        for (ws, seg), prof in sorted(result.profiles.items(), key=lambda kv: kv[0][0]):
            assert seg is None, "no segments are configured"
            points = window_points(prof, ref.baseline, config, window_start=ws, segment=None)
            auto = auto_context(
                ref.baseline, {None: prof}, config.monitored_columns, config.false_alarm_rate, ref.nulls
            )
            metrics = {(p.metric, p.column, p.segment): (p.value, p.rows) for p in points}
            alarmed, judged = set(), set()
            for t in drift:
                share = close_share(0) * shares.get(t.key, 1.0)
                v = R.judge(t, ws, metrics, ref.base, auto=auto, alpha_scale=share)
                if v.breaching is None or t.column is None:
                    continue
                judged.add(t.column)
                if v.breaching:
                    alarmed.add(t.column)
                    cell.by_rule[(t.column, t.rule.metric)] += 1
            cell.judged.update(judged)
            cell.alarms.update(alarmed)
            cell.by_ref.update((col, k) for col in alarmed)
            cell.windows += 1
        done += w


def run_dataset(
    data: Data, ns: Sequence[int], alpha: float, column_windows: int, references: int, seed: int,
    values_budget: int, transform: Transform | None = None,
) -> list[Cell]:  # fmt: skip
    """Every n of one data set at one alpha: ``references`` baselines of m = max(2,000, 10 x rows) rows, and windows
    enough for ``column_windows`` column-windows per n, within ``values_budget`` values (rows x columns) per n."""
    rng = np.random.default_rng([seed, zlib.crc32(data.name.encode()), round(alpha * 1e6)])
    config = config_for(data, alpha)
    table = data.table()
    m = max(2_000, 10 * data.rows)
    refs = [reference(data, table, config, m, rng, k) for k in range(references)]
    width = len(data.numerical) + len(data.categorical)
    cells = []
    for n in ns:
        started = time.perf_counter()
        windows = max(references, min(-(-column_windows // width), values_budget // (n * width)))
        cell = Cell(data.name, n, alpha)
        for k, ref in enumerate(refs):
            share = windows // references + (k < windows % references)
            judge_windows(cell, config, ref, table, n, share, rng, transform, k)
        cell.notes = {col: slot_note(refs[0], col, n) for col in cell.alarms}
        cell.seconds = time.perf_counter() - started
        cells.append(cell)
    return cells


def slot_note(ref: Reference, column: str, n: int) -> str:
    """What a column's null rests on at ``n``: its rarest compared slot's expected rows per window (below
    ``MIN_EXPECTED`` the null is simulated and fitted by two moments), its overdispersion, its kept categories."""
    null = column_null_for(ref.baseline, column, None, ref.nulls)
    parts = []
    if null is not None:
        how = "chi2" if null.chi2_valid(n) else "simulated null, 2-moment fit"
        parts.append(f"{null.df + 1} slots, the rarest {n * null.p_min:.2g} expected rows a window ({how})")
        if null.tau2 > 0:
            parts.append(f"overdispersion phi {null.phi(n):.2f}")
    slots = ref.baseline.spec.categorical.get(column)
    if slots is not None and slots.truncated:
        prof = ref.baseline.population.categorical[column]
        other = prof.counts[slots.other_slot] / max(prof.valid, 1)
        parts.append(f"{len(slots.categories)} categories kept by reference count, 'other' {other:.0%}")
    return "; ".join(parts)


def clopper_pearson(k: int, n: int, level: float = 0.99) -> tuple[float, float]:
    from scipy import stats

    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def verdict(k: int, n: int, alpha: float) -> str:
    lo, hi = clopper_pearson(k, n)
    if lo > 2.0 * alpha:
        return "**ABOVE 2x α**"
    return "ok" if hi >= alpha else "below α"


def shape(data: Data, column: str) -> str:
    """A column's shape in a few words: distinct values, the top value's share, skewness (numerical)."""
    v = data.columns[column]
    if column in data.categorical:
        vals, counts = np.unique(np.asarray([str(x) for x in v]), return_counts=True)
        return f"{vals.size} categories, top {counts.max() / v.size:.0%}"
    x = v[np.isfinite(v)]
    vals, counts = np.unique(x, return_counts=True)
    sd = float(x.std())
    skew = float(np.mean((x - x.mean()) ** 3) / sd**3) if sd > 0 else math.nan
    missing = 1.0 - x.size / v.size
    return f"{vals.size} distinct, top value {counts.max() / x.size:.0%}, skew {skew:.1f}" + (
        f", {missing:.0%} missing" if missing else ""
    )


def _pct(x: float) -> str:
    return f"{x:.4f}" if x < 0.1 else f"{x:.3f}"


def table_lines(cells: Sequence[Cell], data: dict[str, Data]) -> list[str]:
    lines = [
        "| data set | rows | columns | n | windows | column-windows | false alarms | rate | 99% interval | rate / α "
        "| worst column (alarms / windows) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for c in cells:
        d = data[c.dataset]
        k, tot = c.total_alarms, c.total_judged
        rate = k / tot if tot else math.nan
        lo, hi = clopper_pearson(k, tot) if tot else (math.nan, math.nan)
        worst = max(c.judged, key=lambda col: (c.alarms[col] / c.judged[col], col), default=None)
        wtxt = "-" if worst is None or not c.alarms[worst] else f"{worst} ({c.alarms[worst]} / {c.judged[worst]})"
        lines.append(
            f"| {c.dataset} | {d.rows:,} | {len(d.numerical)} + {len(d.categorical)} | {c.n:,} | {c.windows:,} | "
            f"{tot:,} | {k:,} | {_pct(rate)} | {_pct(lo)} – {_pct(hi)} | {rate / c.alpha:.2f} | {wtxt} | "
            f"{verdict(k, tot, c.alpha) if tot else 'n/a'} |"
        )
    return lines


def flagged(cells: Sequence[Cell], data: dict[str, Data]) -> list[str]:
    """Every column whose own false-alarm rate is above 2 alpha beyond its 99% interval, with its shape and rules."""
    out = []
    for c in cells:
        for col, judged in sorted(c.judged.items()):
            k = c.alarms[col]
            if k and clopper_pearson(k, judged)[0] > 2.0 * c.alpha:
                rules = ", ".join(
                    f"{mt} {c.by_rule[(col, mt)]}" for mt in ("drift.jensen_shannon", "drift.wasserstein")
                )
                out.append(
                    f"- {c.dataset} `{col}` at n = {c.n:,}, α = {c.alpha}: {k} / {judged} windows "
                    f"({k / judged / c.alpha:.1f}x α; by rule: {rules}); shape: {shape(data[c.dataset], col)}; "
                    f"null: {c.notes.get(col, '')}; alarms by reference draw: "
                    f"{' / '.join(str(c.by_ref[(col, r)]) for r in range(1 + max(r for _, r in c.by_ref)))}"
                )
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.detect_real", description=__doc__.split("\n\n")[0])
    ap.add_argument("--alpha", type=float, default=0.01, help="detection.false_alarm_rate of the main table")
    ap.add_argument("--alpha2", type=float, default=0.001, help="the subset's rate (0: skip that table)")
    ap.add_argument("--column-windows", type=int, default=5_000, help="column-windows per (data set, n) cell")
    ap.add_argument("--subset-column-windows", type=int, default=30_000, help="per cell of the --alpha2 table")
    ap.add_argument("--values", type=int, default=24_000_000, help="values (rows x columns) drawn per cell at most")
    ap.add_argument("--references", type=int, default=3, help="reference draws (baselines) per data set")
    ap.add_argument("--datasets", default=",".join(MAIN), help="comma-separated, of: " + ", ".join(LOADERS))
    ap.add_argument("--ns", default=",".join(str(n) for n in NS), help="window rows")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--full", action="store_true", help="5x the column-windows, 5 reference draws")
    ap.add_argument("--out", type=Path, default=OUT, help="the Markdown file written ('-': none)")
    args = ap.parse_args(argv)
    if args.full:
        args.column_windows *= 5
        args.subset_column_windows *= 5
        args.values *= 5
        args.references = 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    ns = tuple(int(x) for x in args.ns.split(","))
    data: dict[str, Data] = {}
    skipped = []
    wanted = args.datasets.split(",")
    for name in dict.fromkeys([*wanted, *(s for s, _ in SUBSET if args.alpha2 > 0 and wanted == list(MAIN))]):
        if name not in LOADERS:
            raise SystemExit(f"unknown data set {name!r} (known: {', '.join(LOADERS)})")
        loaded = LOADERS[name]()
        if loaded is None:
            skipped.append(name)
        else:
            data[name] = loaded
    cells: list[Cell] = []
    for d in data.values():
        if d.name not in wanted:
            continue  # only in the alpha2 subset
        cells += run_dataset(d, ns, args.alpha, args.column_windows, args.references, args.seed, args.values)
    subset: list[Cell] = []
    if args.alpha2 > 0:
        for name, n in SUBSET:
            if name in data and n in ns:
                subset += run_dataset(
                    data[name], (n,), args.alpha2, args.subset_column_windows, args.references, args.seed, args.values
                )
    elapsed = time.perf_counter() - started
    k, tot = sum(c.total_alarms for c in cells), sum(c.total_judged for c in cells)
    lines = [
        f"## bench.detect_real (seed {args.seed}; {args.references} reference draws of m = max(2,000, 10 x rows) rows "
        f"per data set; windows of n rows drawn with replacement from the data set's rows)",
        "",
        f"### The default drift rules at α = {args.alpha} (about {args.column_windows:,} column-windows per cell, at "
        f"most {args.values:,} values drawn)",
        "",
        *table_lines(cells, data),
        "",
        f"All cells: {k:,} false alarms in {tot:,} column-windows = {k / max(tot, 1):.5f} "
        f"({k / max(tot, 1) / args.alpha:.2f}x α).",
    ]
    if subset:
        lines += ["", f"### α = {args.alpha2} (about {args.subset_column_windows:,} column-windows per cell)", ""]
        lines += table_lines(subset, data)
    bad = flagged([*cells, *subset], data)
    lines += ["", "### Columns above 2x α beyond their own 99% interval", "", *(bad or ["none"])]
    if skipped:
        lines += ["", f"Skipped (package not installed): {', '.join(skipped)}."]
    lines += ["", f"({elapsed:.0f} s; `python -m bench.detect_real`)"]
    text = "\n".join(lines)
    print(text)
    if str(args.out) != "-":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
