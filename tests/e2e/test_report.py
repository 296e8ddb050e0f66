"""``driftline report``: the HTML page from synthetic data (pure), through the store (in memory), and rendered by a
headless Chromium (skipped when ``/usr/bin/chromium`` is missing; Debian/Ubuntu: ``apt-get install -y chromium``)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from driftline.adapters.memory import MemoryTable
from driftline.cli.report import ALARM_COLOR, PALETTE, render_report, render_report_from_data
from driftline.core.baseline import Baseline, BinSpec
from driftline.core.bins import CategoricalSlots, NumericBins
from driftline.core.config import ModelConfig
from driftline.core.metrics import MetricPoint, iso_utc
from driftline.core.profile import CategoricalProfile, NumericProfile, Profile
from driftline.services.store import ErrorRecord, Store, ws_key

HOUR = 3600
T0 = 1_767_571_200  # 2026-01-05T00:00:00Z
WINDOWS = 48
DRIFT_FROM = 30  # drift sets in at this window
EVIL = "<script>alert(1)</script>"
MODEL = "churn-v3"
CHROMIUM = Path("/usr/bin/chromium")


# -- synthetic data ------------------------------------------------------------------------------------------------


def synthetic_points(windows: int = WINDOWS, *, segments: tuple[str, ...] = ("US", "DE", "FR")) -> list[MetricPoint]:
    rng = np.random.default_rng(7)
    features = ["tenure_months", "monthly_spend", "support_tickets", "plan", "country", "payment_method", EVIL]
    out: list[MetricPoint] = []

    def add(metric: str, col: str | None, seg: str | None, w: int, value: float, rows: int = 1000) -> None:
        ws = T0 + w * HOUR
        out.append(MetricPoint(MODEL, metric, col, seg, ws, ws + HOUR, float(value), rows))

    for w in range(windows):
        drifting = w >= DRIFT_FROM
        rows = int(1000 + 300 * math.sin(w / 24 * 2 * math.pi) + rng.integers(0, 50))
        if w == 20:
            continue  # a missing window: the lines break
        add("volume.rows", None, None, w, rows, rows)
        for col in features:
            js = 0.02 + 0.01 * rng.random()
            if drifting and col == "monthly_spend":
                js = 0.25 + 0.05 * rng.random()
            elif drifting and col == "plan":
                js = 0.12 + 0.02 * rng.random()
            add("drift.jensen_shannon", col, None, w, js, rows)
            add("quality.missing_rate", col, None, w, 0.01 + (0.05 if col == "tenure_months" and w > 40 else 0), rows)
        add("drift.jensen_shannon", "churn_probability", None, w, 0.03 + (0.1 if drifting else 0), rows)
        # the other quality rates and drift statistics (a 50% out-of-range window must show)
        add("quality.out_of_range_rate", "monthly_spend", None, w, 0.5 if w == DRIFT_FROM + 2 else 0.0, rows)
        add("quality.unseen_category_rate", "plan", None, w, 0.02 if drifting else 0.0, rows)
        add("quality.type_error_rate", "tenure_months", None, w, 0.0, rows)
        add("quality.time_error_rate", None, None, w, 0.001, rows)
        for col in ("monthly_spend", "plan"):
            add("drift.psi", col, None, w, 0.02 + (0.6 if drifting else 0), rows)
            add("drift.hellinger", col, None, w, 0.05 + (0.3 if drifting else 0), rows)
        add("drift.kolmogorov_smirnov", "monthly_spend", None, w, 0.04 + (0.3 if drifting else 0), rows)
        add("drift.wasserstein", "monthly_spend", None, w, 1.5 + (25 if drifting else 0), rows)
        add("drift.chi2_pvalue", "plan", None, w, 0.6 if not drifting else 1e-9, rows)
        acc = 0.86 - (0.08 if drifting else 0) + 0.01 * rng.random()
        if w < windows - 6:  # labels arrive late: no actual performance for the last windows
            add("performance.accuracy", None, None, w, acc, rows)
            add("performance.f1", None, None, w, acc - 0.2, rows)
        add("estimated.accuracy", None, None, w, acc + 0.01, rows)
        add("estimated.f1", None, None, w, acc - 0.19, rows)
        add("business.retention_value", None, None, w, 12_000 - (4_000 if drifting else 0) + 500 * rng.random(), rows)
        add("business.churn_rate_predicted", None, None, w, 0.2 + (0.05 if drifting else 0), rows)
        for seg in (*segments, EVIL):
            s = f"country={seg}"
            collapse = seg == "DE" and drifting
            add("volume.rows", None, s, w, rows // 4, rows // 4)
            add("performance.accuracy", None, s, w, acc - (0.3 if collapse else 0.0), rows // 4)
            add("estimated.accuracy", None, s, w, acc, rows // 4)
            for col in features[:3]:
                add("drift.jensen_shannon", col, s, w, 0.02 + (0.4 if collapse and col == "tenure_months" else 0))
    return out


def synthetic_alerts() -> list[dict[str, Any]]:
    def alert(w: int, state: str, value: float, column: str | None = "monthly_spend", **kw: Any) -> dict[str, Any]:
        ws = T0 + w * HOUR
        return {
            "model_id": MODEL,
            "rule": "feature-drift",
            "state": state,
            "severity": "warning",
            "metric": "drift.jensen_shannon",
            "column": column,
            "segment": None,
            "value": value,
            "threshold": 0.1,
            "baseline_value": 0.0,
            "window_start": iso_utc(ws),
            "window_end": iso_utc(ws + HOUR),
            "evaluated_at": iso_utc(ws + 2 * HOUR),
            "details": {},
            **kw,
        }

    return [
        alert(DRIFT_FROM, "ALARM", 0.27),
        alert(DRIFT_FROM + 12, "OK", 0.05),
        alert(DRIFT_FROM + 1, "ALARM", 0.13, column="plan"),
        alert(
            DRIFT_FROM + 2,
            "ALARM",
            0.78,
            column=None,
            rule="accuracy-drop",
            metric="performance.accuracy",
            severity="critical",
            threshold=0.83,
        ),
        alert(DRIFT_FROM + 3, "ALARM", 0.4, column="tenure_months", segment="country=DE"),
        alert(DRIFT_FROM + 4, "ALARM", 0.4, column=EVIL),
    ]


def synthetic_errors() -> list[ErrorRecord]:
    return [
        ErrorRecord(T0 + 5 * HOUR, f"predictions/{MODEL}/2026/{EVIL}.csv", "abc", f"bad header {EVIL}"),
        ErrorRecord(
            T0 + 6 * HOUR, f"baselines/{MODEL}/ref.parquet", "def", "delivered 5 times, never processed", "dead_letter"
        ),
    ]


@dataclass(frozen=True)
class PartialPoint(MetricPoint):
    """A point of the window still open (SPEC §3 ``partial``), whatever MetricPoint's own fields are."""

    partial: bool = True


