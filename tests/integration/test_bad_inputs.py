"""Bad inputs on the deployed data path (issue 5, item 1).

Each bad file gets what fits it: an error record and an ``ingest.error`` alert when nothing of it can be used,
else its usable rows are counted and its faults show as data-quality metrics. A good file for the same window is
dropped after it: the window counts the good rows (plus the bad file's usable ones), nothing crashes, nothing is
counted twice. Two full-size cases are generated at test time: a categorical column with a million distinct values
(the profile stays a few kilobytes) and a JSON Lines log with one 50 MB line (profiled, in bounded memory).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from driftline.adapters.dynamo_items import encode_item, item_size
from driftline.services.store import ws_key
from driftline.testing import COUNTRIES, MODEL_ID, PLANS, encode

from .conftest import Pipeline
from .test_handlers import (
    CONFIG_KEY,
    HOUR,
    LEAN_CONFIG,
    T0,
    assert_ingest_error,
    evaluate_after,
    file_record,
    metric,
    scan,
    set_up_model,
    sns_alerts,
    window_rows,
    without_labels,
)

pytestmark = pytest.mark.integration

GOOD_ROWS = 200
BAD_ROWS = 50
GOOD_KEY = f"predictions/{MODEL_ID}/2026/01/01/good.csv"
Reader = Callable[[str], list[dict[str, Any]]]


def good_rows() -> pa.Table:
    return without_labels(window_rows(GOOD_ROWS, seed=1, prefix="g"))


def bad_rows(n: int = BAD_ROWS) -> pa.Table:
    return without_labels(window_rows(n, seed=2, prefix="b"))


def csv_text(table: pa.Table) -> str:
    return encode(table, "csv").decode()


def replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


@dataclass
class Case:
    """A bad prediction log: its key suffix and bytes, the rows of it that count in window 0 (``None``: it cannot
    be processed at all → error record + alert) and the quality metrics expected for window 0."""

    suffix: str
    body: bytes
    usable: int | None
    quality: dict[tuple[str, str], float] = field(default_factory=dict)
    reason_has: str = ""
    check: Callable[[Pipeline], None] | None = None


# -- the corpus ----------------------------------------------------------------------------------------------------


def _empty() -> Case:
    return Case("empty.csv", b"", None)


def _truncated_gzip() -> Case:
    whole = encode(bad_rows(), "csv.gz")
    return Case("truncated.csv.gz", whole[: len(whole) // 2], None)


def _corrupt_parquet() -> Case:
    return Case("corrupt.parquet", random.Random(5).randbytes(3000), None)


def _csv_without_header() -> Case:
    text = csv_text(bad_rows())
    return Case("noheader.csv", text.split("\n", 1)[1].encode(), None, reason_has="event_time")


def _ragged_csv() -> Case:
    lines = csv_text(bad_rows()).splitlines()
    lines[20] += ',"extra",7'
    lines[30] = lines[30].rsplit(",", 3)[0]
    return Case("ragged.csv", ("\n".join(lines) + "\n").encode(), None)


def _jsonl_broken_line() -> Case:
    lines = encode(bad_rows(), "jsonl").decode().splitlines()
    lines[25] = lines[25][: len(lines[25]) // 2]
    return Case("broken.jsonl", ("\n".join(lines) + "\n").encode(), None)


def _non_utf8() -> Case:
    body = encode(bad_rows(), "csv")
    assert b',"basic",' in body
    body = body.replace(b',"basic",', b',"b\xe9sic",', 1)
    # rejected as a whole, with a reason that says why (the rows cannot be decoded reliably)
    return Case("latin1.csv", body, None, reason_has="UTF-8")


def _wrong_extension() -> Case:
    return Case("log.txt", encode(bad_rows(), "csv"), None)


def _missing_timestamp() -> Case:
    return Case(
        "nots.parquet", encode(bad_rows().drop_columns(["event_time"]), "parquet"), None, reason_has="event_time"
    )


def _missing_prediction() -> Case:
    return Case("nopred.csv", encode(bad_rows().drop_columns(["will_churn"]), "csv"), None, reason_has="will_churn")


def _missing_id() -> Case:
    return Case("noid.jsonl", encode(bad_rows().drop_columns(["request_id"]), "jsonl"), BAD_ROWS)


def _all_null_feature() -> Case:
    t = replace_column(bad_rows(), "tenure_months", pa.nulls(BAD_ROWS, pa.float64()))
    return Case(
        "nulls.parquet", encode(t, "parquet"), BAD_ROWS,
        {("quality.missing_rate", "tenure_months"): BAD_ROWS / (GOOD_ROWS + BAD_ROWS)},
    )  # fmt: skip


def _nan_inf() -> Case:
    t = bad_rows()
    spend = t.column("monthly_spend").to_pylist()
    spend[3], spend[4], spend[5] = math.nan, math.inf, -math.inf
    t = replace_column(t, "monthly_spend", pa.array(spend, pa.float64()))
    n = GOOD_ROWS + BAD_ROWS
    return Case(
        "naninf.parquet", encode(t, "parquet"), BAD_ROWS,
        {("quality.missing_rate", "monthly_spend"): 1 / n, ("quality.out_of_range_rate", "monthly_spend"): 2 / (n - 1)},
    )  # fmt: skip


def _bad_timestamps() -> Case:
    t = bad_rows()
    times: list[Any] = [str(v) for v in t.column("event_time").to_pylist()]
    times[1], times[2], times[3] = "not-a-time", "2026-13-45T99:00:00Z", ""
    times[4] = str(4_102_444_800_000)  # 2100-01-01 (ms): a valid event time, far in the future
    times[5] = str(-315_619_200_000)  # 1960-01-01 (ms): a valid (negative) epoch
    t = replace_column(t, "event_time", pa.array(times, pa.string()))
    return Case("times.csv", encode(t, "csv"), BAD_ROWS - 5)


def _wrong_type() -> Case:
    t = bad_rows()
    spend: list[Any] = [str(v) for v in t.column("monthly_spend").to_pylist()]
    for i in range(5):
        spend[i] = f"n/a-{i}"
    t = replace_column(t, "monthly_spend", pa.array(spend, pa.string()))
    return Case(
        "types.csv", encode(t, "csv"), BAD_ROWS,
        {("quality.type_error_rate", "monthly_spend"): 5 / (GOOD_ROWS + BAD_ROWS)},
    )  # fmt: skip


CARDINAL = 20_000


def _bounded_profiles(pipeline: Pipeline) -> None:
    prof = [i for i in scan(pipeline) if i["pk"]["S"].startswith(f"PROF#{MODEL_ID}#")]
    size = sum(len(str(i)) for i in prof)
    assert size < 400_000, size  # 20k distinct names are not kept one by one


def _many_categories() -> Case:
    t = without_labels(window_rows(CARDINAL, seed=3, prefix="c")).drop_columns(["request_id"])
    t = replace_column(t, "payment_method", pa.array([f"pm-{i:06d}" for i in range(CARDINAL)]))
    return Case(
        "wide.parquet", encode(t, "parquet"), CARDINAL,
        {("quality.unseen_category_rate", "payment_method"): CARDINAL / (GOOD_ROWS + CARDINAL)},
        check=_bounded_profiles,
    )  # fmt: skip


CASES: dict[str, Callable[[], Case]] = {
    "empty": _empty,
    "truncated-gzip": _truncated_gzip,
    "corrupt-parquet": _corrupt_parquet,
    "csv-without-header": _csv_without_header,
    "ragged-csv": _ragged_csv,
    "jsonl-broken-line": _jsonl_broken_line,
    "non-utf8": _non_utf8,
    "wrong-extension": _wrong_extension,
    "missing-timestamp": _missing_timestamp,
    "missing-prediction": _missing_prediction,
    "missing-id": _missing_id,
    "all-null-feature": _all_null_feature,
    "nan-inf": _nan_inf,
    "bad-timestamps": _bad_timestamps,
    "wrong-type": _wrong_type,
    "many-categories": _many_categories,
}


def _assert_window(pipeline: Pipeline, rows: int, files: int) -> None:
    assert metric(pipeline, "volume.rows")[T0].value == rows
    assert metric(pipeline, "volume.files")[T0].value == files


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_prediction_log_gets_what_fits_and_the_good_file_after_it_counts(
    pipeline: Pipeline, read_alerts: Reader, name: str
) -> None:
    case = CASES[name]()
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/2026/01/01/{case.suffix}"
    good = good_rows()

    # When the bad file lands, then a good file for the same window
    pipeline.drop(key, case.body)
    pipeline.drop(GOOD_KEY, encode(good, "csv"))
    evaluate_after(pipeline, 1)

    errors = pipeline.container.store.error_records(MODEL_ID)
    alerts = sns_alerts(pipeline, read_alerts)
    if case.usable is None:
        # Then a file that cannot be used has an error record and one ingest.error alert, naming it
        (error,) = errors
        assert error.key == key
        assert case.reason_has in error.reason
        (alert,) = [a for a in alerts if a["metric"] == "ingest.error"]
        assert_ingest_error(alert, key)
        assert file_record(pipeline, key).status == "failed"
        _assert_window(pipeline, GOOD_ROWS, 1)
    else:
        # Then its usable rows count, once, with the good ones; no error
        assert errors == []
        assert [a for a in alerts if a["metric"] == "ingest.error"] == []
        assert file_record(pipeline, key).status == "done"
        _assert_window(pipeline, GOOD_ROWS + case.usable, 2)
    assert file_record(pipeline, GOOD_KEY).status == "done"
    if case.check is not None:
        case.check(pipeline)
    # and the faults show as the right quality metric
    for (name_, column), expected in case.quality.items():
        assert math.isclose(metric(pipeline, name_, column)[T0].value, expected, rel_tol=1e-9), (name_, column)


def test_event_times_outside_the_plausible_range_are_time_errors_counted_where_their_file_arrived(
    pipeline: Pipeline,
) -> None:
    # Given a file with 5 time errors: unparseable, impossible, empty, 2100-01-01 and 1960-01-01 (epoch ms)
    set_up_model(pipeline)
    key = f"predictions/{MODEL_ID}/times.csv"
    pipeline.drop(key, _bad_timestamps().body)
    # When the windows of its events and of its arrival are evaluated
    evaluate_after(pipeline, 1)
    arrival = int(float(file_record(pipeline, key).started_at) // HOUR) * HOUR
    pipeline.evaluate(arrival + HOUR + 60)
    # Then the valid rows are in their window, the others in no event-time window (SPEC §3) ...
    store = pipeline.container.store
    assert metric(pipeline, "volume.rows")[T0].value == BAD_ROWS - 5
    for when in (-315_619_200, 4_102_444_800):
        assert list(store.series(MODEL_ID, "volume.rows", None, None, start=when - HOUR, end=when + HOUR)) == []
    assert metric(pipeline, "quality.time_error_rate")[T0].value == 0.0
    # ... and counted as time errors in the window their file arrived in
    (point,) = store.series(MODEL_ID, "quality.time_error_rate", None, None, start=arrival, end=arrival)
    assert (point.value, point.rows) == (1.0, 5)
    assert file_record(pipeline, key).status == "done"


# -- a key under no known model ---------------------------------------------------------------------------------------


def test_a_log_for_an_unknown_model_is_retried_not_reported_and_its_neighbour_counts(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    set_up_model(pipeline)
    good = good_rows()
    pipeline.put("predictions/unknown-model/x.csv", encode(bad_rows(), "csv"))
    pipeline.put(GOOD_KEY, encode(good, "csv"))
    messages = pipeline.receive("ingest")
    assert len(messages) == 2
    unknown = next(m for m in messages if "unknown-model" in m["Body"])

    response = pipeline.invoke("ingest", messages)

    assert response == {"batchItemFailures": [{"itemIdentifier": unknown["MessageId"]}]}
    assert pipeline.container.store.error_records("unknown-model") == []
    assert pipeline.container.store.error_records(MODEL_ID) == []
    assert sns_alerts(pipeline, read_alerts) == []
    evaluate_after(pipeline, 1)
    _assert_window(pipeline, GOOD_ROWS, 1)


# -- configs with mistakes -------------------------------------------------------------------------------------------

BAD_CONFIGS = {
    "invalid-yaml": (LEAN_CONFIG.rstrip("\n") + "\n  - {name: [unclosed\n", ""),
    "unknown-key": (LEAN_CONFIG.rstrip("\n") + "\ncolour: blue\n", "colour"),
    "bad-window": (LEAN_CONFIG.replace("window: 1h", "window: 3s"), "window"),
    "not-a-mapping": ("- just\n- a list\n", ""),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_a_config_with_a_mistake_is_rejected_and_the_previous_one_stays(
    pipeline: Pipeline, read_alerts: Reader, name: str
) -> None:
    set_up_model(pipeline)
    before = pipeline.container.store.get_config(MODEL_ID)
    body, names = BAD_CONFIGS[name]

    pipeline.drop(CONFIG_KEY, body.encode())

    (error,) = pipeline.container.store.error_records(MODEL_ID)
    assert error.key == CONFIG_KEY and names in error.reason
    (alert,) = sns_alerts(pipeline, read_alerts)
    assert_ingest_error(alert, CONFIG_KEY)
    assert pipeline.container.store.get_config(MODEL_ID) == before
    assert pipeline.container.registry.config(MODEL_ID).window_seconds == HOUR
    # the model goes on: a good file counts in its 1 h window
    pipeline.drop(GOOD_KEY, encode(good_rows(), "csv"))
    evaluate_after(pipeline, 1)
    _assert_window(pipeline, GOOD_ROWS, 1)


# -- label files -----------------------------------------------------------------------------------------


def test_a_label_file_with_unknown_and_duplicate_ids_counts_known_ones_once(
    pipeline: Pipeline, read_alerts: Reader
) -> None:
    set_up_model(pipeline)
    preds = window_rows(GOOD_ROWS, seed=1, prefix="g")
    pipeline.drop(GOOD_KEY, encode(without_labels(preds), "csv"))
    labels = preds.select(["request_id", "churned"])
    unknown = window_rows(30, seed=9, prefix="zz").select(["request_id", "churned"])
    mixed = pa.concat_tables([labels.slice(0, 80), unknown, labels.slice(0, 20), labels.slice(80, 20)])
    pipeline.drop(f"labels/{MODEL_ID}/mixed.jsonl.gz", gzip.compress(encode(mixed, "jsonl")))
    # and a label file without the label column is an error
    pipeline.drop(f"labels/{MODEL_ID}/nolabel.csv", encode(labels.select(["request_id"]), "csv"))
    evaluate_after(pipeline, 1)

    (point,) = metric(pipeline, "performance.accuracy").values()
    assert point.rows == 100
    errors = pipeline.container.store.error_records(MODEL_ID)
    (error,) = errors
    assert error.key == f"labels/{MODEL_ID}/nolabel.csv"
    (alert,) = [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "ingest.error"]
    assert_ingest_error(alert, f"labels/{MODEL_ID}/nolabel.csv")
    _assert_window(pipeline, GOOD_ROWS, 1)


# -- full-size bad inputs ---------------------------------------------------------------------------------------------


def _profile_item_sizes(pipeline: Pipeline) -> list[int]:
    """DynamoDB's size of each profile item of window 0 (the files' profiles not rolled up yet, and the rollup)."""
    table = pipeline.container.store.table
    items = table.query(f"PROF#{MODEL_ID}#{ws_key(T0)}")
    return [item_size(encode_item(i, "t")) for i in items if str(i["sk"]).startswith(("F#", "R#"))]  # not counters


class PeakMemory:
    """The peak resident memory of this process while the block runs, above what it was on entry (sampled)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> PeakMemory:
        self._base = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss() - self._base)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss() - self._base)


