"""The report's ``auto`` threshold band, end to end on the in-memory fakes: the demo's churn model (``above: auto``)
through ingest and the evaluator; the band's value of every window and column equals the threshold the evaluator
sets for it (the ``threshold`` of each drift alert it published, and the one it computes from the window's profile),
and the page draws the band with that value in its hover text."""

from __future__ import annotations

import calendar
import functools
import html
import re
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from driftline.cli.report import PALETTE, render_report, render_report_from_data
from driftline.cli.report.bands import MAX_BUCKETS
from driftline.cli.report.data import DRIFT, _Data, select_points
from driftline.cli.report.svg import _fmt
from driftline.core import rules as R
from driftline.core.autonull import auto_context
from driftline.core.config import load_config
from driftline.core.metrics import MetricPoint
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, generate

from .test_detection import Deployment

BUCKET = "driftline-test-data"
HOUR = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOURS = 10
DRIFT_FROM = 6


def _with_missing(table: pa.Table, column: str, share: float, seed: int) -> pa.Table:
    """``share`` of ``column``'s values set missing: its valid rows (the band's ``n``) differ from the window's."""
    mask = pa.array(np.random.default_rng(seed).random(table.num_rows) < share)
    values = table.column(column)
    return table.set_column(table.schema.get_field_index(column), column, pc.if_else(mask, None, values))


@pytest.fixture(scope="module")
def deployed() -> Deployment:
    at = T0 + HOURS * HOUR + 60
    d = Deployment(at)
    d.drop(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode())
    ref = generate(20_000, seed=1, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
    d.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(ref, "parquet"))
    for h in range(HOURS):
        drift = 0.0 if h < DRIFT_FROM else 0.6
        table = generate(700 + 60 * h, seed=10 + h, start=T0 + h * HOUR, span=HOUR - 1, drift=drift, id_prefix=f"h{h}")
        table = _with_missing(table, "monthly_spend", 0.05 * (h % 4), seed=h)
        d.drop(f"predictions/{MODEL_ID}/h{h:02d}.parquet", encode(table.drop_columns(["churned"]), "parquet"))
    (report,) = d.evaluate.evaluate_all(at=at)
    assert report.errors == [] and len(report.windows) == HOURS
    return d


def _data(d: Deployment) -> _Data:
    points = select_points(d.store.points(MODEL_ID, start=T0, end=T0 + HOURS * HOUR))
    alerts = [r.listed() for r in d.store.alert_history(MODEL_ID, start=T0, end=T0 + HOURS * HOUR)]
    config = d.registry.config(MODEL_ID)
    baseline = d.registry.current_baseline(MODEL_ID)
    return _Data.build(MODEL_ID, T0, T0 + HOURS * HOUR, points, alerts, [], config, baseline, None, None, None, 0.0)


def test_band_equals_the_thresholds_the_evaluator_published(deployed: Deployment) -> None:
    d = deployed
    drift = [a for a in d.published() if a["rule"] == "feature-drift"]
    alarms = [a for a in drift if a["state"] == "ALARM"]
    assert alarms, "the drift (hours 6..9) alarms"
    data = _data(d)
    assert data.auto is not None
    for a in drift:
        ws = calendar.timegm(time.strptime(a["window_start"], "%Y-%m-%dT%H:%M:%SZ"))
        assert ws >= T0 + DRIFT_FROM * HOUR  # none before the drift
        assert data.auto.value(DRIFT, a["column"], ws) == pytest.approx(a["threshold"], rel=1e-12), a
    # every window and column: the value the evaluator computes from the window's profile (n = its valid rows)
    config, baseline = d.registry.config(MODEL_ID), d.registry.current_baseline(MODEL_ID)
    rule = next(r for r in config.alerts if r.name == "feature-drift")
    rule = R.resolve_columns(rule, config)
    spend_ns = set()
    for h in range(HOURS):
        ws = T0 + h * HOUR
        profiles = d.store.window_profiles(MODEL_ID, ws).profiles
        context = auto_context(baseline, profiles, config.monitored_columns, config.false_alarm_rate, {})
        for col in config.features:
            expected = R.auto_threshold_of(R.Target(rule, col, None), context)
            assert expected is not None
            assert data.auto.value(DRIFT, col, ws) == pytest.approx(expected, rel=1e-12), (col, h)
            assert data.auto.valid_rows(col, ws) == context.sizes[(col, None)]
        spend_ns.add(context.sizes[("monthly_spend", None)])
    assert len(spend_ns) == HOURS  # the missing values moved n (and the thresholds) window by window