def open_window_points() -> list[MetricPoint]:
    """The open window after the last closed one: partial points, population and a segment."""
    ws = T0 + WINDOWS * HOUR
    return [
        PartialPoint(MODEL, "volume.rows", None, None, ws, ws + HOUR, 300.0, 300),
        PartialPoint(MODEL, "drift.jensen_shannon", "monthly_spend", None, ws, ws + HOUR, 0.31, 300),
        PartialPoint(MODEL, "volume.rows", None, "country=US", ws, ws + HOUR, 80.0, 80),
    ]


def synthetic_status() -> dict[str, Any]:
    return {
        "last_file": {
            "key": f"predictions/{MODEL}/last.csv",
            "received_at": iso_utc(T0 + WINDOWS * HOUR - 600),
            "status": "done",
            "kind": "predictions",
        },
        "files": {"received": 120, "processing": 1, "done": 117, "failed": 1, "dead_lettered": 1},
        "windows_waiting": {"count": 2, "oldest": iso_utc(T0 + (WINDOWS - 2) * HOUR)},
        "last_evaluation": {
            "at": iso_utc(T0 + WINDOWS * HOUR - 60),
            "windows": 1,
            "windows_left": 0,
            "errors": [f"model other: {EVIL}"],
        },
    }


def _numeric_profile(bins: NumericBins, values: np.ndarray, bid: str) -> NumericProfile:
    counts = np.bincount(bins.slots(values), minlength=bins.edges.size + 1).astype(np.int64)
    return NumericProfile("fine", counts)


