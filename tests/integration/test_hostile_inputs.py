"""A hostile user's files (issue 12), through the real handlers on moto: each ends as a counted data-quality fact or
as an error record + ``ingest.error`` alert, and the evaluator keeps serving the other models."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from driftline.services.store import ws_key
from driftline.testing import MODEL_ID, encode

from .conftest import Pipeline
from .test_handlers import (
    BASELINE_KEY,
    CONFIG_KEY,
    HOUR,
    LEAN_CONFIG,
    T0,
    _reference_parquet,
    assert_ingest_error,
    evaluate_after,
    file_record,
    metric,
    set_up_model,
    sns_alerts,
    window_rows,
    without_labels,
)

pytestmark = pytest.mark.integration

Reader = Callable[[str], list[dict[str, Any]]]
OTHER = "other-model"
ROWS = 120


def rows(n: int = ROWS, *, seed: int = 1) -> pa.Table:
    return without_labels(window_rows(n, seed=seed, prefix=f"s{seed}-"))


def with_times(table: pa.Table, times: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index("event_time"), "event_time", times)


def epoch_seconds(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("event_time").to_numpy(), dtype=np.int64) // 1_000  # epoch ms -> s


def set_up_other(pipeline: Pipeline) -> None:
    pipeline.drop(CONFIG_KEY.replace(MODEL_ID, OTHER), LEAN_CONFIG.replace(MODEL_ID, OTHER).encode())
    pipeline.drop(BASELINE_KEY.replace(MODEL_ID, OTHER), _reference_parquet())


def error_reasons(pipeline: Pipeline, model_id: str = MODEL_ID) -> dict[str, str]:
    return {e.key: e.reason for e in pipeline.container.store.error_records(model_id)}


def dirty(pipeline: Pipeline, model_id: str) -> list[int]:
    return [ws for ws, _ in pipeline.container.store.dirty_windows(model_id)]


# -- event times --------------------------------------------------------------------------------------------------


def test_impossible_epoch_times_are_time_errors_and_the_evaluator_serves_every_model(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    # Given a log whose event times include 1e300 s and INT64_MIN (pandas NaT written as int64), beside good rows
    set_up_model(pipeline)
    set_up_other(pipeline)
    table = rows()
    secs = epoch_seconds(table).astype(np.float64)
    secs[0], secs[1] = 1e300, float(np.iinfo(np.int64).min)
    key = f"predictions/{MODEL_ID}/hostile/epochs.parquet"
    pipeline.drop(key, encode(with_times(table, pa.array(secs)), "parquet"))
    pipeline.drop(f"predictions/{OTHER}/good.csv", encode(rows(seed=2), "csv"))
    # When the evaluator runs, and runs again
    evaluate_after(pipeline, 1)
    evaluate_after(pipeline, 2)
    # Then the two rows are time errors (in no window), the rest is counted, and both models got their metrics
    assert file_record(pipeline, key).status == "done"
    assert metric(pipeline, "volume.rows")[T0].value == ROWS - 2
    other = pipeline.container.store.series(OTHER, "volume.rows", None, None, start=T0, end=T0)
    assert [p.value for p in other] == [ROWS]
    assert dirty(pipeline, MODEL_ID) == [] or min(dirty(pipeline, MODEL_ID)) > T0 + HOUR
    assert not [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] in ("evaluate.error", "ingest.error")]


@pytest.mark.parametrize(
    ("unit", "factor"), [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)], ids=str
)
def test_epoch_units_are_decided_per_file_from_the_values(pipeline: Pipeline, unit: str, factor: int) -> None:
    # Given a log with integer epoch times in one unit
    set_up_model(pipeline)
    table = rows()
    times = pa.array(epoch_seconds(table) * factor, pa.int64())
    pipeline.drop(f"predictions/{MODEL_ID}/{unit}.csv", encode(with_times(table, times), "csv"))
    # Then every row lands in its window (microseconds are not read as a year ~57,700)
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS


def test_epoch_seconds_of_year_9999_are_time_errors_not_milliseconds(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    table = rows()
    secs = epoch_seconds(table)
    secs[:10] = 253_402_300_799  # 9999-12-31T23:59:59Z in seconds (1978 if read as ms)
    key = f"predictions/{MODEL_ID}/y9999.csv"
    pipeline.drop(key, encode(with_times(table, pa.array(secs, pa.int64())), "csv"))
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS - 10
    assert file_record(pipeline, key).status == "done"
    assert list(pipeline.container.store.series(MODEL_ID, "volume.rows", None, None, start=0, end=T0 - HOUR)) == []


def test_a_file_mixing_epoch_units_is_rejected_with_the_reason(pipeline: Pipeline, read_alerts: Reader) -> None:
    set_up_model(pipeline)
    table = rows()
    secs = epoch_seconds(table)
    secs[: ROWS // 2] *= 1000  # half in milliseconds, half in seconds
    key = f"predictions/{MODEL_ID}/mixed.csv"
    pipeline.drop(key, encode(with_times(table, pa.array(secs, pa.int64())), "csv"))
    reason = error_reasons(pipeline)[key]
    assert "mix units" in reason and "event_time" in reason
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, key)


def test_iso_variants_are_parsed(pipeline: Pipeline) -> None:
    # Given ISO-8601 times in lowercase, with a decimal comma, at 24:00 of the day before, and in the basic format
    set_up_model(pipeline)
    table = rows(8)
    variants = [
        "2026-01-01t00:10:00z",
        "2026-01-01T00:10:00,5Z",
        "2025-12-31T24:00:00Z",
        "20260101T001500Z",
        "20260101T0015+0000",
        "2026-01-01T00:59:59.999999999Z",
        "2026-01-01 00:20:00",
        "2026-01-01T00:20:00+00:00",
    ]
    pipeline.drop(f"predictions/{MODEL_ID}/iso.csv", encode(with_times(table, pa.array(variants)), "csv"))
    # Then every row is counted in the window of 2026-01-01T00
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == 8
    assert metric(pipeline, "quality.time_error_rate")[T0].value == 0.0


def test_a_file_spread_over_too_many_windows_is_rejected(pipeline: Pipeline, read_alerts: Reader) -> None:
    # Given 4,000 rows, one per hour (over five months): more than the 1,000 windows a file may spread over
    set_up_model(pipeline)
    table = rows(4_000)
    times = pa.array((T0 - 4_000 * HOUR + np.arange(4_000) * HOUR) * 1_000_000, pa.timestamp("us", tz="UTC"))
    key = f"predictions/{MODEL_ID}/spread.parquet"
    pipeline.drop(key, encode(with_times(table, times), "parquet"))
    assert "more than 1,000 windows" in error_reasons(pipeline)[key]
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, key)
    assert dirty(pipeline, MODEL_ID) == []


# -- hostile JSON -------------------------------------------------------------------------------------------------


def test_json_nested_30000_levels_deep_is_rejected_before_pyarrow_and_its_batch_mate_counts(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    # Given a JSON Lines file with one line nested 30,000 levels deep in a key no one asked for (a SIGSEGV in
    # pyarrow's parser), and a good file in the same batch
    set_up_model(pipeline)
    good = rows()
    lines = [json.dumps(r, default=str) for r in good.to_pylist()]
    lines[7] = lines[7][:-1] + ', "junk": ' + "[" * 30_000 + "]" * 30_000 + "}"
    deep_key = f"predictions/{MODEL_ID}/deep.jsonl"
    pipeline.put(deep_key, ("\n".join(lines) + "\n").encode())
    pipeline.put(f"predictions/{MODEL_ID}/mate.csv", encode(rows(seed=3), "csv"))
    # When both are delivered in one batch
    assert pipeline.deliver("ingest") == {"batchItemFailures": []}
    # Then the deep file is rejected with the line named, and its batch-mate counted
    assert "line 8 nests values more than 512 levels deep" in error_reasons(pipeline)[deep_key]
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, deep_key)
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS


# -- the evaluator's blast radius ---------------------------------------------------------------------------------


def test_a_window_that_cannot_be_judged_is_reported_once_quarantined_and_the_others_are_judged(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    # Given two models with data in the same window, and the first model's stored profile of that window corrupt
    set_up_model(pipeline)
    set_up_other(pipeline)
    pipeline.drop(f"predictions/{MODEL_ID}/a.csv", encode(rows(), "csv"))
    pipeline.drop(f"predictions/{MODEL_ID}/b.csv", encode(rows(seed=4), "csv").replace(b"2026-01-01", b"2026-01-01"))
    pipeline.drop(f"predictions/{OTHER}/a.csv", encode(rows(seed=2), "csv"))
    table = pipeline.container.store.table
    pk = f"PROF#{MODEL_ID}#{ws_key(T0)}"
    (item, *_) = [i for i in table.query(pk) if str(i["sk"]).startswith("F#")]
    table.put({**item, "data": b"\x00not a profile"})
    # When the evaluator runs twice
    first = evaluate_after(pipeline, 1)
    evaluate_after(pipeline, 1)
    # Then the other model is judged, the broken window is reported once (error record + evaluate.error alert) and
    # is no longer due; the run itself succeeded
    assert first is not None
    other = pipeline.container.store.series(OTHER, "volume.rows", None, None, start=T0, end=T0)
    assert [p.value for p in other] == [ROWS]
    errors = [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "evaluate.error"]
    assert len(errors) == 1
    (alert,) = errors
    assert (alert["severity"], alert["model_id"]) == ("critical", MODEL_ID)
    assert alert["window_start"] == "2026-01-01T00:00:00Z"
    assert "could not be judged" in alert["details"]["reason"]
    assert any("could not be judged" in r for r in error_reasons(pipeline).values())
    assert T0 not in dirty(pipeline, MODEL_ID)


# -- silent loss --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "model_id"),
    [
        (f"predictions/{MODEL_ID}//x.csv", MODEL_ID),
        (f"predictions/{MODEL_ID}/../{MODEL_ID}/x.csv", MODEL_ID),
        ("predictions/M-UPPER/x.csv", "m-upper"),
        ("predictions/Bad Model!/x.csv", "_rejected"),
    ],
    ids=["empty-segment", "dot-dot", "upper-case", "invalid-id"],
)
def test_a_key_no_prefix_pattern_accepts_ends_in_errors_with_an_alert(
    pipeline: Pipeline, read_alerts: Reader, key: str, model_id: str
) -> None:
    set_up_model(pipeline)
    pipeline.put(key, encode(rows(), "csv"))
    # The message is consumed (retrying cannot help) ...
    assert pipeline.deliver("ingest") == {"batchItemFailures": []}
    # ... and the key is in `driftline errors` with the reason, and an ingest.error alert names it
    (error,) = pipeline.container.store.error_records(model_id)
    assert error.key == key and "not accepted" in error.reason
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert (alert["metric"], alert["model_id"], alert["details"]["key"]) == ("ingest.error", model_id, key)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_duplicate_column_names_reject_the_file_naming_the_column(
    pipeline: Pipeline, read_alerts: Reader, fmt: str
) -> None:
    set_up_model(pipeline)
    table = rows()
    twice = pa.Table.from_arrays(
        [*table.columns, table.column("monthly_spend")], names=[*table.column_names, "monthly_spend"]
    )
    key = f"predictions/{MODEL_ID}/dup.{fmt}"
    pipeline.drop(key, encode(twice, fmt))
    assert "2 columns named 'monthly_spend'" in error_reasons(pipeline)[key]
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, key)


def test_an_object_deleted_before_it_is_read_ends_in_errors(pipeline: Pipeline, read_alerts: Reader) -> None:
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/gone.csv"
    pipeline.put(key, encode(rows(), "csv"))
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key=key)
    assert pipeline.deliver("ingest") == {"batchItemFailures": []}
    assert error_reasons(pipeline)[key] == "the object was deleted before it was read"
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, key)


def test_a_file_for_a_model_without_configuration_is_reported_before_it_is_dead_lettered(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    # Given a log for a model that never gets a configuration
    key = "predictions/never-configured/x.csv"
    pipeline.put(key, encode(rows(), "csv"))
    # When it fails every try (the queue's maxReceiveCount is 5)
    for attempt in range(1, 6):
        messages = pipeline.receive("ingest")
        assert len(messages) == 1
        assert messages[0]["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        response = pipeline.invoke("ingest", messages)
        assert len(response["batchItemFailures"]) == 1
        # Then nothing is reported before the last try, and the last one leaves an error record and an alert
        errors = pipeline.container.store.error_records("never-configured")
        assert len(errors) == (1 if attempt == 5 else 0)
    (error,) = pipeline.container.store.error_records("never-configured")
    assert error.key == key and "dead-letter queue" in error.reason
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert (alert["metric"], alert["model_id"]) == ("ingest.error", "never-configured")
    assert file_record(pipeline, key).status == "dead_lettered"


def test_a_key_overwritten_with_new_content_is_refused_and_counted_once(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    # Given a log counted, then overwritten under the same key with other rows (a new ETag)
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/again.csv"
    pipeline.drop(key, encode(rows(), "csv"))
    pipeline.drop(key, encode(rows(300, seed=9), "csv"))
    # Then the first version stays counted (not 120 + 300), and the second is refused with an error and an alert
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS
    (reason,) = error_reasons(pipeline).values()
    assert "overwritten with new content" in reason
    (alert,) = [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "ingest.error"]
    assert_ingest_error(alert, key)


def test_a_failed_file_rewritten_under_the_same_key_is_counted(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/fixed.csv"
    pipeline.drop(key, b"not,a\ncsv with the columns\n")
    pipeline.drop(key, encode(rows(), "csv"))
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS


# -- privacy of segment values in alerts --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_segment_privacy_hides_segment_values_from_alerts_and_metrics_keep_them(
    pipeline: Pipeline, read_alerts: Reader, mode: str
) -> None:
    # Given a model whose country segment is configured to be hashed (or dropped) in alerts, and a drifted window
    from driftline.testing import CONFIG_YAML, COUNTRIES, generate

    config = (
        CONFIG_YAML[: CONFIG_YAML.index("alerts:\n")]
        + f"segment_privacy: {{country: {mode}}}\n"
        + "alerts:\n"
        + "  - {name: seg-drift, metric: drift.jensen_shannon, columns: [monthly_spend], segment: country,"
        + " above: 0.1, min_rows: 10}\n"
    )
    set_up_model(pipeline, config)
    drifted = generate(2_000, seed=12, start=T0, span=HOUR - 1, drift=1.0, id_prefix="d")
    pipeline.drop(f"predictions/{MODEL_ID}/drifted.parquet", encode(drifted, "parquet"))
    evaluate_after(pipeline, 1)
    alerts = [a for a in sns_alerts(pipeline, read_alerts) if a["rule"] == "seg-drift"]
    # Then the alerts name no country, as payloads and as history ...
    assert alerts
    history = json.dumps(pipeline.container.store.alert_history(MODEL_ID, start=T0 - HOUR, end=T0 + HOUR), default=str)
    for country in COUNTRIES:
        assert all(f"country={country}" != a["segment"] for a in alerts)
        assert f"country={country}" not in history
    if mode == "hash":
        assert len({a["segment"] for a in alerts}) == len(alerts) > 1  # distinct values stay distinct
        assert all(a["segment"].startswith("country=#") for a in alerts)
    else:
        assert {a["segment"] for a in alerts} == {"country=*"}
    # ... while the metrics keep the values
    us = pipeline.container.store.series(
        MODEL_ID, "drift.jensen_shannon", "monthly_spend", "country=US", start=T0, end=T0
    )
    assert len(list(us)) == 1


# -- memory per file ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows_n", "span", "window"),
    [(10_000, 30 * 86_400, "5m"), (4_000, 20 * 365 * 86_400, "1h")],
    ids=["30-days-of-5m-windows", "20-years-of-1h-windows"],
)
def test_a_file_spread_over_thousands_of_windows_is_rejected_in_bounded_memory(
    pipeline: Pipeline, read_alerts: Reader, rows_n: int, span: int, window: str
) -> None:
    # Given 10,000 rows over 30 days at 5-minute windows (8,640 windows), or 4,000 rows over 20 years (one window
    # per row): each took over 1 GB before the cap, and failed every try out of memory
    from driftline.testing import generate

    from .test_bad_inputs import PeakMemory

    set_up_model(pipeline, LEAN_CONFIG.replace("window: 1h", f"window: {window}"))
    table = without_labels(generate(rows_n, seed=5, start=T0 - span, span=span - 1, id_prefix="w"))
    key = f"predictions/{MODEL_ID}/spread-{window}.parquet"
    pipeline.put(key, encode(table, "parquet"))
    with PeakMemory() as memory:
        assert pipeline.deliver("ingest") == {"batchItemFailures": []}
    # Then it is rejected with a clear error, and memory stayed small
    assert "more than 1,000 windows" in error_reasons(pipeline)[key]
    assert memory.peak < 200 << 20, f"peak +{memory.peak >> 20} MiB"


def test_a_file_at_the_window_cap_is_profiled_under_the_function_memory() -> None:
    # Given the demo model (5 segment values) at 5-minute windows and 10,000 rows over exactly 1,000 windows
    import io

    from driftline.core.config import load_config
    from driftline.services.profiling import build_baseline, profile_file
    from driftline.testing import CONFIG_YAML, generate

    from .test_bad_inputs import PeakMemory

    config = load_config(CONFIG_YAML.replace("window: 1h", "window: 5m"))
    reference = _reference_parquet()
    baseline = build_baseline(config, [("r.parquet", lambda: io.BytesIO(reference))], created_at="x")
    data = encode(generate(10_000, seed=1, start=T0, span=1_000 * 300 - 1), "parquet")
    # When it is profiled
    with PeakMemory() as memory:
        result = profile_file(io.BytesIO(data), name="a.parquet", config=config, baseline=baseline, now=T0 + 86_400)
    # Then every window is there, and the peak is well under the function's 1,024 MB (measured: ~240 MiB)
    assert len({ws for ws, _ in result.profiles}) == 1_000
    assert memory.peak < 512 << 20, f"peak +{memory.peak >> 20} MiB"


def test_json_lines_whose_keys_change_case_are_counted_not_dropped(pipeline: Pipeline) -> None:
    # Given a JSON Lines log whose second half spells the event-time key and a feature key in upper case
    set_up_model(pipeline)
    lines = [dict(r) for r in rows().to_pylist()]
    for r in lines[ROWS // 2 :]:
        r["EVENT_TIME"] = r.pop("event_time")
        r["Monthly_Spend"] = r.pop("monthly_spend")
    key = f"predictions/{MODEL_ID}/cases.jsonl"
    pipeline.drop(key, "".join(json.dumps(r) + "\n" for r in lines).encode())
    # Then the rows without the event-time key are time errors, counted where the file arrived
    evaluate_after(pipeline, 1)
    assert metric(pipeline, "volume.rows")[T0].value == ROWS // 2
    arrival = int(float(file_record(pipeline, key).started_at) // HOUR) * HOUR
    pipeline.evaluate(arrival + HOUR + 60)
    (point,) = pipeline.container.store.series(
        MODEL_ID, "quality.time_error_rate", None, None, start=arrival, end=arrival
    )
    assert (point.value, point.rows) == (1.0, ROWS // 2)
