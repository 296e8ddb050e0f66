"""The default low-volume rule: a model that sends far fewer rows than it usually does is not healthy.

``volume.rows below 1`` (the default no-data rule) catches silence only; a model that normally sends 10,000 rows an
hour and sends 40 passes it. The low-volume rule compares each closed window's rows with what is usual *for this
model*: the median rows of its last ``RECENT_WINDOWS`` closed windows that had data, and alarms below
``LOW_VOLUME_FRACTION`` of it (a 20-fold drop).

False alarms. A stable source's row count in a window is about Poisson with mean λ, widened by daily and weekly
cycles. The rule judges only once ``MIN_HISTORY`` windows have data, and only where the threshold is at least one
row (λ ≥ 20; below, the no-data rule speaks). At λ = 20 a count under 1 has probability 2·10⁻⁹, at λ = 100 a count
under 5 about 10⁻³⁶: sampling noise alone never trips it. What can is a real cycle deeper than 20-fold against the
median of the recent windows: a night hour at 5% of the daily median, a weekend day at 5% of the weekday median
(traffic troughs of 20–40% of the median are common; 5% is an outage-like drop). A lasting change of level is
reported once and returns to OK once it is the new normal (after about ``RECENT_WINDOWS / 2`` windows). The median,
not the mean, so one burst does not raise the expectation, and windows with no data are left out of it, so an
outage does not lower it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

LOW_VOLUME_RULE = "default-low-volume"
LOW_VOLUME_FRACTION = 0.05  # alarm below this share of the usual rows
RECENT_WINDOWS = 24  # closed windows the usual volume is taken from
MIN_HISTORY = 6  # windows with data needed before the rule judges


def usual_rows(recent: Iterable[float]) -> float | None:
    """The median rows of the recent windows that had data; None with fewer than ``MIN_HISTORY`` of them."""
    rows = sorted(r for r in recent if r > 0 and math.isfinite(r))
    if len(rows) < MIN_HISTORY:
        return None
    mid = len(rows) // 2
    return float(rows[mid]) if len(rows) % 2 else (rows[mid - 1] + rows[mid]) / 2.0


def low_volume_threshold(usual: float | None, *, fraction: float = LOW_VOLUME_FRACTION) -> float | None:
    """The rows under which a window is low: ``fraction`` of the usual rows; None when there is no usual volume yet
    or the threshold would be under one row (silence is the no-data rule's)."""
    if usual is None:
        return None
    threshold = fraction * usual
    return threshold if threshold >= 1.0 else None
