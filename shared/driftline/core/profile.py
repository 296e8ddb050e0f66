"""Mergeable profiles: the aggregates of one file (or one window) against a frozen baseline.

A :class:`Profile` holds, for one (window, segment) group: row and file counts, per-column counts over the
baseline's frozen slots with missing, type-error, out-of-range counts and the sums behind moments; the
confusion counts and per-label score histograms when labels are present; the score-by-prediction counts that
confidence-based performance estimation needs; the sums behind each business metric.

Every part has a zero (``Profile.empty``) and an associative, commutative ``merge`` that covers every field,
so the metrics of any window come out the same whatever the number of files and the order they arrived in.
Profiles serialise to compact JSON-ready dicts (sparse counts) for storage.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftline.core.bins import Resolution

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _add_counts(a: IntArray, b: IntArray, what: str) -> IntArray:
    if a.shape != b.shape:
        raise ValueError(
            f"cannot merge {what}: shapes {a.shape} and {b.shape} differ (profiles of different baselines?)"
        )
    return a + b


def _encode_counts(counts: IntArray) -> dict[str, Any]:
    """Sparse encoding: shape, and the flat indexes and values of the non-zero entries."""
    flat = counts.ravel()
    nz = np.flatnonzero(flat)
    return {"shape": list(counts.shape), "i": nz.tolist(), "v": flat[nz].tolist()}


def _decode_counts(data: dict[str, Any]) -> IntArray:
    shape = tuple(int(s) for s in data["shape"])
    flat = np.zeros(int(np.prod(shape)), dtype=np.int64)
    flat[np.asarray(data["i"], dtype=np.int64)] = np.asarray(data["v"], dtype=np.int64)
    return flat.reshape(shape)


def _fmin(a: float, b: float) -> float:
    return a if b != b or a <= b else b  # NaN (no value yet) loses


def _fmax(a: float, b: float) -> float:
    return a if b != b or a >= b else b


def _num(x: float) -> float | None:
    return None if x != x else x


def _unnum(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """One numerical column in one group. ``counts`` are over the baseline's slots at ``resolution``."""

    resolution: Resolution
    counts: IntArray
    missing: int = 0
    type_errors: int = 0
    total: float = 0.0  # sum of the finite values
    total_sq: float = 0.0  # sum of their squares
    under: float = 0.0  # sum of (edges[0] - x) over finite values below the reference range
    over: float = 0.0  # sum of (x - edges[-1]) over finite values above it
    vmin: float = math.nan
    vmax: float = math.nan

    @property
    def valid(self) -> int:
        return int(self.counts.sum())

    @property
    def out_of_range(self) -> int:
        return int(self.counts[0] + self.counts[-1])

    def merge(self, other: NumericProfile) -> NumericProfile:
        if self.resolution != other.resolution:
            raise ValueError("cannot merge numeric profiles of different resolutions")
        return NumericProfile(
            self.resolution,
            _add_counts(self.counts, other.counts, "numeric counts"),
            self.missing + other.missing,
            self.type_errors + other.type_errors,
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.under + other.under,
            self.over + other.over,
            _fmin(self.vmin, other.vmin),
            _fmax(self.vmax, other.vmax),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "res": self.resolution,
            "c": _encode_counts(self.counts),
            "m": self.missing,
            "te": self.type_errors,
            "s": self.total,
            "s2": self.total_sq,
            "u": self.under,
            "o": self.over,
            "min": _num(self.vmin),
            "max": _num(self.vmax),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericProfile:
        return cls(
            d["res"],
            _decode_counts(d["c"]),
            int(d["m"]),
            int(d["te"]),
            float(d["s"]),
            float(d["s2"]),
            float(d["u"]),
            float(d["o"]),
            _unnum(d["min"]),
            _unnum(d["max"]),
        )


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """One categorical column in one group: counts over ``categories + [other, unseen]``."""

    counts: IntArray
    missing: int = 0
    type_errors: int = 0

    @property
    def valid(self) -> int:
        return int(self.counts.sum())

    @property
    def unseen(self) -> int:
        return int(self.counts[-1])

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        return CategoricalProfile(
            _add_counts(self.counts, other.counts, "category counts"),
            self.missing + other.missing,
            self.type_errors + other.type_errors,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"c": _encode_counts(self.counts), "m": self.missing, "te": self.type_errors}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        return cls(_decode_counts(d["c"]), int(d["m"]), int(d["te"]))


@dataclass(frozen=True, eq=False)
class PerformanceProfile:
    """What the performance metrics need, for rows that carry a label.

    Classification: ``confusion[label_slot, prediction_slot]`` over the class slots; binary with a score:
    ``score_hist[0]`` / ``score_hist[1]`` are the score's slot counts for negative / positive labels.
    Regression: ``reg`` = [n, sum |e|, sum e^2, sum |e / y| (y != 0), n (y != 0), sum y, sum y^2].
    Fairness (binary): ``groups[sensitive column][group] = [tp, fp, fn, tn]`` over the baseline's groups; in
    reference profiles, ``group_scores[sensitive column][group, label]`` = the score's fine slot counts of the
    group's negative / positive labels (each group's calibration).
    """

    labeled: int = 0
    confusion: IntArray | None = None
    score_hist: IntArray | None = None
    reg: FloatArray | None = None
    groups: dict[str, IntArray] = field(default_factory=dict)
    group_scores: dict[str, IntArray] = field(default_factory=dict)

    def merge(self, other: PerformanceProfile) -> PerformanceProfile:
        return PerformanceProfile(
            self.labeled + other.labeled,
            _merge_opt(self.confusion, other.confusion, "confusion counts"),
            _merge_opt(self.score_hist, other.score_hist, "score histograms"),
            _merge_opt_f(self.reg, other.reg),
            _merge_count_dicts(self.groups, other.groups, "fairness confusion counts"),
            _merge_count_dicts(self.group_scores, other.group_scores, "group score histograms"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **({"g": {k: _encode_counts(v) for k, v in sorted(self.groups.items())}} if self.groups else {}),
            **(
                {"gs": {k: _encode_counts(v) for k, v in sorted(self.group_scores.items())}}
                if self.group_scores
                else {}
            ),
            "n": self.labeled,
            "cm": None if self.confusion is None else _encode_counts(self.confusion),
            "sh": None if self.score_hist is None else _encode_counts(self.score_hist),
            "reg": None if self.reg is None else self.reg.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerformanceProfile:
        return cls(
            int(d["n"]),
            None if d["cm"] is None else _decode_counts(d["cm"]),
            None if d["sh"] is None else _decode_counts(d["sh"]),
            None if d["reg"] is None else np.asarray(d["reg"], dtype=np.float64),
            {k: _decode_counts(v) for k, v in d.get("g", {}).items()},
            {k: _decode_counts(v) for k, v in d.get("gs", {}).items()},
        )


def _merge_count_dicts(a: dict[str, IntArray], b: dict[str, IntArray], what: str) -> dict[str, IntArray]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _add_counts(out[k], v, what) if k in out else v
    return out


def _merge_opt(a: IntArray | None, b: IntArray | None, what: str) -> IntArray | None:
    if a is None:
        return b
    if b is None:
        return a
    return _add_counts(a, b, what)


def _merge_opt_f(a: FloatArray | None, b: FloatArray | None) -> FloatArray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


@dataclass(frozen=True, eq=False)
class Profile:
    """All aggregates of one (window, segment) group. ``Profile.empty(baseline_id)`` is the zero of ``merge``."""

    baseline_id: str
    rows: int = 0
    files: int = 0
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    performance: PerformanceProfile = field(default_factory=PerformanceProfile)
    # binary classifiers with a score: estimation[predicted (0 = negative, 1 = positive), score slot]
    estimation: IntArray | None = None
    # business metric name -> [sum, count] over the rows that qualify
    business: dict[str, FloatArray] = field(default_factory=dict)
    # files that arrived in this window (population only): rows read, and rows whose event time was a time error
    # (missing, unparseable, outside the plausible range): ``quality.time_error_rate`` (SPEC §3)
    rows_read: int = 0
    time_errors: int = 0
    # fairness (binary): sensitive column -> per group [rows with a prediction, predicted positives]
    fairness: dict[str, IntArray] = field(default_factory=dict)
    # with a score: sensitive column -> [group, predicted (0 negative, 1 positive), score fine slot] counts
    group_estimation: dict[str, IntArray] = field(default_factory=dict)

    @classmethod
    def empty(cls, baseline_id: str) -> Profile:
        return cls(baseline_id)

    def with_files(self, files: int) -> Profile:
        return replace(self, files=files)

    def merge(self, other: Profile) -> Profile:
        if self.baseline_id != other.baseline_id:
            raise ValueError(
                f"cannot merge profiles of different baselines: {self.baseline_id!r} and {other.baseline_id!r}"
            )
        return Profile(
            self.baseline_id,
            self.rows + other.rows,
            self.files + other.files,
            _merge_dicts(self.numeric, other.numeric),
            _merge_dicts(self.categorical, other.categorical),
            self.performance.merge(other.performance),
            _merge_opt(self.estimation, other.estimation, "estimation counts"),
            _merge_arrays(self.business, other.business),
            self.rows_read + other.rows_read,
            self.time_errors + other.time_errors,
            _merge_count_dicts(self.fairness, other.fairness, "fairness counts"),
            _merge_count_dicts(self.group_estimation, other.group_estimation, "group estimation counts"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "b": self.baseline_id,
            "rows": self.rows,
            "files": self.files,
            "num": {k: v.to_dict() for k, v in sorted(self.numeric.items())},
            "cat": {k: v.to_dict() for k, v in sorted(self.categorical.items())},
            "perf": self.performance.to_dict(),
            "est": None if self.estimation is None else _encode_counts(self.estimation),
            "bus": {k: v.tolist() for k, v in sorted(self.business.items())},
            "read": self.rows_read,
            "terr": self.time_errors,
            **({"fair": {k: _encode_counts(v) for k, v in sorted(self.fairness.items())}} if self.fairness else {}),
            **(
                {"fest": {k: _encode_counts(v) for k, v in sorted(self.group_estimation.items())}}
                if self.group_estimation
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        return cls(
            str(d["b"]),
            int(d["rows"]),
            int(d["files"]),
            {k: NumericProfile.from_dict(v) for k, v in d["num"].items()},
            {k: CategoricalProfile.from_dict(v) for k, v in d["cat"].items()},
            PerformanceProfile.from_dict(d["perf"]),
            None if d["est"] is None else _decode_counts(d["est"]),
            {k: np.asarray(v, dtype=np.float64) for k, v in d["bus"].items()},
            int(d.get("read", 0)),
            int(d.get("terr", 0)),
            {k: _decode_counts(v) for k, v in d.get("fair", {}).items()},
            {k: _decode_counts(v) for k, v in d.get("fest", {}).items()},
        )


def _merge_dicts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k].merge(v) if k in out else v
    return out


def _merge_arrays(a: dict[str, FloatArray], b: dict[str, FloatArray]) -> dict[str, FloatArray]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def merge_all(profiles: list[Profile], baseline_id: str) -> Profile:
    """The merge of any number of profiles (the zero for none): the same as merging them one by one, with
    every count array accumulated in place instead of a new Profile per step (a window of thousands of files).
    """
    for p in profiles:
        if p.baseline_id != baseline_id:
            raise ValueError(f"cannot merge profiles of different baselines: {baseline_id!r} and {p.baseline_id!r}")
    if len(profiles) <= 2:
        total = Profile.empty(baseline_id)
        for p in profiles:
            total = total.merge(p)
        return total
    numeric: dict[str, list[NumericProfile]] = {}
    categorical: dict[str, list[CategoricalProfile]] = {}
    business: dict[str, list[FloatArray]] = {}
    fairness: dict[str, list[IntArray]] = {}
    groups: dict[str, list[IntArray]] = {}
    group_scores: dict[str, list[IntArray]] = {}
    group_estimation: dict[str, list[IntArray]] = {}
    for p in profiles:
        for k, f in p.fairness.items():
            fairness.setdefault(k, []).append(f)
        for k, f in p.performance.groups.items():
            groups.setdefault(k, []).append(f)
        for k, f in p.performance.group_scores.items():
            group_scores.setdefault(k, []).append(f)
        for k, f in p.group_estimation.items():
            group_estimation.setdefault(k, []).append(f)
        for k, n in p.numeric.items():
            numeric.setdefault(k, []).append(n)
        for k, c in p.categorical.items():
            categorical.setdefault(k, []).append(c)
        for k, b in p.business.items():
            business.setdefault(k, []).append(b)
    perf = [p.performance for p in profiles]
    return Profile(
        baseline_id,
        sum(p.rows for p in profiles),
        sum(p.files for p in profiles),
        {k: _merge_numeric(v) for k, v in numeric.items()},
        {k: _merge_categorical(v) for k, v in categorical.items()},
        PerformanceProfile(
            sum(q.labeled for q in perf),
            _sum_counts([q.confusion for q in perf], "confusion counts"),
            _sum_counts([q.score_hist for q in perf], "score histograms"),
            _sum_floats([q.reg for q in perf]),
            {k: _summed(v, "fairness confusion counts") for k, v in groups.items()},
            {k: _summed(v, "group score histograms") for k, v in group_scores.items()},
        ),
        _sum_counts([p.estimation for p in profiles], "estimation counts"),
        {k: functools.reduce(np.add, v) for k, v in business.items()},  # in order, as one-by-one merging
        sum(p.rows_read for p in profiles),
        sum(p.time_errors for p in profiles),
        {k: _summed(v, "fairness counts") for k, v in fairness.items()},
        {k: _summed(v, "group estimation counts") for k, v in group_estimation.items()},
    )


def _summed(arrays: Sequence[IntArray], what: str) -> IntArray:
    out = _sum_counts(arrays, what)
    assert out is not None
    return out


def _sum_counts(arrays: Sequence[IntArray | None], what: str) -> IntArray | None:
    """The sum of the arrays present (None when none is), in place in one copy."""
    out: IntArray | None = None
    for a in arrays:
        if a is None:
            continue
        if out is None:
            out = a.copy()
        elif a.shape != out.shape:
            _add_counts(out, a, what)  # raises, naming the shapes
        else:
            out += a
    return out


def _sum_floats(arrays: Sequence[FloatArray | None]) -> FloatArray | None:
    """The sum of the arrays present, added in order (the same rounding as merging one by one)."""
    out: FloatArray | None = None
    for a in arrays:
        if a is not None:
            out = a.copy() if out is None else np.add(out, a, out=out)
    return out


def _merge_numeric(parts: list[NumericProfile]) -> NumericProfile:
    first = parts[0]
    if any(p.resolution != first.resolution for p in parts):
        raise ValueError("cannot merge numeric profiles of different resolutions")
    counts = _sum_counts([p.counts for p in parts], "numeric counts")
    assert counts is not None
    mins = [p.vmin for p in parts if p.vmin == p.vmin]
    maxs = [p.vmax for p in parts if p.vmax == p.vmax]
    return NumericProfile(
        first.resolution,
        counts,
        sum(p.missing for p in parts),
        sum(p.type_errors for p in parts),
        _fsum_in_order(p.total for p in parts),
        _fsum_in_order(p.total_sq for p in parts),
        _fsum_in_order(p.under for p in parts),
        _fsum_in_order(p.over for p in parts),
        min(mins) if mins else math.nan,
        max(maxs) if maxs else math.nan,
    )


def _merge_categorical(parts: list[CategoricalProfile]) -> CategoricalProfile:
    counts = _sum_counts([p.counts for p in parts], "category counts")
    assert counts is not None
    return CategoricalProfile(counts, sum(p.missing for p in parts), sum(p.type_errors for p in parts))


def _fsum_in_order(values: Any) -> float:
    """Left-to-right float sum (as merging one by one adds), not math.fsum's exactly rounded one."""
    total = 0.0
    for i, v in enumerate(values):
        total = v if i == 0 else total + v
    return float(total)