def test_the_page_draws_the_band_with_each_windows_threshold(deployed: Deployment) -> None:
    d = deployed
    registry = SimpleNamespace(
        config=d.registry.config,
        current_baseline=d.registry.current_baseline,
        baseline=d.registry.baseline,
    )
    page = render_report(SimpleNamespace(store=d.store, registry=registry), MODEL_ID, start=T0, end=T0 + HOURS * HOUR)
    feature = page[page.index("Feature drift") :]
    feature = feature[: feature.index("</section>")]
    assert '<g class="band">' in feature and 'class="band-area"' in feature
    assert "auto threshold, per window (lowest – highest column)" in feature  # the legend
    assert 'class="threshold"' not in feature  # no fixed line for an auto rule
    titles = [html.unescape(t) for t in re.findall(r'<rect class="band-hover"[^>]*><title>([^<]*)</title>', feature)]
    assert len(titles) == HOURS  # one step per window
    data = _data(d)
    assert data.auto is not None
    for a in (a for a in d.published() if a["rule"] == "feature-drift" and a["state"] == "ALARM"):
        title = next(t for t in titles if t.startswith(f"window {a['window_start']}"))
        ws = T0 + HOUR * int(a["window_start"][11:13])
        values = [data.auto.value(DRIFT, c, ws) for c in data.config.features]  # type: ignore[union-attr]
        lo, hi = min(v for v in values if v is not None), max(v for v in values if v is not None)
        assert lo <= a["threshold"] <= hi
        assert f"auto threshold {_fmt(lo)} (" in title and f"– {_fmt(hi)} (" in title, title
    # the alarms' markers say their threshold too
    assert f"(threshold {_fmt(a['threshold'])})" in feature


def test_fixed_rules_stay_a_line(deployed: Deployment) -> None:
    d = deployed
    config = load_config(CONFIG_YAML.replace("above: auto", "above: 0.1"))
    points = select_points(d.store.points(MODEL_ID, start=T0, end=T0 + HOURS * HOUR))
    page = render_report_from_data(
        MODEL_ID,
        start=T0,
        end=T0 + HOURS * HOUR,
        points=points,
        config=config,
        baseline=d.registry.current_baseline(MODEL_ID),
    )
    feature = page[page.index("Feature drift") :]
    feature = feature[: feature.index("</section>")]
    assert 'class="threshold"' in feature and "feature-drift &gt; 0.1" in feature
    assert '<g class="band">' not in feature


def test_one_column_rules_draw_their_own_threshold(deployed: Deployment) -> None:
    """``auto`` on another statistic for one column (PSI) and ``below: auto`` on the chi-squared p-value: their charts
    get a band, a single column's as a dashed step line in its colour, with the evaluator's values."""
    d = deployed
    extra = (
        "  - {name: spend-psi, metric: drift.psi, columns: [monthly_spend], above: auto}\n"
        "  - {name: plan-chi2, metric: drift.chi2_pvalue, columns: [plan], below: auto}\n"
    )
    config = load_config(CONFIG_YAML + extra)
    baseline = d.registry.current_baseline(MODEL_ID)
    points = select_points(d.store.points(MODEL_ID, start=T0, end=T0 + HOURS * HOUR))
    page = render_report_from_data(
        MODEL_ID, start=T0, end=T0 + HOURS * HOUR, points=points, config=config, baseline=baseline, generated_at=T0
    )
    psi = page[page.index("Drift · psi") :]
    psi = psi[: psi.index("</section>")]
    assert 'class="band-line"' in psi and "auto threshold of monthly_spend" in psi
    assert re.search(f'class="band-line" d="M[^"]*" stroke="{PALETTE[1]}"', psi)  # in monthly_spend's colour
    chi2 = page[page.index("Drift · chi2 pvalue") :]
    chi2 = chi2[: chi2.index("</section>")]
    assert '<g class="band">' in chi2 and "auto threshold of plan" in chi2
    data = _Data.build(MODEL_ID, T0, T0 + HOURS * HOUR, points, [], [], config, baseline, None, None, None, 0.0)
    assert data.auto is not None
    rules = {r.name: R.resolve_columns(r, config) for r in config.alerts}
    for h in range(HOURS):
        ws = T0 + h * HOUR
        context = auto_context(
            baseline,
            d.store.window_profiles(MODEL_ID, ws).profiles,
            config.monitored_columns,
            config.false_alarm_rate,
            {},
        )
        for name, metric, col in (
            ("spend-psi", "drift.psi", "monthly_spend"),
            ("plan-chi2", "drift.chi2_pvalue", "plan"),
        ):
            # two ``auto`` rules judge the column (feature-drift and this one): each spends half its rate, as the
            # evaluator splits it
            expected = R.auto_threshold_of(R.Target(rules[name], col, None), context, alpha_scale=0.5)
            assert expected is not None
            assert data.auto.value(metric, col, ws) == pytest.approx(expected, rel=1e-12), (name, h)


