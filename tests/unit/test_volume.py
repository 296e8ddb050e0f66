"""The default low-volume rule (core/volume.py) and the default missing-rate rule's false-alarm rate, by formula;
the low-volume rule through the evaluator on in-memory fakes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.core import rules as R
from driftline.core import volume as V
from driftline.core.config import load_config
from driftline.services.alerts import AlertPublisher
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.store import Store
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, etag_of, generate

HOUR = 3600
T0 = 1_767_225_600
BUCKET = "b"
DEFAULTS_CONFIG = CONFIG_YAML[: CONFIG_YAML.index("alerts:\n")].replace("  segments: [country]\n", "")


def test_the_usual_rows_are_the_median_of_the_recent_windows_with_data() -> None:
    assert V.usual_rows([100, 0, 120, 90, 0, 110, 95, 105]) == pytest.approx(102.5)  # zeros (outages) left out
    assert V.usual_rows([100, 120, 90, 110, 95]) is None  # 5 windows with data: too few
    assert V.usual_rows([100, 120, 90, 110, 95, 1e6]) == pytest.approx(105)  # one burst does not move it
    assert V.low_volume_threshold(10_000) == pytest.approx(500)
    assert V.low_volume_threshold(10) is None  # under one row: silence is the no-data rule's
    assert V.low_volume_threshold(None) is None


@pytest.mark.parametrize("usual", [20, 100, 1_000, 10_000])
def test_poisson_noise_alone_never_trips_the_low_volume_rule(usual: float) -> None:
    threshold = V.low_volume_threshold(usual)
    assert threshold is not None
    # P(rows < threshold) for a window of Poisson(usual) rows
    assert stats.poisson.cdf(np.ceil(threshold) - 1, usual) < 1e-8


def test_the_default_missing_rate_rule_has_a_false_alarm_rate_under_3e_4_at_its_min_rows() -> None:
    config = load_config(DEFAULTS_CONFIG)
    (rule,) = [r for r in R.default_rules(config, {}) if r.metric == "quality.missing_rate"]
    assert rule.op == "above_baseline_by" and rule.threshold == pytest.approx(0.1)
    # the worst baseline share (p0 near 0.5), at min_rows and beyond, under binomial sampling
    for n in (rule.min_rows, 2 * rule.min_rows):
        worst = max(stats.binom.sf(np.floor(n * (p0 + rule.threshold)), n, p0) for p0 in np.linspace(0.01, 0.9, 90))
        assert worst < 3e-4
    # at 100 rows (the old min_rows) the same margin gave 1.8% false alarms per column-window
    assert max(stats.binom.sf(np.floor(100 * (p0 + 0.1)), 100, p0) for p0 in np.linspace(0.01, 0.9, 90)) > 0.015


class Env:
    def __init__(self) -> None:
        self.table, self.objects, self.sink = MemoryTable("t"), MemoryObjectStore(BUCKET), MemoryAlertSink()
        self.store = Store(self.table, clock=lambda: T0)
        self.registry = ModelRegistry(self.store, self.objects, clock=lambda: T0)
        alerts = AlertPublisher(self.store, self.sink)
        self.ingest = IngestService(self.store, self.registry, alerts, clock=lambda: T0)
        self.evaluate = EvaluateService(self.store, self.registry, alerts)

    def drop(self, key: str, body: bytes) -> None:
        self.objects.put_bytes(key, body)
        outcome = self.ingest.handle(parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False))
        assert outcome.status == "processed", outcome

    def published(self) -> list[dict[str, Any]]:
        out = [json.loads(p["messages"]["default"]) for p in self.sink.published]
        self.sink.published.clear()
        return out


def test_a_window_with_a_twentieth_of_the_usual_rows_alarms_then_returns_to_ok() -> None:
    env = Env()
    env.drop(f"models/{MODEL_ID}/config.yaml", DEFAULTS_CONFIG.encode())
    ref = generate(3_000, seed=11, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
    env.drop(f"baselines/{MODEL_ID}/ref.parquet", encode(ref, "parquet"))
    # Given eight hours of about 1,000 rows, then an hour of 40, then a normal hour again
    plan = [1_000, 1_050, 950, 1_000, 980, 1_020, 1_000, 990, 40, 1_000]
    for h, n in enumerate(plan):
        rows = generate(n, seed=100 + h, start=T0 + h * HOUR, span=HOUR - 1, id_prefix=f"h{h}").drop_columns(
            ["churned"]
        )
        env.drop(f"predictions/{MODEL_ID}/h{h}.parquet", encode(rows, "parquet"))
    # When each hour is evaluated as it closes
    low: list[dict[str, Any]] = []
    for h in range(len(plan)):
        env.evaluate.evaluate(MODEL_ID, at=T0 + (h + 1) * HOUR + 60)
        low += [a for a in env.published() if a["rule"] == V.LOW_VOLUME_RULE]
    # Then the hour of 40 rows alarms (the no-data rule, at 1 row, does not), and the next hour returns to OK
    assert [(a["state"], a["window_start"][11:16], a["value"]) for a in low] == [
        ("ALARM", "08:00", 40.0),
        ("OK", "09:00", 1_000.0),
    ]
    alarm = low[0]
    assert alarm["threshold"] == pytest.approx(0.05 * 1_000)  # a twentieth of the median of the hours before
    assert alarm["baseline_value"] == pytest.approx(1_000)
