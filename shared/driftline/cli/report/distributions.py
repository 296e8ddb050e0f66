"""Distributions of a window against its baseline: shares per bin (numerical) or category, and their cards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from driftline.cli.report.data import DRIFT, MAX_CATEGORIES, TOP_DRIFTED, _Data, _epoch, _float
from driftline.cli.report.sections import _card
from driftline.cli.report.svg import BASELINE_BAR, WINDOW_BAR, _edge, _fmt, _iso, bar_chart, esc, legend
from driftline.core.baseline import Baseline
from driftline.core.profile import Profile


@dataclass(frozen=True)
class Distribution:
    column: str
    labels: list[str]
    reference: list[float]  # shares
    window: list[float]
    drift: float | None


def distributions(data: _Data, *, top: int | None = TOP_DRIFTED) -> list[Distribution]:
    """The latest window's distributions of the features, most drifted first (``top`` of them; None: all)."""
    prof, base, ws = data.window_profile, data.window_baseline, data.window_start
    if prof is None or base is None or ws is None:
        return []
    latest: list[tuple[float, str]] = []
    features = set(data.config.features) if data.config is not None else None
    for col in data.columns_of(DRIFT):
        if features is not None and col not in features:
            continue
        value = dict(data.series(DRIFT, col)).get(ws)
        if value is not None:
            latest.append((value, col))
    latest.sort(key=lambda x: (-x[0], x[1]))
    ref = base.reference_for(None)
    out = []
    for value, col in latest[:top]:
        dist = _distribution(col, prof, ref, base)
        if dist is not None:
            out.append(Distribution(col, dist[0], dist[1], dist[2], value))
    return out