def synthetic_baseline_and_window() -> tuple[Baseline, Profile]:
    rng = np.random.default_rng(3)
    spend_ref = rng.normal(60, 15, 20_000)
    tenure_ref = rng.gamma(2.0, 12.0, 20_000)
    tickets_ref = rng.poisson(1, 20_000).astype(float)
    bins = {
        "monthly_spend": NumericBins.from_sample(spend_ref),
        "tenure_months": NumericBins.from_sample(tenure_ref),
        "support_tickets": NumericBins.from_sample(tickets_ref),
    }
    plan = CategoricalSlots(("basic", "plus", "pro", EVIL), False)
    spec = BinSpec(dict(bins), {"plan": plan}, None, None, {"country": ("US", "DE", "FR", EVIL)})
    bid = "b0123456789abcdef"
    ref = Profile(
        bid,
        rows=20_000,
        files=1,
        numeric={
            c: _numeric_profile(bins[c], v, bid)
            for c, v in (("monthly_spend", spend_ref), ("tenure_months", tenure_ref), ("support_tickets", tickets_ref))
        },
        categorical={"plan": CategoricalProfile(np.array([10_000, 6_000, 3_000, 1_000, 0, 0], dtype=np.int64))},
    )
    spend_cur = rng.normal(85, 20, 1_000)  # drifted up, partly out of the reference range
    window = Profile(
        bid,
        rows=1_000,
        files=3,
        numeric={
            "monthly_spend": _numeric_profile(bins["monthly_spend"], spend_cur, bid),
            "tenure_months": _numeric_profile(bins["tenure_months"], rng.gamma(2.0, 12.0, 1_000), bid),
            "support_tickets": _numeric_profile(bins["support_tickets"], rng.poisson(1, 1_000) * 1.0, bid),
        },
        categorical={"plan": CategoricalProfile(np.array([200, 300, 450, 40, 0, 10], dtype=np.int64))},
    )
    baseline = Baseline(bid, MODEL, "2026-01-04T12:00:00Z", spec, {None: ref})
    return baseline, window


def render(config: ModelConfig, **kw: Any) -> str:
    baseline, window = synthetic_baseline_and_window()
    points = synthetic_points()
    last = max(p.window_start for p in points if p.metric == "drift.jensen_shannon")
    points += open_window_points()
    args: dict[str, Any] = {
        "start": T0,
        "end": T0 + WINDOWS * HOUR,
        "points": points,
        "alerts": synthetic_alerts(),
        "errors": synthetic_errors(),
        "config": config,
        "baseline": baseline,
        "window_profile": window,
        "window_start": last,
        "generated_at": T0 + WINDOWS * HOUR,
        "status": synthetic_status(),
        "alerted_windows": {T0 + DRIFT_FROM * HOUR: (window, baseline), T0 + (DRIFT_FROM + 1) * HOUR: (window, None)},
    }
    args.update(kw)
    return render_report_from_data(MODEL, **args)


# -- the page, pure --------------------------------------------------------------------------------------------


def test_report_content_and_escaping(churn_config: ModelConfig) -> None:
    page = render(churn_config)
    assert page.startswith("<!DOCTYPE html>")
    assert MODEL in page
    assert page.count("<svg") >= 8
    assert 'class="threshold"' in page
    assert "feature-drift &gt; 0.1" in page
    assert 'class="marker alarm"' in page
    assert 'class="marker ok"' in page
    # user data is escaped everywhere: column, segment, category names, S3 keys, reasons
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # no script at all
    # self-contained: nothing to fetch
    lowered = page.lower()
    for bad in ('src="http', "src='http", 'href="http', "href='http", "@import", "url(", "http://", "https://"):
        assert bad not in lowered, bad
    assert "<link" not in lowered
    assert "<img" not in lowered
    assert "default-src 'none'" in page
    # sections
    for title in (
        "Volume",
        "Feature drift",
        "Data quality",
        "Performance · accuracy",
        "Performance · f1",
        "Business · retention_value",
        "Segments",
        "Distribution · monthly_spend",
        "Distribution · plan",
        "Alert history",
        "Errors",
    ):
        assert title in page, title
    assert page.count("Distribution · ") == 3  # the 3 most drifted features
    # actual solid and estimated dashed on the same axes
    perf = page[page.index("Performance · accuracy") :]
    perf = perf[: perf.index("</section>")]
    assert 'stroke-dasharray="6 4"' in perf
    assert "actual" in perf
    assert "estimated" in perf
    # the collapsing segment is flagged; ISO dates on the axes
    assert re.search(r'<tr class="flag"><td>country=DE</td>', page)
    assert "2026-01-05" in page
    assert "2026-01-06" in page
    assert 'class="badge alarm">ALARM' in page
    assert 'class="badge ok">OK' in page


