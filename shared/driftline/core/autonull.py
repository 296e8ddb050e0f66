"""The inputs of ``auto`` thresholds for one window: each column's valid rows and its null (pure).

The population's nulls are stored with the baseline (built with the reference's chunks, so with their
overdispersion). A segment's, and those of a baseline built before nulls were stored, are computed here from the
reference counts (simulated where expected counts are small, no overdispersion: the chunks are not kept) and cached
by the caller for the baseline's life. A numerical column's null also carries its ``drift.wasserstein`` null
(``core.wnull``), from the same reference profile's bins: cheap to attach, its moments computed on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import replace

from driftline.core.baseline import Baseline, null_counts
from driftline.core.profile import Profile
from driftline.core.rules import AutoContext
from driftline.core.thresholds import ColumnNull, column_null
from driftline.core.wnull import WassersteinNull, reference_sd, wasserstein_null

NullCache = MutableMapping[tuple[str, str, str | None], ColumnNull | None]


def column_sizes(profile: Profile) -> dict[str, int]:
    """The valid (non-missing, parsed) rows of every profiled column: the ``n`` of its drift statistics."""
    sizes = {col: prof.valid for col, prof in profile.numeric.items()}
    sizes.update({col: prof.valid for col, prof in profile.categorical.items()})
    return sizes


def column_null_for(baseline: Baseline, column: str, segment: str | None, cache: NullCache) -> ColumnNull | None:
    """A column's null for one segment (None: the population), with a numerical column's ``drift.wasserstein``
    null attached from the same reference profile; computed once per baseline (``cache``)."""
    ref = baseline.reference_for(segment)
    # a segment without reference rows is compared with the population: the population's null then
    key = (baseline.baseline_id, column, segment if ref is not baseline.population else None)
    if key not in cache:
        null = baseline.nulls.get(column) if key[2] is None else None
        if null is None:
            counts = null_counts(baseline.spec, ref, column)
            null = None if counts is None or counts.sum() <= 0 else column_null(counts)
            population = baseline.nulls.get(column)
            if null is not None and population is not None and population.selection > 0:
                # the kept categories were chosen by the whole reference: a segment's share of it is as biased
                null = replace(null, tau2=null.tau2 + population.selection, selection=population.selection)
        if null is not None and null.wasserstein is None:
            wnull = _wasserstein_null(baseline, ref, column)
            null = null if wnull is None else replace(null, wasserstein=wnull)
        cache[key] = null
    return cache[key]


def _wasserstein_null(baseline: Baseline, ref: Profile, column: str) -> WassersteinNull | None:
    # the W1 null's inputs (the reference CDF at the edges and their weights) are cheap; its moments are computed
    # on first use only (an ``auto`` rule on drift.wasserstein)
    bins = baseline.spec.numeric.get(column)
    prof = ref.numeric.get(column)
    if bins is None or prof is None or prof.valid <= 0:
        return None
    res = prof.resolution
    return wasserstein_null(
        prof.counts,
        bins.slot_edges(res),
        under=prof.under,
        over=prof.over,
        atoms=bins.interval_atoms(res),
        sd=reference_sd(prof.valid, prof.total, prof.total_sq),
    )


def auto_context(
    baseline: Baseline,
    profiles: Mapping[str | None, Profile],
    columns: tuple[str, ...],
    false_alarm_rate: float,
    cache: NullCache,
) -> AutoContext:
    """The sizes of ``columns`` in every segment of one window; their nulls looked up (and cached) on demand."""
    sizes: dict[tuple[str, str | None], int] = {}
    for seg, prof in profiles.items():
        for col, n in column_sizes(prof).items():
            if col in columns:
                sizes[(col, seg)] = n
    return AutoContext(sizes, lambda col, seg: column_null_for(baseline, col, seg, cache), false_alarm_rate)
