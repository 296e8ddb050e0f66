"""The report's SVG primitives and number formatting: line charts over time, grouped bar charts, legends.

Pure functions of their arguments (no data model): the page's sections compose them.
Over 400 lines: one chart kit (axes, scales, lines, bands, bars, legends share their geometry and formatting)."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from driftline.core.metrics import iso_utc

# Line colours (no pure red or green: those mark alerts). The volume line is the first one.
PALETTE = (
    "#2f6fb0",
    "#e8871e",
    "#7b5ea7",
    "#1b9e9e",
    "#d46aa8",
    "#8c6d4f",
    "#c9a227",
    "#5a6b7b",
    "#3c8dd9",
    "#a0522d",
    "#6b8e23",
    "#9467bd",
)
ACTUAL_COLOR = "#2f6fb0"
ESTIMATED_COLOR = "#e8871e"
BASELINE_BAR = "#b8c2cc"
WINDOW_BAR = "#2f6fb0"
ALARM_COLOR = "#d62728"
OK_COLOR = "#2ca02c"


# -- formatting --------------------------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(x: float | None) -> str:
    """A compact human number: 3 significant digits, k/M suffixes for large ones."""
    if x is None or not math.isfinite(x):
        return "–"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.3g}M"
    if ax >= 1e4:
        return f"{x / 1e3:.3g}k"
    if ax >= 100 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def tick_labels(ticks: Sequence[float], step: float) -> list[str]:
    """Labels of an axis's ticks, in one unit (k or M when the largest is 10,000 or more)."""
    top = max((abs(t) for t in ticks), default=0.0)
    unit, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
    return [_fmt_tick(t / unit, step / unit) + suffix for t in ticks]


def _fmt_tick(x: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step / 10 ** math.floor(math.log10(step)), 6) == 2.5:
        decimals += 1
    return f"{x:.{decimals}f}"


def _iso(t: float | None) -> str:
    return "–" if t is None else iso_utc(t)


def _short(t: float) -> str:
    """MM-DD HH:MM (UTC), for table cells."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%m-%d %H:%M")


def _edge(x: float) -> str:
    return f"{x:.4g}"


# -- SVG charts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: Sequence[tuple[int, float]]
    dashed: bool = False
    partial: frozenset[int] = frozenset()  # window starts of points whose window is still open


@dataclass(frozen=True)
class Marker:
    t: int
    value: float | None
    state: str
    label: str


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str


@dataclass(frozen=True)
class BandStep:
    """One step of a threshold band: the windows ``first`` .. ``last`` (starts), the lowest and highest threshold."""

    first: int
    last: int
    lo: float
    hi: float
    title: str


@dataclass(frozen=True)
class Band:
    """A threshold set per window (``auto``), drawn as a shaded band of steps, one step per window or run of
    windows (centred on their starts, as the lines' points are); ``line``: also a dashed line along its top."""

    name: str
    steps: Sequence[BandStep]
    color: str
    line: bool = False


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], float]:
    """Round tick values (1, 2, 2.5, 5 times a power of ten) covering [lo, hi], and their step."""
    if not hi > lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    count = round((last - first) / step)
    return [first + i * step for i in range(count + 1)], step


_TIME_STEPS = (300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000)