MILLION = 1_000_000


def _million_rows(payment_method: pa.Array) -> pa.Table:
    """A million prediction rows of window 0 (no ids, no labels), built vectorised (``generate`` is per row)."""
    rng = np.random.default_rng(4)

    def category(values: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, len(values), MILLION, dtype=np.int32)),
                                              pa.array(values))  # fmt: skip

    score = rng.random(MILLION).round(4)
    return pa.table(
        {
            "event_time": pa.array(((T0 + rng.random(MILLION) * (HOUR - 1)) * 1000).astype(np.int64)),
            "tenure_months": rng.gamma(2.0, 12.0, MILLION).round(1),
            "monthly_spend": rng.normal(55.0, 15.0, MILLION).round(2),
            "support_tickets": rng.poisson(1.0, MILLION),
            "plan": category(PLANS),
            "country": category(COUNTRIES),
            "payment_method": payment_method,
            "churn_probability": score,
            "will_churn": (score >= 0.5).astype(np.int64),
        }
    )


@pytest.mark.slow
def test_a_categorical_column_with_a_million_distinct_values_keeps_the_profile_small(
    pipeline: Pipeline, read_alerts: Reader, tmp_path: Path
) -> None:
    set_up_model(pipeline)
    # Given a log of a million rows whose payment_method is a different value on every row
    distinct = pc.binary_join_element_wise("pm-", pc.cast(pa.array(np.arange(MILLION)), pa.string()), "")
    path = tmp_path / "million.parquet"
    pq.write_table(_million_rows(distinct), path, compression="zstd")
    key = f"predictions/{MODEL_ID}/2026/01/01/million.parquet"

    # When it lands, then a good file for the same window, and the window is evaluated
    pipeline.drop(key, path.read_bytes())
    pipeline.drop(GOOD_KEY, encode(good_rows(), "csv"))
    sizes = _profile_item_sizes(pipeline)
    evaluate_after(pipeline, 1)

    # Then the file is processed whole, and its profile stays small: one item of a few kilobytes per file, far
    # from DynamoDB's 400 KB (the categories kept are the baseline's: the rest count as unseen)
    assert file_record(pipeline, key).status == "done"
    assert file_record(pipeline, key).rows == MILLION
    assert len(sizes) == 2 and max(sizes) < 20_000, sizes
    assert max(_profile_item_sizes(pipeline)) < 20_000  # and so is the window's rollup
    # and the window's metrics are there: every row counted, every value of the column unseen in the baseline
    _assert_window(pipeline, MILLION + GOOD_ROWS, 2)
    unseen = metric(pipeline, "quality.unseen_category_rate", "payment_method")[T0].value
    assert math.isclose(unseen, MILLION / (MILLION + GOOD_ROWS), rel_tol=1e-9)
    assert metric(pipeline, "drift.jensen_shannon", "payment_method")[T0].value > 0.9
    assert pipeline.container.store.error_records(MODEL_ID) == []
    assert [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "ingest.error"] == []


