"""``driftline report``: one self-contained HTML page of a model's metrics, alerts and errors over a time range.

The page is pure HTML, inline CSS and inline SVG: no script, no font, no image, no stylesheet from anywhere
(a Content-Security-Policy forbids every fetch), so it opens offline, in a mail attachment or a CI artefact.

``render_report(container, model_id, start=, end=)`` loads what the page needs from the store and the registry
and calls :func:`render_report_from_data`, a pure function of already-loaded data (tested without AWS).
Every string that may come from user data (model, column, segment and category names, S3 keys, reasons) goes
through :func:`html.escape`; no raw feature value is shown, only category names and baseline bin edges.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from driftline.cli import report_slices
from driftline.cli.report.data import (
    DRIFT,
    ROWS,
    _attempt,
    _Data,
    _epoch,
    latest_drift_window,
    select_points,
)
from driftline.cli.report.distributions import (
    MAX_ALERTED,
    _distribution_cards,
    alerted_window_cards,
    every_feature_card,
)
from driftline.cli.report.sections import (
    _alerts_card,
    _business_cards,
    _chart_card,
    _errors_card,
    _header,
    _performance_cards,
    _segments_card,
)
from driftline.cli.report.svg import _iso, esc
from driftline.cli.report.timeseries import (
    drift_statistic_cards,
    freshness_card,
    quality_cards,
    segment_series_cards,
)
from driftline.cli.status import model_status
from driftline.core.baseline import Baseline
from driftline.core.config import ModelConfig
from driftline.core.metrics import MetricPoint
from driftline.core.profile import Profile
from driftline.services.store import ErrorRecord

if TYPE_CHECKING:
    from driftline.runtime.container import Container

__all__ = ["EXTRA_SECTIONS", "render_report", "render_report_from_data"]

# Sections added by other features (fairness, scenarios, ...): each a function of the report's data returning HTML
# cards (``sections._card`` / ``sections._chart_card`` build them), shown after the built-in metric sections and
# before the alert history. Append to it at import time of the module that defines the section.
EXTRA_SECTIONS: list[Callable[[_Data], list[str]]] = []
EXTRA_SECTIONS.append(lambda data: report_slices.cards(data.slices, data.config, step=data.step))


# -- entry points ------------------------------------------------------------------------------------------------


def render_report(container: Container, model_id: str, *, start: int, end: int) -> str:
    """The report of one model over [start, end) (epoch seconds), loaded from the store and the registry.

    A model without a configuration or a baseline still gets a page: whatever is stored is shown."""
    store, registry = container.store, container.registry
    config = _attempt(lambda: registry.config(model_id))
    baseline = _attempt(lambda: registry.current_baseline(model_id))
    points = select_points(store.points(model_id, start=start, end=end))
    alerts = [record.listed() for record in store.alert_history(model_id, start=start, end=end)]
    errors = store.error_records(model_id)
    window_profile: Profile | None = None
    window_baseline: Baseline | None = None
    ws = latest_drift_window(points)
    if ws is not None:
        wp = _attempt(lambda: store.window_profiles(model_id, ws))
        window_profile = None if wp is None else wp.profiles.get(None)
        if window_profile is not None:
            if baseline is not None and baseline.baseline_id == window_profile.baseline_id:
                window_baseline = baseline
            else:
                bid = window_profile.baseline_id
                window_baseline = _attempt(lambda: registry.baseline(model_id, bid))
    return render_report_from_data(
        model_id,
        start=start,
        end=end,
        points=points,
        alerts=alerts,
        errors=errors,
        config=config,
        baseline=baseline,
        window_profile=window_profile,
        window_start=ws,
        window_baseline=window_baseline,
        status=_attempt(lambda: model_status(container, model_id)),
        alerted_windows=_alerted_windows(container, model_id, alerts, baseline),
        looks=_attempt(functools.partial(container.store.looks_between, model_id, start=start, end=end)),
    )


def _alerted_windows(
    container: Container, model_id: str, alerts: list[dict[str, Any]], baseline: Baseline | None
) -> dict[int, tuple[Profile, Baseline | None]]:
    """The population profiles of the windows with a drift ALARM (the newest ``MAX_ALERTED``), and their baselines."""
    out: dict[int, tuple[Profile, Baseline | None]] = {}
    for a in sorted(alerts, key=lambda a: str(a.get("window_start")), reverse=True):
        ws = _epoch(a.get("window_start"))
        if len(out) >= MAX_ALERTED or ws is None or ws in out:
            continue
        if a.get("state") != "ALARM" or not str(a.get("metric")).startswith("drift.") or a.get("segment") is not None:
            continue
        wp = _attempt(functools.partial(container.store.window_profiles, model_id, ws))
        prof = None if wp is None else wp.profiles.get(None)
        if prof is None:
            continue
        base = baseline
        if base is None or base.baseline_id != prof.baseline_id:
            base = _attempt(functools.partial(container.registry.baseline, model_id, prof.baseline_id))
        out[ws] = (prof, base)
    return out


def render_report_from_data(
    model_id: str,
    *,
    start: int,
    end: int,
    points: Iterable[MetricPoint],
    alerts: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[ErrorRecord] = (),
    config: ModelConfig | None = None,
    baseline: Baseline | None = None,
    window_profile: Profile | None = None,
    window_start: int | None = None,
    window_baseline: Baseline | None = None,
    generated_at: float | None = None,
    status: Mapping[str, Any] | None = None,
    alerted_windows: Mapping[int, tuple[Profile, Baseline | None]] | None = None,
    looks: Mapping[int, int] | None = None,
) -> str:
    """The HTML page from already-loaded data; pure (no I/O).

    ``points``: metric points (population and segments); ``alerts``: alert payloads (SPEC §4), with ``published`` as the
    store's ``AlertRecord.listed`` gives them; ``errors``: the store's error records;
    ``window_profile``: the population profile of the window ``window_start`` (the latest with drift metrics),
    compared with ``window_baseline`` (default ``baseline``) for the distribution charts; ``status``: the object of
    ``driftline status --format json`` (freshness, files, the evaluator); ``alerted_windows``: the population
    profiles (and baselines) of windows with drift alarms, for their distribution charts; ``looks``: the early looks
    each window had while open (``Store.looks_between``), for the ``auto`` thresholds' share of the rate."""
    data = _Data.build(
        model_id,
        start,
        end,
        points,
        alerts,
        errors,
        config,
        baseline,
        window_profile,
        window_start,
        window_baseline or baseline,
        time.time() if generated_at is None else generated_at,
        status,
        alerted_windows,
        looks,
    )
    return _page(data)


