"""``estimated.*`` per fairness group: performance before labels, per group of each sensitive column.

Confidence-based estimation (``core/metrics.py``: a row predicted positive with calibrated probability p adds p
to TP and 1 - p to FP) is sound only where the calibration holds. The baseline's calibration is fitted on the
whole population, and a model that treats a group differently is precisely one whose calibration differs by
group, so the population's calibration is not used per group as it is. Each group gets its own recalibration
of it, fitted on the group's labelled baseline rows (Platt-style, two parameters, so a group with few rows still
gets a stable fit):

    logit P(y = 1 | score slot s, group g) = a_g + b_g · logit p_pop(s)

by weighted maximum likelihood over the slot counts, with a weak ridge pull toward (a, b) = (0, 1) (the
population's calibration), which is what a group without labelled rows gets. The estimate then assumes, as CBPE
does for the population, that P(y | score, group) does not move after the baseline (no concept shift within a
group); the tests check it recovers each group's actual performance where the groups' calibrations differ, and
that the population's calibration would not.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

RIDGE = 1.0  # weight of the pull toward the population's calibration, in rows' worth of log-likelihood
_EPS = 1e-6


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, _EPS, 1 - _EPS)
    out: FloatArray = np.log(q / (1 - q))
    return out


def recalibrate(population: FloatArray, neg: FloatArray, pos: FloatArray, *, ridge: float = RIDGE) -> FloatArray:
    """P(positive | slot) for one group: the population's calibration ``population`` (per fine score slot)
    recalibrated on the group's labelled counts per slot (``neg``, ``pos``), by Newton's method on the penalised
    log-likelihood of ``logit p = a + b · logit population``."""
    if population.shape != neg.shape or neg.shape != pos.shape:
        raise ValueError("population, neg and pos must have the same shape (one value per score slot)")
    x = _logit(population)
    n = neg + pos
    theta = np.array([0.0, 1.0])
    prior = theta.copy()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(theta[0] + theta[1] * x)))
        r = pos - n * p  # d loglik / d eta per slot
        grad = np.array([r.sum(), (r * x).sum()]) - ridge * (theta - prior)
        w = n * p * (1 - p)
        hess = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]]) + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta + step
        if float(np.abs(step).max()) < 1e-10:
            break
    out: FloatArray = 1.0 / (1.0 + np.exp(-(theta[0] + theta[1] * x)))
    return out


def group_calibrations(population: FloatArray, group_scores: IntArray) -> FloatArray:
    """``[groups, slots]`` calibrations from ``group_scores[g] = [negatives per slot, positives per slot]``."""
    out = np.empty((group_scores.shape[0], population.size))
    for g in range(group_scores.shape[0]):
        out[g] = recalibrate(population, group_scores[g, 0].astype(np.float64), group_scores[g, 1].astype(np.float64))
    return out
