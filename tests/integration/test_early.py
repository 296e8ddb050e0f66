"""Early alerts on the open window (SPEC §3 partial points, §4 early alerts), on moto: S3 puts → SQS → the ingest
handler, the evaluator invoked as the scheduler does, alerts read as an SQS subscriber of the topic receives them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from driftline.cli.demo import CONFIG_YAML, MODEL_ID, encode, generate

from .conftest import Pipeline
from .test_handlers import BASELINE_KEY, CONFIG_KEY, iso, sns_alerts

pytestmark = pytest.mark.integration

HOUR, DAY = 3600, 86_400
D0 = 1_767_225_600  # 2026-01-01T00:00:00Z: the start of a 1-day window
_ALERTS = CONFIG_YAML.index("alerts:\n")
DAILY_CONFIG = (
    CONFIG_YAML[:_ALERTS].replace("  segments: [country]\n", "").replace("window: 1h", "window: 1d")
    + "alerts:\n"
    + "  - {name: spend-drift, metric: drift.jensen_shannon, columns: [monthly_spend], above: 0.2, severity: warning}\n"
)


@functools.cache
def _reference() -> bytes:
    return encode(generate(4_000, seed=11, start=D0 - 7 * DAY, span=7 * DAY, id_prefix="ref"), "parquet")


def rows_at(n: int, at: float, *, seed: int, drift: float = 0.0, prefix: str) -> pa.Table:
    """``n`` rows stamped in the five minutes from ``at``, without labels."""
    return generate(n, seed=seed, start=at, span=300, drift=drift, id_prefix=prefix).drop_columns(["churned"])


def put(pipeline: Pipeline, name: str, table: pa.Table) -> None:
    pipeline.drop(f"predictions/{MODEL_ID}/{name}.parquet", encode(table, "parquet"))


def points_of(pipeline: Pipeline, metric: str, column: str | None) -> list[Any]:
    return [
        p
        for p in pipeline.container.store.points(MODEL_ID, start=D0, end=D0 + DAY)
        if (p.metric, p.column, p.segment) == (metric, column, None)
    ]


@pytest.fixture
def daily(pipeline: Pipeline) -> Pipeline:
    pipeline.drop(CONFIG_KEY, DAILY_CONFIG.encode())
    pipeline.drop(BASELINE_KEY, _reference())
    return pipeline


def test_a_drifted_file_in_the_open_day_alarms_at_the_next_tick_once_then_ok_at_the_close(
    daily: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # Given a 1-day-window model, and at 09:00 a file of drifted rows stamped now
    put(daily, "d0-0900", rows_at(500, D0 + 9 * HOUR, seed=31, drift=1.0, prefix="a"))

    # When the evaluator ticks a minute later, hours before the window closes
    result = daily.evaluate(D0 + 9 * HOUR + 60)

    # Then a drift ALARM reached the topic's subscribers, marked partial, with the rows so far
    assert result["alerts"] == 1
    (alarm,) = sns_alerts(daily, read_alerts)
    assert (alarm["rule"], alarm["state"], alarm["column"], alarm["threshold"]) == (
        "spend-drift", "ALARM", "monthly_spend", 0.2)  # fmt: skip
    assert (alarm["window_start"], alarm["window_end"]) == (iso(D0), iso(D0 + DAY))
    assert alarm["details"]["partial"] is True
    assert alarm["details"]["rows"] == 500
    assert alarm["value"] > 0.2
    # and the window's points are visible, partial
    (rows,) = points_of(daily, "volume.rows", None)
    assert (rows.value, rows.rows, rows.partial) == (500.0, 500, True)
    (drift,) = points_of(daily, "drift.jensen_shannon", "monthly_spend")
    assert drift.partial and drift.value == pytest.approx(alarm["value"])

    # When the evaluator ticks again and again, a file of the same drift coming in between
    for minute in range(2, 12):
        assert daily.evaluate(D0 + 9 * HOUR + 60 * minute)["alerts"] == 0
    put(daily, "d0-0915", rows_at(600, D0 + 9 * HOUR + 900, seed=32, drift=1.0, prefix="b"))
    assert daily.evaluate(D0 + 9 * HOUR + 960)["alerts"] == 0
    # Then the same alert is never published twice; the partial points were replaced at the look (1,100 >= 2 x 500)
    assert sns_alerts(daily, read_alerts) == []
    (rows,) = points_of(daily, "volume.rows", None)
    assert (rows.value, rows.partial) == (1100.0, True)

    # When the rest of the day brings a great many undrifted rows, and the day closes
    put(daily, "d0-1200", rows_at(20_000, D0 + 12 * HOUR, seed=33, prefix="c"))
    assert daily.evaluate(D0 + 12 * HOUR + 60)["alerts"] == 0  # an open window that stops breaching says nothing
    result = daily.evaluate(D0 + DAY + 60)

    # Then the whole window no longer breaches: one OK, for that window, not partial
    assert result["alerts"] == 1
    (ok,) = sns_alerts(daily, read_alerts)
    assert (ok["rule"], ok["state"], ok["column"], ok["window_start"]) == (
        "spend-drift",
        "OK",
        "monthly_spend",
        iso(D0),
    )
    assert ok["value"] <= 0.2 and "partial" not in ok["details"]
    # and the window's points are the closed ones only
    (rows,) = points_of(daily, "volume.rows", None)
    assert (rows.value, rows.partial) == (21_100.0, False)
    assert daily.evaluate(D0 + DAY + 120)["alerts"] == 0
    assert sns_alerts(daily, read_alerts) == []


def test_a_window_that_alarmed_early_and_still_breaches_at_the_close_publishes_nothing_more(
    daily: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # Given an early ALARM on the open day
    put(daily, "d0-0900", rows_at(500, D0 + 9 * HOUR, seed=31, drift=1.0, prefix="a"))
    assert daily.evaluate(D0 + 9 * HOUR + 60)["alerts"] == 1
    (alarm,) = sns_alerts(daily, read_alerts)
    assert alarm["details"]["partial"] is True

    # When more drifted rows come and the day closes
    put(daily, "d0-1500", rows_at(3_000, D0 + 15 * HOUR, seed=34, drift=1.0, prefix="b"))
    assert daily.evaluate(D0 + 15 * HOUR + 60)["alerts"] == 0
    result = daily.evaluate(D0 + DAY + 60)

    # Then the close, still breaching, publishes nothing: one alert per rule, column, segment and window
    assert result["alerts"] == 0
    assert sns_alerts(daily, read_alerts) == []
    (drift,) = points_of(daily, "drift.jensen_shannon", "monthly_spend")
    assert drift.value > 0.2 and not drift.partial

    # and a quiet next day returns to OK at its close, as before
    put(daily, "d1-1000", rows_at(3_000, D0 + DAY + 10 * HOUR, seed=35, prefix="c"))
    assert daily.evaluate(D0 + DAY + 10 * HOUR + 60)["alerts"] == 0
    assert daily.evaluate(D0 + 2 * DAY + 60)["alerts"] == 1
    (ok,) = sns_alerts(daily, read_alerts)
    assert (ok["state"], ok["window_start"]) == ("OK", iso(D0 + DAY))


def test_an_open_window_is_looked_at_from_min_rows_and_a_fixed_threshold_alarms_once_clear_of_noise(
    daily: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # Given 60 drifted rows in the open day (min_rows 100)
    put(daily, "d0-0900", rows_at(60, D0 + 9 * HOUR, seed=31, drift=1.0, prefix="a"))
    # When the evaluator ticks
    assert daily.evaluate(D0 + 9 * HOUR + 60)["alerts"] == 0
    # Then nothing is published and no partial point is written (no look was made)
    assert sns_alerts(daily, read_alerts) == []
    assert points_of(daily, "volume.rows", None) == []
    # When 60 more arrive: 120 rows reach min_rows, but the fixed 0.2 is within the noise of 120 rows (JS ~0.22 at
    # the look's share of 0.001): the look writes partial points and does not alarm
    put(daily, "d0-0910", rows_at(60, D0 + 9 * HOUR + 600, seed=36, drift=1.0, prefix="b"))
    assert daily.evaluate(D0 + 9 * HOUR + 660)["alerts"] == 0
    assert [p.value for p in points_of(daily, "volume.rows", None)] == [120.0]
    # When 200 more arrive (320 rows: noise ~0.14, twice the last look's rows): the breach alarms
    put(daily, "d0-0920", rows_at(200, D0 + 9 * HOUR + 1200, seed=37, drift=1.0, prefix="c"))
    assert daily.evaluate(D0 + 9 * HOUR + 1260)["alerts"] == 1
    (alarm,) = sns_alerts(daily, read_alerts)
    assert alarm["details"]["rows"] == 320
