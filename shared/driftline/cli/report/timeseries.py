"""Sections over time beyond the headline charts: every data-quality rate, every drift statistic (small multiples),
the segments' own series, and the data's freshness with the files that failed or were dead-lettered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from driftline.cli.report.data import DRIFT, MISSING, ROWS, _Data
from driftline.cli.report.sections import _chart_card
from driftline.cli.report.svg import PALETTE, Series, _card, _fmt, _iso, _marker_legend, esc, legend, line_chart
from driftline.core import catalogue

MAX_SEGMENT_LINES = 12
IN_COLUMN_UNITS = "drift.wasserstein"  # SPEC §3: in the column's units, so one chart per column
MAX_PER_COLUMN = 12  # small multiples of a statistic in the column's units


def _title(name: str) -> str:
    return name.partition(".")[2].replace("_", " ")


def _bounded(spec: catalogue.MetricSpec) -> float | None:
    """The axis cap of a metric bounded above by 1 (rates, most distances, p-values); None otherwise."""
    return 1.0 if spec.range[1] == 1.0 else None


def quality_cards(data: _Data) -> list[str]:
    """One chart per quality rate of the catalogue with data (the missing rate always: an empty chart says so)."""
    cards = []
    for name in catalogue.names(family="quality"):
        spec = catalogue.METRICS[name]
        columns: list[str | None] = [None] if spec.level == "model" else list(data.columns_of(name))
        if name != MISSING and not any(data.series(name, c) for c in columns):
            continue
        note = "per column, whole population" if spec.level == "column" else "share of the rows read"
        cards.append(
            _chart_card(data, f"Data quality · {_title(name)}", name, columns, y_cap=_bounded(spec), note=note)
        )
    return cards


def drift_statistic_cards(data: _Data) -> list[str]:
    """Each drift statistic of the catalogue beyond Jensen-Shannon, features as lines; a statistic in the column's
    own units (unbounded: Wasserstein) as small multiples, one chart per column."""
    cards = []
    for name in catalogue.names(family="drift"):
        if name == DRIFT:
            continue
        spec = catalogue.METRICS[name]
        columns = data.columns_of(name)
        if not columns:
            continue
        if name == IN_COLUMN_UNITS:
            for col in columns[:MAX_PER_COLUMN]:
                note = esc(f"{name} in {col}'s units")
                cards.append(_chart_card(data, f"Drift · {_title(name)} · {col}", name, [col], note=note))
            continue
        note = esc(f"{name}, per column; {'higher' if spec.worse == 'higher' else 'lower'} is worse")
        cards.append(_chart_card(data, f"Drift · {_title(name)}", name, list(columns), y_cap=_bounded(spec), note=note))
    return cards


def _segment_chart(data: _Data, metric: str, title: str, note: str, *, cap: float | None) -> str:
    segs = sorted({s for (m, s) in data.segment_series if m == metric})
    if not segs:
        return ""
    volume = {s: sum(v for _, v in data.segment_series.get((ROWS, s), [])) for s in segs}
    shown = sorted(segs, key=lambda s: (-volume.get(s, 0.0), s))[:MAX_SEGMENT_LINES]
    series = [
        Series(s, PALETTE[i % len(PALETTE)], data.segment_series[(metric, s)], partial=data.partial_of(metric, None, s))
        for i, s in enumerate(sorted(shown))
    ]
    chart = line_chart(series, step=data.step, y_floor=0.0 if cap else None, y_cap=cap, label=title)
    more = len(segs) - len(shown)
    if more > 0:
        note += f" The {len(shown)} largest segments of {len(segs)}."
    partial = any(s.partial for s in series)
    keys = legend([(s.name, s.color, False) for s in series]) + _marker_legend([], [], partial=partial)
    return _card(title, chart + keys, note=esc(note))


def segment_series_cards(data: _Data) -> list[str]:
    """Per-segment time series: rows, the model's headline performance (actual, else estimated), worst drift."""
    cards = [_segment_chart(data, ROWS, "Segments over time · rows", "Rows per window, per segment.", cap=None)]
    regression = data.config is not None and data.config.task == "regression"
    perf = [m for (m, _) in data.segment_series if m.startswith("performance.")]
    headline = "performance.rmse" if regression else "performance.accuracy"
    metric = headline if headline in perf else (sorted(perf)[0] if perf else "estimated.accuracy")
    name = metric.split(".", 1)[1] + (" (estimated)" if metric.startswith("estimated.") else "")
    cards.append(
        _segment_chart(data, metric, f"Segments over time · {name}", f"{metric} per window, per segment.", cap=None)
    )
    cards.append(
        _segment_chart(
            data,
            DRIFT,
            "Segments over time · worst drift",
            "The largest Jensen-Shannon distance of any column in the segment, per window.",
            cap=1.0,
        )
    )
    return [c for c in cards if c]