def test_segments_table_flags_drift_above_the_segments_own_threshold(deployed: Deployment) -> None:
    """The segments table flags a segment's worst feature by the threshold the ``auto`` rule would set for the
    segment's window (its rows, its null: the evaluator's function), not by the population's."""
    d = deployed
    data = _data(d)
    assert data.auto is not None
    config, baseline = d.registry.config(MODEL_ID), d.registry.current_baseline(MODEL_ID)
    rule = R.resolve_columns(next(r for r in config.alerts if r.name == "feature-drift"), config)
    last = T0 + (HOURS - 1) * HOUR
    profiles = d.store.window_profiles(MODEL_ID, last).profiles
    context = auto_context(baseline, profiles, config.monitored_columns, config.false_alarm_rate, {})
    checked = 0
    for seg in (s for s in profiles if s is not None):
        for col in ("tenure_months", "plan", "country"):  # no missing values: the segment's rows are its valid rows
            expected = R.auto_threshold_of(R.Target(rule, col, seg), context)
            point = data.segments.get((DRIFT, col, seg))
            if expected is None or point is None:
                continue
            assert data.drift_limit(seg, col, last) == pytest.approx(expected, rel=1e-12), (seg, col)
            assert expected > data.auto.value(DRIFT, col, last)  # fewer rows than the population: higher
            checked += 1
    assert checked >= 10
    page = render_report_from_data(
        MODEL_ID,
        start=T0,
        end=T0 + HOURS * HOUR,
        points=select_points(d.store.points(MODEL_ID, start=T0, end=T0 + HOURS * HOUR)),
        config=config,
        baseline=baseline,
        generated_at=T0,
    )
    assert "drift above its auto threshold" in page[page.index("<h2>Segments") :]


WIDE = [f"f{i:02d}" for i in range(14)] + [f"c{i:02d}" for i in range(6)]  # 20 features


def _wide_deployment() -> tuple[Deployment, str]:
    """A model of 20 features (14 numerical, 6 categorical of 4..40 categories), 5-minute windows, its baseline."""
    config = f"""\
model_id: wide
task: binary_classification
columns:
  id: request_id
  timestamp: event_time
  prediction: pred
  features:
    numerical: [{", ".join(WIDE[:14])}]
    categorical: [{", ".join(WIDE[14:])}]
window: 5m
"""
    rng = np.random.default_rng(11)
    n = 20_000
    cols: dict[str, Any] = {
        "request_id": [f"r{i}" for i in range(n)],
        "event_time": pa.array(((T0 - 86_400 + rng.random(n) * 86_400) * 1000).astype("int64"), pa.timestamp("ms")),
        "pred": (rng.random(n) < 0.3).astype("int64"),
    }
    for c in WIDE[:14]:
        cols[c] = rng.gamma(2.0, 3.0, n)
    for k, c in zip((4, 6, 10, 16, 25, 40), WIDE[14:], strict=True):
        cols[c] = [f"v{v}" for v in rng.zipf(1.6, n) % k]
    d = Deployment(T0)
    d.drop("models/wide/config.yaml", config.encode())
    d.drop("baselines/wide/reference.parquet", encode(pa.table(cols), "parquet"))
    return d, config


