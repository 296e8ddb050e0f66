"""The report's fairness and scenario sections (hooked into ``driftline.cli.report``).

Fairness: per sensitive column, each group's disparate impact (its positive-prediction rate over the reference
group's) over time with the four-fifths line, its demographic parity difference, and a table of the latest
window's values per group. Scenarios: rows and performance per scenario over time, and the latest window's
values per scenario (rows, performance, the most drifted column).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from driftline.core import catalogue
from driftline.core.config import ModelConfig
from driftline.core.metrics import MetricPoint
from driftline.core.scenarios import SCENARIO_PREFIX

_ROWS = "volume.rows"
_DRIFT = "drift.jensen_shannon"
_FAIRNESS = catalogue.names(family="fairness")
_DISPARATE_IMPACT = "fairness.disparate_impact"
_rule = catalogue.METRICS[_DISPARATE_IMPACT].default
FOUR_FIFTHS = 0.8 if _rule is None or _rule.threshold is None else _rule.threshold  # the default rule's line


def wanted(p: MetricPoint) -> bool:
    """Whether a point is one these sections show (the page keeps only these besides its own)."""
    if p.metric.startswith("fairness."):
        return True
    return bool(p.segment and p.segment.startswith(SCENARIO_PREFIX)) and (
        p.metric in (_ROWS, _DRIFT) or p.metric.startswith(("performance.", "estimated."))
    )


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def cards(points: Iterable[MetricPoint], config: ModelConfig | None, *, step: int) -> list[str]:
    """The sections' HTML cards (none when there is nothing to show)."""
    from driftline.cli.report import sections  # the chart kit (the report package imports this module)
    from driftline.cli.report import svg as page

    pts = [p for p in points if wanted(p)]
    out: list[str] = []
    fairness = [p for p in pts if p.metric.startswith("fairness.")]
    columns = list(config.sensitive_columns) if config is not None else []
    columns += sorted({p.column for p in fairness if p.column and p.column not in columns})
    if fairness:
        out.append('<h2 class="section">Fairness across groups</h2>')
    for col in columns:
        mine = [p for p in fairness if p.column == col]
        if not mine:
            continue
        groups = sorted({p.segment or "" for p in mine})
        colors = {g: page.PALETTE[i % len(page.PALETTE)] for i, g in enumerate(groups)}
        for metric, title, refs in (
            (_DISPARATE_IMPACT, "disparate impact", [page.RefLine(FOUR_FIFTHS, "four-fifths rule")]),
            ("fairness.demographic_parity_difference", "positive rate minus the reference's", [page.RefLine(0.0, "")]),
        ):
            series = [
                page.Series(
                    g,
                    colors[g],
                    sorted((p.window_start, p.value) for p in mine if p.metric == metric and p.segment == g),
                )
                for g in groups
            ]
            series = [s for s in series if s.points]
            if not series:
                continue
            chart = page.line_chart(
                series, step=step, ref_lines=refs, y_floor=0.0 if metric.endswith("impact") else None, label=title
            )
            keys = page.legend([(s.name, s.color, False) for s in series])
            note = "Per group, against the reference group; dashed: the four-fifths line." if refs[0].value else ""
            out.append(sections._card(f"{col} · {title}", chart + keys, note=note))
        out.append(
            _latest_table(
                f"{col} · latest window",
                mine,
                list(_FAIRNESS),
                [m.removeprefix("fairness.").replace("_", " ") for m in _FAIRNESS],
            )
        )
    scen = [p for p in pts if p.segment and p.segment.startswith(SCENARIO_PREFIX)]
    if scen:
        out.append('<h2 class="section">Scenarios</h2>')
        names = sorted({p.segment or "" for p in scen})
        colors = {n: page.PALETTE[i % len(page.PALETTE)] for i, n in enumerate(names)}
        # the first headline performance series the scenarios have: labelled, then estimated
        headline = [f"{family}.{short}" for family in ("performance", "estimated") for short in ("accuracy", "rmse")]
        perf = next((m for m in headline if any(p.metric == m for p in scen)), None)
        for metric in ["volume.rows"] + ([perf] if perf else []):
            series = [
                page.Series(
                    n.removeprefix(SCENARIO_PREFIX),
                    colors[n],
                    sorted(
                        (p.window_start, p.value)
                        for p in scen
                        if p.metric == metric and p.segment == n and p.column is None
                    ),
                )
                for n in names
            ]
            series = [s for s in series if s.points]
            chart = page.line_chart(series, step=step, y_floor=0.0, label=metric)
            out.append(
                sections._card(f"Scenarios · {metric}", chart + page.legend([(s.name, s.color, False) for s in series]))
            )
        out.append(_scenario_table(scen, names))
    return out


def _latest(points: Sequence[MetricPoint]) -> int | None:
    return max((p.window_start for p in points), default=None)


def _latest_table(title: str, points: Sequence[MetricPoint], metrics: Sequence[str], heads: Sequence[str]) -> str:
    from driftline.cli.report import sections
    from driftline.cli.report import svg as page

    ws = _latest(points)
    rows = [p for p in points if p.window_start == ws]
    groups = sorted({p.segment or "" for p in rows})
    value = {(p.segment, p.metric): p for p in rows}
    body = ""
    for g in groups:
        di = value.get((g, _DISPARATE_IMPACT))
        bad = di is not None and di.value < FOUR_FIFTHS
        n = max((p.rows for p in rows if p.segment == g), default=0)
        cells = "".join(f"<td>{_num(value[(g, m)].value) if (g, m) in value else '–'}</td>" for m in metrics)
        body += f"<tr{' class=bad' if bad else ''}><td>{_esc(g)}</td><td>{n}</td>{cells}</tr>"
    head = "".join(f"<th>{_esc(h)}</th>" for h in ("group", "rows", *heads))
    table = f'<table class="segments"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return sections._card(title, table, note=f"Window {_esc(page._iso(ws))}; groups below four-fifths marked.")


def _scenario_table(points: Sequence[MetricPoint], names: Sequence[str]) -> str:
    from driftline.cli.report import sections
    from driftline.cli.report import svg as page

    ws = _latest(points)
    rows = [p for p in points if p.window_start == ws]
    body = ""
    for n in names:
        mine = [p for p in rows if p.segment == n]
        vol = next((p.value for p in mine if p.metric == "volume.rows"), None)
        perf = [f"{p.metric.split('.', 1)[1]} {_num(p.value)}" for p in mine if p.metric.startswith("performance.")]
        drift = max((p for p in mine if p.metric == "drift.jensen_shannon"), key=lambda p: p.value, default=None)
        worst = "–" if drift is None else f"{_esc(drift.column)} {_num(drift.value)}"
        body += (
            f"<tr><td>{_esc(n.removeprefix(SCENARIO_PREFIX))}</td><td>{_num(vol)}</td>"
            f"<td>{_esc(', '.join(perf) or '–')}</td><td>{worst}</td></tr>"
        )
    head = "<tr><th>scenario</th><th>rows</th><th>performance</th><th>most drifted (JS)</th></tr>"
    table = f'<table class="segments"><thead>{head}</thead><tbody>{body}</tbody></table>'
    return sections._card("Scenarios · latest window", table, wide=True, note=f"Window {_esc(page._iso(ws))}.")
