"""Metrics (SPEC §3) from a merged profile and the baseline it was profiled against.

``compute_metrics(profile, baseline, config, segment=...)`` returns every metric that applies, per column where
it applies; the caller attaches the window and segment. A metric whose value is undefined on the data (a
precision with no predicted positive, a drift with no valid value) is left out rather than reported as NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from driftline.core import catalogue, stats
from driftline.core.baseline import Baseline, BinSpec
from driftline.core.bins import NumericBins, Resolution
from driftline.core.config import BusinessMetric, ModelConfig
from driftline.core.fairness import group_metrics
from driftline.core.profile import CategoricalProfile, NumericProfile, PerformanceProfile, Profile

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MetricValue:
    metric: str
    column: str | None
    value: float
    segment: str | None = None  # fairness: the group ("<column>=<group>"); None: the profile's own segment
    rows: int | None = None  # fairness: the group's rows (labelled rows for label metrics); None: the profile's

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))  # a plain float, never a numpy scalar


def compute_metrics(
    profile: Profile, baseline: Baseline, config: ModelConfig, *, segment: str | None = None
) -> list[MetricValue]:
    """Every metric of one (window, segment) group. ``segment`` picks the reference the window is compared to."""
    if profile.baseline_id != baseline.baseline_id:
        raise ValueError(
            f"profile of baseline {profile.baseline_id!r} cannot be compared with baseline {baseline.baseline_id!r}"
        )
    ref = baseline.reference_for(segment)
    out: list[MetricValue] = [
        MetricValue("volume.rows", None, float(profile.rows)),
        MetricValue("volume.files", None, float(profile.files)),
    ]
    if profile.rows_read > 0:  # files arrived in this window (SPEC §3: time errors count where their file arrived)
        out.append(MetricValue("quality.time_error_rate", None, profile.time_errors / profile.rows_read))
    spec = baseline.spec
    for col in config.monitored_columns:
        if col in spec.numeric and col in profile.numeric:
            out += numeric_column_metrics(
                col, profile.numeric[col], ref.numeric.get(col), spec.numeric[col], profile.rows
            )
        elif col in spec.categorical and col in profile.categorical:
            out += categorical_column_metrics(col, profile.categorical[col], ref.categorical.get(col), profile.rows)
    out += performance_metrics(config, spec, profile.performance, prefix="performance")
    if profile.estimation is not None and baseline.calibration is not None:
        out += estimated_metrics(config, profile.estimation, baseline.calibration)
    for bm in config.business_metrics:
        value = business_value(bm, profile, spec)
        if value is not None:
            out.append(MetricValue(f"business.{bm.name}", None, value))
    if segment is None:
        out += fairness_metrics(profile, baseline, config)
    return out


def fairness_metrics(profile: Profile, baseline: Baseline, config: ModelConfig) -> list[MetricValue]:
    """``fairness.*`` per group of each sensitive column against its reference group (core/fairness.py), and
    with a score ``estimated.*`` per group from each group's own calibration (core/group_estimation.py)."""
    out: list[MetricValue] = []
    spec = baseline.spec
    for col in spec.fairness_groups:
        labels = spec.group_labels(col)
        pred, conf = profile.fairness.get(col), profile.performance.groups.get(col)
        if pred is not None or conf is not None:
            for v in group_metrics(col, labels, spec.reference_group(col), pred, conf):
                out.append(MetricValue(v.metric, v.column, v.value, v.segment, v.rows))
        est, calibration = profile.group_estimation.get(col), baseline.group_calibration.get(col)
        if est is None or calibration is None or calibration.shape[0] != est.shape[0]:
            continue
        for g, label in enumerate(labels):
            rows = int(est[g].sum())
            for m in estimated_metrics(config, est[g], calibration[g]) if rows else []:
                out.append(MetricValue(m.metric, col, m.value, label, rows))
    return out


