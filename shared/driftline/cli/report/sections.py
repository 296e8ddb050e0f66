"""The report's sections: header, metric charts, segments, alerts and errors, each a function of the data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from driftline.cli.report.data import DRIFT, MAX_TABLE_ROWS, PERFORMANCE_ORDER, ROWS, _Data, _float
from driftline.cli.report.svg import (
    ACTUAL_COLOR,
    ESTIMATED_COLOR,
    PALETTE,
    Series,
    _card,
    _fmt,
    _iso,
    _marker_legend,
    _short,
    esc,
    legend,
    line_chart,
)
from driftline.core import catalogue


def _chart_card(
    data: _Data,
    title: str,
    metric: str,
    columns: Sequence[str | None],
    *,
    wide: bool = False,
    y_floor: float | None = 0.0,
    y_cap: float | None = None,
    note: str = "",
) -> str:
    """A chart of ``metric`` for ``columns`` (None: the model-level series), whole population."""
    series = [
        Series(
            c if c is not None else metric,
            data.colors.get(c, PALETTE[0]) if c else PALETTE[0],
            data.series(metric, c),
            partial=data.partial_of(metric, c),
        )
        for c in columns
    ]
    refs = data.thresholds(metric, columns)
    bands = data.bands(metric, columns)
    marks = data.markers(metric, columns)
    width = 1280 if wide else 640
    chart = line_chart(
        series,
        step=data.step,
        width=width,
        height=300 if wide else 250,
        ref_lines=refs,
        markers=marks,
        y_floor=y_floor,
        y_cap=y_cap,
        label=title,
        bands=bands,
    )
    keys = legend([(s.name, s.color, s.dashed) for s in series]) if any(c is not None for c in columns) else ""
    partial = any(s.partial for s in series)
    return _card(title, chart + keys + _marker_legend(marks, refs, partial=partial, bands=bands), wide=wide, note=note)


def _header(data: _Data) -> str:
    cfg, base = data.config, data.baseline
    windows = data.windows
    alarms = sum(1 for a in data.alerts if a.get("state") == "ALARM")
    latest_state: dict[tuple[Any, Any, Any], str] = {}
    for a in reversed(data.alerts):  # oldest first: the last one wins
        latest_state[(a.get("rule"), a.get("column"), a.get("segment"))] = str(a.get("state"))
    open_alarms = sum(1 for s in latest_state.values() if s == "ALARM")
    rows = sum(v for _, v in data.series(ROWS))
    facts = [
        ("Task", cfg.task if cfg else "unknown (no configuration)"),
        ("Window", cfg.window if cfg else f"{data.step}s"),
        ("Range", f"{_iso(data.start)} → {_iso(data.end)}"),
        ("Data", f"{_iso(windows[0])} → {_iso(windows[-1] + data.step)}" if windows else "none in this range"),
        ("Baseline", f"{base.baseline_id} (created {base.created_at})" if base else "none"),
    ]
    stats = [
        ("windows", f"{len(windows):,}", ""),
        ("rows", _fmt(rows), ""),
        ("alerts", f"{len(data.alerts):,}", f"{alarms:,} ALARM · {len(data.alerts) - alarms:,} OK"),
        ("open alarms", f"{open_alarms:,}", "bad" if open_alarms else ""),
        ("errors", f"{len(data.errors):,}", "bad" if data.errors else ""),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    tiles = []
    for name, value, extra in stats:
        cls = "stat bad" if extra == "bad" else "stat"
        sub = f"<small>{esc(extra)}</small>" if extra and extra != "bad" else ""
        tiles.append(f'<div class="{cls}"><b>{esc(value)}</b><span>{esc(name)}</span>{sub}</div>')
    return (
        f'<header><div><p class="brand">driftline report</p><h1>{esc(data.model_id)}</h1><dl>{dl}</dl></div>'
        f'<div class="stats">{"".join(tiles)}</div></header>'
    )


def _performance_cards(data: _Data) -> list[str]:
    names = {
        m.split(".", 1)[1] for (m, c) in data.population if c is None and m.startswith(("performance.", "estimated."))
    }
    ordered = [n for n in PERFORMANCE_ORDER if n in names] + sorted(names - set(PERFORMANCE_ORDER))
    cards = []
    for name in ordered:
        actual, estimated = f"performance.{name}", f"estimated.{name}"
        series = [
            Series("actual", ACTUAL_COLOR, data.series(actual)),
            Series("estimated", ESTIMATED_COLOR, data.series(estimated), dashed=True),
        ]
        series = [s for s in series if s.points]
        refs = data.thresholds(actual, [None]) + data.thresholds(estimated, [None])
        marks = data.markers(actual, [None]) + data.markers(estimated, [None])
        chart = line_chart(series, step=data.step, ref_lines=refs, markers=marks, y_floor=None, label=name)
        cards.append(
            _card(
                f"Performance · {name}",
                chart + legend([(s.name, s.color, s.dashed) for s in series]) + _marker_legend(marks, refs),
            )
        )
    return cards


def _business_cards(data: _Data) -> list[str]:
    names = sorted(m for (m, c) in data.population if c is None and m.startswith("business."))
    cards = []
    for metric in names:
        chart = line_chart(
            [Series(metric, PALETTE[2], data.series(metric))],
            step=data.step,
            ref_lines=data.thresholds(metric, [None]),
            markers=data.markers(metric, [None]),
            y_floor=None,
            label=metric,
        )
        cards.append(_card(f"Business · {metric.split('.', 1)[1]}", chart))
    return cards


def _bar_cell(value: float | None, scale: float, bad: bool, text: str) -> str:
    if value is None:
        return '<td class="num">–</td>'
    pct = 0.0 if scale <= 0 else max(0.0, min(1.0, value / scale)) * 100
    cls = "bar bad" if bad else "bar"
    return (
        f'<td class="num"><div class="barcell"><div class="{cls}" style="width:{pct:.1f}%"></div>'
        f"<span>{esc(text)}</span></div></td>"
    )


def _segments_card(data: _Data) -> str:
    segs = sorted({s for (_, _, s) in data.segments})
    if not segs:
        return ""
    regression = data.config is not None and data.config.task == "regression"
    wanted = "performance.rmse" if regression else "performance.accuracy"
    has_actual = any(m == wanted for (m, _, _) in data.segments)
    perf_metric = wanted if has_actual or regression else "estimated.accuracy"
    perf_name = perf_metric.replace("performance.", "").replace("estimated.", "estimated ")
    worse_high = catalogue.METRICS[wanted].worse == "higher"
    threshold = data.drift_threshold()
    features = set(data.config.features) if data.config is not None else None

    def perf_of(seg: str | None) -> tuple[float | None, int | None]:
        if seg is None:
            s = data.series(perf_metric)
            return (s[-1][1], s[-1][0]) if s else (None, None)
        p = data.segments.get((perf_metric, None, seg))
        return (p.value, p.window_start) if p else (None, None)

    def drift_of(seg: str | None) -> tuple[str | None, float | None, int | None]:
        cands: list[tuple[int, float, str]] = []
        if seg is None:
            for col in data.columns_of(DRIFT):
                s = data.series(DRIFT, col)
                if s and (features is None or col in features):
                    cands.append((s[-1][0], s[-1][1], col))
        else:
            for (m, c, sg), p in data.segments.items():
                if m == DRIFT and sg == seg and c is not None and (features is None or c in features):
                    cands.append((p.window_start, p.value, c))
        if not cands:
            return None, None, None
        latest = max(t for t, _, _ in cands)
        t, v, c = max((x for x in cands if x[0] == latest), key=lambda x: x[1])
        return c, v, t

    def rows_of(seg: str | None) -> float | None:
        if seg is None:
            s = data.series(ROWS)
            return s[-1][1] if s else None
        p = data.segments.get((ROWS, None, seg))
        return p.value if p else None

    pop_perf, _ = perf_of(None)
    entries = [(None, perf_of(None), drift_of(None), rows_of(None))] + [
        (s, perf_of(s), drift_of(s), rows_of(s)) for s in segs
    ]
    perf_values = [e[1][0] for e in entries if e[1][0] is not None]
    perf_scale = (max(perf_values) if perf_values else 1.0) if worse_high else 1.0
    drift_values = [e[2][1] for e in entries if e[2][1] is not None]
    drift_scale = max([*drift_values, threshold if math.isfinite(threshold) else 0.0, 0.05])

    def perf_bad(v: float | None) -> bool:
        if v is None or pop_perf is None:
            return False
        return v > pop_perf * 1.25 if worse_high else v < pop_perf - 0.05

    def rank(
        e: tuple[
            str | None, tuple[float | None, int | None], tuple[str | None, float | None, int | None], float | None
        ],
    ) -> tuple[int, float]:
        v = e[1][0]
        if v is None:
            return (1, -(e[2][1] or 0.0))
        return (0, -v if worse_high else v)

    body = [
        f'<table class="segments"><thead><tr><th>segment</th><th class="num">rows (latest)</th>'
        f'<th class="num">{esc(perf_name)} (latest)</th><th>worst feature</th>'
        f'<th class="num">drift.jensen_shannon</th></tr></thead><tbody>'
    ]
    ordered = entries[:1] + sorted(entries[1:], key=rank)
    for seg, (pv, pt), (col, dv, dtm), nrows in ordered:
        bad_p, bad_d = perf_bad(pv), dv is not None and dv > data.drift_limit(seg, col, dtm)
        name = "all (population)" if seg is None else seg
        cls = ' class="pop"' if seg is None else (' class="flag"' if bad_p or bad_d else "")
        ptext = f"{_fmt(pv)}" + (f" · {_short(pt)}" if pt is not None else "")
        dtext = f"{_fmt(dv)}" + (f" · {_short(dtm)}" if dtm is not None else "")
        body.append(
            f'<tr{cls}><td>{esc(name)}</td><td class="num">{esc(_fmt(nrows))}</td>'
            f"{_bar_cell(pv, perf_scale, bad_p, ptext)}<td>{esc(col or '–')}</td>"
            f"{_bar_cell(dv, drift_scale, bad_d, dtext)}</tr>"
        )
    body.append("</tbody></table>")
    limit = "" if not math.isfinite(threshold) else f" or drift above {_fmt(threshold)}"
    if data.auto is not None and any(data.auto.rule_for(DRIFT, c) for c in data.colors):
        limit = " or the worst feature's drift above its auto threshold (a segment's: for the segment's rows)"
    what = (
        f"{perf_name} more than 25% above the population's"
        if worse_high
        else f"{perf_name} more than 0.05 below the population's"
    )
    note = (
        f"Latest value of each segment (the window is shown after the value). Highlighted: {esc(what)}"
        f"{esc(limit)}. Worst segments first."
    )
    return _card("Segments", "".join(body), wide=True, note=note)


def _alerts_card(data: _Data) -> str:
    if not data.alerts:
        return _card("Alert history", '<p class="empty">No alert in this range.</p>', wide=True)
    head = (
        "<tr><th>window start</th><th>state</th><th>severity</th><th>rule</th><th>metric</th><th>column</th>"
        '<th>segment</th><th class="num">value</th><th class="num">threshold</th>'
        '<th class="num">baseline</th></tr>'
    )
    rows = []
    for a in data.alerts[:MAX_TABLE_ROWS]:
        state = str(a.get("state", ""))
        badge = "alarm" if state == "ALARM" else "ok"
        cells = [
            esc(a.get("window_start") or a.get("evaluated_at") or "–"),
            f'<span class="badge {badge}">{esc(state)}</span>',
            esc(a.get("severity") or ""),
            esc(a.get("rule") or ""),
            esc(a.get("metric") or ""),
            esc(a.get("column") or "–"),
            esc(a.get("segment") or "–"),
        ]
        nums = [_fmt(_float(a.get(k))) for k in ("value", "threshold", "baseline_value")]
        rows.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "".join(f'<td class="num">{esc(n)}</td>' for n in nums)
            + "</tr>"
        )
    more = len(data.alerts) - MAX_TABLE_ROWS
    tail = f'<p class="note">{more:,} older alerts not shown.</p>' if more > 0 else ""
    table = f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>{tail}'
    return _card("Alert history", table, wide=True, note="Newest first.")


def _errors_card(data: _Data) -> str:
    if not data.errors:
        return _card("Errors", '<p class="empty">No file failed.</p>', wide=True)
    rows = []
    for e in data.errors[:MAX_TABLE_ROWS]:
        rows.append(
            f"<tr><td>{esc(_iso(e.at))}</td><td>{esc((e.kind or 'failed').replace('_', '-'))}"
            f'</td><td class="key">{esc(e.key)}</td><td>{esc(e.reason)}</td></tr>'
        )
    more = len(data.errors) - MAX_TABLE_ROWS
    tail = f'<p class="note">{more:,} older errors not shown.</p>' if more > 0 else ""
    table = (
        '<div class="scroll"><table><thead><tr><th>at</th><th>kind</th><th>key</th><th>reason</th></tr></thead><tbody>'
        f"{''.join(rows)}</tbody></table></div>{tail}"
    )
    note = "Files that could not be processed (failed, dead-lettered, rejected keys), newest first."
    return _card("Errors", table, wide=True, note=note)