def time_ticks(t0: int, t1: int, max_ticks: int) -> tuple[list[int], int]:
    span = max(t1 - t0, 1)
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    first = -(-t0 // step) * step
    return list(range(first, t1 + 1, step)), step


def line_chart(
    series: Sequence[Series],
    *,
    step: int,
    width: int = 640,
    height: int = 250,
    ref_lines: Sequence[RefLine] = (),
    markers: Sequence[Marker] = (),
    y_floor: float | None = None,
    y_cap: float | None = None,
    label: str = "",
    bands: Sequence[Band] = (),
) -> str:
    """An inline SVG line chart over time (x: window starts, ISO dates), with dashed reference lines and markers.

    Lines break where windows are missing; a lone window shows as a dot. A point of a window still open (a
    series' ``partial``) is a hollow circle, joined to the line by a dotted segment. ``y_floor``/``y_cap``: the
    axis never goes below / above (rates: 0 and 1); a series flat at the floor gets a small positive range."""
    pts = [(t, v) for s in series for t, v in s.points]
    if not pts:
        return '<p class="empty">No data in this range.</p>'
    t0 = min(t for t, _ in pts)
    t1 = max(max(t for t, _ in pts), t0 + step)
    values = [v for _, v in pts] + [r.value for r in ref_lines] + [m.value for m in markers if m.value is not None]
    values += [v for b in bands for st in b.steps for v in (st.lo, st.hi)]
    lo, hi = min(values), max(values)
    if y_floor is not None:
        lo = min(lo, y_floor)
        if hi <= lo:  # flat at the floor: not a range around it (a missing rate of 0 is not -1 .. 1)
            hi = lo + (0.05 * (y_cap - lo) if y_cap is not None else 1.0)
    if y_cap is not None:
        hi = min(max(hi, lo), y_cap)
    ticks, ystep = nice_ticks(lo, hi)
    if y_floor is not None and ticks[0] < y_floor <= lo:
        ticks = [t for t in ticks if t >= y_floor - 1e-12]
    if y_cap is not None and ticks[-1] > y_cap >= hi:
        ticks = [t for t in ticks if t <= y_cap + 1e-12]
    lo, hi = ticks[0], ticks[-1]
    ml, mr, mt, mb = 58, 14, 12, 40
    pw, ph = width - ml - mr, height - mt - mb

    def x(t: float) -> float:
        return ml + (t - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return mt + (hi - v) / (hi - lo) * ph

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">']
    out.append('<g class="axis">')
    for v, text in zip(ticks, tick_labels(ticks, ystep), strict=True):
        yy = y(v)
        out.append(
            f'<line class="gridline" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml - 6}" y="{yy + 4:.1f}" text-anchor="end">{esc(text)}</text>'
        )
    xt, xstep = time_ticks(t0, t1, max(2, pw // 110))
    last_date = ""
    for t in xt:
        xx = x(t)
        stamp = dt.datetime.fromtimestamp(t, dt.UTC)
        date = stamp.strftime("%Y-%m-%d")
        out.append(f'<line class="tick" x1="{xx:.1f}" x2="{xx:.1f}" y1="{mt + ph}" y2="{mt + ph + 4}"/>')
        if xstep >= 86400:
            out.append(f'<text x="{xx:.1f}" y="{mt + ph + 17}" text-anchor="middle">{date}</text>')
        else:
            out.append(f'<text x="{xx:.1f}" y="{mt + ph + 17}" text-anchor="middle">{stamp:%H:%M}</text>')
            if date != last_date:
                out.append(f'<text class="date" x="{xx:.1f}" y="{mt + ph + 31}" text-anchor="middle">{date}</text>')
        last_date = date
    out.append(f'<line class="frame" x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}"/></g>')
    for b in bands:
        out.append(_band(b, x, y, step, (ml, ml + pw), (mt, mt + ph)))
    for s in series:
        done = [(t, v) for t, v in s.points if t not in s.partial]
        d = _path(done, x, y, step)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        if d:
            out.append(f'<path class="line" d="{d}" stroke="{s.color}"{dash}><title>{esc(s.name)}</title></path>')
        for t, v in s.points:
            if t not in s.partial:
                continue
            before = [(pt, pv) for pt, pv in done if 0 < t - pt <= 1.5 * step]
            if before:
                pt, pv = before[-1]
                out.append(
                    f'<line class="partial-link" x1="{x(pt):.1f}" y1="{y(pv):.1f}" x2="{x(t):.1f}" y2="{y(v):.1f}" '
                    f'stroke="{s.color}"/>'
                )
            out.append(
                f'<circle class="partial" cx="{x(t):.1f}" cy="{y(v):.1f}" r="4.5" stroke="{s.color}">'
                f"<title>{esc(s.name)} {esc(_fmt(v))}: partial, the window starting {esc(_iso(t))} is still open"
                "</title></circle>"
            )
    for r in ref_lines:
        yy = y(r.value)
        out.append(
            f'<g class="threshold"><line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml + pw - 4}" y="{yy - 4:.1f}" text-anchor="end">{esc(r.label)}</text></g>'
        )
    for m in markers:
        if m.t < t0 or m.t > t1:
            continue
        yy = y(min(max(m.value, lo), hi)) if m.value is not None else mt + 5
        cls = "alarm" if m.state == "ALARM" else "ok"
        out.append(
            f'<circle class="marker {cls}" cx="{x(m.t):.1f}" cy="{yy:.1f}" r="5"><title>{esc(m.label)}</title></circle>'
        )
    out.append("</svg>")
    return "".join(out)


def _band(
    band: Band,
    x: Callable[[float], float],
    y: Callable[[float], float],
    step: int,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
) -> str:
    """A band's shaded steps (runs broken where windows are missing), its top as a dashed line when asked, and per
    step a hover target whose title gives the step's threshold."""

    def clip(v: float, lim: tuple[float, float]) -> float:
        return min(max(v, lim[0]), lim[1])

    runs: list[list[tuple[float, float, BandStep]]] = []
    prev: int | None = None
    for st in sorted(band.steps, key=lambda s: s.first):
        if prev is None or st.first - prev > 1.5 * step:
            runs.append([])
        x0, x1 = clip(x(st.first - step / 2), xlim), clip(x(st.last + step / 2), xlim)
        runs[-1].append((x0, x1, st))
        prev = st.last
    area, top = [], []
    for run in runs:
        upper = " ".join(f"{x0:.1f} {y(st.hi):.1f} {x1:.1f} {y(st.hi):.1f}" for x0, x1, st in run)
        lower = " ".join(f"{x1:.1f} {y(st.lo):.1f} {x0:.1f} {y(st.lo):.1f}" for x0, x1, st in reversed(run))
        area.append(f"M{upper} L{lower}Z")
        top.append(f"M{upper}")
    out = [f'<g class="band"><title>{esc(band.name)}</title>']
    out.append(f'<path class="band-area" d="{"".join(area)}" fill="{band.color}"/>')
    if band.line:
        out.append(f'<path class="band-line" d="{"".join(top)}" stroke="{band.color}"/>')
    for x0, x1, st in (r for run in runs for r in run):
        y0, y1 = y(st.hi), y(st.lo)
        if y1 - y0 < 6:  # a thin band: a hover target of 6 px around it
            mid = (y0 + y1) / 2
            y0, y1 = clip(mid - 3, ylim), clip(mid + 3, ylim)
        out.append(
            f'<rect class="band-hover" x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
            f'height="{max(y1 - y0, 0.5):.1f}"><title>{esc(st.title)}</title></rect>'
        )
    out.append("</g>")
    return "".join(out)


def _path(
    points: Sequence[tuple[int, float]], x: Callable[[float], float], y: Callable[[float], float], step: int
) -> str:
    runs: list[list[tuple[float, float]]] = []
    prev: int | None = None
    for t, v in sorted(points):
        if prev is None or t - prev > 1.5 * step:
            runs.append([])
        runs[-1].append((x(t), y(v)))
        prev = t
    parts = []
    for run in runs:
        head = f"M{run[0][0]:.1f} {run[0][1]:.1f}"
        if len(run) == 1:
            parts.append(head + "h0.01")  # a dot, with the round line cap
        else:
            parts.append(head + "L" + " ".join(f"{px:.1f} {py:.1f}" for px, py in run[1:]))
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    groups: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 640,
    height: int = 250,
    label: str = "",
) -> str:
    """Grouped vertical bars of shares (0..1): ``groups`` are (name, colour, one value per label)."""
    n = len(labels)
    if n == 0:
        return '<p class="empty">No data.</p>'
    hi = max([v for _, _, vals in groups for v in vals] + [1e-9])
    ticks, ystep = nice_ticks(0.0, hi, 4)
    hi = ticks[-1]
    rotate = n > 8 or max(len(s) for s in labels) > 9
    ml, mr, mt, mb = 48, 10, 12, 86 if rotate else 30
    pw, ph = width - ml - mr, height - mt - mb
    slot = pw / n
    bw = slot * 0.8 / max(len(groups), 1)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}"><g class="axis">']
    for v in ticks:
        yy = mt + ph - v / hi * ph
        out.append(
            f'<line class="gridline" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text x="{ml - 6}" y="{yy + 4:.1f}" text-anchor="end">{_fmt_tick(v * 100, ystep * 100)}%</text>'
        )
    for i, text in enumerate(labels):
        cx = ml + slot * (i + 0.5)
        shown = text if len(text) <= 18 else text[:17] + "…"
        if rotate:
            out.append(
                f'<text x="{cx:.1f}" y="{mt + ph + 12}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {mt + ph + 12})"><title>{esc(text)}</title>{esc(shown)}</text>'
            )
        else:
            out.append(f'<text x="{cx:.1f}" y="{mt + ph + 16}" text-anchor="middle">{esc(shown)}</text>')
    out.append("</g>")
    for g, (name, color, vals) in enumerate(groups):
        for i, v in enumerate(vals):
            h = v / hi * ph
            bx = ml + slot * i + slot * 0.1 + g * bw
            out.append(
                f'<rect x="{bx:.1f}" y="{mt + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{esc(name)} {esc(labels[i])}: {v * 100:.1f}%</title></rect>"
            )
    out.append(f'<line class="frame" x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}"/></svg>')
    return "".join(out)


def legend(items: Sequence[tuple[str, str, bool]]) -> str:
    """(name, colour, dashed) swatches."""
    out = ['<div class="legend">']
    for name, color, dashed in items:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(
            f'<span class="key"><svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" '
            f'y2="5" stroke="{color}" stroke-width="2.5"{dash}/></svg>{esc(name)}</span>'
        )
    out.append("</div>")
    return "".join(out)


def _marker_legend(
    markers: Sequence[Marker], ref_lines: Sequence[RefLine], *, partial: bool = False, bands: Sequence[Band] = ()
) -> str:
    parts = []
    for b in bands:
        swatch = (
            f'<line x1="1" x2="21" y1="5" y2="5" stroke="{b.color}" stroke-width="1.5" stroke-dasharray="5 3"/>'
            if b.line
            else f'<rect x="1" y="1" width="20" height="8" fill="{b.color}" fill-opacity=".25"/>'
        )
        parts.append(
            f'<span class="key"><svg width="22" height="10" aria-hidden="true">{swatch}</svg>{esc(b.name)}</span>'
        )
    if partial:
        parts.append(
            '<span class="key"><svg width="12" height="12" aria-hidden="true"><circle cx="6" cy="6" r="4.5" '
            'fill="#fff" stroke="#5f6b7a" stroke-width="2"/></svg>partial: window still open</span>'
        )
    if ref_lines:
        parts.append(
            '<span class="key"><svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" '
            'y2="5" stroke="#444" stroke-width="1.5" stroke-dasharray="5 3"/></svg>threshold</span>'
        )
    states = {m.state for m in markers}
    for state, color in (("ALARM", ALARM_COLOR), ("OK", OK_COLOR)):
        if state in states:
            parts.append(
                f'<span class="key"><svg width="12" height="12" aria-hidden="true"><circle cx="6" cy="6" '
                f'r="5" fill="{color}"/></svg>alert {state}</span>'
            )
    return f'<div class="legend sub">{"".join(parts)}</div>' if parts else ""


def _card(title: str, body: str, *, wide: bool = False, note: str = "") -> str:
    cls = "card wide" if wide else "card"
    sub = f'<p class="note">{note}</p>' if note else ""
    return f'<section class="{cls}"><h2>{esc(title)}</h2>{sub}{body}</section>'
