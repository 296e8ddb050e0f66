"""The profiler: prepared column batches in, one mergeable :class:`Profile` per (window, segment) out.

Everything is vectorised: a batch is binned once per column, then every group's counts come out of one
``np.bincount`` over ``group * n_slots + slot``. Population groups keep fine numerical slots; segment groups
keep coarse ones (a segment's item stays small whatever the number of segment values).

The input is plain numpy (:class:`PreparedBatch`), built from Arrow batches by ``driftline.io.prepare``; this
module knows nothing of files, formats or AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from driftline.core.baseline import BinSpec, categorical_columns, numeric_columns
from driftline.core.bins import NumericBins, Resolution
from driftline.core.config import ModelConfig
from driftline.core.profile import CategoricalProfile, NumericProfile, PerformanceProfile, Profile

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
GroupKey = tuple[int, str | None]  # (window start, epoch seconds; segment "col=value" or None for everyone)

MISSING_CODE = -2
OUTSIDE_CODE = -1


@dataclass(frozen=True, eq=False)
class NumericInput:
    values: FloatArray  # NaN where missing or not a number
    missing: BoolArray
    type_error: BoolArray


@dataclass(frozen=True, eq=False)
class CategoryInput:
    codes: IntArray  # index into the column's baseline categories; OUTSIDE_CODE (-1) not among them; MISSING_CODE
    type_error: BoolArray | None = None


@dataclass(frozen=True, eq=False)
class PreparedBatch:
    """One batch of rows, every monitored column decoded. Columns absent from the file are absent here."""

    n: int
    window_start: IntArray
    numeric: dict[str, NumericInput] = field(default_factory=dict)
    categorical: dict[str, CategoryInput] = field(default_factory=dict)
    segments: dict[str, IntArray] = field(default_factory=dict)  # code into spec.segments[col]; len() = other
    business: dict[str, tuple[FloatArray, BoolArray]] = field(default_factory=dict)  # values, qualifies


class _Grouping:
    """Rows mapped to dense groups of one kind (population, or one segment column)."""

    def __init__(self, idx: IntArray, keys: list[GroupKey], resolution: Resolution) -> None:
        self.idx = idx
        self.n = len(keys)
        self.keys = keys
        self.resolution: Resolution = resolution
        self.rows = np.bincount(idx, minlength=self.n)

    def count(self, mask: BoolArray | None = None) -> IntArray:
        if mask is None:
            return self.rows
        return np.bincount(self.idx[mask], minlength=self.n)

    def total(self, values: FloatArray, mask: BoolArray) -> FloatArray:
        return np.bincount(self.idx[mask], weights=values[mask], minlength=self.n)

    def sum(self, values: FloatArray) -> FloatArray:
        """Per-group sums of values that are already 0 where they should not count."""
        return np.bincount(self.idx, weights=values, minlength=self.n)

    def hist_ext(self, slots: IntArray, n_slots: int) -> IntArray:
        """Per-group counts of ``slots`` where slot ``n_slots`` (one past the last) marks rows not to count."""
        width = n_slots + 1
        counts = np.bincount(self.idx * width + slots, minlength=self.n * width).reshape(self.n, width)
        return counts[:, :n_slots].astype(np.int64)

    def hist(self, slots: IntArray, n_slots: int, mask: BoolArray | None = None) -> IntArray:
        g, s = (self.idx, slots) if mask is None else (self.idx[mask], slots[mask])
        return np.bincount(g * n_slots + s, minlength=self.n * n_slots).reshape(self.n, n_slots).astype(np.int64)


class ProfileBuilder:
    """Accumulates the profiles of one file (or of any stream of batches)."""

    def __init__(self, config: ModelConfig, spec: BinSpec, baseline_id: str) -> None:
        self.config = config
        self.spec = spec
        self.baseline_id = baseline_id
        self.profiles: dict[GroupKey, Profile] = {}
        self._numeric = [c for c in numeric_columns(config) if c in spec.numeric]
        self._categorical = [c for c in categorical_columns(config) if c in spec.categorical]

    def add(self, batch: PreparedBatch) -> None:
        if batch.n == 0:
            return
        windows, w_idx = np.unique(batch.window_start, return_inverse=True)
        w_idx = w_idx.astype(np.int64)
        groupings = [_Grouping(w_idx, [(int(w), None) for w in windows], "fine")]
        for col, codes in batch.segments.items():
            labels = self.spec.segment_labels(col)
            v = len(labels)
            keys: list[GroupKey] = [(int(w), s) for w in windows for s in labels]
            groupings.append(_Grouping(w_idx * v + codes.astype(np.int64), keys, "coarse"))
        numeric = {c: self._numeric_parts(c, batch) for c in self._numeric}
        for g in groupings:
            self._add_grouping(g, batch, numeric)

    def result(self) -> dict[GroupKey, Profile]:
        """The profiles so far, each counting one file."""
        return {k: p.with_files(1) for k, p in self.profiles.items()}

    # -- per batch ---------------------------------------------------------------------------------------------

    def _numeric_parts(self, col: str, batch: PreparedBatch) -> _NumericParts | None:
        inp = batch.numeric.get(col)
        if inp is None:
            return None
        return _NumericParts(self.spec.numeric[col], inp)

    def _add_grouping(self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None]) -> None:
        present = np.flatnonzero(g.rows)
        num_parts: dict[str, list[NumericProfile]] = {}
        cat_parts: dict[str, list[CategoricalProfile]] = {}
        label = self.config.columns.label
        for col, num in numeric.items():
            if num is None and col == label:
                continue  # labels usually arrive later, in their own files: absent is not missing
            num_parts[col] = self._numeric_profiles(g, num, self.spec.numeric[col])
        for col in self._categorical:
            if col == label and col not in batch.categorical:
                continue
            cat_parts[col] = self._categorical_profiles(g, batch.categorical.get(col), col)
        perf = self._performance(g, batch, numeric)
        est = self._estimation(g, batch, numeric)
        business = {
            name: (g.total(v, m & np.isfinite(v)), g.count(m & np.isfinite(v)))
            for name, (v, m) in batch.business.items()
        }
        for i in present:
            key = g.keys[i]
            prof = Profile(
                self.baseline_id,
                rows=int(g.rows[i]),
                numeric={c: p[i] for c, p in num_parts.items()},
                categorical={c: p[i] for c, p in cat_parts.items()},
                performance=perf[i] if perf is not None else PerformanceProfile(),
                estimation=None if est is None else est[i],
                business={n: np.array([s[i], c[i]], dtype=np.float64) for n, (s, c) in business.items()},
            )
            prev = self.profiles.get(key)
            self.profiles[key] = prof if prev is None else prev.merge(prof)

    def _numeric_profiles(self, g: _Grouping, num: _NumericParts | None, bins: NumericBins) -> list[NumericProfile]:
        n_slots = bins.n_slots(g.resolution)
        if num is None:  # the column is not in the file: every row is missing
            return [NumericProfile(g.resolution, np.zeros(n_slots, np.int64), missing=int(r)) for r in g.rows]
        if g.resolution == "fine":
            counts = num.fine_counts(g)  # sort-based: no per-row binary search
            vmin, vmax = num.extremes(g)
        else:  # segments: coarse slots (a few comparisons per row); no extremes (no metric reads them)
            counts = g.hist_ext(num.coarse, n_slots)
            vmin = vmax = np.full(g.n, np.nan)
        missing = g.count(num.inp.missing)
        type_errors = g.count(num.inp.type_error)
        if g.resolution == "fine":
            total = g.sum(num.x)  # x is 0 where not finite: no mask needed
            total_sq = g.sum(num.x2)
        else:  # moments are kept for the population only: no metric reads a segment's
            total = total_sq = np.zeros(g.n)
        under, over = num.tails(g)
        return [
            NumericProfile(
                g.resolution,
                counts[i],
                int(missing[i]),
                int(type_errors[i]),
                float(total[i]),
                float(total_sq[i]),
                float(under[i]),
                float(over[i]),
                float(vmin[i]),
                float(vmax[i]),
            )
            for i in range(g.n)
        ]

    def _categorical_profiles(self, g: _Grouping, inp: CategoryInput | None, col: str) -> list[CategoricalProfile]:
        slots_def = self.spec.categorical[col]
        if inp is None:
            return [CategoricalProfile(np.zeros(slots_def.n_slots, np.int64), missing=int(r)) for r in g.rows]
        present = inp.codes != MISSING_CODE
        if inp.type_error is not None:
            present &= ~inp.type_error
        slots = np.where(present, slots_def.slots(inp.codes), slots_def.n_slots)
        counts = g.hist_ext(slots, slots_def.n_slots)
        missing = g.count(inp.codes == MISSING_CODE)
        type_errors = g.count(inp.type_error) if inp.type_error is not None else np.zeros(g.n, np.int64)
        return [CategoricalProfile(counts[i], int(missing[i]), int(type_errors[i])) for i in range(g.n)]

    def _performance(
        self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None]
    ) -> list[PerformanceProfile] | None:
        cfg, spec = self.config, self.spec
        label_col, pred_col = cfg.columns.label, cfg.columns.prediction
        if label_col is None:
            return None
        if cfg.task == "regression":
            y_p, p_p = numeric.get(label_col), numeric.get(pred_col)
            if y_p is None or p_p is None:
                return None
            ok = y_p.finite & p_p.finite
            err = np.where(ok, p_p.x - y_p.x, 0.0)
            nz = ok & (y_p.x != 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ape = np.where(nz, np.abs(err / np.where(nz, y_p.x, 1.0)), 0.0)
            reg = np.stack(
                [
                    g.count(ok).astype(np.float64),
                    g.total(np.abs(err), ok),
                    g.total(err * err, ok),
                    g.total(ape, nz),
                    g.count(nz).astype(np.float64),
                    g.total(y_p.x, ok),
                    g.total(y_p.x2, ok),
                ],
                axis=1,
            )
            labeled = g.count(ok)
            return [PerformanceProfile(int(labeled[i]), reg=reg[i]) for i in range(g.n)]
        y_in, p_in = batch.categorical.get(label_col), batch.categorical.get(pred_col)
        if y_in is None or p_in is None or spec.classes is None:
            return None
        n_cls = len(spec.classes.categories) + 1  # the last slot: a class the baseline never saw
        ok = (y_in.codes != MISSING_CODE) & (p_in.codes != MISSING_CODE)
        y = np.where(y_in.codes >= 0, y_in.codes, n_cls - 1)
        p = np.where(p_in.codes >= 0, p_in.codes, n_cls - 1)
        confusion = g.hist(y * n_cls + p, n_cls * n_cls, ok).reshape(g.n, n_cls, n_cls)
        labeled = g.count(ok)
        score_hist: IntArray | None = None
        score_col = cfg.columns.score
        if cfg.task == "binary_classification" and score_col and numeric.get(score_col) is not None:
            sc = numeric[score_col]
            assert sc is not None
            pos = (y_in.codes == spec.positive_index).astype(np.int64)
            n_s = spec.numeric[score_col].n_slots("fine")
            sok = ok & sc.finite
            score_hist = g.hist(pos * n_s + sc.fine, 2 * n_s, sok).reshape(g.n, 2, n_s)
        return [
            PerformanceProfile(int(labeled[i]), confusion[i], None if score_hist is None else score_hist[i])
            for i in range(g.n)
        ]

    def _estimation(
        self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None]
    ) -> IntArray | None:
        cfg, spec = self.config, self.spec
        score_col = cfg.columns.score
        if cfg.task != "binary_classification" or not score_col or spec.classes is None:
            return None
        sc, p_in = numeric.get(score_col), batch.categorical.get(cfg.columns.prediction)
        if sc is None or p_in is None:
            return None
        ok = (p_in.codes != MISSING_CODE) & sc.finite
        pos = (p_in.codes == spec.positive_index).astype(np.int64)
        n_s = spec.numeric[score_col].n_slots("fine")
        return g.hist(pos * n_s + sc.fine, 2 * n_s, ok).reshape(g.n, 2, n_s)


class _NumericParts:
    """A numerical column of one batch, decoded once and shared by every grouping."""

    def __init__(self, bins: NumericBins, inp: NumericInput) -> None:
        self.bins = bins
        self.inp = inp
        x = inp.values
        self.valid = ~(inp.missing | inp.type_error | np.isnan(x))
        self.finite = self.valid & np.isfinite(x)
        self.x = np.where(self.finite, x, 0.0)
        self.x2 = self.x * self.x
        self._values = np.where(self.valid, x, np.nan)  # NaN exactly where not valid
        self._fine: IntArray | None = None
        self._coarse: IntArray | None = None
        self._sorted: dict[int, FloatArray] = {}

    @property
    def fine(self) -> IntArray:
        """Fine slot per row (valid rows; others meaningless), for the per-row score histograms."""
        if self._fine is None:
            self._fine = self.bins.slots(np.where(self.valid, self.inp.values, 0.0))
        return self._fine

    @property
    def coarse(self) -> IntArray:
        """Coarse slot per row, with invalid rows in an extra last slot: ``sum_j (x >= coarse_edges[j])``, the
        same slot as ``searchsorted(coarse_edges, x, "right")`` — a handful of vectorised comparisons."""
        if self._coarse is None:
            acc = np.zeros(self._values.size, np.uint8)  # a byte per row: fewer bytes to move than int64
            for e in self.bins.coarse_edges:
                np.add(acc, self._values >= e, out=acc, casting="unsafe")  # NaN compares False
            c = acc.astype(np.int64)
            c[~self.valid] = self.bins.coarse_edges.size + 1
            self._coarse = c
        return self._coarse

    def _window_sorted(self, g: _Grouping, i: int) -> FloatArray:
        """The valid values of group ``i`` of the population grouping, sorted (NaN-free)."""
        if i not in self._sorted:
            rows = self._values if g.n == 1 else self._values[g.idx == i]
            xs = np.sort(rows)
            self._sorted[i] = xs[: np.searchsorted(xs, np.nan)] if xs.size and np.isnan(xs[-1]) else xs
        return self._sorted[i]

    def fine_counts(self, g: _Grouping) -> IntArray:
        """Fine-slot counts per group: slot k holds edges[k-1] <= x < edges[k], from the sorted values."""
        edges = self.bins.edges
        out = np.zeros((g.n, edges.size + 1), np.int64)
        for i in range(g.n):
            xs = self._window_sorted(g, i)
            below = np.searchsorted(xs, edges, side="left")
            out[i, 0] = below[0]
            out[i, 1:-1] = np.diff(below)
            out[i, -1] = xs.size - below[-1]
        return out

    def extremes(self, g: _Grouping) -> tuple[FloatArray, FloatArray]:
        vmin, vmax = np.full(g.n, np.nan), np.full(g.n, np.nan)
        for i in range(g.n):
            xs = self._window_sorted(g, i)
            fin = xs[np.isfinite(xs)]
            if fin.size:
                vmin[i], vmax[i] = fin[0], fin[-1]
        return vmin, vmax

    def tails(self, g: _Grouping) -> tuple[FloatArray, FloatArray]:
        """Per group: the sums of (edges[0] - x) below the range and (x - edges[-1]) above it (finite x only)."""
        lo, hi = self.bins.edges[0], self.bins.edges[-1]
        x = self.x
        under_rows = np.flatnonzero(self.finite & (x < lo))
        over_rows = np.flatnonzero(self.finite & (x >= hi))
        under = np.bincount(g.idx[under_rows], weights=lo - x[under_rows], minlength=g.n)
        over = np.bincount(g.idx[over_rows], weights=x[over_rows] - hi, minlength=g.n)
        return under, over