def _page(data: _Data) -> str:
    cards: list[str] = []
    features, outputs = data.feature_columns(DRIFT)
    if features or not outputs:
        note = (
            "Per feature, whole population; dashed: a fixed alert threshold; shaded: the auto threshold of each "
            "window (lowest to highest feature, set by the window's rows); dots: alerts (hover for details)."
        )
        cards.append(
            _chart_card(data, "Feature drift · Jensen-Shannon distance", DRIFT, features, wide=True, note=note)
        )
    cards.append(_chart_card(data, "Volume · rows per window", ROWS, [None]))
    cards.append(freshness_card(data))
    cards += quality_cards(data)
    if outputs:
        cards.append(_chart_card(data, "Prediction, score and label drift · Jensen-Shannon", DRIFT, outputs, y_cap=1.0))
    stats = drift_statistic_cards(data)
    if stats:
        cards.append('<h2 class="section">Drift statistics beyond Jensen-Shannon</h2>')
        cards += stats
    cards += _performance_cards(data)
    cards += _business_cards(data)
    segments = _segments_card(data)
    if segments:
        cards.append(segments)
    over_time = segment_series_cards(data)
    if over_time:
        cards.append('<h2 class="section">Segments over time</h2>')
        cards += over_time
    dist = _distribution_cards(data)
    if dist:
        cards.append(
            f'<h2 class="section">Most drifted features in the latest window ({esc(_iso(data.window_start))})</h2>'
        )
        cards += dist
        every = every_feature_card(data)
        if every:
            cards.append(every)
    alerted = alerted_window_cards(data)
    if alerted:
        cards.append('<h2 class="section">Distributions in the windows that alarmed</h2>')
        cards += alerted
    for section in EXTRA_SECTIONS:
        cards += section(data)
    cards.append(_alerts_card(data))
    cards.append(_errors_card(data))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>driftline · {esc(data.model_id)}</title><style>{CSS}</style></head><body>"
        f'{_header(data)}<main class="cards">{"".join(cards)}</main>'
        f"<footer>Generated {esc(_iso(data.generated_at))} by driftline. Times are UTC; points sit at window starts."
        "</footer></body></html>\n"
    )


