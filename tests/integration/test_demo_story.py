"""The demo's day (``driftline demo``) on its configuration's default ``auto`` drift rule, through the real services on
the in-memory fakes: drift ALARMs once the drift sets in (in its first window, on the features that drift), none in
the 14 hours before it, and none on the features that do not drift."""

from __future__ import annotations

from driftline.testing import CONFIG_YAML, DRIFT_FROM_HOUR, HOUR, MODEL_ID, encode, generate
from driftline.testing import demo_hour as hour_of_demo
from tests.integration.test_report_band import Deployment

DAY = 1_767_225_600  # 2026-01-01T00:00:00Z
HOURS = 24
SEED = 7  # the demo's default


def test_the_demos_day_alarms_on_drift_and_not_before() -> None:
    assert "above: auto" in CONFIG_YAML  # the demo runs on the default rule (SPEC §2), not a fixed 0.1
    at = DAY + HOURS * HOUR + 60
    d = Deployment(at)
    d.drop(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode())
    ref = generate(50_000, seed=SEED, start=DAY - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
    d.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(ref, "parquet"))
    for h in range(HOURS):
        table = hour_of_demo(h, day_start=DAY, seed=SEED)
        d.drop(f"predictions/{MODEL_ID}/h{h:02d}.parquet", encode(table.drop_columns(["churned"]), "parquet"))
    (report,) = d.evaluate.evaluate_all(at=at)
    assert report.errors == [] and len(report.windows) == HOURS
    drift = [a for a in d.published() if a["metric"] == "drift.jensen_shannon"]
    first = f"2026-01-01T{DRIFT_FROM_HOUR:02d}:00:00Z"
    assert drift and all(a["state"] == "ALARM" and a["window_start"] == first for a in drift), drift
    # the features that drift (tenure, spend, tickets: driftline.testing.generate), each in the first drifted window
    assert {a["column"] for a in drift} == {"tenure_months", "monthly_spend", "support_tickets"}
    for a in drift:
        assert a["value"] > a["threshold"] and 0.02 <= a["threshold"] < 0.1, a  # per window, under the old 0.1
