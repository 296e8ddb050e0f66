"""Windows of any number of files (in-memory fakes): every Nth file merges the window, so an evaluation reads a
bounded number of items whatever the file count; the metrics are those of the unmerged files; concurrent writers
and merges lose and double nothing; a merge that dies half-way counts nothing twice."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.core.errors import StorageError
from driftline.core.profile import Profile
from driftline.services.alerts import AlertPublisher
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.merge import WindowMerger
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.ports import Item
from driftline.services.store import Store, doc_to_profiles, ws_key
from driftline.testing import encode, etag_of, generate, lean_config

HOUR = 3600
T0 = 1_767_225_600
AT = T0 + HOUR + 60
BUCKET = "driftline-test-data"
MODEL = "many"
ROWS = 40  # rows of each file


class CountingTable(MemoryTable):
    """Counts the items the window partitions give back (query) and the keys read by batch_get."""

    def __init__(self) -> None:
        super().__init__("counting")
        self.read_items = 0
        self.read_requests = 0

    def query(self, pk: str, **kw: Any) -> Iterator[Item]:
        for item in super().query(pk, **kw):
            if pk.startswith("PROF#"):
                self.read_items += 1
            yield item

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        self.read_requests += 1
        self.read_items += len(keys)
        return super().batch_get(keys)


@functools.cache
def _seed() -> tuple[list[Item], dict[str, bytes]]:
    """A model (config, baseline) and the profiles of one file of ROWS rows in window T0."""
    table, objects = MemoryTable(), MemoryObjectStore(BUCKET)
    store = Store(table, clock=lambda: AT)
    registry = ModelRegistry(store, objects, clock=lambda: AT)
    ingest = IngestService(store, registry, AlertPublisher(store, MemoryAlertSink()), clock=lambda: AT)
    ref = generate(2_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref")
    rows = generate(ROWS, seed=3, start=T0, span=HOUR - 1, id_prefix="w")
    for key, body in (
        (f"models/{MODEL}/config.yaml", lean_config(MODEL).encode()),
        (f"baselines/{MODEL}/reference.parquet", encode(ref, "parquet")),
        (f"predictions/{MODEL}/seed.parquet", encode(rows, "parquet")),
    ):
        objects.put_bytes(key, body)
        assert (
            ingest.handle(parse_key(BUCKET, key, etag_of(objects, key), len(body), encoded=False)).status == "processed"
        )
    return table.items(), {k: objects.get_bytes(k) for k in objects.keys()}  # noqa: SIM118


def _file_profiles(table: MemoryTable) -> dict[tuple[int, str | None], Profile]:
    """The seed file's profiles, as ingest hands them to the store."""
    import json
    import zlib

    (item,) = [i for i in table.items() if str(i["pk"]).startswith("PROF#") and str(i["sk"]).startswith("F#")]
    doc = json.loads(zlib.decompress(bytes(item["data"])))
    return {(T0, seg): p for seg, p in doc_to_profiles(doc).items()}


class World:
    def __init__(self, every: int, table: MemoryTable | None = None) -> None:
        items, objects = _seed()
        self.table = table or CountingTable()
        self.table.batch_put([i for i in items if not str(i["pk"]).startswith(("PROF#", "DIRTY#", "FILE#"))])
        self.objects = MemoryObjectStore(BUCKET)
        for k, v in objects.items():
            self.objects.put_bytes(k, v)
        self.store = Store(self.table, clock=lambda: AT)
        self.registry = ModelRegistry(self.store, self.objects, clock=lambda: AT)
        self.evaluate = EvaluateService(
            self.store, self.registry, AlertPublisher(self.store, MemoryAlertSink()), clock=lambda: AT
        )
        self.merger = WindowMerger(self.store, every=every)
        seed_table = MemoryTable()
        seed_table.batch_put(items)
        self.profiles = _file_profiles(seed_table)

    def write_file(self, n: int) -> None:
        """What ingest does for one file: claim, profiles, finish, count and maybe merge."""
        fid = f"file{n:06d}"
        assert self.store.claim_file(fid, model_id=MODEL, key=f"predictions/{MODEL}/{n}.csv", kind="predictions")
        windows = self.store.put_file_profiles(MODEL, fid, self.profiles)
        self.store.finish_file(fid, status="done", rows=ROWS)
        self.merger.after_file(MODEL, windows)

    def evaluation(self) -> tuple[dict[str, float], int]:
        """volume.rows, volume.files and a drift value of window T0 after one evaluation; the items it read."""
        before = self.table.read_items if isinstance(self.table, CountingTable) else 0
        (report,) = self.evaluate.evaluate_all(at=AT)
        assert report.windows == [T0] and not report.errors
        read = (self.table.read_items - before) if isinstance(self.table, CountingTable) else 0
        values = {}
        for metric, col in (("volume.rows", None), ("volume.files", None), ("drift.psi", "monthly_spend")):
            (p,) = self.store.series(MODEL, metric, col, None, start=T0, end=T0 + HOUR)
            values[metric] = p.value
        return values, read

    def file_items(self) -> int:
        return sum(1 for i in self.table.query(f"PROF#{MODEL}#{ws_key(T0)}") if str(i["sk"]).startswith("F#"))