NEW_SECTIONS = (
    "Data quality · out of range rate",
    "Data quality · unseen category rate",
    "Data quality · type error rate",
    "Data quality · time error rate",
    "Drift · psi",
    "Drift · hellinger",
    "Drift · kolmogorov smirnov",
    "Drift · chi2 pvalue",
    "Drift · wasserstein · monthly_spend",
    "Segments over time · rows",
    "Segments over time · accuracy",
    "Segments over time · worst drift",
    "Every feature&#x27;s distribution",
    "Alerted window · monthly_spend · 2026-01-06T06:00:00Z",
    "Alerted window · plan · 2026-01-06T07:00:00Z",
    "Data freshness and files",
)


def section(page: str, title: str) -> str:
    at = page.index(title)
    return page[at : page.index("</section>", at)]


def test_report_new_sections(churn_config: ModelConfig) -> None:
    page = render(churn_config)
    for title in NEW_SECTIONS:
        assert title in page, title
    # a 50% out-of-range window is on the chart, on a 0..1-bounded axis: the line reaches the top tick (0.5)
    oor = section(page, "Data quality · out of range rate")
    assert ">0.5<" in oor and ">0.0<" in oor and ">-" not in oor
    # a rate that is always 0 has an axis from 0 up, never -1 .. 1
    flat = section(page, "Data quality · type error rate")
    assert ">-1" not in flat and ">0.00<" in flat and ">0.05<" in flat
    # the open window's points are drawn apart (hollow, dotted link), and said to be partial
    assert page.count('class="partial"') >= 3
    assert "partial: window still open" in section(page, "Feature drift")
    assert "partial: window still open" in section(page, "Segments over time · rows")
    # freshness: the last file, files failed / dead-lettered, the evaluator's errors (escaped)
    fresh = section(page, "Data freshness and files")
    for words in ("last file received", "files dead-lettered", "windows waiting for the evaluator", "evaluation error"):
        assert words in fresh, words
    assert EVIL not in page
    # the errors table says which were dead-lettered
    assert "dead-letter" in section(page, "Errors")
    # every feature's distribution is one click away (no script: <details>)
    assert page.count('<details class="dist">') == 1  # 4 features profiled in the window, 3 shown as cards


def test_line_chart_axes_for_rates() -> None:
    from driftline.cli.report.svg import Series, line_chart

    zero = line_chart([Series("x", "#000", [(T0, 0.0), (T0 + HOUR, 0.0)])], step=HOUR, y_floor=0.0, y_cap=1.0)
    labels = re.findall(r'text-anchor="end">([^<]+)<', zero)
    assert labels[0] == "0.00" and all(float(v) >= 0 for v in labels), labels
    full = line_chart([Series("x", "#000", [(T0, 0.2), (T0 + HOUR, 0.97)])], step=HOUR, y_floor=0.0, y_cap=1.0)
    labels = re.findall(r'text-anchor="end">([^<]+)<', full)
    assert float(labels[-1]) == 1.0 and float(labels[0]) == 0.0, labels


def test_report_without_config_or_baseline() -> None:
    page = render_report_from_data(
        MODEL, start=T0, end=T0 + WINDOWS * HOUR, points=synthetic_points(), alerts=synthetic_alerts(), generated_at=T0
    )
    assert MODEL in page
    assert "<svg" in page
    assert EVIL not in page
    assert 'class="threshold"' in page  # the default drift rule
    empty = render_report_from_data(MODEL, start=T0, end=T0 + HOUR, points=[], generated_at=T0)
    assert "No data in this range." in empty
    assert "No alert in this range." in empty


def test_report_size_for_30_days_hourly(churn_config: ModelConfig) -> None:
    points = synthetic_points(30 * 24, segments=("US", "DE", "FR", "BR", "IT", "ES", "GB", "JP"))
    page = render(churn_config, points=points, window_start=T0 + (30 * 24 - 1) * HOUR)
    assert len(page.encode()) < 2_000_000, len(page)


