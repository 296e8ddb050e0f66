"""The metric catalogue (SPEC §3): what every metric is, said once.

One frozen :class:`MetricSpec` per metric name, in one explicit dict :data:`METRICS`. Config validation
(names, levels, column kinds, tasks, ranges, which rules may use ``auto``), the default rules, rule evaluation,
the alert wording (``<`` or ``>``), the metric computation (the drift statistics' functions), the CLI and the
report read it; no other module lists metric names. Adding a drift statistic means one entry here and one
function in :mod:`driftline.core.stats`.

``business.<name>`` is a pattern entry (:data:`BUSINESS`): :func:`spec_for` resolves any ``business.*`` name to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from driftline.core import stats

Level = Literal["model", "column", "fairness_group"]
Kind = Literal["numerical", "categorical"]
Worse = Literal["higher", "lower", "both"]
#: How an ``auto`` threshold's null distribution is had (``driftline.core.thresholds``):
#: "chi2": stat/h (squared for distances) is ~ chi2(K-1), simulated where expected counts are small;
#: "ks": the two-sample Kolmogorov-Smirnov critical value; "pvalue": the p-value compared with alpha;
#: "w1": W1 ~ sqrt(h) |Brownian bridge| integrated over the reference's bins (``driftline.core.wnull``).
NullMethod = Literal["chi2", "ks", "pvalue", "w1"]

TASKS: Final = ("binary_classification", "multiclass_classification", "regression")
BINARY: Final = ("binary_classification",)
CLASSIFICATION: Final = ("binary_classification", "multiclass_classification")
BOTH_KINDS: Final[tuple[Kind, ...]] = ("numerical", "categorical")

_INF = math.inf
UNIT: Final = (0.0, 1.0)
NON_NEGATIVE: Final = (0.0, _INF)
UNBOUNDED: Final = (-_INF, _INF)


@dataclass(frozen=True)
class DefaultRule:
    """A rule in force when a configuration has no ``alerts``. ``threshold`` None: ``auto``. ``relative``: the
    threshold is that fraction of the baseline's own value (``*_baseline_by`` rules)."""

    name: str
    op: str
    threshold: float | None
    severity: str = "warning"
    #: the model's features, or its numerical features only
    columns: Literal["features", "numerical_features"] | None = None
    relative: bool = False
    min_rows: int = 100
    #: built elsewhere (needs configuration this module does not read, e.g. the fairness groups)
    built_by: str | None = None


@dataclass(frozen=True)
class MetricSpec:
    name: str
    level: Level
    range: tuple[float, float]
    worse: Worse  # the direction of a worse value
    kinds: tuple[Kind, ...] = ()  # column metrics: the column kinds it applies to
    tasks: tuple[str, ...] = TASKS  # the tasks it is computed for
    auto: NullMethod | None = None  # None: ``auto`` does not apply
    default: DefaultRule | None = None
    #: judged on a window still open (SPEC §4): rates, distances, performance yes; counts and sums no
    open_window: bool = True
    needs_score: bool = False  # estimated.*: a binary classifier with a score column
    #: drift statistics: which slots the counts are compared on, and the function of (reference, current) counts
    binning: Literal["coarse", "fine"] | None = None
    func: Callable[[object, object], float] | None = None
    #: ``auto`` thresholds never go below this (the statistic's scale; for ``auto: w1``, in standard deviations of
    #: the reference): a difference a practitioner calls negligible
    effect_floor: float = 0.0
    pattern: bool = False  # ``business.<name>``
    #: a share of the window's rows (binomial noise: the early looks' noise gate for fixed thresholds)
    share: bool = False

    @property
    def family(self) -> str:
        return self.name.partition(".")[0]

    @property
    def short(self) -> str:
        return self.name.partition(".")[2]

    @property
    def lower_is_worse(self) -> bool:
        return self.worse == "lower"

    def applies_to(self, kind: Kind) -> bool:
        return kind in self.kinds


