"""The same data gives the same numbers in any format (issue 12).

One frame, in each dtype variant of its categorical feature (bool, int, nullable int, float with NaN, string,
dictionary/categorical) and of its event time (naive, zone-aware, epoch s, epoch ms), written by pyarrow and by
pandas as Parquet, CSV and JSON Lines, each with and without gzip; a baseline from one writer and logs from
another, in any combination: the profiles' counts and every metric come out identical.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from driftline.core.baseline import Baseline
from driftline.core.config import load_config
from driftline.core.metrics import compute_metrics
from driftline.services.profiling import build_baseline, profile_file

# pandas writes epoch times in JSON (the format under test) with a deprecation warning
pytestmark = pytest.mark.filterwarnings("ignore:'epoch' date format is deprecated")

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
N = 240
CONFIG = load_config(
    """
model_id: fidelity
task: binary_classification
columns:
  id: request_id
  timestamp: event_time
  prediction: will_churn
  label: churned
  features:
    numerical: [spend]
    categorical: [kind]
window: 1h
"""
)

KIND_VARIANTS = ("bool", "int", "nullable_int", "float_nan", "string", "dictionary")
TIME_VARIANTS = ("naive", "tz", "epoch_s", "epoch_ms")


def frame(kind: str, time: str, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """``N`` rows in the 2026-01-01T00 window; ``shift`` moves the categorical distribution (drift)."""
    rng = np.random.default_rng(seed)
    n = N
    codes = np.minimum((rng.random(n) * (3 - shift)).astype(int), 2)  # 0, 1, 2
    missing = rng.random(n) < 0.1
    seconds = T0 + np.sort(rng.integers(0, 3600, n))
    df = pd.DataFrame({"request_id": [f"r{seed}-{i}" for i in range(n)]})
    if time == "naive":
        df["event_time"] = pd.to_datetime(seconds, unit="s")
    elif time == "tz":
        df["event_time"] = pd.to_datetime(seconds, unit="s", utc=True).tz_convert("Europe/Paris")
    elif time == "epoch_s":
        df["event_time"] = seconds.astype(np.int64)
    else:
        df["event_time"] = seconds.astype(np.int64) * 1000
    spend = rng.gamma(2.0, 30.0, n).round(2)
    spend[rng.random(n) < 0.05] = np.nan
    df["spend"] = spend
    if kind == "bool":  # two classes and missing
        df["kind"] = pd.array([None if m else bool(c % 2) for c, m in zip(codes, missing, strict=True)], "boolean")
    elif kind == "int":
        df["kind"] = codes + 1
    elif kind == "nullable_int":
        df["kind"] = pd.array([None if m else int(c + 1) for c, m in zip(codes, missing, strict=True)], "Int64")
    elif kind == "float_nan":
        df["kind"] = np.where(missing, np.nan, codes + 1.0)
    elif kind == "string":
        df["kind"] = [None if m else "abc"[c] for c, m in zip(codes, missing, strict=True)]
    else:
        df["kind"] = pd.Categorical([None if m else "abc"[c] for c, m in zip(codes, missing, strict=True)])
    pred = (rng.random(n) < 0.4).astype(np.int64)
    df["will_churn"] = pred
    df["churned"] = np.where(rng.random(n) < 0.8, pred, 1 - pred)
    return df


def _gz(data: bytes, gz: bool) -> bytes:
    return gzip.compress(data) if gz else data


def _pyarrow_table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def _jsonl_manual(df: pd.DataFrame) -> bytes:
    out = io.StringIO()
    for row in _pyarrow_table(df).to_pylist():
        out.write(json.dumps(row, default=str) + "\n")
    return out.getvalue().encode()


WRITERS: dict[str, tuple[str, Callable[[pd.DataFrame], bytes]]] = {
    "parquet-pyarrow": ("parquet", lambda df: _write(lambda b: pq.write_table(_pyarrow_table(df), b))),
    "parquet-pandas": ("parquet", lambda df: _write(lambda b: df.to_parquet(b, index=False))),
    "csv-pyarrow": ("csv", lambda df: _write(lambda b: pacsv.write_csv(_pyarrow_table(df), b))),
    "csv-pandas": ("csv", lambda df: df.to_csv(index=False).encode()),
    "jsonl-pandas": ("jsonl", lambda df: df.to_json(orient="records", lines=True, date_format="epoch").encode()),
    "jsonl-pandas-iso": ("jsonl", lambda df: df.to_json(orient="records", lines=True, date_format="iso").encode()),
    "jsonl-manual": ("jsonl", _jsonl_manual),
}


def _write(fn: Callable[[io.BytesIO], object]) -> bytes:
    buf = io.BytesIO()
    fn(buf)
    return buf.getvalue()


def encoded(df: pd.DataFrame, writer: str, gz: bool) -> tuple[str, bytes]:
    ext, write = WRITERS[writer]
    return f"f.{ext}{'.gz' if gz else ''}", _gz(write(df), gz)


def baseline_of(df: pd.DataFrame, writer: str, gz: bool) -> Baseline:
    name, data = encoded(df, writer, gz)
    return build_baseline(CONFIG, [(name, lambda: io.BytesIO(data))], created_at="2026-01-01T00:00:00Z")


def metrics_of(df: pd.DataFrame, writer: str, gz: bool, baseline: Baseline) -> dict[tuple[str, str | None], float]:
    name, data = encoded(df, writer, gz)
    result = profile_file(io.BytesIO(data), name=name, config=CONFIG, baseline=baseline, now=T0 + 7200)
    assert result.stats.bad_timestamp == 0, (writer, gz)
    (profile,) = [p for (ws, seg), p in result.profiles.items() if seg is None]
    assert profile.rows == N
    return {(m.metric, m.column): m.value for m in compute_metrics(profile, baseline, CONFIG)}


def assert_same(got: dict[tuple[str, str | None], float], want: dict[tuple[str, str | None], float], what: str) -> None:
    assert set(got) == set(want), (what, set(got) ^ set(want))
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (what, key, got[key], value)


@pytest.mark.parametrize("kind", KIND_VARIANTS)
@pytest.mark.parametrize("time", TIME_VARIANTS)
def test_every_writer_and_compression_gives_the_same_metrics(kind: str, time: str) -> None:
    # Given a reference and a drifted log, in one dtype variant
    ref, log = frame(kind, time, seed=1), frame(kind, time, seed=2, shift=1.0)
    # When the baseline comes from pyarrow's Parquet, and the log from every writer, with and without gzip
    base = baseline_of(ref, "parquet-pyarrow", False)
    want = metrics_of(log, "parquet-pyarrow", False, base)
    assert want[("quality.unseen_category_rate", "kind")] == 0.0
    assert want[("drift.jensen_shannon", "kind")] > 0.05  # the drift is seen
    for writer, gz in itertools.product(WRITERS, (False, True)):
        # Then every metric is the same
        assert_same(metrics_of(log, writer, gz, base), want, f"{kind}/{time}: log {writer} gz={gz}")


@pytest.mark.parametrize("kind", KIND_VARIANTS)
def test_a_baseline_from_any_writer_judges_logs_from_any_writer_alike(kind: str) -> None:
    ref, log = frame(kind, "tz", seed=3), frame(kind, "epoch_ms", seed=4, shift=1.0)
    want = metrics_of(log, "parquet-pyarrow", False, baseline_of(ref, "parquet-pyarrow", False))
    for ref_writer in ("csv-pandas", "jsonl-pandas", "parquet-pandas", "csv-pyarrow"):
        base = baseline_of(ref, ref_writer, ref_writer.startswith("jsonl"))
        for log_writer in WRITERS:
            what = f"{kind}: baseline {ref_writer}, log {log_writer}"
            assert_same(metrics_of(log, log_writer, False, base), want, what)


@pytest.mark.parametrize(("yes", "no"), [("yes", "no"), ("true", "false"), ("True", "False"), (True, False)])
def test_labels_spelled_as_words_are_the_same_classes_as_predictions_0_1(yes: object, no: object) -> None:
    # Given a baseline with 0/1 labels and a log whose labels are spelled as words
    ref, log = frame("int", "tz", seed=5), frame("int", "tz", seed=6)
    base = baseline_of(ref, "parquet-pyarrow", False)
    truth = (log["churned"].to_numpy() == log["will_churn"].to_numpy()).mean()
    spelled = log.assign(churned=[yes if v else no for v in log["churned"]])
    for writer in ("csv-pandas", "jsonl-manual", "parquet-pyarrow"):
        got = metrics_of(spelled, writer, False, base)
        # Then accuracy is the truth (not inflated by unseen classes counted as true negatives)
        assert got[("performance.accuracy", None)] == pytest.approx(truth, abs=1e-12), writer
        assert got[("quality.unseen_category_rate", "churned")] == 0.0


def test_label_classes_the_baseline_never_saw_are_not_true_negatives() -> None:
    ref, log = frame("int", "tz", seed=7), frame("int", "tz", seed=8)
    base = baseline_of(ref, "parquet-pyarrow", False)
    odd = log["churned"].astype(object)
    odd[:40] = "maybe"  # a class the baseline never saw
    got = metrics_of(log.assign(churned=odd), "csv-pandas", False, base)
    kept = log.iloc[40:]
    truth = (kept["churned"].to_numpy() == kept["will_churn"].to_numpy()).mean()
    assert got[("performance.accuracy", None)] == pytest.approx(truth, abs=1e-12)
    assert got[("quality.unseen_category_rate", "churned")] == pytest.approx(40 / N)
