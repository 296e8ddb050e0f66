"""A split file's parts spread over invocations (driftline.runtime.spread) through the ingest handler on moto: a
batch of ten parts profiles one and sends the others back; in the end every part is done once, rows exact."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.services.store import file_id_for
from driftline.testing import MODEL_ID, encode

from .conftest import Pipeline
from .test_handlers import HOUR, T0, set_up_model, window_rows, without_labels
from .test_split import split_at

pytestmark = pytest.mark.integration


@pytest.fixture
def splitting(pipeline: Pipeline) -> Pipeline:
    return split_at(pipeline, 4096)


def _batch(pipeline: Pipeline) -> list[dict[str, Any]]:
    """What one poller of Lambda's event source receives: at most ten messages."""
    resp = pipeline.sqs.receive_message(QueueUrl=pipeline.queues["ingest"][0], MaxNumberOfMessages=10,
                                        WaitTimeSeconds=0, AttributeNames=["All"])  # fmt: skip
    return list(resp.get("Messages", []))


def test_each_invocation_profiles_one_part_of_its_batch(splitting: Pipeline) -> None:
    pipeline = splitting
    set_up_model(pipeline)
    body = encode(without_labels(window_rows(900, window=0, seed=9, prefix="big")), "csv")
    key = f"predictions/{MODEL_ID}/big.csv"
    pipeline.put(key, body)
    etag = str(pipeline.s3.head_object(Bucket=pipeline.bucket, Key=key)["ETag"]).strip('"')
    fid = file_id_for(pipeline.bucket, key, etag)
    assert pipeline.invoke("ingest", _batch(pipeline)) == {"batchItemFailures": []}  # the split
    store = pipeline.container.store
    record = store.get_file(fid)
    assert record is not None and record.status == "split"
    count = int(str(record.reason).split("in ")[1].split()[0])
    assert count > 10  # more parts than a batch holds
    ids = [f"{fid}.{i:05d}" for i in range(count)]
    done = 0
    invocations = 0
    while batch := _batch(pipeline):
        assert pipeline.invoke("ingest", batch) == {"batchItemFailures": []}
        invocations += 1
        now = sum(s == "done" for s in store.file_statuses(ids).values())
        assert now == done + 1  # one part profiled per invocation, whatever the batch held
        done = now
    assert done == count and invocations == count
    assert sum(store.get_file(i).rows for i in ids) == 900  # type: ignore[union-attr]
    pipeline.evaluate(T0 + HOUR + 60)
    points = {p.metric: p.value for p in store.points(MODEL_ID, start=T0, end=T0 + HOUR) if p.segment is None}
    assert points["volume.rows"] == 900 and points["volume.files"] == 1
