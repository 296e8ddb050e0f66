"""No user data leaks (issue 5, item 5).

A sentinel value is planted in the data only — an unseen category, a value in a numeric column, a broken row, a
corrupt file, a file whose header is a data row, a label file — never in the reference. After ingest and
evaluation it must appear in no log line (Powertools at DEBUG, and the ``driftline`` loggers), no SNS message
(subject or body), no error record and nothing stored in the table (metric points, profiles, file records).
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from driftline.testing import MODEL_ID, encode

from .conftest import Pipeline, load_handler
from .test_handlers import evaluate_after, scan, set_up_model, window_rows, without_labels

pytestmark = pytest.mark.integration

SENTINEL = "SENTINEL-7f3a9c"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as err:  # a record that cannot be formatted still must not hide the sentinel
            self.lines.append(f"{record.msg!r} {record.args!r} {err!r}")
        self.lines.append(repr(record.__dict__))


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[str]]]:
    """Every log line of the handlers (Powertools, at DEBUG, formatted as in Lambda) and of ``driftline.*``."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    load_handler("ingest")  # the Powertools logger exists once a handler module is loaded
    from driftline.runtime.lambda_runtime import logger

    pt = logger._logger  # the stdlib logger behind Powertools' Logger
    powertools = _Collect()
    powertools.setFormatter(pt.handlers[0].formatter if pt.handlers else None)
    plain = _Collect()
    driftline = logging.getLogger("driftline")
    saved = pt.level, driftline.level
    pt.addHandler(powertools)
    pt.setLevel(logging.DEBUG)
    driftline.addHandler(plain)
    driftline.setLevel(logging.DEBUG)
    try:
        yield lambda: powertools.lines + plain.lines
    finally:
        pt.removeHandler(powertools)
        driftline.removeHandler(plain)
        pt.setLevel(saved[0])
        driftline.setLevel(saved[1])


def _with_sentinel(table: pa.Table, column: str, rows: list[int], value: Any = SENTINEL) -> pa.Table:
    values = table.column(column).to_pylist()
    if isinstance(value, str):
        values = [None if v is None else str(v) for v in values]
    for i in rows:
        values[i] = value
    kind = pa.string() if isinstance(value, str) else table.schema.field(column).type
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values, kind))


def _texts(pipeline: Pipeline) -> Iterator[str]:
    """Everything stored in the table, as text: attribute values, and blobs raw and decompressed."""
    items = scan(pipeline)
    blobs: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for item in items:
        yield repr(item)
        for attr in item.values():
            if "B" in attr:
                data = bytes(attr["B"])
                blobs[item["pk"]["S"]].append((item["sk"]["S"], data))
                yield from _inflate(data)
    for parts in blobs.values():
        yield from _inflate(b"".join(d for _, d in sorted(parts)))


def _inflate(data: bytes) -> Iterator[str]:
    yield data.decode("latin-1")
    with contextlib.suppress(zlib.error):
        yield zlib.decompressobj().decompress(data).decode("utf-8", "replace")


def test_a_sentinel_in_user_data_appears_in_no_log_alert_error_or_stored_item(
    pipeline: Pipeline, read_alerts: Callable[[str], list[dict[str, Any]]], log_lines: Callable[[], list[str]]
) -> None:
    set_up_model(pipeline)  # the reference holds no sentinel
    base = f"predictions/{MODEL_ID}/2026/01/01"
    # an unseen category and a value in a numeric column (a type error), in a file that is otherwise fine
    current = _with_sentinel(without_labels(window_rows(300, seed=21, prefix="s")), "plan", [0, 5, 9])
    pipeline.drop(f"{base}/unseen.jsonl", encode(current, "jsonl"))
    typed = _with_sentinel(_with_sentinel(current, "monthly_spend", [1, 2]), "event_time", [3])  # no valid time
    pipeline.drop(f"{base}/typed.csv", encode(typed, "csv"))
    # a ragged CSV whose extra row holds the sentinel
    lines = encode(without_labels(window_rows(60, seed=22, prefix="r")), "csv").decode().splitlines()
    lines[10] += f',"{SENTINEL}",{SENTINEL}'
    pipeline.drop(f"{base}/ragged.csv", ("\n".join(lines) + "\n").encode())
    # JSON Lines broken mid-way, the broken line holding the sentinel
    jl = encode(without_labels(window_rows(60, seed=23, prefix="j")), "jsonl").decode().splitlines()
    jl[7] = '{"request_id": "' + SENTINEL + '", "plan": '
    pipeline.drop(f"{base}/broken.jsonl", ("\n".join(jl) + "\n").encode())
    # a CSV without header whose first row (holding the sentinel) becomes the header
    headless = _with_sentinel(without_labels(window_rows(40, seed=24, prefix="h")), "plan", [0])
    pipeline.drop(f"{base}/headless.csv", encode(headless, "csv").decode().split("\n", 1)[1].encode())
    # a corrupt Parquet file whose bytes hold the sentinel
    pipeline.drop(f"{base}/corrupt.parquet", b"PAR1" + (SENTINEL.encode() + b"\x00\xff") * 40)
    # a label file with the sentinel as an unknown id and as a label value
    labels = window_rows(300, seed=21, prefix="s").select(["request_id", "churned"]).slice(0, 50)
    labels = _with_sentinel(_with_sentinel(labels, "request_id", [0]), "churned", [1])
    pipeline.drop(f"labels/{MODEL_ID}/l.csv", encode(labels, "csv"))

    evaluate_after(pipeline, 1)

    store = pipeline.container.store
    errors = store.error_records(MODEL_ID)
    assert len(errors) >= 3  # the corrupt, headless and broken files at least
    envelopes = read_alerts(pipeline.alerts_queue_url)
    assert any('"ingest.error"' in e["Message"] for e in envelopes)
    points = list(store.points(MODEL_ID, start=0, end=2**33))
    assert points
    # the sentinel is nowhere: logs, alerts, error records, metric points, anything stored
    leaks = {
        "error records": [e for e in errors if SENTINEL in repr(e)],
        "alerts": [e for e in envelopes if SENTINEL in e["Subject"] or SENTINEL in e["Message"]],
        "metric points": [p for p in points if SENTINEL in repr(p)],
        "stored items": [t[:300] for t in _texts(pipeline) if SENTINEL in t],
    }
    assert {k: v for k, v in leaks.items() if v} == {}
    lines = log_lines()
    assert any("object handled" in line for line in lines)
    assert any("model evaluated" in line for line in lines)
    assert [line[:300] for line in lines if SENTINEL in line] == []

    # and the checks can see it where it would be: a DEBUG line of either logger is captured
    from driftline.runtime.lambda_runtime import logger

    logger.debug("canary", extra={"value": SENTINEL})
    logging.getLogger("driftline.services.ingest").debug("canary %s", SENTINEL)
    assert sum(SENTINEL in line for line in log_lines()) >= 2