def _wide_points(windows: int, step: int) -> list[MetricPoint]:
    rng = np.random.default_rng(5)
    out = []
    for w in range(windows):
        ws = T0 + w * step
        rows = int(rng.integers(200, 400))
        out.append(MetricPoint("wide", "volume.rows", None, None, ws, ws + step, float(rows), rows))
        for c in WIDE:
            out.append(MetricPoint("wide", DRIFT, c, None, ws, ws + step, float(rng.random() * 0.1), rows))
            out.append(MetricPoint("wide", "quality.missing_rate", c, None, ws, ws + step, 0.0, rows))
    return out


def _wide_page(windows: int, step: int, *, alerts: str = "") -> tuple[str, _Data, float]:
    d, text = _wide_deployment()
    baseline = d.registry.current_baseline("wide")
    config = load_config(text.replace("window: 5m", f"window: {'1h' if step == HOUR else '5m'}") + alerts)
    points = _wide_points(windows, step)
    started = time.perf_counter()
    page = render_report_from_data(
        "wide", start=T0, end=T0 + windows * step, points=points, config=config, baseline=baseline, generated_at=T0
    )
    took = time.perf_counter() - started
    data = _Data.build("wide", T0, T0 + windows * step, points, [], [], config, baseline, None, None, None, 0.0)
    return page, data, took


@pytest.mark.parametrize(
    ("windows", "step"), [(30 * 24, HOUR), pytest.param(30 * 288, 300, marks=pytest.mark.slow)], ids=["1h", "5m"]
)
def test_band_size_and_time_for_30_days_and_20_features(windows: int, step: int) -> None:
    """30 days of hourly / 5-minute windows, 20 features with the default rules (``auto``): the band has at most
    MAX_BUCKETS steps, each bounding every threshold of its windows, and it is under 100 kB, the page within 15% of
    the same page with a fixed threshold."""
    page, data, took = _wide_page(windows, step)
    fixed = "alerts:\n  - {name: fd, metric: drift.jensen_shannon, columns: all_features, above: 0.1}\n"
    reference, _, took_fixed = _wide_page(windows, step, alerts=fixed)
    band_html = "".join(re.findall(r'<g class="band">.*?</g>', page))
    steps = band_html.count('class="band-hover"')
    assert 0 < steps <= MAX_BUCKETS
    (band,) = data.bands(DRIFT, list(WIDE))
    assert data.auto is not None
    for st in band.steps[:3]:
        exact = [
            v
            for t in range(st.first, st.last + 1, step)
            for c in WIDE
            if (v := data.auto.value(DRIFT, c, t)) is not None
        ]
        assert min(exact) == pytest.approx(st.lo, rel=1e-12) and max(exact) == pytest.approx(st.hi, rel=1e-12)
    size, size_fixed = len(page.encode()), len(reference.encode())
    print(
        f"{windows} windows x {len(WIDE)} features: page {size:,} bytes (fixed threshold: {size_fixed:,}), band "
        f"{len(band_html):,} bytes in {steps} steps; rendered in {took:.1f} s (fixed: {took_fixed:.1f} s)"
    )
    assert len(band_html) < 100_000 and size < 1.15 * size_fixed


def test_band_svg_steps_gaps_and_hover() -> None:
    """The band's shape: one step per window centred on its start, broken where windows are missing, a hover target
    of at least 6 px per step whose title is the step's; a one-column band also draws its top as a dashed line."""
    from driftline.cli.report.svg import Band, BandStep, Series, line_chart

    steps = [BandStep(T0 + h * HOUR, T0 + h * HOUR, 0.05, 0.05 + 0.01 * h, f"window {h}") for h in (0, 1, 2, 5, 6)]
    series = [Series("x", "#000", [(T0 + h * HOUR, 0.02) for h in range(7)])]
    chart = line_chart(series, step=HOUR, bands=[Band("b", steps, "#123456")], y_floor=0.0)
    area = re.search(r'<path class="band-area" d="([^"]*)"', chart)
    assert area is not None and area.group(1).count("M") == 2  # hours 3-4 missing: two runs
    assert 'class="band-line"' not in chart
    hovers = re.findall(
        r'<rect class="band-hover" x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)"><title>([^<]*)', chart
    )
    assert [t for _, t in hovers] == [f"window {h}" for h in (0, 1, 2, 5, 6)]
    assert all(float(h) >= 6.0 - 1e-9 for h, _ in hovers)
    assert chart.index('class="band-area"') < chart.index('class="line"')  # under the lines: their hover wins
    one = line_chart(series, step=HOUR, bands=[Band("b", steps, "#123456", line=True)], y_floor=0.0)
    assert re.search(r'class="band-line" d="M[^"]*" stroke="#123456"', one)