def test_a_window_of_two_thousand_files_is_evaluated_from_a_bounded_number_of_items() -> None:
    files, every = 2_000, 32
    merged, plain = World(every), World(every=10**9)
    for n in range(files):
        merged.write_file(n)
        plain.write_file(n)
    # Then the merged window holds fewer file items than one merge's worth; the plain one holds them all
    assert merged.file_items() < every and plain.file_items() == files
    got, read = merged.evaluation()
    want, read_plain = plain.evaluation()
    # And the metrics are the same, every file and row counted once
    assert got == pytest.approx(want, rel=1e-12)
    assert (got["volume.rows"], got["volume.files"]) == (files * ROWS, files)
    # And the merged evaluation read a bounded number of items, not one a file: the head, the rollup's parts, the
    # counter, fewer than ``every`` file items, and the file records of the last merge's files (crash safety)
    assert read <= 2 * every + 8 and read_plain >= files


def test_concurrent_writers_and_merges_lose_and_double_nothing() -> None:
    world = World(every=8)
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            for n in range(start, start + 150):
                world.write_file(n)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k * 1_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    values, _ = world.evaluation()
    assert (values["volume.rows"], values["volume.files"]) == (600 * ROWS, 600)


def test_a_merge_that_dies_before_its_deletes_counts_nothing_twice() -> None:
    world = World(every=5)
    for n in range(4):
        world.write_file(n)
    # the 5th file's merge moves the rollup, then fails deleting the items it merged
    world.table.fail_next("delete", StorageError("throttled", retryable=True))
    world.write_file(4)
    assert world.file_items() >= 1  # some merged items are still there
    for n in range(5, 12):
        world.write_file(n)
    values, _ = world.evaluation()
    assert (values["volume.rows"], values["volume.files"]) == (12 * ROWS, 12)


def test_every_must_leave_room_for_a_merge() -> None:
    with pytest.raises(ValueError, match="every"):
        WindowMerger(Store(MemoryTable()), every=1)


def test_a_rollup_read_half_old_half_new_is_read_again() -> None:
    world = World(every=4)
    for n in range(8):
        world.write_file(n)
    real = world.table.query
    calls = [0]

    def torn(pk: str, **kw: Any) -> Iterator[Item]:
        calls[0] += 1
        items = list(real(pk, **kw))
        if pk.startswith("PROF#") and calls[0] == 1:  # the first read misses the live rollup's part
            items = [i for i in items if not (str(i["sk"]).startswith("R#") and i["sk"] != "R#HEAD")]
        return iter(items)

    world.table.query = torn  # type: ignore[method-assign]
    wp = world.store.window_profiles(MODEL, T0)
    assert wp.profiles[None].files == 8 and calls[0] == 2
    world.table.query = lambda pk, **kw: iter(  # type: ignore[method-assign]
        [i for i in real(pk, **kw) if not (str(i["sk"]).startswith("R#0"))]
    )
    with pytest.raises(StorageError, match="kept moving"):
        world.store.window_profiles(MODEL, T0)
