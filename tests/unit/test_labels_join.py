"""The label join (services/labels.py) on the in-memory fakes: every window's confusion counts equal those of a
direct join of the same data, whatever the order of the files, duplicates across label files (the first one
wins), unknown ids, labels arriving before their predictions, redeliveries and crash-retries."""

from __future__ import annotations

import functools
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.core.errors import NotReadyError, StorageError
from driftline.core.profiler import ProfileBuilder
from driftline.io.idkeys import BUCKETS, bucket_of, encode_pack, first_of_each, id_keys, lookup, read_pack
from driftline.io.prepare import BatchPreparer
from driftline.services.alerts import AlertPublisher
from driftline.services.ingest import IngestService
from driftline.services.labels import LabelService
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.store import Store, file_id_for
from driftline.testing import CONFIG_YAML, MODEL_ID, encode, etag_of, generate

HOUR = 3600
T0 = 1_767_225_600
BUCKET = "driftline-test-data"


class CrashingObjects(MemoryObjectStore):
    """Raises (a transient error) on the n-th write of a join result pack (``u/`` or ``c/``), once."""

    crash_at: int = -1

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        if "/u/" in key or "/c/" in key:
            self.crash_at -= 1
            if self.crash_at == 0:
                super().put_bytes(key, data[: len(data) // 2])  # a torn write: the retry writes it whole
                raise StorageError("connection reset", retryable=True)
        super().put_bytes(key, data)


@dataclass
class Env:
    table: MemoryTable
    objects: CrashingObjects
    store: Store
    registry: ModelRegistry
    ingest: IngestService

    @classmethod
    def build(cls, table: MemoryTable | None = None, objects: CrashingObjects | None = None) -> Env:
        table = table or MemoryTable()
        objects = objects or CrashingObjects(BUCKET)
        store = Store(table, clock=lambda: float(T0 + 40 * HOUR))
        registry = ModelRegistry(store, objects)
        return cls(
            table, objects, store, registry, IngestService(store, registry, AlertPublisher(store, MemoryAlertSink()))
        )

    def clone(self) -> Env:
        table, objects = MemoryTable(), CrashingObjects(BUCKET)
        table.batch_put(self.table.items())
        for key in self.objects.keys():  # noqa: SIM118  (a method)
            objects.put_bytes(key, self.objects.get_bytes(key))
        return Env.build(table, objects)

    def drop(self, key: str, body: bytes, *, put: bool = True) -> dict:
        if put:
            self.objects.put_bytes(key, body)
        ref = parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False)
        outcome = self.ingest.handle(ref)
        assert outcome.status in ("processed", "duplicate"), outcome
        return outcome.details


@functools.cache
def _installed() -> Env:
    env = Env.build()
    env.drop(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode())
    reference = generate(3_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref")
    env.drop(f"baselines/{MODEL_ID}/reference.parquet", encode(reference, "parquet"))
    return env


def confusions(store: Store, windows: list[int]) -> dict[int, list[int]]:
    out = {}
    for ws in windows:
        perf = store.window_profiles(MODEL_ID, ws).profiles.get(None)
        cm = None if perf is None else perf.performance.confusion
        out[ws] = [] if cm is None else np.asarray(cm).ravel().tolist()
    return out


def direct_join(
    registry: ModelRegistry, preds: pa.Table, label_files: list[pa.Table], windows: list[int]
) -> dict[int, list[int]]:
    """The direct join: each id's label from the first label file holding it (first row in that file), joined to
    its prediction row, profiled by the same builder as any labelled prediction log."""
    first: dict[str, int] = {}
    for table in label_files:
        for rid, y in zip(table.column("request_id").to_pylist(), table.column("churned").to_pylist(), strict=True):
            first.setdefault(rid, y)
    ids = preds.column("request_id").to_pylist()
    mask = np.array([i in first for i in ids], bool)
    joined = preds.filter(pa.array(mask))
    joined = joined.set_column(
        joined.schema.get_field_index("churned"), "churned", pa.array([first[i] for i in joined.column(0).to_pylist()])
    )
    config = registry.config(MODEL_ID)
    baseline = registry.current_baseline(MODEL_ID)
    builder = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
    preparer = BatchPreparer(config, baseline.spec)
    for batch in joined.combine_chunks().to_batches():
        builder.add(preparer.prepare(batch))
    result = builder.result()
    out = {}
    for ws in windows:
        cm = result[(ws, None)].performance.confusion if (ws, None) in result else None
        out[ws] = [] if cm is None else np.asarray(cm).ravel().tolist()
    return out


def world(seed: int, n_pred_files: int, n_label_files: int) -> tuple[list[pa.Table], list[pa.Table], pa.Table]:
    rng = np.random.default_rng(seed)
    preds = [
        generate(60, seed=seed * 100 + f, start=T0 + (f % 3) * HOUR, span=2 * HOUR - 1, id_prefix=f"s{seed}f{f}")
        for f in range(n_pred_files)
    ]
    allp = pa.concat_tables(preds)
    labelled = allp.filter(pa.array(rng.random(allp.num_rows) < 0.7))
    which = rng.integers(0, n_label_files, labelled.num_rows)
    files = []
    for k in range(n_label_files):
        cols = ["request_id", "churned", "event_time"] if k % 2 else ["request_id", "churned"]  # with event times
        part = labelled.filter(pa.array(which == k)).select(cols)
        dup = labelled.filter(pa.array((which != k) & (rng.random(labelled.num_rows) < 0.15)))
        dup = dup.select(cols)  # labelled again by another file, with the other label
        dup = dup.set_column(1, "churned", pc.subtract(pa.scalar(1, pa.int64()), dup.column("churned")))
        unknown = pa.table({"request_id": [f"unknown-{seed}-{k}-{i}" for i in range(5)], "churned": [1] * 5})
        if k % 2:
            unknown = unknown.append_column("event_time", pa.array([T0 * 1000] * 5, pa.int64()))
        t = pa.concat_tables([part, dup, unknown])
        files.append(t.take(pa.array(rng.permutation(t.num_rows))))
    return preds, files, allp


def drops_of(preds: list[pa.Table], labels: list[pa.Table]) -> list[tuple[str, bytes]]:
    """(key, body) of each file: prediction logs without labels (Parquet), label files (CSV)."""
    out = [
        (f"predictions/{MODEL_ID}/p{i}.parquet", encode(p.drop_columns(["churned"]), "parquet"))
        for i, p in enumerate(preds)
    ]
    return out + [(f"labels/{MODEL_ID}/l{k}.csv", encode(t, "csv")) for k, t in enumerate(labels)]


WINDOWS = [T0 + h * HOUR for h in range(5)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_pred=st.integers(1, 4),
    n_lab=st.integers(1, 4),
    order=st.randoms(use_true_random=False),
    redeliver=st.booleans(),
    crash=st.integers(0, 3),
)
def test_any_order_duplicates_redelivery_and_crashes_give_the_direct_join(
    seed: int, n_pred: int, n_lab: int, order: object, redeliver: bool, crash: int
) -> None:
    env = _installed().clone()
    env.objects.crash_at = crash  # 0: no crash
    preds, labels, allp = world(seed, n_pred, n_lab)
    drops = drops_of(preds, labels)
    order.shuffle(drops)  # type: ignore[attr-defined]
    label_order = []
    for key, body in drops:
        try:
            env.drop(key, body)
        except StorageError:  # the crash: SQS delivers the message again
            env.drop(key, body, put=False)
        if redeliver:
            assert env.drop(key, body, put=False) == {}  # a duplicate delivery: skipped
        if key.startswith("labels/"):
            label_order.append(labels[int(key.rsplit("/l", 1)[1].split(".")[0])])
    assert confusions(env.store, WINDOWS) == direct_join(env.registry, allp, label_order, WINDOWS)


def test_counts_reported_per_label_file_and_early_labels_joined_when_predictions_arrive() -> None:
    env = _installed().clone()
    p0 = generate(100, seed=1, start=T0, span=HOUR - 1, id_prefix="a")
    p1 = generate(80, seed=2, start=T0 + HOUR, span=HOUR - 1, id_prefix="b")
    env.drop(f"predictions/{MODEL_ID}/p0.parquet", encode(p0.drop_columns(["churned"]), "parquet"))
    # a label file: 60 of p0, 20 of p1 (not logged yet), 7 unknown, 5 repeated within the file, 3 without id
    rows = pa.concat_tables(
        [
            p0.slice(0, 60).select(["request_id", "churned"]),
            p1.slice(0, 20).select(["request_id", "churned"]),
            pa.table({"request_id": [f"x{i}" for i in range(7)], "churned": [0] * 7}),
            p0.slice(0, 5).select(["request_id", "churned"]),
            pa.table({"request_id": pa.array([None] * 3, pa.string()), "churned": [1] * 3}),
        ]
    )
    d = env.drop(f"labels/{MODEL_ID}/a.parquet", encode(rows, "parquet"))
    assert d == {"rows": 95, "matched": 60, "unknown_ids": 27, "duplicate_ids": 5, "rows_without_id": 3}
    second = env.drop(f"labels/{MODEL_ID}/b.csv", encode(p0.slice(50, 30).select(["request_id", "churned"]), "csv"))
    assert (second["matched"], second["duplicate_ids"], second["unknown_ids"]) == (20, 10, 0)
    # the predictions of p1 arrive: the 20 labels that came first are joined now
    d = env.drop(f"predictions/{MODEL_ID}/p1.parquet", encode(p1.drop_columns(["churned"]), "parquet"))
    assert d.get("labels_joined") == 20
    got = confusions(env.store, WINDOWS[:2])
    first = [p0.slice(0, 60), p1.slice(0, 20), p0.slice(60, 20)]
    want = direct_join(
        env.registry, pa.concat_tables([p0, p1]), [t.select(["request_id", "churned"]) for t in first], WINDOWS[:2]
    )
    assert got == want and sum(got[T0]) == 80 and sum(got[T0 + HOUR]) == 20
    # nothing of the ids or raw segment values is stored: only hashes, windows, codes, prediction and score
    packs = [k for k in env.objects.keys() if k.startswith(f"_driftline/ids/{MODEL_ID}/")]  # noqa: SIM118
    assert {k.split("/")[3] for k in packs} == {"p", "l", "u", "c"}
    for key in packs:
        assert b"a-00000" not in env.objects.get_bytes(key)
        table = read_pack(key, range(BUCKETS), env.objects.get_bytes, env.objects.get_range)
        assert table is not None
        if "/p/" in key:
            assert table.schema.names == ["h1", "h2", "ws", "pred", "score", "seg:country"]
            assert table.schema.field("seg:country").type == pa.int32()
        elif "/c/" in key:
            assert table.schema.names == ["h1", "h2"]
        else:
            assert table.schema.names == ["h1", "h2", "label"]


def test_a_prediction_file_waits_for_a_label_file_placed_before_it_that_has_not_finished() -> None:
    env = _installed().clone()
    p0 = generate(50, seed=3, start=T0, span=HOUR - 1, id_prefix="w")
    env.objects.crash_at = 1  # the label file dies after taking its place, before writing its result
    lab = encode(p0.select(["request_id", "churned"]), "csv")
    with pytest.raises(StorageError):
        env.drop(f"labels/{MODEL_ID}/first.csv", lab)
    body = encode(p0.drop_columns(["churned"]), "parquet")
    env.objects.put_bytes(f"predictions/{MODEL_ID}/p.parquet", body)
    ref = parse_key(
        BUCKET, f"predictions/{MODEL_ID}/p.parquet", etag_of(env.objects, f"predictions/{MODEL_ID}/p.parquet")
    )
    with pytest.raises(NotReadyError):
        env.ingest.handle(ref)
    env.drop(f"labels/{MODEL_ID}/first.csv", lab, put=False)  # the label file's retry
    assert env.drop(f"predictions/{MODEL_ID}/p.parquet", body, put=False)["labels_joined"] == 50
    assert sum(confusions(env.store, [T0])[T0]) == 50


def test_id_keys_are_vectorised_stable_and_null_aware() -> None:
    arr = pa.array(["a", "007", None, "a", "", "x" * 300, "é"])
    h1, h2, valid = id_keys(arr)
    assert valid.tolist() == [True, True, False, True, False, True, True]  # "" is missing, as everywhere
    assert h1[0] == h1[3] and h2[0] == h2[3] and h1[0] != h1[1]
    assert id_keys(pa.array([7]))[0][0] == id_keys(pa.array(["7"]))[0][0]  # ids are text
    again = id_keys(pa.chunked_array([arr.slice(0, 3), arr.slice(3)]))
    assert (again[0] == h1).all() and (again[1] == h2).all()
    many = id_keys(pa.array([f"id-{i}" for i in range(200_000)]))
    assert len(set(zip(many[0].tolist(), many[1].tolist(), strict=True))) == 200_000
    counts = np.bincount(bucket_of(many[0]), minlength=BUCKETS)
    assert counts.min() > 0.9 * 200_000 / BUCKETS  # the buckets are even


def test_a_pack_reads_back_whole_or_by_bucket_ranges() -> None:
    objects = MemoryObjectStore()
    h1, h2, _ = id_keys(pa.array([f"k{i}" for i in range(5_000)]))
    keep = first_of_each(h1, h2)
    table = pa.table({"h1": h1[keep], "h2": h2[keep], "v": np.arange(len(keep))})
    objects.put_bytes("p", encode_pack(table))
    calls: list[str] = []

    def get(key: str) -> bytes:
        calls.append("get")
        return objects.get_bytes(key)

    def get_range(key: str, a: int, b: int) -> bytes:
        calls.append("range")
        return objects.get_range(key, a, b)

    assert read_pack("p", range(BUCKETS), get, get_range).equals(table)  # type: ignore[union-attr]
    part = read_pack("p", [3], get, get_range)
    assert calls == ["get", "range", "range"]
    assert part is not None and set(bucket_of(part.column("h1").to_numpy()).tolist()) == {3}
    at = lookup(table.column("h1").to_numpy(), table.column("h2").to_numpy(), h1[:10], h2[:10])
    assert (table.column("h1").to_numpy()[at] == h1[:10]).all() and (table.column("h2").to_numpy()[at] == h2[:10]).all()
    assert (
        lookup(table.column("h1").to_numpy(), table.column("h2").to_numpy(), h1[:3], h2[:3] + np.uint32(1)) == -1
    ).all()


def test_two_files_racing_for_a_place_both_get_one_and_a_retry_keeps_its_own() -> None:
    env = _installed().clone()
    service = LabelService(env.store, env.registry)
    real = env.store.last_join_position
    stale = iter([None, None])  # the second file read the log before the first took position 0

    def racing(model_id: str) -> int | None:
        return next(stale, real(model_id))

    assert service._place(MODEL_ID, "L", "first", None) == 0
    env.store.last_join_position = racing  # type: ignore[method-assign]
    assert service._place(MODEL_ID, "P", "second", [T0]) == 1  # position 0 was taken: it took the next
    assert service._place(MODEL_ID, "P", "second", [T0]) == 1  # and a retry finds it
    log = env.store.join_log(MODEL_ID)
    assert [(e.position, e.kind, e.file_id, e.windows) for e in log.entries] == [
        (0, "L", "first", None),
        (1, "P", "second", (T0,)),
    ]


def test_files_handled_concurrently_give_the_direct_join_in_the_logs_order() -> None:
    env = _installed().clone()
    preds, labels, allp = world(99, 6, 5)
    drops = drops_of(preds, labels)
    random.Random(5).shuffle(drops)
    key_of = {}
    for key, body in drops:
        env.objects.put_bytes(key, body)
        key_of[file_id_for(BUCKET, key, etag_of(env.objects, key))] = key

    waits: list[str] = []

    def handle(key: str) -> None:
        for _ in range(200):  # a message retried while a file placed before it is being joined
            try:
                env.drop(key, b"", put=False)
                return
            except NotReadyError:
                waits.append(key)
                time.sleep(0.01)
        raise AssertionError(f"{key} never got through")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(handle, [k for k, _ in drops]))
    placed = sorted((f.position, key_of[f.file_id]) for f in env.store.join_files(MODEL_ID, "L"))
    order = [labels[int(k.rsplit("/l", 1)[1].split(".")[0])] for _, k in placed]
    assert confusions(env.store, WINDOWS) == direct_join(env.registry, allp, order, WINDOWS)