def _age(seconds: float) -> str:
    s = max(seconds, 0.0)
    for unit, width in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if s >= width:
            return f"{s / width:.1f} {unit}"
    return f"{s:.0f} s"


def _epoch(text: Any) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def freshness_card(data: _Data) -> str:
    """When data last arrived and how far the evaluator has got; files failed and dead-lettered."""
    now = data.generated_at
    windows = data.windows
    rows: list[tuple[str, str, bool]] = []  # (fact, value, bad)
    if windows:
        latest = windows[-1]
        rows.append(("latest window with data", f"{_iso(latest)} ({_age(now - latest - data.step)} ago)", False))
    else:
        rows.append(("latest window with data", "none in this range", True))
    open_windows = {t for (_, _, _, t) in data.partial}
    if open_windows:
        rows.append(("open window (partial points)", _iso(max(open_windows)), False))
    status = data.status or {}
    last = status.get("last_file")
    if last:
        at = _epoch(last.get("received_at"))
        age = f" ({_age(now - at)} ago)" if at is not None else ""
        bad = last.get("status") == "failed"
        rows.append(("last file received", f"{last.get('key')}{age}: {last.get('status')}", bad))
    files = status.get("files")
    if files:
        rows.append(("files received", f"{files.get('received', 0):,}", False))
        rows.append(("files processing", f"{files.get('processing', 0):,}", False))
        rows.append(("files failed", f"{files.get('failed', 0):,}", bool(files.get("failed"))))
        rows.append(("files dead-lettered", f"{files.get('dead_lettered', 0):,}", bool(files.get("dead_lettered"))))
    else:
        dead = sum(1 for e in data.errors if e.kind == "dead_letter")
        rows.append(("files failed (error records)", f"{len(data.errors) - dead:,}", len(data.errors) > dead))
        rows.append(("files dead-lettered", f"{dead:,}", dead > 0))
    waiting = status.get("windows_waiting")
    if waiting:
        rows.append(("windows waiting for the evaluator", f"{waiting.get('count', 0):,}", False))
    run = status.get("last_evaluation")
    if run:
        at = _epoch(run.get("at"))
        age = f" ({_age(now - at)} ago)" if at is not None else ""
        errors = run.get("errors") or []
        rows.append(("last evaluation", f"{run.get('at')}{age}: {run.get('windows', 0)} windows", False))
        rows += [("evaluation error", str(e), True) for e in errors]
    body = ['<table class="facts"><tbody>']
    for fact, value, bad in rows:
        cls = ' class="flag"' if bad else ""
        body.append(f"<tr{cls}><th>{esc(fact)}</th><td>{esc(value)}</td></tr>")
    body.append("</tbody></table>")
    volume = data.series(ROWS)
    note = f"As of {_iso(now)}." + (f" Last window's rows: {_fmt(volume[-1][1])}." if volume else "")
    return _card("Data freshness and files", "".join(body), note=esc(note))
