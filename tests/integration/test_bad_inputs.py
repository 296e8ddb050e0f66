"""Bad inputs on the deployed data path (issue 5, item 1).

Each bad file gets what fits it: an error record and an ``ingest.error`` alert when nothing of it can be used,
else its usable rows are counted and its faults show as data-quality metrics. A good file for the same window is
dropped after it: the window counts the good rows (plus the bad file's usable ones), nothing crashes, nothing is
counted twice.
"""

from __future__ import annotations

import gzip
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pytest

from driftline.cli.demo import MODEL_ID, encode

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

    errors = pipeline.container.store.errors(MODEL_ID)
    alerts = sns_alerts(pipeline, read_alerts)
    if case.usable is None:
        # Then a file that cannot be used has an error record and one ingest.error alert, naming it
        (error,) = errors
        assert error["key"] == key
        assert case.reason_has in error["reason"]
        (alert,) = [a for a in alerts if a["metric"] == "ingest.error"]
        assert_ingest_error(alert, key)
        assert file_record(pipeline, key)["status"] == "failed"
        _assert_window(pipeline, GOOD_ROWS, 1)
    else:
        # Then its usable rows count, once, with the good ones; no error
        assert errors == []
        assert [a for a in alerts if a["metric"] == "ingest.error"] == []
        assert file_record(pipeline, key)["status"] == "done"
        _assert_window(pipeline, GOOD_ROWS + case.usable, 2)
    assert file_record(pipeline, GOOD_KEY)["status"] == "done"
    if case.check is not None:
        case.check(pipeline)
    # and the faults show as the right quality metric
    for (name_, column), expected in case.quality.items():
        assert math.isclose(metric(pipeline, name_, column)[T0].value, expected, rel_tol=1e-9), (name_, column)


def test_pre_1970_and_far_future_event_times_are_valid_and_land_in_their_own_windows(pipeline: Pipeline) -> None:
    set_up_model(pipeline)
    pipeline.drop(f"predictions/{MODEL_ID}/times.csv", _bad_timestamps().body)
    evaluate_after(pipeline, 1)
    store = pipeline.container.store
    old = store.series(MODEL_ID, "volume.rows", None, None, start=-315_619_200 - HOUR, end=-315_619_200 + HOUR)
    assert [p.value for p in old] == [1]
    assert metric(pipeline, "volume.rows")[T0].value == BAD_ROWS - 5  # the far-future and 1960 rows are elsewhere


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
    assert pipeline.container.store.errors("unknown-model") == []
    assert pipeline.container.store.errors(MODEL_ID) == []
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

    (error,) = pipeline.container.store.errors(MODEL_ID)
    assert error["key"] == CONFIG_KEY and names in error["reason"]
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
    errors = pipeline.container.store.errors(MODEL_ID)
    (error,) = errors
    assert error["key"] == f"labels/{MODEL_ID}/nolabel.csv"
    (alert,) = [a for a in sns_alerts(pipeline, read_alerts) if a["metric"] == "ingest.error"]
    assert_ingest_error(alert, f"labels/{MODEL_ID}/nolabel.csv")
    _assert_window(pipeline, GOOD_ROWS, 1)