CSS = """
:root{--fg:#1d2733;--muted:#5f6b7a;--line:#e3e8ee;--bg:#f4f6f9;--card:#fff;--bad:#d62728;--ok:#2ca02c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif}
header{display:flex;flex-wrap:wrap;gap:24px;justify-content:space-between;align-items:flex-end;padding:22px 28px;
background:#1d2733;color:#fff}
header h1{margin:0 0 8px;font-size:26px;font-weight:650;word-break:break-all}
.brand{margin:0;text-transform:uppercase;letter-spacing:.12em;font-size:11px;color:#9fb3c8}
header dl{display:grid;grid-template-columns:auto 1fr;gap:2px 14px;margin:0;font-size:13px}
header dt{color:#9fb3c8}header dd{margin:0;font-variant-numeric:tabular-nums}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{background:#2a3744;border-radius:8px;padding:10px 14px;min-width:96px}
.stat b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.stat span{font-size:12px;color:#9fb3c8}.stat small{display:block;font-size:11px;color:#c5d2df}
.stat.bad{background:#7a1f22}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;padding:18px 28px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
.card.wide,.section{grid-column:1/-1}
.card h2{margin:0 0 6px;font-size:15px;font-weight:600}
h2.section{margin:10px 0 -4px;font-size:16px;font-weight:600}
.note{margin:-2px 0 8px;color:var(--muted);font-size:12px}
.empty{color:var(--muted);font-style:italic}
svg.chart{width:100%;height:auto;display:block;overflow:visible}
.chart text{font-size:11px;fill:#5f6b7a;font-family:inherit}
.chart text.date{fill:#1d2733;font-weight:600}
.chart .gridline{stroke:#edf0f4}.chart .tick,.chart .frame{stroke:#9aa5b1}
.chart .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.chart .threshold line{stroke:#333;stroke-width:1.3;stroke-dasharray:6 4}
.chart .threshold text{fill:#333;font-weight:600}
.chart .band-area{fill-opacity:.22;stroke:none}.chart .band-hover{fill:transparent}
.chart .band-line{fill:none;stroke-width:1.4;stroke-dasharray:6 4}
.chart .marker{stroke:#fff;stroke-width:1.5}
.chart .marker.alarm{fill:#d62728}.chart .marker.ok{fill:#2ca02c}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:6px;font-size:12px;color:#39434f}
.legend.sub{margin-top:2px;color:var(--muted)}
.key{display:inline-flex;align-items:center;gap:5px;word-break:break-all}
.scroll{max-height:520px;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
th{position:sticky;top:0;background:#f8fafc;font-weight:600;color:#39434f}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
tr.pop td{font-weight:600;background:#f8fafc}
tr.flag td:first-child{box-shadow:inset 3px 0 0 var(--bad)}
.barcell{position:relative;min-width:170px;height:20px;background:#f1f4f7;border-radius:4px;overflow:hidden}
.barcell .bar{position:absolute;left:0;top:0;bottom:0;background:#9ec1e6}
.barcell .bar.bad{background:#f2a3a4}
.barcell span{position:relative;padding:0 6px;line-height:20px;white-space:nowrap}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:700;color:#fff}
.badge.alarm{background:var(--bad)}.badge.ok{background:var(--ok)}
footer{padding:4px 28px 24px;color:var(--muted);font-size:12px}
.chart .partial{fill:#fff;stroke-width:2}.chart .partial-link{stroke-width:1.5;stroke-dasharray:2 3}
table.facts th{position:static;background:none;width:45%;font-weight:500;color:var(--muted)}
details.dist{border-top:1px solid var(--line);padding:4px 0}
details.dist summary{cursor:pointer;font-weight:600;padding:3px 0}
"""
