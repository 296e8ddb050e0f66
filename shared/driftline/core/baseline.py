"""Baselines: frozen bins, the reference data profiled on them, and the score calibration.

Over 400 lines: the bins, reference profile and calibration are one frozen object built in the same two passes.

A baseline is built in two streamed passes over the reference files (``driftline.services.baselines`` drives
them): the first feeds a :class:`ReferenceSampler` (a bounded reservoir per numerical column, exact category
counts pruned to a bounded size) and freezes the bins (:class:`BinSpec`); the second profiles the reference
data on those bins with the same profiler the prediction logs go through, which gives the reference
distributions, the reference quality and performance, and the calibration of scores to outcomes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftline.core.bins import CategoricalSlots, NumericBins
from driftline.core.config import ModelConfig
from driftline.core.errors import BaselineError
from driftline.core.profile import Profile
from driftline.core.selection import selection_tau2
from driftline.core.thresholds import ColumnNull, column_null

FloatArray = NDArray[np.float64]

OTHER_SEGMENT = "__other__"
POSITIVE_NAMES = ("1", "true", "yes", "positive", "pos")
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BinSettings:
    fine_bins: int = 400
    coarse_bins: int = 10
    max_categories: int = 200
    max_segment_values: int = 25
    sample_cap: int = 500_000


def numeric_columns(config: ModelConfig) -> tuple[str, ...]:
    """The columns binned as numbers: numerical features, the score, and prediction and label in regression."""
    cols = list(config.numerical_features)
    if config.columns.score:
        cols.append(config.columns.score)
    if config.task == "regression":
        cols.append(config.columns.prediction)
        if config.columns.label:
            cols.append(config.columns.label)
    return tuple(cols)


def categorical_columns(config: ModelConfig) -> tuple[str, ...]:
    """The columns counted by category: categorical features, and prediction and label in classification."""
    cols = list(config.categorical_features)
    if config.task != "regression":
        cols.append(config.columns.prediction)
        if config.columns.label:
            cols.append(config.columns.label)
    return tuple(cols)


class ReferenceSampler:
    """First pass over reference data: a uniform reservoir of each numerical column, category counts.

    Memory is bounded: ``sample_cap`` floats per numerical column, and at most ``10 * max_categories`` (at least
    10,000) distinct values per categorical column — when a column has more, the rarest are dropped (their
    counts are lost, which only matters for values that would not be kept anyway)."""

    def __init__(self, config: ModelConfig, settings: BinSettings | None = None, *, seed: int = 0) -> None:
        settings = settings or BinSettings()
        self.config = config
        self.settings = settings
        self._seed = seed
        self._rng: np.random.Generator | None = None  # made when a reservoir first overflows (numpy.random: 25 ms)
        self._samples: dict[str, FloatArray] = {c: np.empty(0) for c in numeric_columns(config)}
        self._seen: dict[str, int] = dict.fromkeys(self._samples, 0)
        self._counts: dict[str, dict[str, int]] = {c: {} for c in categorical_columns(config)}
        # sensitive columns (fairness): value counts, for their groups and the default reference group
        self._groups: dict[str, dict[str, int]] = {c: {} for c in config.sensitive_columns}
        self._category_cap = max(10 * settings.max_categories, 10_000)
        self._truncated: set[str] = set()
        #: per categorical column past ``max_categories``: its kept categories' selection bias as overdispersion
        #: (``core.selection``), set by :meth:`freeze`
        self.selection: dict[str, float] = {}
        self.rows = 0

    def add_rows(self, n: int) -> None:
        self.rows += n

    def add_numeric(self, column: str, values: FloatArray) -> None:
        """Finite values of one batch (NaN and infinities are skipped)."""
        x = np.asarray(values, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        cap = self.settings.sample_cap
        sample, seen = self._samples[column], self._seen[column]
        room = max(cap - sample.size, 0)
        if room:
            sample = np.concatenate((sample, x[:room]))
            seen += min(room, x.size)
            x = x[room:]
        if x.size:
            # Algorithm R, vectorised: item j (0-based over all seen) replaces a random slot with prob cap/(j+1).
            if self._rng is None:
                self._rng = np.random.default_rng(self._seed)
            j = seen + np.arange(x.size, dtype=np.float64)
            accept = self._rng.random(x.size) < cap / (j + 1.0)
            slots = self._rng.integers(0, cap, size=int(accept.sum()))
            sample = sample.copy()
            sample[slots] = x[accept]
            seen += x.size
        self._samples[column], self._seen[column] = sample, seen

    def add_groups(self, column: str, values: list[str], counts: list[int]) -> None:
        """Value counts of a sensitive column in one batch (bounded as category counts are)."""
        acc = self._groups[column]
        for v, c in zip(values, counts, strict=True):
            acc[v] = acc.get(v, 0) + int(c)
        if len(acc) > self._category_cap:
            self._groups[column] = dict(sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[: self._category_cap // 2])

    def add_categories(self, column: str, values: list[str], counts: list[int]) -> None:
        acc = self._counts[column]
        for v, c in zip(values, counts, strict=True):
            acc[v] = acc.get(v, 0) + int(c)
        if len(acc) > self._category_cap:
            keep = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[: self._category_cap // 2]
            self._counts[column] = dict(keep)
            self._truncated.add(column)

    def freeze(self) -> BinSpec:
        """The frozen bins. Raises BaselineError naming a column that has no usable reference value."""
        cfg, s = self.config, self.settings
        if self.rows == 0:
            raise BaselineError("the reference data holds no rows")
        numeric: dict[str, NumericBins] = {}
        for col, sample in self._samples.items():
            if sample.size == 0:
                if col in (cfg.columns.label, cfg.columns.score):
                    continue  # optional in reference data
                raise BaselineError(f"column {col!r} has no numeric value in the reference data")
            numeric[col] = NumericBins.from_sample(sample, fine_bins=s.fine_bins, coarse_bins=s.coarse_bins)
        categorical: dict[str, CategoricalSlots] = {}
        classes: CategoricalSlots | None = None
        if cfg.task != "regression":
            class_counts: dict[str, int] = {}
            for target in (cfg.columns.prediction, cfg.columns.label):
                for k, v in self._counts.get(target or "", {}).items():
                    class_counts[k] = class_counts.get(k, 0) + v
            if not class_counts:
                raise BaselineError(f"column {cfg.columns.prediction!r} has no value in the reference data")
            classes = CategoricalSlots(tuple(sorted(class_counts)), False)
            if cfg.task == "binary_classification" and len(classes.categories) > 2:
                raise BaselineError(
                    f"binary_classification: columns {cfg.columns.prediction!r}/{cfg.columns.label!r} hold "
                    f"{len(classes.categories)} distinct classes in the reference data, expected at most 2"
                )
        for col, counts in self._counts.items():
            if cfg.task != "regression" and col in (cfg.columns.prediction, cfg.columns.label):
                if counts:
                    assert classes is not None
                    categorical[col] = classes
                continue
            if not counts:
                raise BaselineError(f"column {col!r} has no value in the reference data")
            slots = CategoricalSlots.from_counts(counts, max_categories=s.max_categories)
            if slots.truncated:  # the kept categories were chosen by the reference's counts (core/selection.py)
                self.selection[col] = selection_tau2(list(counts.values()), s.max_categories, seed=self._seed)
            if col in self._truncated:
                slots = CategoricalSlots(slots.categories, True)
            categorical[col] = slots
        segments = {
            col: categorical[col].categories[: s.max_segment_values]
            for col in cfg.columns.segments
            if col in categorical
        }
        positive = _positive_class(cfg, classes) if cfg.task == "binary_classification" else None
        groups, references = self._freeze_groups()
        return BinSpec(numeric, categorical, classes, positive, segments, groups, references)

    def _freeze_groups(self) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
        """Per sensitive column: the groups kept (most frequent first, at most ``max_segment_values``, the
        reference group always among them) and the reference group (configured, else the largest)."""
        cfg, s = self.config, self.settings
        groups: dict[str, tuple[str, ...]] = {}
        references: dict[str, str] = {}
        configured = {} if cfg.fairness is None else cfg.fairness.reference
        for col, counts in self._groups.items():
            if not counts:
                raise BaselineError(f"sensitive column {col!r} (fairness.sensitive) has no value in the reference data")
            ranked = [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
            ref = configured.get(col, ranked[0])
            if ref not in counts:
                raise BaselineError(
                    f"fairness.reference.{col}: group {ref!r} does not occur in the reference data "
                    f"(most frequent: {', '.join(repr(v) for v in ranked[:5])})"
                )
            kept = ranked[: s.max_segment_values]
            if ref not in kept:
                kept = [*kept[:-1], ref]
            groups[col], references[col] = tuple(kept), ref
        return groups, references


def _positive_class(cfg: ModelConfig, classes: CategoricalSlots | None) -> str:
    assert classes is not None
    if cfg.positive_class is not None:
        if cfg.positive_class not in classes.categories and len(classes.categories) >= 2:
            raise BaselineError(f"positive_class {cfg.positive_class!r} is not among the classes of the reference data")
        return cfg.positive_class
    for c in classes.categories:
        if c.strip().lower() in POSITIVE_NAMES:
            return c
    raise BaselineError(
        f"binary_classification: cannot tell the positive class of {cfg.columns.prediction!r} "
        f"({len(classes.categories)} classes, none of {', '.join(POSITIVE_NAMES)}); set positive_class in the config"
    )


@dataclass(frozen=True)
class BinSpec:
    """The frozen bins of every monitored column, and the segment values kept."""

    numeric: dict[str, NumericBins]
    categorical: dict[str, CategoricalSlots]
    classes: CategoricalSlots | None
    positive_class: str | None
    segments: dict[str, tuple[str, ...]]
    fairness_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # sensitive column -> groups kept
    fairness_reference: dict[str, str] = field(default_factory=dict)  # sensitive column -> reference group

    def group_labels(self, column: str) -> tuple[str, ...]:
        """The segment names of a sensitive column's groups, in code order; the last is the catch-all."""
        return (*(f"{column}={v}" for v in self.fairness_groups[column]), f"{column}={OTHER_SEGMENT}")

    def reference_group(self, column: str) -> int:
        return self.fairness_groups[column].index(self.fairness_reference[column])

    @property
    def positive_index(self) -> int:
        if self.classes is None or self.positive_class is None:
            raise BaselineError("this baseline has no positive class")
        try:
            return self.classes.categories.index(self.positive_class)
        except ValueError:
            return -1

    def segment_labels(self, column: str) -> tuple[str, ...]:
        """The segment names of one segment column, in code order; the last is the catch-all."""
        return (*(f"{column}={v}" for v in self.segments[column]), f"{column}={OTHER_SEGMENT}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
            "classes": None if self.classes is None else self.classes.to_dict(),
            "positive_class": self.positive_class,
            "segments": {k: list(v) for k, v in self.segments.items()},
            **(
                {
                    "fairness": {k: list(v) for k, v in self.fairness_groups.items()},
                    "fairness_reference": dict(self.fairness_reference),
                }
                if self.fairness_groups
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BinSpec:
        classes = None if d["classes"] is None else CategoricalSlots.from_dict(d["classes"])
        categorical = {}
        for k, v in d["categorical"].items():
            slots = CategoricalSlots.from_dict(v)
            categorical[k] = classes if classes is not None and slots == classes else slots
        return cls(
            {k: NumericBins.from_dict(v) for k, v in d["numeric"].items()},
            categorical,
            classes,
            d["positive_class"],
            {k: tuple(v) for k, v in d["segments"].items()},
            {k: tuple(v) for k, v in d.get("fairness", {}).items()},
            dict(d.get("fairness_reference", {})),
        )


@dataclass(frozen=True)
class Baseline:
    """A model's baseline: frozen bins, the reference profiles (population under ``None``, then one per segment),
    and the calibration of scores (P(positive) per score fine slot; binary classifiers with scores and labels)."""

    baseline_id: str
    model_id: str
    created_at: str
    spec: BinSpec
    reference: dict[str | None, Profile]
    calibration: FloatArray | None = None
    sources: tuple[str, ...] = field(default=())
    #: the ``auto`` thresholds' null per column (population), computed when the baseline is built; baselines built
    #: before it have none, and the evaluator computes it from ``reference`` (without the chunks' overdispersion)
    nulls: dict[str, ColumnNull] = field(default_factory=dict)
    # binary with a score and fairness: sensitive column -> [group, score fine slot] P(positive), per group
    group_calibration: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def population(self) -> Profile:
        return self.reference[None]

    def reference_for(self, segment: str | None) -> Profile:
        """The reference of a segment, or the population's when the segment had no reference rows."""
        ref = self.reference.get(segment)
        return ref if ref is not None and ref.rows > 0 else self.population

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "baseline_id": self.baseline_id,
            "model_id": self.model_id,
            "created_at": self.created_at,
            "sources": list(self.sources),
            "spec": self.spec.to_dict(),
            "reference": {("" if k is None else k): v.to_dict() for k, v in self.reference.items()},
            "calibration": None if self.calibration is None else self.calibration.tolist(),
            "nulls": {k: v.to_dict() for k, v in self.nulls.items()},
            **(
                {"group_calibration": {k: v.tolist() for k, v in self.group_calibration.items()}}
                if self.group_calibration
                else {}
            ),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baseline:
        if d.get("schema") != SCHEMA_VERSION:
            raise BaselineError(f"unsupported baseline schema {d.get('schema')!r}")
        return cls(
            str(d["baseline_id"]),
            str(d["model_id"]),
            str(d["created_at"]),
            BinSpec.from_dict(d["spec"]),
            {(k or None): Profile.from_dict(v) for k, v in d["reference"].items()},
            None if d["calibration"] is None else np.asarray(d["calibration"], dtype=np.float64),
            tuple(d.get("sources", ())),
            {k: ColumnNull.from_dict(v) for k, v in (d.get("nulls") or {}).items()},
            {k: np.asarray(v, dtype=np.float64) for k, v in d.get("group_calibration", {}).items()},
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Baseline:
        try:
            return cls.from_dict(json.loads(data))
        except (KeyError, TypeError, ValueError) as err:
            raise BaselineError(f"the stored baseline cannot be read: {err}") from err


def baseline_id_for(model_id: str, sources: list[str], spec: BinSpec) -> str:
    """A short content-derived id: the same reference files and bins give the same id."""
    h = hashlib.sha256()
    h.update(model_id.encode())
    for s in sorted(sources):
        h.update(b"\0" + s.encode())
    h.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    return h.hexdigest()[:16]


def calibrate(score_hist: NDArray[np.int64], *, prior_weight: float = 1.0) -> FloatArray:
    """P(positive | score slot) from the reference's per-label score counts, made monotone non-decreasing in the
    score by pool-adjacent-violators (isotonic regression, Barlow et al., 1972), with a weak prior toward the
    overall positive rate so that empty slots get a sensible value."""
    neg = score_hist[0].astype(np.float64)
    pos = score_hist[1].astype(np.float64)
    total = pos.sum() + neg.sum()
    if total <= 0:
        raise BaselineError("calibration needs labelled reference rows with scores")
    rate = pos.sum() / total
    weights = pos + neg + prior_weight
    p = (pos + prior_weight * rate) / weights
    return _pav(p, weights)


def _pav(y: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted isotonic (non-decreasing) regression by pool-adjacent-violators; O(n) blocks on a stack."""
    values: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        values.append(yi)
        weights.append(wi)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            v2, w2, s2 = values.pop(), weights.pop(), sizes.pop()
            w1 = weights[-1]
            values[-1] = (values[-1] * w1 + v2 * w2) / (w1 + w2)
            weights[-1] = w1 + w2
            sizes[-1] += s2
    return np.repeat(np.asarray(values), np.asarray(sizes))


def null_counts(spec: BinSpec, profile: Profile, column: str) -> FloatArray | None:
    """A column's counts on the slots the chi2-type drift statistics compare (numerical: the coarse bins), or None
    when the profile has no such column."""
    if column in spec.numeric and column in profile.numeric:
        prof = profile.numeric[column]
        counts = prof.counts if prof.resolution == "coarse" else spec.numeric[column].coarsen(prof.counts)
        return np.asarray(counts, dtype=np.float64)
    if column in spec.categorical and column in profile.categorical:
        return np.asarray(profile.categorical[column].counts, dtype=np.float64)
    return None


def reference_nulls(
    spec: BinSpec,
    population: Profile,
    chunks: list[Profile],
    columns: tuple[str, ...],
    selection: Mapping[str, float] | None = None,
) -> dict[str, ColumnNull]:
    """The null of every column with reference values, with the overdispersion of the reference's chunks (in the
    order the rows came) plus, for a categorical column past ``max_categories``, its kept categories' selection
    bias (``selection``: ``ReferenceSampler.selection``); its simulation, where expected counts are small, runs
    lazily in the evaluator."""
    out: dict[str, ColumnNull] = {}
    for col in columns:
        counts = null_counts(spec, population, col)
        if counts is None or counts.sum() <= 0:
            continue
        parts = [c for c in (null_counts(spec, chunk, col) for chunk in chunks) if c is not None]
        null = column_null(counts, parts)
        extra = (selection or {}).get(col, 0.0)
        out[col] = replace(null, tau2=null.tau2 + extra, selection=extra) if extra > 0 else null
    return out
