"""The profiler: prepared column batches in, one mergeable :class:`Profile` per (window, segment) out.

Everything is vectorised: a batch is binned once per column, then every group's counts come out of one
``np.bincount`` over ``group * n_slots + slot``. Population groups keep fine numerical slots; segment groups
keep coarse ones (a segment's item stays small whatever the number of segment values). Each scenario is the
population of the rows its condition selects (a boolean mask per batch): the same grouping on those rows, with
fine slots, under the segment ``scenario:<name>``. The population groups also count, per sensitive column and
group, the predictions and the predicted positives, and with labels the confusion counts (fairness).

The input is plain numpy (:class:`PreparedBatch`), built from Arrow batches by ``driftline.io.prepare``; this
module knows nothing of files, formats or AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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
    fairness: dict[str, IntArray] = field(default_factory=dict)  # code into spec.fairness_groups[col]; len() = other
    scenarios: dict[str, BoolArray] = field(default_factory=dict)  # scenario name -> the rows it selects

    def subset(self, mask: BoolArray) -> PreparedBatch:
        """The rows where ``mask`` holds, every column (segments, fairness groups and scenarios left out)."""
        return PreparedBatch(
            int(mask.sum()),
            self.window_start[mask],
            {c: NumericInput(i.values[mask], i.missing[mask], i.type_error[mask]) for c, i in self.numeric.items()},
            {
                c: CategoryInput(i.codes[mask], None if i.type_error is None else i.type_error[mask])
                for c, i in self.categorical.items()
            },
            business={k: (v[mask], q[mask]) for k, (v, q) in self.business.items()},
        )


GroupingKind = Literal["population", "segment"]


class _Grouping:
    """Rows mapped to dense groups of one kind: the population (a group per window) or one segment column (a
    group per window and segment value). Group ``j * v + s`` is window ``windows[j]`` and label ``labels[s]``."""

    def __init__(
        self, idx: IntArray, windows: IntArray, labels: tuple[str | None, ...], kind: GroupingKind, column: str | None
    ) -> None:
        self.idx = idx
        self.windows = windows
        self.labels = labels
        self.v = len(labels)
        self.n = windows.size * self.v
        self.kind: GroupingKind = kind
        self.column = column
        self.resolution: Resolution = "fine" if kind == "population" else "coarse"
        self.rows = np.bincount(idx, minlength=self.n)

    def count(self, mask: BoolArray | None = None) -> IntArray:
        if mask is None:
            return self.rows
        if not mask.any():  # the usual case for missing values and type errors: no pass over idx
            return np.zeros(self.n, np.int64)
        return np.bincount(self.idx[mask], minlength=self.n)

    def total(self, values: FloatArray, mask: BoolArray) -> FloatArray:
        return np.bincount(self.idx[mask], weights=values[mask], minlength=self.n)

    def hist_ext(self, slots: IntArray, n_slots: int) -> IntArray:
        """Per-group counts of ``slots`` where slot ``n_slots`` (one past the last) marks rows not to count."""
        width = n_slots + 1
        counts = np.bincount(self.idx * width + slots, minlength=self.n * width).reshape(self.n, width)
        return counts[:, :n_slots].astype(np.int64)

    def hist(self, slots: IntArray, n_slots: int, mask: BoolArray | None = None) -> IntArray:
        g, s = (self.idx, slots) if mask is None else (self.idx[mask], slots[mask])
        return np.bincount(g * n_slots + s, minlength=self.n * n_slots).reshape(self.n, n_slots).astype(np.int64)


class ProfileBuilder:
    """Accumulates the profiles of one file (or of any stream of batches).

    Each batch adds its per-group arrays, in place, into one :class:`_Block` per (window, grouping): no
    :class:`Profile` is built until :meth:`result`, so the cost per batch does not grow with the number of
    groups times columns of Python objects."""

    def __init__(self, config: ModelConfig, spec: BinSpec, baseline_id: str, *, reference: bool = False) -> None:
        self.config = config
        self.reference = reference  # reference data: also each fairness group's score counts by label
        self.spec = spec
        self.baseline_id = baseline_id
        self._blocks: dict[tuple[int, str | None], _Block] = {}
        self._category_rows: dict[str, tuple[IntArray, BoolArray]] = {}  # per batch: slot per row, missing
        self._numeric = [c for c in numeric_columns(config) if c in spec.numeric]
        self._categorical = [c for c in categorical_columns(config) if c in spec.categorical]

    def add(self, batch: PreparedBatch) -> None:
        if batch.n == 0:
            return
        layout = _Layout(batch.window_start)
        windows, w_idx = layout.windows, layout.w_idx
        groupings = [_Grouping(w_idx, windows, (None,), "population", None)]
        for col, codes in batch.segments.items():
            labels = self.spec.segment_labels(col)
            idx = w_idx * len(labels) + codes.astype(np.int64)
            groupings.append(_Grouping(idx, windows, labels, "segment", col))
        numeric = {c: self._numeric_parts(c, batch, layout) for c in self._numeric}
        self._category_rows = {}
        for i, g in enumerate(groupings):
            self._add_grouping(g, batch, numeric, fairness=i == 0)
        for scenario in self.config.scenarios:
            mask = batch.scenarios.get(scenario.name)
            if mask is None or not mask.any():
                continue
            sub = batch if mask.all() else batch.subset(mask)
            sub_layout = layout if sub is batch else _Layout(sub.window_start)
            label = scenario.segment
            g = _Grouping(sub_layout.w_idx, sub_layout.windows, (label,), "population", label)
            sub_numeric = (
                numeric if sub is batch else {c: self._numeric_parts(c, sub, sub_layout) for c in self._numeric}
            )
            if sub is not batch:
                self._category_rows = {}
            self._add_grouping(g, sub, sub_numeric, fairness=False)

    def result(self) -> dict[GroupKey, Profile]:
        """The profiles so far, one per (window, segment) that holds rows, each counting one file."""
        out: dict[GroupKey, Profile] = {}
        for (window, _), block in self._blocks.items():
            for s in np.flatnonzero(block.rows):
                out[(window, block.labels[s])] = block.profile(int(s), self.baseline_id)
        return out

    # -- per batch ---------------------------------------------------------------------------------------------

    def _numeric_parts(self, col: str, batch: PreparedBatch, layout: _Layout) -> _NumericParts | None:
        inp = batch.numeric.get(col)
        if inp is None:
            return None
        return _NumericParts(self.spec.numeric[col], inp, layout)

    def _add_grouping(
        self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None], *, fairness: bool
    ) -> None:
        parts: dict[_Field, tuple[np.ndarray, _Combine]] = {}
        if fairness:
            for col, arrays in self._fairness(g, batch, numeric).items():
                for name, arr in arrays.items():
                    parts[("fairperf" if name in ("conf", "scores") else "fair", col, name)] = (arr, np.add)
        label = self.config.columns.label
        for col, num in numeric.items():
            if num is None and col == label:
                continue  # labels usually arrive later, in their own files: absent is not missing
            counts, ints, sums, vmin, vmax = self._numeric_arrays(g, num, self.spec.numeric[col])
            parts[("num", col, "counts")] = (counts, np.add)
            parts[("num", col, "ints")] = (ints, np.add)
            parts[("num", col, "sums")] = (sums, np.add)
            parts[("num", col, "min")] = (vmin, np.fmin)  # fmin / fmax: NaN (no value) loses
            parts[("num", col, "max")] = (vmax, np.fmax)
        for col in self._categorical:
            if col == label and col not in batch.categorical:
                continue
            counts, ints = self._categorical_arrays(g, batch.categorical.get(col), col)
            parts[("cat", col, "counts")] = (counts, np.add)
            parts[("cat", col, "ints")] = (ints, np.add)
        perf = self._performance(g, batch, numeric)
        if perf is not None:
            for name, arr in perf.items():
                parts[("perf", None, name)] = (arr, np.add)
        est = self._estimation(g, batch, numeric)
        if est is not None:
            parts[("est", None, "counts")] = (est, np.add)
        for name, (amounts, m) in batch.business.items():
            ok = m & np.isfinite(amounts)
            sums = np.stack([g.total(amounts, ok), g.count(ok).astype(np.float64)], axis=1)
            parts[("bus", name, "sums")] = (sums, np.add)
        v = g.v
        for j, window in enumerate(g.windows):
            rows = g.rows[j * v : (j + 1) * v]
            present = rows > 0
            if not present.any():
                continue
            key = (int(window), g.column)
            block = self._blocks.get(key)
            if block is None:
                block = self._blocks[key] = _Block(g.labels, g.resolution)
            block.rows += rows
            for fld, (arr, combine) in parts.items():
                block.add(fld, arr[j * v : (j + 1) * v], present, combine)

    def _numeric_arrays(
        self, g: _Grouping, num: _NumericParts | None, bins: NumericBins
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
        """Per group: slot counts, [missing, type errors], [total, total_sq, under, over], min and max."""
        n_slots = bins.n_slots(g.resolution)
        nan = np.full(g.n, np.nan)
        if num is None:  # the column is not in the file: every row is missing
            ints = np.stack([g.rows, np.zeros(g.n, np.int64)], axis=1)
            return np.zeros((g.n, n_slots), np.int64), ints, np.zeros((g.n, 4)), nan, nan
        ints = np.stack([g.count(num.inp.missing), g.count(num.inp.type_error)], axis=1)
        if g.kind == "population":  # fine counts, moments, tails and extremes, from each window's sorted values
            w = num.window_stats()
            return w.counts, ints, np.stack([w.total, w.total_sq, w.under, w.over], axis=1), w.vmin, w.vmax
        # segments: coarse slots (a few comparisons per row); no moments or extremes (no metric reads them)
        under, over = num.tails(g)
        zeros = np.zeros(g.n)
        return g.hist_ext(num.coarse, n_slots), ints, np.stack([zeros, zeros, under, over], axis=1), nan, nan

    def _categorical_arrays(self, g: _Grouping, inp: CategoryInput | None, col: str) -> tuple[IntArray, IntArray]:
        """Per group: slot counts and [missing, type errors]."""
        slots_def = self.spec.categorical[col]
        if inp is None:
            return np.zeros((g.n, slots_def.n_slots), np.int64), np.stack([g.rows, np.zeros(g.n, np.int64)], axis=1)
        rows = self._category_rows.get(col)
        if rows is None:  # once per batch, shared by every grouping: slot per row (n_slots: not counted)
            missing_rows = inp.codes == MISSING_CODE
            slots = slots_def.slots(inp.codes)
            slots[missing_rows] = slots_def.n_slots
            if inp.type_error is not None:
                slots[inp.type_error] = slots_def.n_slots
            rows = self._category_rows[col] = (slots, missing_rows)
        slots, missing_rows = rows
        counts = g.hist_ext(slots, slots_def.n_slots)
        missing = g.count(missing_rows)
        type_errors = g.count(inp.type_error) if inp.type_error is not None else np.zeros(g.n, np.int64)
        return counts, np.stack([missing, type_errors], axis=1)

    def _performance(
        self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None]
    ) -> dict[str, np.ndarray] | None:
        """Per group: the :class:`PerformanceProfile` fields, as arrays (``labeled``, and ``confusion`` and
        ``score_hist``, or ``reg``)."""
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
            return {"labeled": labeled, "reg": reg}
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
        out: dict[str, np.ndarray] = {"labeled": labeled, "confusion": confusion}
        if score_hist is not None:
            out["score_hist"] = score_hist
        return out

    def _fairness(
        self, g: _Grouping, batch: PreparedBatch, numeric: dict[str, _NumericParts | None]
    ) -> dict[str, dict[str, IntArray]]:
        """Per population group (window) and sensitive column (binary only): ``pred`` ``[groups, 2]`` counts of
        rows with a prediction and predicted positives; with labels ``conf`` ``[groups, 4]`` confusion counts tp,
        fp, fn, tn; with a score ``est`` ``[groups, 2, slots]`` (predicted negative / positive by score slot), and
        in reference data with labels ``scores`` ``[groups, 2, slots]`` (negative / positive label by slot)."""
        cfg, spec = self.config, self.spec
        p_in = batch.categorical.get(cfg.columns.prediction)
        if cfg.task != "binary_classification" or p_in is None or not batch.fairness:
            return {}
        positive = spec.positive_index
        has_pred = p_in.codes != MISSING_CODE
        pred_pos = (p_in.codes == positive).astype(np.int64)
        y_in = batch.categorical.get(cfg.columns.label) if cfg.columns.label else None
        labeled = None if y_in is None else has_pred & (y_in.codes != MISSING_CODE)
        cell = None
        if y_in is not None:  # tp 0, fp 1, fn 2, tn 3
            cell = 2 * (1 - pred_pos) + (y_in.codes != positive).astype(np.int64)
        sc = numeric.get(cfg.columns.score) if cfg.columns.score else None
        n_s = 0 if sc is None or cfg.columns.score is None else spec.numeric[cfg.columns.score].n_slots("fine")
        out: dict[str, dict[str, IntArray]] = {}
        for col, codes in batch.fairness.items():
            n_groups = len(spec.fairness_groups[col]) + 1
            idx = g.idx * n_groups + codes
            size = g.n * n_groups
            counts = np.bincount(idx[has_pred] * 2 + pred_pos[has_pred], minlength=size * 2).reshape(g.n, n_groups, 2)
            arrays = {"pred": np.stack([counts[..., 0] + counts[..., 1], counts[..., 1]], axis=-1).astype(np.int64)}
            if cell is not None and labeled is not None:
                flat = np.bincount(idx[labeled] * 4 + cell[labeled], minlength=size * 4)
                arrays["conf"] = flat.reshape(g.n, n_groups, 4).astype(np.int64)
            if sc is not None:
                ok = has_pred & sc.finite
                slots = (idx[ok] * 2 + pred_pos[ok]) * n_s + sc.fine[ok]
                arrays["est"] = np.bincount(slots, minlength=size * 2 * n_s).reshape(g.n, n_groups, 2, n_s)
                if self.reference and y_in is not None and labeled is not None:
                    ok = labeled & sc.finite
                    y_pos = (y_in.codes == positive).astype(np.int64)
                    slots = (idx[ok] * 2 + y_pos[ok]) * n_s + sc.fine[ok]
                    arrays["scores"] = np.bincount(slots, minlength=size * 2 * n_s).reshape(g.n, n_groups, 2, n_s)
            out[col] = arrays
        return out

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


_Field = tuple[str, str | None, str]  # (part, column or name, field)
_Combine = Callable[..., np.ndarray]


class _Block:
    """The accumulated arrays of one (window, grouping): every field holds one row per group value (segment
    value, or the one population group), plus where the field was seen — a group's profile carries a field
    only if some batch with rows in that group had it, exactly as merging per-batch profiles would."""

    def __init__(self, labels: tuple[str | None, ...], resolution: Resolution) -> None:
        self.labels = labels
        self.resolution: Resolution = resolution
        self.rows = np.zeros(len(labels), np.int64)
        self.fields: dict[_Field, tuple[np.ndarray, BoolArray]] = {}

    def add(self, fld: _Field, part: np.ndarray, present: BoolArray, combine: _Combine) -> None:
        have = self.fields.get(fld)
        if have is None:
            self.fields[fld] = (part.copy(), present.copy())
            return
        values, seen = have
        combine(values, part, out=values)
        seen |= present

    def _get(self, fld: _Field, s: int) -> np.ndarray | None:
        have = self.fields.get(fld)
        if have is None or not have[1][s]:
            return None
        return np.asarray(have[0][s])

    def profile(self, s: int, baseline_id: str) -> Profile:
        numeric: dict[str, NumericProfile] = {}
        categorical: dict[str, CategoricalProfile] = {}
        business: dict[str, FloatArray] = {}
        fairness: dict[str, IntArray] = {}
        group_estimation: dict[str, IntArray] = {}
        groups: dict[str, IntArray] = {}
        group_scores: dict[str, IntArray] = {}
        for (part, col, name), (values, seen) in self.fields.items():
            if not seen[s] or col is None:
                continue
            if part == "num" and name == "counts":
                ints, sums = self.fields[(part, col, "ints")][0][s], self.fields[(part, col, "sums")][0][s]
                vmin, vmax = self.fields[(part, col, "min")][0][s], self.fields[(part, col, "max")][0][s]
                numeric[col] = NumericProfile(
                    self.resolution,
                    values[s].copy(),
                    int(ints[0]),
                    int(ints[1]),
                    float(sums[0]),
                    float(sums[1]),
                    float(sums[2]),
                    float(sums[3]),
                    float(vmin),
                    float(vmax),
                )
            elif part == "cat" and name == "counts":
                ints = self.fields[(part, col, "ints")][0][s]
                categorical[col] = CategoricalProfile(values[s].copy(), int(ints[0]), int(ints[1]))
            elif part == "bus":
                business[col] = values[s].copy()
            elif part == "fair":
                (fairness if name == "pred" else group_estimation)[col] = values[s].astype(np.int64)
            elif part == "fairperf":
                (groups if name == "conf" else group_scores)[col] = values[s].astype(np.int64)
        labeled = self._get(("perf", None, "labeled"), s)
        performance = PerformanceProfile()
        if labeled is not None:
            confusion, score_hist, reg = (self._get(("perf", None, f), s) for f in ("confusion", "score_hist", "reg"))
            performance = PerformanceProfile(
                int(labeled),
                None if confusion is None else confusion.copy(),
                None if score_hist is None else score_hist.copy(),
                None if reg is None else reg.copy(),
                groups,
                group_scores,
            )
        est = self._get(("est", None, "counts"), s)
        return Profile(
            baseline_id,
            rows=int(self.rows[s]),
            files=1,
            numeric=numeric,
            categorical=categorical,
            performance=performance,
            estimation=None if est is None else est.copy(),
            business=business,
            fairness=fairness,
            group_estimation=group_estimation,
        )


class _Layout:
    """The distinct windows of a batch (ascending), each row's index among them, and where each window's rows
    are: rows ``order[bounds[i]:bounds[i+1]]``. Rows in time order, as logs usually are, need neither
    ``np.unique``'s sort nor an ``order`` (None). Computed once per batch, shared by every column."""

    def __init__(self, window_start: IntArray) -> None:
        ws = window_start
        if ws.size > 1 and not np.all(ws[1:] >= ws[:-1]):
            windows, inverse = np.unique(ws, return_inverse=True)
            self.w_idx: IntArray = inverse.astype(np.int64)
            self.order: IntArray | None = np.argsort(self.w_idx, kind="stable")
            self.bounds = np.searchsorted(self.w_idx[self.order], np.arange(windows.size + 1), side="left")
        else:
            change = np.flatnonzero(ws[1:] != ws[:-1]) + 1
            step = np.zeros(ws.size, np.int64)
            step[change] = 1
            self.w_idx = np.cumsum(step)
            self.order = None
            windows = ws[np.concatenate(([0], change))]
            self.bounds = np.concatenate(([0], change, [ws.size]))
        self.windows: IntArray = windows.astype(np.int64)
        self.n = self.windows.size


