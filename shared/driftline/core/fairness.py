"""Fairness across sensitive groups (SPEC §2 ``fairness``, §3 ``fairness.*``), binary classification.

Per sensitive column and window, the profile holds per group (the baseline's most frequent values, then one
catch-all group ``__other__``, missing values included): the rows with a prediction and the predicted positives
(``Profile.fairness``), and once labels arrive the confusion counts tp, fp, fn, tn
(``PerformanceProfile.groups``, which the delayed-label path builds like the rest of the performance profile).
Every count adds, so the metrics of a window are the same whatever the split and order of its files.

For a group g against the reference group r (default: the largest group in the baseline), with the
positive-prediction rate P(ŷ=1 | group), TPR = tp / (tp + fn), FPR = fp / (fp + tn) and accuracy
(tp + tn) / n:

- ``disparate_impact``               rate_g / rate_r                       (the four-fifths rule: below 0.8)
- ``demographic_parity_difference``  rate_g - rate_r
- ``equal_opportunity_difference``   TPR_g - TPR_r
- ``equalized_odds_difference``      max(|TPR_g - TPR_r|, |FPR_g - FPR_r|)
- ``accuracy_difference``            accuracy_g - accuracy_r

A value undefined on the data (a reference group with no positive prediction, no labelled positive) is left
out. With two groups, |demographic_parity_difference| and equalized_odds_difference are fairlearn's
``demographic_parity_difference`` and ``equalized_odds_difference`` (which take the range over all groups).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from driftline.core.scenarios import ConfigChecker

IntArray = NDArray[np.int64]

# The metrics themselves (names, ranges, directions, the four-fifths default rule) are catalogue entries
# (driftline.core.catalogue); this module computes their values.
MAX_SENSITIVE: Final = 10
_KEYS: Final = ("sensitive", "reference")


@dataclass(frozen=True)
class FairnessConfig:
    sensitive: tuple[str, ...]
    reference: Mapping[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.sensitive, tuple(sorted(self.reference.items()))))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sensitive": list(self.sensitive)}
        if self.reference:
            out["reference"] = dict(self.reference)
        return out


def parse_fairness(
    p: ConfigChecker, value: object, *, task: str | None, roles: frozenset[str], numerical: frozenset[str]
) -> FairnessConfig | None:
    """Validate ``fairness``. ``roles``: id, timestamp, prediction, score and label (not sensitive columns);
    ``numerical``: numerical features (a sensitive column is read as groups of values, not as a number)."""
    path = "fairness"
    start = len(p.errors)
    section = p.mapping(value, path, _KEYS, required=("sensitive",))
    if section is None:
        return None
    if task is not None and task != "binary_classification":
        p.error(path, f"fairness needs task binary_classification, not {task}")
    sensitive: list[str] = []
    if "sensitive" in section:
        items = p.sequence(section["sensitive"], f"{path}.sensitive", MAX_SENSITIVE)
        if items is not None and not items:
            p.error(f"{path}.sensitive", "must not be empty")
        for i, raw in enumerate(items or ()):
            where = f"{path}.sensitive[{i}]"
            name = p.string(raw, where)
            if name is None:
                continue
            if name in sensitive:
                p.error(where, f"column {name!r} is listed twice")
            elif name in roles:
                p.error(where, f"{name!r} is the id, timestamp, prediction, score or label column, not a group column")
            elif name in numerical:
                p.error(where, f"{name!r} is a numerical feature; a sensitive column holds groups (e.g. an age band)")
            elif "=" in name:
                p.error(where, f"a sensitive column name cannot contain '=': {name!r}")
            else:
                sensitive.append(name)
    reference: dict[str, str] = {}
    if section.get("reference") is not None:
        ref_path = f"{path}.reference"
        ref = p.mapping(section["reference"], ref_path, tuple(sensitive) or ("<a sensitive column>",))
        for col, raw in (ref or {}).items():
            if col not in sensitive:
                continue  # reported by mapping()
            if isinstance(raw, bool):
                raw = "true" if raw else "false"
            elif isinstance(raw, int):
                raw = str(raw)
            group = p.string(raw, f"{ref_path}.{col}", max_length=1024)
            if group is not None:
                reference[col] = group
    if len(p.errors) > start:
        return None
    return FairnessConfig(tuple(sensitive), reference)


@dataclass(frozen=True)
class GroupValue:
    metric: str
    column: str
    segment: str
    value: float
    rows: int


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def group_metrics(
    column: str, labels: Sequence[str], ref: int, predictions: IntArray | None, confusion: IntArray | None
) -> list[GroupValue]:
    """The ``fairness.*`` values of every group but the reference, from ``predictions[g] = [rows with a
    prediction, predicted positives]`` and ``confusion[g] = [tp, fp, fn, tn]`` (either may be None)."""
    out: list[GroupValue] = []
    n_groups = len(labels)
    if predictions is not None:
        rates = [_ratio(float(predictions[g, 1]), float(predictions[g, 0])) for g in range(n_groups)]
        r = rates[ref]
        for g in range(n_groups):
            rate, rows = rates[g], int(predictions[g, 0])
            if g == ref or rate is None or r is None:
                continue
            if r > 0:
                out.append(GroupValue("fairness.disparate_impact", column, labels[g], rate / r, rows))
            out.append(GroupValue("fairness.demographic_parity_difference", column, labels[g], rate - r, rows))
    if confusion is not None:
        c = confusion.astype(np.float64)
        tp, fp, fn, tn = c[:, 0], c[:, 1], c[:, 2], c[:, 3]
        n = tp + fp + fn + tn
        for g in range(n_groups):
            if g == ref or n[g] == 0 or n[ref] == 0:
                continue
            rows = int(n[g])
            tpr_g, tpr_r = _ratio(tp[g], tp[g] + fn[g]), _ratio(tp[ref], tp[ref] + fn[ref])
            fpr_g, fpr_r = _ratio(fp[g], fp[g] + tn[g]), _ratio(fp[ref], fp[ref] + tn[ref])
            if tpr_g is not None and tpr_r is not None:
                out.append(GroupValue("fairness.equal_opportunity_difference", column, labels[g], tpr_g - tpr_r, rows))
                if fpr_g is not None and fpr_r is not None:
                    eo = max(abs(tpr_g - tpr_r), abs(fpr_g - fpr_r))
                    out.append(GroupValue("fairness.equalized_odds_difference", column, labels[g], eo, rows))
            acc = (tp[g] + tn[g]) / n[g] - (tp[ref] + tn[ref]) / n[ref]
            out.append(GroupValue("fairness.accuracy_difference", column, labels[g], float(acc), rows))
    return out
