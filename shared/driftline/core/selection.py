"""The selection bias of a categorical column's kept categories (``max_categories``), as overdispersion. Pure numpy.

A column with more distinct values than ``max_categories`` keeps the most frequent ones *in the reference*, and
which ones those are is decided by the reference's own counts: where many categories are about as frequent as the
cut (2,284 of 2,675 cities with one airport, 247 with two), the kept ones are those the reference happened to
over-draw. Their reference proportions then run above the population's and ``other``'s below it: a fixed offset
between reference and population that does not shrink with the window's rows, unlike sampling noise; a window about
as large as the reference sees it (airports' ``city``: 5.4x alpha at 10,000 rows against 33,760, 14.6x at 100,000;
``python -m bench.detect_real``).

:func:`selection_tau2` measures that offset the way it arises, by a parametric bootstrap of the selection: references
redrawn from the reference's own proportions, each keeping its own top ``kept`` categories, compared on those slots
with the proportions they were drawn from. The Pearson divergence beyond sampling noise, ``tau2``, is exactly what the
chunks' overdispersion measures (``core.thresholds.dispersion``): a divergence between reference and population that
the window's size does not shrink; it is added to the column's ``tau2``, widening its thresholds by
``phi = 1 + tau2 / ((K - 1) h)``. Columns that keep every category have no selection and no term.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DRAWS = 40


def selection_tau2(counts: Sequence[int], kept: int, *, draws: int = DRAWS, seed: int = 0) -> float:
    """The excess Pearson divergence (beyond sampling noise) between a reference's proportions on its own ``kept``
    most frequent categories plus ``other`` and the proportions it was drawn from, over ``draws`` redrawn references
    (seeded). 0 when every category is kept."""
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    m = int(c.sum())
    if c.size <= kept or m <= 0:
        return 0.0
    p = c / m
    rng = np.random.default_rng([seed, m, c.size, kept])
    total = 0.0
    for _ in range(draws):
        drawn = rng.multinomial(m, p).astype(np.float64)
        # the kept ones: the most frequent in this reference (ties broken at random, as names break them)
        top = np.argpartition(-(drawn + rng.random(drawn.size) * 0.5), kept - 1)[:kept]
        ref = np.append(drawn[top] / m, 1.0 - drawn[top].sum() / m)
        pop = np.append(p[top], 1.0 - p[top].sum())
        live = pop > 0
        total += float(np.sum((ref[live] - pop[live]) ** 2 / pop[live]))
    # a fixed set of kept + 1 slots would give (kept) / m of pure sampling noise
    return max(total / draws - kept / m, 0.0)