def test_render_report_loads_from_the_store(churn_config: ModelConfig) -> None:
    baseline, window = synthetic_baseline_and_window()
    store = Store(MemoryTable(), clock=lambda: T0 + WINDOWS * HOUR)
    store.put_points(synthetic_points())
    for a in synthetic_alerts():
        ws = int(datetime.fromisoformat(a["window_start"]).timestamp())
        key = f"H#{ws_key(ws)}#{a['rule']}#{a['column'] or '-'}#{a['segment'] or '-'}#{a['state']}"
        assert store.record_alert(MODEL, key, a)
    last = T0 + (WINDOWS - 1) * HOUR
    store.put_file_profiles(MODEL, "file1", {(last, None): window})
    store.put_file_profiles(MODEL, "file0", {(T0 + DRIFT_FROM * HOUR, None): window})  # an alarmed window
    assert store.claim_file("file1", model_id=MODEL, key=f"predictions/{MODEL}/last.csv", kind="predictions")
    store.record_error(MODEL, key=f"predictions/{MODEL}/x.csv", file_id="f", reason="cannot parse")

    registry = SimpleNamespace(
        config=lambda model_id: churn_config,
        current_baseline=lambda model_id: baseline,
        baseline=lambda model_id, baseline_id: baseline,
    )
    page = render_report(SimpleNamespace(store=store, registry=registry), MODEL, start=T0, end=T0 + WINDOWS * HOUR)
    assert MODEL in page
    assert baseline.baseline_id in page
    assert "Distribution · monthly_spend" in page
    assert "cannot parse" in page
    assert 'class="marker alarm"' in page
    # the windows that alarmed, loaded from the store; the freshness of the data from the status records
    assert "Alerted window · monthly_spend · 2026-01-06T06:00:00Z" in page
    assert f"predictions/{MODEL}/last.csv" in section(page, "Data freshness and files")


# -- the page, rendered --------------------------------------------------------------------------------------------


def decode_png(data: bytes) -> np.ndarray:
    """RGB(A) pixels (height, width, channels) of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, color, interlace = header[8], header[9], header[12]
    if depth != 8 or interlace != 0 or color not in (2, 6):
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}, interlace {interlace}")
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, width * bpp + 1)
    filters = raw[:, 0].astype(np.int32)
    if filters.max(initial=0) > 4:
        raise ValueError(f"bad PNG filter type {filters.max()}")
    filtered = raw[:, 1:].reshape(height, width, bpp).astype(np.int32)
    # Unfiltered pixels, padded with a zero row above and a zero column on the left (what the filters assume).
    out = np.zeros((height + 1, width + 1, bpp), dtype=np.int32)
    # Pixel (r, x) depends on its left, upper and upper-left neighbours only: decode one anti-diagonal
    # r + x = d at a time, vectorised along it, whatever the filter of each row (None, Sub, Up, Average, Paeth).
    for d in range(height + width - 1):
        r = np.arange(max(0, d - width + 1), min(height, d + 1))
        x = d - r
        left, up, upleft = out[r + 1, x], out[r, x + 1], out[r, x]
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        kind = filters[r][:, None]
        pred = np.select([kind == 1, kind == 2, kind == 3, kind == 4], [left, up, (left + up) >> 1, paeth], default=0)
        out[r + 1, x + 1] = (filtered[r, x] + pred) & 0xFF
    return out[1:, 1:].astype(np.uint8)


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])


@pytest.mark.e2e
def test_report_renders_in_headless_chromium(churn_config: ModelConfig, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (Debian/Ubuntu: apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(render(churn_config), encoding="utf-8")
    png = tmp_path / "report.png"
    profile_dir = tmp_path / "chromium-profile"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        f"--screenshot={png}",
        "--window-size=1400,9000",
        page.as_uri(),
    ]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)
    assert png.exists(), f"no screenshot (exit {run.returncode}): {run.stderr[-2000:]}"
    assert png.stat().st_size > 50_000, png.stat().st_size

    pixels = decode_png(png.read_bytes())[:, :, :3].astype(np.int32)
    assert pixels.shape[:2] == (9000, 1400), pixels.shape
    ink = (pixels.min(axis=2) < 200).mean()  # neither white nor the light page background
    assert ink > 0.03, f"only {ink:.1%} of the pixels are drawn"

    def count(hex_color: str, tol: int = 8) -> int:
        return int((np.abs(pixels - _rgb(hex_color)).max(axis=2) <= tol).sum())

    assert count(PALETTE[0]) > 1_000  # the first line colour (volume, first feature, actual performance)
    assert count(PALETTE[1]) > 300  # the second (the drifting feature)
    assert count(ALARM_COLOR) > 30  # alert markers
    # the sections below the first screen are drawn too: every band of 1,500 px down to the alert history holds ink
    html_text = page.read_text()
    for title in NEW_SECTIONS:
        assert title in html_text, title
    for top in range(0, 7500, 1500):
        band = pixels[top : top + 1500]
        assert (band.min(axis=2) < 200).mean() > 0.01, f"nothing drawn between {top} and {top + 1500} px"
