"""Early looks at the window still open (SPEC §3 partial points, §4 early alerts).

At each evaluator tick, for each model: the window that contains ``now`` is looked at when its files have brought
rows enough for its next look (``core.looks``: the rules' ``min_rows``, then each doubling of the rows of the
previous look). Deciding costs one batched read of two small items (the window's dirty mark, which counts the rows
its files brought, and its look record); the profiles are read only for a look. A look:

1. computes the window's metrics on the rows so far and replaces its partial points (one packed item: a look costs
   a few write units, not two per point as the closed window's points do);
2. counts itself (the look record, one write with the points' parts) before judging, so a crash never lets a look's
   share of the error budget be spent twice;
3. judges the rules that may be judged on an open window (``core.looks.judged_on_open_window``) at the look's share
   of ``detection.false_alarm_rate``, and publishes an ALARM at once for a target that breaches, with
   ``details.partial`` true and ``details.rows`` the rows so far. A look that does not breach publishes nothing.

The close judges the window whole (``EvaluateService._evaluate_window``), at the share the looks left: a target that
alarmed early and no longer breaches publishes OK; one that still breaches publishes nothing more (the alert
history's key names rule, column, segment, window and state, and is written once).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from driftline.core import looks as L
from driftline.core import rules as R
from driftline.core.autonull import auto_context
from driftline.core.baseline import Baseline
from driftline.core.config import ModelConfig
from driftline.core.errors import DriftlineError
from driftline.core.metrics import MetricPoint, window_points

if TYPE_CHECKING:
    from driftline.services.evaluate import EvaluateService, EvaluationReport

log = logging.getLogger(__name__)


def clear_of_noise(verdict: R.Verdict, rows: int, baseline: Baseline, look: Look) -> bool:
    """Whether a breach found at this look may alarm.

    A threshold that does not shrink with the rows is judged early on far fewer rows than a closed window usually
    has (from ``min_rows``), where sampling noise alone can cross it: a fixed 0.1 on a 10-bin JS distance is
    crossed by most windows of 100 rows, an accuracy margin of 0.05 by one in ten. Judged at every look, such a rule
    would alarm early on windows that do not drift and return to OK at their close. So an early look does not alarm
    where the threshold is within the noise of the rows so far, at the look's share of FIXED_LOOK_ALPHA: for the
    binned distances (``drift.psi`` / ``jensen_shannon`` / ``hellinger`` ``above``) their χ² noise level
    (``core.looks.noise_level``); for the shares of rows (``quality.*`` rates, ``accuracy``) the binomial sd of the
    baseline's share at the rows so far. The close judges the window as before. ``auto`` thresholds spend their own
    share of α through ``alpha_scale``."""
    rule, column = verdict.target.rule, verdict.target.column
    if not isinstance(rule.threshold, int | float) or not math.isfinite(rule.threshold):
        return True  # not a fixed number (``auto``): its judgement spends its own share
    tail = L.FIXED_LOOK_ALPHA * L.look_share(look.index)
    if rule.metric in L.NOISE_METRICS and rule.op == "above" and column is not None:
        spec = baseline.spec
        if column in spec.numeric:
            bins = len(spec.numeric[column].coarse_edges) - 1
        elif column in spec.categorical:
            slots = spec.categorical[column]
            bins = len(slots.categories) + (1 if slots.truncated else 0)
        else:
            return True
        ref_rows = baseline.reference_for(verdict.target.segment).rows
        noise = L.noise_level(rule.metric, bins=bins, rows=rows, ref_rows=ref_rows, tail=tail)
        return noise is None or rule.threshold > noise
    if rule.metric in L.SHARE_METRICS and verdict.threshold is not None and verdict.baseline_value is not None:
        margin = abs(verdict.threshold - verdict.baseline_value)
        return margin > L.share_noise(verdict.baseline_value, rows=rows, tail=tail)
    return True


@dataclass(frozen=True)
class Look:
    index: int  # 0 for the window's first look, 1 for its second, …
    rows: int  # the window's rows at this look


def open_window_start(config: ModelConfig, now: float) -> int:
    width = config.window_seconds
    return int(now // width) * width


def look_at_open_window(
    svc: EvaluateService, config: ModelConfig, current: Baseline, now: float, report: EvaluationReport
) -> bool:
    """Look at the model's open window if it is due; True when a look was made. A failure is logged and reported,
    never raised: the closed windows of this model and the other models are judged all the same."""
    try:
        return _look(svc, config, current, now, report)
    except DriftlineError as err:
        log.warning("open window not looked at", extra={"model_id": config.model_id, "reason": str(err)})
        report.errors.append(f"open window: {err}")
        return False


def _look(svc: EvaluateService, config: ModelConfig, current: Baseline, now: float, report: EvaluationReport) -> bool:
    model_id, store = config.model_id, svc.store
    rules = [r for r in svc._rules(config, current) if L.judged_on_open_window(r, config)]
    if not rules:
        return False
    ws = open_window_start(config, now)
    ow = store.open_window(model_id, ws)
    need = L.next_look_rows(ow.looked_rows, min(r.min_rows for r in rules))
    if ow.token is None or ow.token == ow.checked or ow.rows < need:
        return False  # no file since the last check, or not rows enough yet
    wp = store.window_profiles(model_id, ws)
    population = wp.profiles.get(None)
    if population is None or population.rows < need:  # the mark's count ran ahead (a file delivered twice)
        store.record_look(model_id, ws, looks=ow.looks, looked_rows=ow.looked_rows, checked=ow.token)
        return False
    look = Look(ow.looks, population.rows)
    baseline = svc.registry.baseline(model_id, population.baseline_id)
    points: list[MetricPoint] = []
    for seg, prof in wp.profiles.items():
        if prof.baseline_id == baseline.baseline_id:
            points += (
                replace(p, partial=True) for p in window_points(prof, baseline, config, window_start=ws, segment=seg)
            )
    parts = store.put_partial_points(model_id, ws, ws + config.window_seconds, points, old_parts=ow.parts)
    store.record_look(model_id, ws, looks=ow.looks + 1, looked_rows=look.rows, checked=ow.token, parts=parts)
    auto = auto_context(baseline, wp.profiles, config.monitored_columns, config.false_alarm_rate, svc._nulls)
    report.alerts += svc._judge(config, baseline, ws, points, now, look=look, auto=auto)
    return True
