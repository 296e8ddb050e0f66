"""Frozen bins: numerical bin edges and categorical slots, fixed when a baseline is built.

Numerical columns have *fine* bins (reference quantiles at ``k / fine_bins``) for the Kolmogorov-Smirnov and
Wasserstein statistics, and *coarse* bins (deciles by default, a subset of the fine edges) for PSI,
Jensen-Shannon and Hellinger, which over-react to sampling noise on fine bins. Counts are kept over *slots*:

    slot 0                 values below edges[0] (the reference minimum): out of range
    slot i, 1 <= i < E     values in [edges[i-1], edges[i])
    slot E                 values at or above edges[-1] = nextafter(reference maximum): out of range

with ``E = len(edges)``. The last interval starts at the reference maximum, so a discrete column keeps one
interval per distinct value and the maximum itself is in range.

Categorical columns have one slot per baseline category, then ``other`` (values outside the kept top
categories of a truncated baseline) and ``unseen`` (values the baseline never saw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Resolution = Literal["fine", "coarse"]


class _SlotLookup:
    """``searchsorted(edges, x, "right")`` for many x at once, without a binary search per value.

    The range [edges[0], edges[-1]] is cut into equal cells; ``cell(x) = floor((x - edges[0]) * scale)``,
    clipped, is non-decreasing in x in floating point too (subtracting a constant, multiplying by a positive
    one and clipping are all monotone). So an edge whose own cell is below x's cell is <= x, one whose cell is
    above is > x, and only the few edges sharing x's cell need comparing: ``start[cell]`` counts the edges of
    lower cells, and each of ``passes`` rounds steps over one more edge of the cell when x >= it (an edge of
    a higher cell never compares <= x, so no round overshoots). Rows whose cell holds more edges than
    ``MAX_PASSES`` (edges bunched around a heavy value) fall back to the binary search.
    """

    MAX_PASSES: Final = 3

    def __init__(self, edges: FloatArray) -> None:
        self.edges = edges
        self.n_cells = 4 * edges.size
        span = float(edges[-1] - edges[0])
        self.lo = float(edges[0])
        self.scale = self.n_cells / span if span > 0 and np.isfinite(span) else 0.0
        edge_cells = self._cells(edges)
        per_cell = np.bincount(edge_cells, minlength=self.n_cells + 1)
        self.start = np.searchsorted(edge_cells, np.arange(self.n_cells + 1), side="left").astype(np.intp)
        self.passes = min(int(per_cell.max()), self.MAX_PASSES)
        self.dense = per_cell > self.MAX_PASSES  # cells needing the binary search
        self.any_dense = bool(self.dense.any())
        self.padded = np.concatenate((edges, [np.nan]))  # past the last edge: x >= NaN is False, even for inf

    def _cells(self, x: FloatArray) -> IntArray:
        with np.errstate(over="ignore", invalid="ignore"):
            f = (x - self.lo) * self.scale
        np.fmax(f, 0.0, out=f)  # NaN -> 0
        np.fmin(f, float(self.n_cells), out=f)
        return f.astype(np.intp)

    def slots(self, x: FloatArray) -> IntArray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            cells = self._cells(x)
            s = self.start[cells]
            for _ in range(self.passes):
                s += x >= self.padded[s]
        if self.any_dense:
            rows = np.flatnonzero(self.dense[cells])
            if rows.size:
                s[rows] = np.searchsorted(self.edges, x[rows], side="right")
        return s.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class NumericBins:
    """Frozen edges of one numerical column."""

    edges: FloatArray  # fine edges, strictly increasing; edges[-1] = nextafter(reference max)
    coarse_edges: FloatArray  # a subset of ``edges`` with the same first and last edge
    ref_min: float
    ref_max: float
    # intervals whose reference values all sit on the left edge (discrete columns): their mass is a point there
    atoms: NDArray[np.bool_] | None = None
    _coarse_map: IntArray = field(init=False, repr=False)
    _lookup: _SlotLookup = field(init=False, repr=False)

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=np.float64)
        coarse = np.asarray(self.coarse_edges, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("edges must be strictly increasing with at least two values")
        at = np.minimum(np.searchsorted(edges, coarse), edges.size - 1)  # edges sorted: no np.isin (numpy.ma)
        if (
            coarse.ndim != 1
            or coarse.size < 2
            or np.any(edges[at] != coarse)
            or np.any(np.diff(coarse) <= 0)
            or coarse[0] != edges[0]
            or coarse[-1] != edges[-1]
        ):
            raise ValueError("coarse_edges must be an increasing subset of edges with the same ends")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "coarse_edges", coarse)
        atoms = np.zeros(edges.size - 1, dtype=bool) if self.atoms is None else np.asarray(self.atoms, dtype=bool)
        if atoms.shape != (edges.size - 1,):
            raise ValueError("atoms must hold one flag per interval")
        object.__setattr__(self, "atoms", atoms)
        # fine slot s (the interval starting at edges[s-1]) -> coarse slot; slot 0 -> 0, last -> last
        starts = np.concatenate(([-np.inf], edges))
        cmap = np.searchsorted(coarse, starts, side="right").astype(np.int64)
        object.__setattr__(self, "_coarse_map", cmap)
        object.__setattr__(self, "_lookup", _SlotLookup(edges))

    def n_slots(self, resolution: Resolution) -> int:
        return (self.edges.size if resolution == "fine" else self.coarse_edges.size) + 1

    def slot_edges(self, resolution: Resolution) -> FloatArray:
        return self.edges if resolution == "fine" else self.coarse_edges

    def slots(self, values: FloatArray) -> IntArray:
        """Fine slot of each value: ``searchsorted(edges, values, "right")``, through a lookup table (NaN gives
        a meaningless slot; callers mask NaN out)."""
        return self._lookup.slots(values)

    def interval_atoms(self, resolution: Resolution) -> NDArray[np.bool_]:
        """Per interval at ``resolution``: True where all the reference mass sits on the left edge."""
        assert self.atoms is not None
        if resolution == "fine":
            return self.atoms
        # a coarse interval is an atom when it is exactly one fine atom interval
        idx = np.searchsorted(self.edges, self.coarse_edges)
        single = np.diff(idx) == 1
        return np.asarray(single & self.atoms[idx[:-1]], dtype=bool)

    def coarsen(self, fine_counts: IntArray) -> IntArray:
        """Fine-slot counts summed into coarse slots."""
        return np.bincount(self._coarse_map, weights=fine_counts, minlength=self.coarse_edges.size + 1).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges.tolist(),
            "coarse_idx": np.searchsorted(self.edges, self.coarse_edges).tolist(),
            "min": self.ref_min,
            "max": self.ref_max,
            "atoms": np.flatnonzero(self.atoms).tolist() if self.atoms is not None else [],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericBins:
        edges = np.asarray(data["edges"], dtype=np.float64)
        atoms = np.zeros(edges.size - 1, dtype=bool)
        atoms[np.asarray(data.get("atoms", []), dtype=np.int64)] = True
        coarse = edges[np.asarray(data["coarse_idx"], dtype=np.int64)]
        return cls(edges, coarse, float(data["min"]), float(data["max"]), atoms)

    @classmethod
    def from_sample(cls, sample: FloatArray, *, fine_bins: int = 400, coarse_bins: int = 10) -> NumericBins:
        """Edges from the quantiles of a reference sample (finite values only)."""
        if fine_bins < 1 or coarse_bins < 1:
            raise ValueError("fine_bins and coarse_bins must be positive")
        if fine_bins % coarse_bins:
            raise ValueError(f"fine_bins ({fine_bins}) must be a multiple of coarse_bins ({coarse_bins})")
        x = np.asarray(sample, dtype=np.float64)
        x = np.sort(x[np.isfinite(x)])  # one sort serves every quantile and the atoms
        if x.size == 0:
            raise ValueError("the sample holds no finite value")
        probs = np.linspace(0.0, 1.0, fine_bins + 1)
        q = _sorted_quantiles(x, probs)
        # Heavy tails: the outermost intervals are split further at geometrically finer tail quantiles, so the
        # uniform-within-interval assumption of the Wasserstein integral holds where the data are sparse.
        step = 1.0 / fine_bins
        tail = step * 0.5 ** np.arange(1, 11)
        extra = _sorted_quantiles(x, np.concatenate((tail, 1.0 - tail)))
        top = np.nextafter(q[-1], np.inf)
        edges = _distinct(np.concatenate((q, extra, [top])))
        coarse_q = q[:: fine_bins // coarse_bins]
        coarse = _distinct(np.concatenate((coarse_q, [top])))
        # A value with mass of its own (at two consecutive quantiles: a fine step of the reference, or a coarse step
        # for the coarse bins) gets an interval of its own, [v, nextafter(v)), where it would share one with other
        # values: the zeros of a zero-inflated column, the constant of a near-constant one. Else its mass and the
        # rarer values beside it are one slot, and a change of either is invisible (80% zeros: 2 coarse slots).
        heavy_coarse = _shared(x, coarse, _repeated(coarse_q))
        heavy = np.concatenate((_shared(x, edges, _repeated(q)), heavy_coarse))  # coarse edges stay fine edges
        edges = _distinct(np.concatenate((edges, np.nextafter(heavy, np.inf))))
        coarse = _distinct(np.concatenate((coarse, np.nextafter(heavy_coarse, np.inf))))
        # interval i = [edges[i], edges[i+1]); an atom when its largest reference value is its left edge
        ends = np.searchsorted(x, edges, side="left")  # x[ends[i]:ends[i+1]] lie in interval i
        filled = ends[1:] > ends[:-1]
        largest = np.full(edges.size - 1, -np.inf)
        largest[filled] = x[ends[1:][filled] - 1]
        atoms = largest == edges[:-1]
        return cls(edges, coarse, float(q[0]), float(q[-1]), atoms)


def _repeated(q: FloatArray) -> FloatArray:
    """The values found at two consecutive quantiles of ``q`` (sorted)."""
    return _distinct(q[:-1][q[1:] == q[:-1]])


def _shared(x: FloatArray, edges: FloatArray, values: FloatArray) -> FloatArray:
    """Those of ``values`` (each an edge) whose interval holds other values of ``x`` (sorted) too."""
    if values.size == 0:
        return values
    i = np.searchsorted(edges, values)
    ends = edges[np.minimum(i + 1, edges.size - 1)]
    largest = x[np.maximum(np.searchsorted(x, ends, side="left") - 1, 0)]
    return values[largest > values]


def _distinct(values: FloatArray) -> FloatArray:
    """``np.unique`` of finite floats, without the masked-array check that imports ``numpy.ma`` (17 ms)."""
    xs = np.sort(values)
    return xs[np.concatenate(([True], xs[1:] != xs[:-1]))] if xs.size else xs


def _sorted_quantiles(xs: FloatArray, probs: FloatArray) -> FloatArray:
    """``np.quantile(xs, probs)`` (its default, linear method, with its rounding) of an already sorted array,
    without the partial sorts ``np.quantile`` makes for every probability."""
    virtual = (xs.size - 1) * probs
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, xs.size - 1)
    t = virtual - below
    a, b = xs[below], xs[above]
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)  # numpy's _lerp: exact at both ends
    return out


@dataclass(frozen=True)
class CategoricalSlots:
    """Frozen category slots of one categorical column: ``categories`` then ``other`` then ``unseen``."""

    categories: tuple[str, ...]
    truncated: bool  # True when the reference had more distinct values than were kept

    @property
    def other_slot(self) -> int:
        return len(self.categories)

    @property
    def unseen_slot(self) -> int:
        return len(self.categories) + 1

    @property
    def n_slots(self) -> int:
        return len(self.categories) + 2

    def slots(self, codes: IntArray) -> IntArray:
        """Slot per row from category codes (index, or -1 for a value not among ``categories``).

        A value outside the kept categories is ``other`` when the baseline was truncated (it may have been seen
        in the reference, among the rare values) and ``unseen`` when the baseline kept every category."""
        outside = self.other_slot if self.truncated else self.unseen_slot
        return np.where(codes >= 0, codes, outside).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "truncated": self.truncated}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalSlots:
        return cls(tuple(str(c) for c in data["categories"]), bool(data["truncated"]))

    @classmethod
    def from_counts(cls, counts: dict[str, int], *, max_categories: int = 200) -> CategoricalSlots:
        """The most frequent categories (ties broken by value, so the order is deterministic)."""
        if max_categories < 1:
            raise ValueError("max_categories must be positive")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = tuple(k for k, _ in ranked[:max_categories])
        return cls(kept, len(ranked) > max_categories)
