"""The label join on moto, through S3 notifications, SQS and the handlers: shuffled prediction and label files
(duplicates across label files, unknown ids, labels before their predictions) give every window the confusion
counts of a direct join, and a replay of every S3 event changes nothing."""

from __future__ import annotations

import random

import pyarrow as pa

from driftline.cli.demo import CONFIG_YAML, MODEL_ID, encode, generate
from driftline.io.idkeys import BUCKETS, read_pack
from tests.unit.test_labels_join import T0, WINDOWS, confusions, direct_join, drops_of, world

from .conftest import Pipeline


def test_shuffled_files_and_a_replay_of_every_event_give_the_direct_join(pipeline: Pipeline) -> None:
    pipeline.drop(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode())
    reference = generate(3_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref")
    pipeline.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(reference, "parquet"))
    preds, labels, allp = world(7, 4, 3)
    drops = drops_of(preds, labels)
    random.Random(3).shuffle(drops)
    order: list[pa.Table] = []
    bodies: dict[str, list[str]] = {"ingest": [], "labels": []}
    for key, body in drops:
        pipeline.put(key, body)
        fn = "ingest" if key.startswith("predictions/") else "labels"
        messages = pipeline.receive(fn)
        bodies[fn] += [m["Body"] for m in messages]
        assert pipeline.invoke(fn, messages) == {"batchItemFailures": []}
        if fn == "labels":
            order.append(labels[int(key.rsplit("/l", 1)[1].split(".")[0])])
    store, registry = pipeline.container.store, pipeline.container.registry
    want = direct_join(registry, allp, order, WINDOWS)
    assert confusions(store, WINDOWS) == want
    assert sum(sum(v) for v in want.values()) > 100

    # When every S3 event is delivered again (at-least-once)
    for fn, sent in bodies.items():
        for body in sent:
            pipeline.sqs.send_message(QueueUrl=pipeline.queues[fn][0], MessageBody=body)
        assert pipeline.deliver(fn) == {"batchItemFailures": []}
    # Then nothing counts twice
    assert confusions(store, WINDOWS) == want

    # and a pack reads back by ranged GETs on S3 as whole
    objects = pipeline.container.objects
    listed = pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="_driftline/ids/")["Contents"]
    assert {o["StorageClass"] for o in listed} == {"INTELLIGENT_TIERING"}
    key = next(
        k["Key"] for k in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="_driftline/ids/")["Contents"]
    )
    whole = read_pack(key, range(BUCKETS), objects.get_bytes, objects.get_range)
    parts = [read_pack(key, [b], objects.get_bytes, objects.get_range) for b in range(BUCKETS)]
    assert whole is not None and whole.num_rows == sum(p.num_rows for p in parts if p is not None)