def _quality(name: str, kinds: tuple[Kind, ...] = BOTH_KINDS, default: DefaultRule | None = None) -> MetricSpec:
    return MetricSpec(name, "column", UNIT, "higher", kinds, default=default, share=True)


def _drift(
    short: str,
    kinds: tuple[Kind, ...],
    rng: tuple[float, float],
    *,
    binning: Literal["coarse", "fine"],
    func: Callable[[object, object], float] | None,
    auto: NullMethod | None,
    floor: float = 0.0,
    worse: Worse = "higher",
    default: DefaultRule | None = None,
) -> MetricSpec:
    return MetricSpec(
        f"drift.{short}",
        "column",
        rng,
        worse,
        kinds,
        auto=auto,
        binning=binning,
        func=func,
        effect_floor=floor,
        default=default,
    )


#: The performance metrics per task; ``estimated.*`` has the binary ones.
PERFORMANCE: Final[dict[str, tuple[tuple[str, tuple[float, float], Worse], ...]]] = {
    "binary_classification": (
        ("accuracy", UNIT, "lower"),
        ("precision", UNIT, "lower"),
        ("recall", UNIT, "lower"),
        ("f1", UNIT, "lower"),
        ("roc_auc", UNIT, "lower"),
    ),
    "multiclass_classification": (("accuracy", UNIT, "lower"), ("macro_f1", UNIT, "lower")),
    "regression": (
        ("mae", NON_NEGATIVE, "higher"),
        ("rmse", NON_NEGATIVE, "higher"),
        ("mape", NON_NEGATIVE, "higher"),
        ("r2", (-_INF, 1.0), "lower"),
    ),
}


def _performance() -> Iterator[MetricSpec]:
    seen: dict[str, MetricSpec] = {}
    for per_task in PERFORMANCE.values():
        for short, rng, worse in per_task:
            if short in seen:
                continue
            tasks = tuple(t for t in TASKS if any(s == short for s, _, _ in PERFORMANCE[t]))
            default = None
            if short == "accuracy":  # worse than the baseline's by 5% (relative), once labels arrive
                default = DefaultRule("default-performance", "below_baseline_by", 0.05, "critical", relative=True)
            elif short == "rmse":
                default = DefaultRule("default-performance", "above_baseline_by", 0.05, "critical", relative=True)
            seen[short] = MetricSpec(
                f"performance.{short}", "model", rng, worse, (), tasks, default=default, share=short == "accuracy"
            )
    yield from seen.values()
    for short, rng, worse in PERFORMANCE["binary_classification"]:
        yield MetricSpec(
            f"estimated.{short}", "model", rng, worse, (), BINARY, needs_score=True, share=short == "accuracy"
        )


def _fairness(short: str, rng: tuple[float, float], worse: Worse, default: DefaultRule | None = None) -> MetricSpec:
    return MetricSpec(f"fairness.{short}", "fairness_group", rng, worse, (), BINARY, default=default)