LINE_BYTES = 50 * 1024 * 1024


@pytest.mark.slow
def test_a_json_lines_log_with_a_50_mb_line_is_profiled_in_bounded_memory_between_good_logs(
    pipeline: Pipeline, read_alerts: Reader, tmp_path: Path
) -> None:
    set_up_model(pipeline)
    # Given a JSON Lines log of 50 rows whose 26th line is 50 MB long (its plan is 50 MB of text) ...
    lines = encode(bad_rows(), "jsonl").splitlines(keepends=True)
    row = json.loads(lines[25])
    row["plan"] = "\0"
    head, tail = json.dumps(row).encode().split(b"\\u0000")
    path = tmp_path / "long-line.jsonl"
    with path.open("wb") as out:
        out.writelines(lines[:25])
        out.write(head)
        for _ in range(LINE_BYTES >> 20):
            out.write(b"x" * (1 << 20))
        out.write(tail + b"\n")
        out.writelines(lines[26:])
    assert path.stat().st_size > LINE_BYTES
    key = f"predictions/{MODEL_ID}/2026/01/01/long-line.jsonl"
    # ... in one SQS batch between two good logs of the same window
    after_key = f"predictions/{MODEL_ID}/2026/01/01/good-after.csv"
    pipeline.put(GOOD_KEY, encode(good_rows(), "csv"))
    pipeline.put(key, path.read_bytes())
    pipeline.put(after_key, encode(without_labels(window_rows(GOOD_ROWS, seed=3, prefix="h")), "csv"))
    messages = pipeline.receive("ingest")
    assert len(messages) == 3

    # When the batch is handled
    with PeakMemory() as memory:
        response = pipeline.invoke("ingest", messages)

    # Then all three are processed; the long value is a data-quality fact (a plan never seen), not an error
    assert response == {"batchItemFailures": []}
    for k in (GOOD_KEY, key, after_key):
        assert file_record(pipeline, k).status == "done", k
    assert file_record(pipeline, key).rows == BAD_ROWS
    evaluate_after(pipeline, 1)
    _assert_window(pipeline, 2 * GOOD_ROWS + BAD_ROWS, 3)
    unseen = metric(pipeline, "quality.unseen_category_rate", "plan")[T0].value
    assert math.isclose(unseen, 1 / (2 * GOOD_ROWS + BAD_ROWS), rel_tol=1e-9)
    assert pipeline.container.store.error_records(MODEL_ID) == []
    assert [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "ingest.error"] == []
    assert max(_profile_item_sizes(pipeline)) < 20_000  # the long value is not stored
    # and memory stays within a few times the line (about 5 here: moto holds the object and copies its body too)
    assert memory.peak < 8 * LINE_BYTES, f"peak +{memory.peak >> 20} MiB"