def _shares(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    total = float(counts.sum())
    return counts.astype(np.float64) / total if total > 0 else np.zeros(counts.size)


def _distribution(
    col: str, prof: Profile, ref: Profile, base: Baseline
) -> tuple[list[str], list[float], list[float]] | None:
    spec = base.spec
    if col in spec.numeric and col in prof.numeric and col in ref.numeric:
        bins = spec.numeric[col]
        cur, rp = prof.numeric[col], ref.numeric[col]
        c = cur.counts if cur.resolution == "coarse" else bins.coarsen(cur.counts)
        r = rp.counts if rp.resolution == "coarse" else bins.coarsen(rp.counts)
        edges = bins.coarse_edges
        if c.size != edges.size + 1 or r.size != c.size:
            return None
        atoms = bins.interval_atoms("coarse")
        upper = [*edges[1:-1], bins.ref_max]  # the last edge is just above the reference maximum
        groups: list[tuple[str, float, float]] = [(f"< {_edge(edges[0])}", float(r[0]), float(c[0]))]
        for j in range(edges.size - 1):
            label = _edge(edges[j]) if atoms[j] else f"{_edge(edges[j])} – {_edge(upper[j])}"
            groups.append((label, float(r[j + 1]), float(c[j + 1])))
        if edges.size > 2 and atoms[-1] and not atoms[-2]:
            # a continuous column: the last interval holds the reference maximum alone; shown with its neighbour
            label, r_last, c_last = groups.pop()
            prev = groups.pop()
            groups.append((prev[0], prev[1] + r_last, prev[2] + c_last))
        groups.append((f"> {_edge(bins.ref_max)}", float(r[-1]), float(c[-1])))
        r_total, c_total = sum(g[1] for g in groups) or 1.0, sum(g[2] for g in groups) or 1.0
        keep = [g for i, g in enumerate(groups) if 0 < i < len(groups) - 1 or g[1] > 0 or g[2] > 0]
        return [g[0] for g in keep], [g[1] / r_total for g in keep], [g[2] / c_total for g in keep]
    if col in spec.categorical and col in prof.categorical and col in ref.categorical:
        slots = spec.categorical[col]
        c, r = prof.categorical[col].counts, ref.categorical[col].counts
        if c.size != slots.n_slots or r.size != c.size:
            return None
        cs, rs = _shares(c), _shares(r)
        names = [*slots.categories, "(other)", "(unseen)"]
        idx = [i for i in range(c.size) if cs[i] > 0 or rs[i] > 0]
        idx.sort(key=lambda i: -max(cs[i], rs[i]))
        shown, rest = idx[:MAX_CATEGORIES], idx[MAX_CATEGORIES:]
        labels = [names[i] for i in shown]
        rvals = [float(rs[i]) for i in shown]
        cvals = [float(cs[i]) for i in shown]
        if rest:
            labels.append(f"({len(rest)} more)")
            rvals.append(float(sum(rs[i] for i in rest)))
            cvals.append(float(sum(cs[i] for i in rest)))
        return labels, rvals, cvals
    return None


def _bars(d: Distribution, when: str) -> str:
    chart = bar_chart(
        d.labels,
        [("baseline", BASELINE_BAR, d.reference), (f"window {when}", WINDOW_BAR, d.window)],
        label=f"{d.column} distribution",
    )
    return chart + legend([("baseline", BASELINE_BAR, False), (f"window {when}", WINDOW_BAR, False)])


def _distribution_cards(data: _Data) -> list[str]:
    dists = distributions(data)
    cards = []
    when = _iso(data.window_start)
    for d in dists:
        cards.append(
            _card(
                f"Distribution · {d.column}",
                _bars(d, when),
                note=esc(f"drift.jensen_shannon {_fmt(d.drift)} in the window starting {when}"),
            )
        )
    if (
        cards
        and data.window_baseline is not None
        and data.baseline is not None
        and data.window_baseline.baseline_id != data.baseline.baseline_id
    ):
        cards[0] = cards[0].replace(
            '<p class="note">',
            f'<p class="note">Compared with baseline {esc(data.window_baseline.baseline_id)}, the one this window was '
            "computed with. ",
            1,
        )
    return cards


def every_feature_card(data: _Data) -> str:
    """The latest window's distribution of every feature the top cards do not show, folded (no script needed)."""
    rest = distributions(data, top=None)[TOP_DRIFTED:]
    if not rest:
        return ""
    when = _iso(data.window_start)
    parts = []
    for d in rest:
        title = f"{d.column} · drift.jensen_shannon {_fmt(d.drift)}"
        parts.append(f'<details class="dist"><summary>{esc(title)}</summary>{_bars(d, when)}</details>')
    note = esc(f"The window starting {when}; open a feature to see its distribution against the baseline.")
    return _card(f"Every feature's distribution ({len(rest)} more)", "".join(parts), wide=True, note=note)


MAX_ALERTED = 12


def alerted_window_cards(data: _Data) -> list[str]:
    """For each drift ALARM of the population (newest first) whose window's profile was loaded: the distribution of
    the alerted column in that window against the baseline it was computed with."""
    cards: list[str] = []
    seen: set[tuple[int, str]] = set()
    for a in data.alerts:  # newest first
        if len(cards) >= MAX_ALERTED:
            break
        metric, col, seg = a.get("metric"), a.get("column"), a.get("segment")
        if a.get("state") != "ALARM" or not str(metric).startswith("drift.") or seg is not None or not col:
            continue
        ws = _epoch(a.get("window_start"))
        if ws is None or ws not in data.alerted_windows or (ws, str(col)) in seen:
            continue
        seen.add((ws, str(col)))
        prof, base = data.alerted_windows[ws]
        base = base or data.baseline
        if base is None:
            continue
        dist = _distribution(str(col), prof, base.reference_for(None), base)
        if dist is None:
            continue
        d = Distribution(str(col), dist[0], dist[1], dist[2], None)
        note = esc(
            f"{a.get('rule')}: {metric} {_fmt(_float(a.get('value')))} (threshold {_fmt(_float(a.get('threshold')))})"
        )
        cards.append(_card(f"Alerted window · {col} · {_iso(ws)}", _bars(d, _iso(ws)), note=note))
    return cards