@dataclass(frozen=True, eq=False)
class _GroupStats:
    """Per group: fine counts, sums, tails and extremes of the valid values."""

    counts: IntArray
    total: FloatArray
    total_sq: FloatArray
    under: FloatArray
    over: FloatArray
    vmin: FloatArray
    vmax: FloatArray


class _NumericParts:
    """A numerical column of one batch, decoded once and shared by every grouping."""

    def __init__(self, bins: NumericBins, inp: NumericInput, layout: _Layout) -> None:
        self.bins = bins
        self.inp = inp
        self.layout = layout
        x = inp.values  # NaN where missing or not a number (NumericInput); made sure of below
        self.valid = ~np.isnan(x)
        flagged = self.valid & (inp.missing | inp.type_error)
        if flagged.any():
            x = np.where(flagged, np.nan, x)
            self.valid &= ~flagged
        self._values = x
        self._finite: BoolArray | None = None
        self._x: FloatArray | None = None
        self._fine: IntArray | None = None
        self._coarse: IntArray | None = None
        self._stats: _GroupStats | None = None
        self._tail_rows: tuple[IntArray, FloatArray, IntArray, FloatArray] | None = None

    @property
    def finite(self) -> BoolArray:
        if self._finite is None:
            self._finite = np.isfinite(self._values)
        return self._finite

    @property
    def x(self) -> FloatArray:
        """The values, 0 where not finite (sums need no mask)."""
        if self._x is None:
            self._x = np.where(self.finite, self._values, 0.0)
        return self._x

    @property
    def x2(self) -> FloatArray:
        return self.x * self.x

    @property
    def fine(self) -> IntArray:
        """Fine slot per row (valid rows; others meaningless), for the per-row score histograms."""
        if self._fine is None:
            self._fine = self.bins.slots(np.where(self.valid, self._values, 0.0))
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

    def window_stats(self) -> _GroupStats:
        """One sort per window gives its fine counts (slot k holds edges[k-1] <= x < edges[k]), its sums and
        sums of squares (finite values), its tails (sums of edges[0] - x below the range, x - edges[-1] at
        or above it) and its extremes — no per-row binning and no weighted bincount."""
        if self._stats is not None:
            return self._stats
        lay, edges = self.layout, self.bins.edges
        lo, hi = edges[0], edges[-1]
        n = lay.n
        counts = np.zeros((n, edges.size + 1), np.int64)
        total, total_sq, under, over = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        vmin, vmax = np.full(n, np.nan), np.full(n, np.nan)
        values = self._values if lay.order is None else self._values[lay.order]
        for i in range(n):
            xs = np.sort(values[lay.bounds[i] : lay.bounds[i + 1]])
            xs = xs[: np.searchsorted(xs, np.nan)] if np.isnan(xs[-1]) else xs  # NaN sorts last
            below = np.searchsorted(xs, edges, side="left")
            counts[i, 0] = below[0]
            counts[i, 1:-1] = np.diff(below)
            counts[i, -1] = xs.size - below[-1]
            fin = xs[np.searchsorted(xs, -np.inf, side="right") : np.searchsorted(xs, np.inf, side="left")]
            if fin.size:
                total[i] = fin.sum()
                total_sq[i] = (fin * fin).sum()  # not np.dot: BLAS threads spin on a busy machine
                vmin[i], vmax[i] = fin[0], fin[-1]
                k, j = np.searchsorted(fin, (lo, hi), side="left")
                under[i] = (lo - fin[:k]).sum()
                over[i] = (fin[j:] - hi).sum()
        self._stats = _GroupStats(counts, total, total_sq, under, over, vmin, vmax)
        return self._stats

    def tails(self, g: _Grouping) -> tuple[FloatArray, FloatArray]:
        """Per group: the sums of (edges[0] - x) below the range and (x - edges[-1]) at or above it (finite x)."""
        if self._tail_rows is None:
            lo, hi = self.bins.edges[0], self.bins.edges[-1]
            x = self._values
            with np.errstate(invalid="ignore"):
                under_rows = np.flatnonzero((x < lo) & (x > -np.inf))
                over_rows = np.flatnonzero((x >= hi) & (x < np.inf))
            self._tail_rows = (under_rows, lo - x[under_rows], over_rows, x[over_rows] - hi)
        under_rows, under_by, over_rows, over_by = self._tail_rows
        under = np.bincount(g.idx[under_rows], weights=under_by, minlength=g.n)
        over = np.bincount(g.idx[over_rows], weights=over_by, minlength=g.n)
        return under, over