def _rate(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def _quality(col: str, rows: int, missing: int, type_errors: int) -> list[MetricValue]:
    out = []
    if rows > 0:
        out.append(MetricValue("quality.missing_rate", col, missing / rows))
        out.append(MetricValue("quality.type_error_rate", col, type_errors / rows))
    return out


def numeric_column_metrics(
    col: str, cur: NumericProfile, ref: NumericProfile | None, bins: NumericBins, rows: int
) -> list[MetricValue]:
    out = _quality(col, rows, cur.missing, cur.type_errors)
    oor = _rate(cur.out_of_range, cur.valid)
    if oor is not None:
        out.append(MetricValue("quality.out_of_range_rate", col, oor))
    if ref is None or cur.valid == 0 or ref.valid == 0:
        return out
    # Both sides on the same slots: the coarser of the two resolutions.
    res: Resolution = "fine" if cur.resolution == ref.resolution == "fine" else "coarse"
    c_counts = cur.counts if cur.resolution == res else bins.coarsen(cur.counts)
    r_counts = ref.counts if ref.resolution == res else bins.coarsen(ref.counts)
    c_coarse = c_counts if res == "coarse" else bins.coarsen(c_counts)
    r_coarse = r_counts if res == "coarse" else bins.coarsen(r_counts)
    slots = {"coarse": (r_coarse, c_coarse), "fine": (r_counts, c_counts)}
    for stat in catalogue.drift_stats("numerical"):
        assert stat.binning is not None
        r, c = slots[stat.binning]
        if stat.func is not None:
            value = stat.func(r, c)
        else:  # wasserstein: needs the edges and the tails, in the column's units
            value = stats.wasserstein_binned(
                r,
                c,
                edges=bins.slot_edges(res),
                ref_tails=(ref.under, ref.over),
                cur_tails=(cur.under, cur.over),
                atoms=bins.interval_atoms(res),
            )
        if math.isfinite(value):
            out.append(MetricValue(stat.name, col, value))
    return out


def categorical_column_metrics(
    col: str, cur: CategoricalProfile, ref: CategoricalProfile | None, rows: int
) -> list[MetricValue]:
    out = _quality(col, rows, cur.missing, cur.type_errors)
    unseen = _rate(cur.unseen, cur.valid)
    if unseen is not None:
        out.append(MetricValue("quality.unseen_category_rate", col, unseen))
    if ref is None or cur.valid == 0 or ref.valid == 0:
        return out
    for stat in catalogue.drift_stats("categorical"):
        if stat.func is not None:
            out.append(MetricValue(stat.name, col, stat.func(ref.counts, cur.counts)))
    return out


# -- performance ---------------------------------------------------------------------------------------------------


def binary_from_confusion(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    """accuracy, precision, recall, f1 from confusion counts; undefined ratios are left out."""
    out: dict[str, float] = {}
    n = tp + fp + fn + tn
    if n > 0:
        out["accuracy"] = (tp + tn) / n
    if tp + fp > 0:
        out["precision"] = tp / (tp + fp)
    if tp + fn > 0:
        out["recall"] = tp / (tp + fn)
    if 2 * tp + fp + fn > 0:
        out["f1"] = 2 * tp / (2 * tp + fp + fn)
    return out


def binned_roc_auc(neg: FloatArray, pos: FloatArray) -> float | None:
    """ROC AUC from per-slot counts of negatives and positives over ordered score slots: the probability that a
    random positive scores above a random negative, ties (same slot) counting one half (Hanley & McNeil, 1982)."""
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos <= 0 or n_neg <= 0:
        return None
    pos_above = np.cumsum(pos[::-1])[::-1] - pos  # positives in strictly higher slots
    return float(np.sum(neg * (pos_above + 0.5 * pos)) / (n_pos * n_neg))


def confusion_binary(confusion: IntArray, positive: int) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of a confusion matrix ``[label, prediction]`` whose last row and column are the class the
    baseline never saw. A row whose label is such a class is none of the four (it is no true negative: it shows in
    the label's ``quality.unseen_category_rate``); a prediction of such a class is not a positive prediction."""
    known = confusion[:-1, :]
    tp = int(known[positive, positive])
    fp = int(known[:, positive].sum()) - tp
    fn = int(known[positive, :].sum()) - tp
    tn = int(known.sum()) - tp - fp - fn
    return tp, fp, fn, tn


def performance_metrics(
    config: ModelConfig, spec: BinSpec, perf: PerformanceProfile, *, prefix: str
) -> list[MetricValue]:
    if perf.labeled == 0:
        return []
    values: dict[str, float] = {}
    if config.task == "regression" and perf.reg is not None:
        n, s_abs, s_sq, s_ape, n_ape, s_y, s_y2 = (float(v) for v in perf.reg)
        values["mae"] = s_abs / n
        values["rmse"] = math.sqrt(s_sq / n)
        if n_ape > 0:
            values["mape"] = s_ape / n_ape
        ss_tot = s_y2 - s_y * s_y / n
        if ss_tot > 0:
            values["r2"] = 1.0 - s_sq / ss_tot
    elif config.task == "binary_classification" and perf.confusion is not None:
        values.update(binary_from_confusion(*confusion_binary(perf.confusion, spec.positive_index)))
        if perf.score_hist is not None:
            auc = binned_roc_auc(perf.score_hist[0].astype(np.float64), perf.score_hist[1].astype(np.float64))
            if auc is not None:
                values["roc_auc"] = auc
    elif config.task == "multiclass_classification" and perf.confusion is not None:
        cm = perf.confusion.astype(np.float64)
        values["accuracy"] = float(np.trace(cm) / cm.sum())
        tp = np.diag(cm)
        support = cm.sum(axis=0) + cm.sum(axis=1)  # 2tp + fp + fn per class
        present = support > 0
        values["macro_f1"] = float(np.mean(2 * tp[present] / support[present]))
    return [MetricValue(f"{prefix}.{k}", None, v) for k, v in values.items()]


def estimated_confusion(estimation: IntArray, calibration: FloatArray) -> tuple[float, float, float, float]:
    """Expected confusion counts from predictions and calibrated scores (confidence-based performance
    estimation, as in NannyML's CBPE): a row predicted positive with calibrated probability p adds p to TP and
    1 - p to FP; predicted negative, p to FN and 1 - p to TN."""
    neg_pred, pos_pred = estimation[0].astype(np.float64), estimation[1].astype(np.float64)
    tp = float(pos_pred @ calibration)
    fp = float(pos_pred.sum()) - tp
    fn = float(neg_pred @ calibration)
    tn = float(neg_pred.sum()) - fn
    return tp, fp, fn, tn


def estimated_metrics(config: ModelConfig, estimation: IntArray, calibration: FloatArray) -> list[MetricValue]:
    if estimation.sum() == 0:
        return []
    values = binary_from_confusion(*estimated_confusion(estimation, calibration))
    per_slot = (estimation[0] + estimation[1]).astype(np.float64)
    auc = binned_roc_auc(per_slot * (1.0 - calibration), per_slot * calibration)
    if auc is not None:
        values["roc_auc"] = auc
    return [MetricValue(f"estimated.{k}", None, v) for k, v in values.items()]


def business_value(bm: BusinessMetric, profile: Profile, spec: BinSpec) -> float | None:
    if bm.type == "cost_matrix":
        cm = profile.performance.confusion
        if cm is None or profile.performance.labeled == 0 or bm.values is None:
            return None
        tp, fp, fn, tn = confusion_binary(cm, spec.positive_index)
        v = bm.values
        return float(v["tp"] * tp + v["fp"] * fp + v["fn"] * fn + v["tn"] * tn)
    sums = profile.business.get(bm.name)
    if sums is None:
        return None
    total, count = float(sums[0]), float(sums[1])
    if bm.type == "sum":
        return total
    return total / count if count > 0 else None


@dataclass(frozen=True)
class MetricPoint:
    """One point of a metric's time series (SPEC §5 ``metrics --format json``)."""

    model_id: str
    metric: str
    column: str | None
    segment: str | None
    window_start: int  # epoch seconds, UTC
    window_end: int
    value: float
    rows: int
    partial: bool = False  # a window still open: the rows so far (SPEC §3), replaced as files arrive

    def to_json_dict(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "metric": self.metric,
            "column": self.column,
            "segment": self.segment,
            "window_start": iso_utc(self.window_start),
            "window_end": iso_utc(self.window_end),
            "value": self.value,
            "rows": self.rows,
            "partial": self.partial,
        }


def iso_utc(epoch_seconds: float) -> str:
    """ISO-8601 UTC with a Z suffix, second precision: 2026-11-23T04:00:00Z."""
    import datetime as _dt

    try:
        return _dt.datetime.fromtimestamp(epoch_seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # never raise on a stored value (year beyond 9999, NaN)
        return "invalid-time"


def window_points(
    profile: Profile,
    baseline: Baseline,
    config: ModelConfig,
    *,
    window_start: int,
    segment: str | None,
) -> list[MetricPoint]:
    """The metric points of one (window, segment) group. ``rows`` is the window's rows, except for
    ``performance.*``, which count the labelled rows (what ``min_rows`` judges them by)."""
    end = window_start + config.window_seconds
    labeled = profile.performance.labeled
    return [
        MetricPoint(
            config.model_id,
            m.metric,
            m.column,
            segment if m.segment is None else m.segment,
            window_start,
            end,
            m.value,
            m.rows
            if m.rows is not None
            else labeled
            if m.metric.startswith("performance.")
            else profile.rows_read
            if m.metric == "quality.time_error_rate"
            else profile.rows,
        )
        for m in compute_metrics(profile, baseline, config, segment=segment)
    ]