def test_band_after_early_looks_is_the_threshold_the_close_used() -> None:
    """A 1-day model on the default rules (JS and W1 on a numerical feature: α/2 each): three early looks at stable
    rows, then a late shift of ``monthly_spend`` in fewer rows than the next look needs, so only the close sees it.
    The close spends what the looks left (``looks.close_share(3)``) of each rule's half: the band, which reads the
    looks from the store, is exactly each closing alert's threshold; without the looks it would be lower."""
    from driftline.core import looks as L

    day = 86_400
    config = CONFIG_YAML[: CONFIG_YAML.index("alerts:\n")].replace("  segments: [country]\n", "")
    config = config.replace("window: 1h", "window: 1d")
    d = Deployment(T0 + day + 60)
    d.drop(f"models/{MODEL_ID}/config.yaml", config.encode())
    ref = generate(20_000, seed=1, start=T0 - 7 * day, span=7 * day, id_prefix="ref")
    d.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(ref, "parquet"))

    def put(name: str, n: int, hour: int, seed: int, scale: float = 1.0) -> None:
        table = generate(n, seed=seed, start=T0 + hour * HOUR, span=HOUR - 1, id_prefix=name).drop_columns(["churned"])
        if scale != 1.0:
            i = table.schema.get_field_index("monthly_spend")
            table = table.set_column(i, "monthly_spend", pc.multiply(table.column("monthly_spend"), scale))
        d.drop(f"predictions/{MODEL_ID}/{name}.parquet", encode(table, "parquet"))

    for k, (n, hour) in enumerate(((500, 1), (600, 2), (1_200, 3))):  # looks at 500, 1,100 and 2,300 rows
        put(f"s{k}", n, hour, seed=40 + k)
        (report,) = d.evaluate.evaluate_all(at=T0 + hour * HOUR + HOUR - 1)
        assert report.errors == [] and report.alerts == []
    assert d.store.looks_between(MODEL_ID, start=T0, end=T0 + day) == {T0: 3}
    put("late", 2_000, 20, seed=50, scale=1.6)  # 4,300 rows: under the 4,600 the next look needs
    (report,) = d.evaluate.evaluate_all(at=T0 + day + 60)
    closing = [a for a in d.published() if a["column"] == "monthly_spend" and a["state"] == "ALARM"]
    assert {a["rule"] for a in closing} == {"default-feature-drift", "default-feature-shift"}
    assert all("partial" not in a["details"] for a in closing)

    points = select_points(d.store.points(MODEL_ID, start=T0, end=T0 + day))
    registry = d.registry
    looks = d.store.looks_between(MODEL_ID, start=T0, end=T0 + day)
    build = functools.partial(
        _Data.build, MODEL_ID, T0, T0 + day, points, [], [], registry.config(MODEL_ID),
        registry.current_baseline(MODEL_ID), None, None, None, 0.0,
    )  # fmt: skip
    with_looks, without = build(looks=looks), build()
    assert with_looks.auto is not None and without.auto is not None
    assert with_looks.auto.look_scale(T0) == pytest.approx(L.close_share(3))
    for a in closing:
        band = with_looks.auto.value(a["metric"], "monthly_spend", T0)
        assert band == pytest.approx(a["threshold"], rel=1e-12), a["rule"]
        assert without.auto.value(a["metric"], "monthly_spend", T0) < band  # the closed window's full share


def test_an_open_windows_band_is_at_its_latest_looks_share() -> None:
    """A window still open (partial points) is drawn at the share of its latest look, a closed one at its close's."""
    from driftline.cli.report.bands import AutoThresholds
    from driftline.core import looks as L

    bands = AutoThresholds(None, None, [], {}, {10: 3, 20: 2}, open_windows={20})
    assert bands.look_scale(10) == pytest.approx(L.close_share(3))
    assert bands.look_scale(20) == pytest.approx(L.look_share(1))
    assert bands.look_scale(30) == 1.0