_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("volume.rows", "model", NON_NEGATIVE, "lower", open_window=False),
    MetricSpec("volume.files", "model", NON_NEGATIVE, "lower", open_window=False),
    MetricSpec("quality.time_error_rate", "model", UNIT, "higher"),
    _quality(
        "quality.missing_rate",
        # judged from 300 rows: a 0.1 margin is > 3.4 sd of a binomial share there, < 2.2e-4 false alarms (README)
        default=DefaultRule("default-missing-values", "above_baseline_by", 0.1, columns="features", min_rows=300),
    ),
    _quality("quality.out_of_range_rate", ("numerical",)),
    _quality("quality.unseen_category_rate", ("categorical",)),
    _quality("quality.type_error_rate"),
    # Effect floors: JS 0.02 (base 2) is about a 0.05-sigma mean shift of a normal column on 10 quantile bins;
    # the others are set to the same effect (PSI ~ 8 ln2 JS^2, Hellinger ~ sqrt(ln 2) JS for small differences).
    _drift("psi", BOTH_KINDS, NON_NEGATIVE, binning="coarse", func=stats.psi, auto="chi2", floor=0.0022),
    _drift(
        "jensen_shannon",
        BOTH_KINDS,
        UNIT,
        binning="coarse",
        func=stats.jensen_shannon,
        auto="chi2",
        floor=0.02,
        default=DefaultRule("default-feature-drift", "above", None, columns="features"),
    ),
    _drift("hellinger", BOTH_KINDS, UNIT, binning="coarse", func=stats.hellinger, auto="chi2", floor=0.017),
    _drift(
        "kolmogorov_smirnov",
        ("numerical",),
        UNIT,
        binning="fine",
        func=stats.kolmogorov_smirnov,
        auto="ks",
        floor=0.02,
    ),
    # in the column's units (wasserstein_binned needs the edges and tails); its ``auto`` floor is 0.05 reference
    # standard deviations: the W1 of a 0.05-sigma mean shift is exactly that, the JS floor's effect. A default rule
    # beside JS on numerical features: JS on 10 bins spreads its power over 9 degrees of freedom, W1 weighs how far
    # the mass moved (2-4x JS's power on location shifts); each spends half the column's rate (rules.alpha_shares)
    _drift(
        "wasserstein",
        ("numerical",),
        NON_NEGATIVE,
        binning="fine",
        func=None,
        auto="w1",
        floor=0.05,
        default=DefaultRule("default-feature-shift", "above", None, columns="numerical_features"),
    ),
    _drift(
        "chi2_pvalue",
        ("categorical",),
        UNIT,
        binning="coarse",
        func=stats.chi2_pvalue,
        auto="pvalue",
        worse="lower",
    ),
    *_performance(),
    _fairness(
        "disparate_impact",
        NON_NEGATIVE,
        "lower",
        DefaultRule("default-fairness", "below", 0.8, built_by="fairness (per group with at least min_rows rows)"),
    ),
    _fairness("demographic_parity_difference", (-1.0, 1.0), "both"),
    _fairness("equal_opportunity_difference", (-1.0, 1.0), "both"),
    _fairness("equalized_odds_difference", UNIT, "higher"),
    _fairness("accuracy_difference", (-1.0, 1.0), "both"),
)

#: name -> spec, in a stable order (volume, quality, drift, performance, estimated, fairness)
METRICS: Final[dict[str, MetricSpec]] = {s.name: s for s in _SPECS}

#: the pattern entry of every ``business.<name>``: a configured sum, mean or cost, any sign; a ``sum`` grows with
#: the window, so no business metric is judged on an open window
BUSINESS: Final = MetricSpec("business.<name>", "model", UNBOUNDED, "both", open_window=False, pattern=True)


def spec_for(name: str) -> MetricSpec | None:
    """The spec of a metric name (``business.<anything>`` gives :data:`BUSINESS`), or None when unknown."""
    found = METRICS.get(name)
    if found is not None:
        return found
    family, _, short = name.partition(".")
    return BUSINESS if family == "business" and short else None


def names(
    *, level: Level | None = None, family: str | tuple[str, ...] | None = None, kind: Kind | None = None
) -> tuple[str, ...]:
    """Metric names filtered by level, family (the part before the dot) and column kind, in catalogue order."""
    fams = (family,) if isinstance(family, str) else family
    return tuple(
        s.name
        for s in METRICS.values()
        if (level is None or s.level == level)
        and (fams is None or s.family in fams)
        and (kind is None or kind in s.kinds)
    )


def performance_names(task: str) -> tuple[str, ...]:
    """The short names of ``performance.*`` for a task, e.g. ``("mae", "rmse", "mape", "r2")``."""
    return tuple(short for short, _, _ in PERFORMANCE[task])


def drift_stats(kind: Kind) -> tuple[MetricSpec, ...]:
    """The drift statistics computed for a column kind."""
    return tuple(s for s in METRICS.values() if s.family == "drift" and kind in s.kinds)


def judged_on_open_window(name: str) -> bool:
    """SPEC §4: rates, distances and performance may be judged on a window still open; counts and sums not."""
    spec = spec_for(name)
    return spec is not None and spec.open_window
