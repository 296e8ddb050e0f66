"""Scaling out, measured on the in-memory fakes (the services and the store's key design as deployed; DynamoDB and
SQS replaced by ``MemoryTable`` and ``MemoryQueue``, which count what is read and sent):

- windows of many files: items read by one evaluation of a window of N files, with the merges of
  ``services/merge.py`` and without, and the evaluation's seconds (the merges' seconds are the ingest's);
- many models: M models each with a window due: messages queued by the dispatcher, worker batches, windows
  evaluated after the first and second ticks, the dispatcher's reads per tick;
- backfill: F files already in the bucket, backfilled twice (queued, processed, counted).

    python -m bench.scale [--files 100,1000,20000] [--models 1000] [--backfill-files 1000] [--every 64]

A lean model (two numerical features, one categorical, no segments) keeps a profile small; the benchmark model's
profiles are ~15x larger to decode (``make load``: 15 ms an item), which scales the seconds, not the counts.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryQueue, MemoryTable
from driftline.core.profile import Profile
from driftline.runtime.events import parse_sqs_body
from driftline.services.alerts import AlertPublisher
from driftline.services.backfill import BackfillService
from driftline.services.dispatch import EvaluationDispatcher, EvaluationWorker, parse_evaluate_message
from driftline.services.evaluate import EvaluateService
from driftline.services.ingest import IngestService
from driftline.services.merge import MERGE_EVERY, WindowMerger
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.ports import Item
from driftline.services.store import Store, doc_to_profiles
from driftline.testing import encode, etag_of, generate, lean_config, registration_copy

HOUR = 3600
T0 = 1_767_225_600
AT = T0 + HOUR + 60
BUCKET = "bench-scale"


class CountingTable(MemoryTable):
    """Counts items given back by queries and keys asked of batch_get, and requests."""

    def __init__(self) -> None:
        super().__init__("bench")
        self.items_read = 0
        self.requests = 0

    def query(self, pk: str, **kw: Any) -> Iterator[Item]:
        self.requests += 1
        for item in super().query(pk, **kw):
            self.items_read += 1
            yield item

    def get(self, pk: str, sk: str) -> Item | None:
        self.requests += 1
        self.items_read += 1
        return super().get(pk, sk)

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        self.requests += 1
        self.items_read += len(keys)
        return super().batch_get(keys)


class World:
    def __init__(self, table: MemoryTable | None = None, objects: MemoryObjectStore | None = None) -> None:
        self.table = table or CountingTable()
        self.objects = objects or MemoryObjectStore(BUCKET)
        self.store = Store(self.table, clock=lambda: AT)
        self.registry = ModelRegistry(self.store, self.objects, clock=lambda: AT, max_baselines=4096)
        self.alerts = AlertPublisher(self.store, MemoryAlertSink())
        self.ingest = IngestService(self.store, self.registry, self.alerts, clock=lambda: AT)
        self.evaluate = EvaluateService(self.store, self.registry, self.alerts, clock=lambda: AT)

    def drop(self, key: str, body: bytes) -> str:
        self.objects.put_bytes(key, body)
        return self.ingest.handle(parse_key(BUCKET, key, etag_of(self.objects, key), len(body), encoded=False)).status

    def install(self, model: str, *, file_rows: int = 40) -> None:
        ref = generate(2_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref")
        self.drop(f"models/{model}/config.yaml", lean_config(model).encode())
        self.drop(f"baselines/{model}/reference.parquet", encode(ref, "parquet"))
        if file_rows:
            rows = generate(file_rows, seed=3, start=T0, span=HOUR - 1, id_prefix=model)
            self.drop(f"predictions/{model}/seed.parquet", encode(rows, "parquet"))

    def file_profiles(self, model: str) -> dict[tuple[int, str | None], Profile]:
        (item,) = [i for i in self.table.items() if str(i["pk"]).startswith(f"PROF#{model}#") and "F#" in i["sk"]]
        return {(T0, s): p for s, p in doc_to_profiles(json.loads(zlib.decompress(bytes(item["data"])))).items()}


# -- windows of many files ---------------------------------------------------------------------------------------


def window_run(files: int, every: int | None) -> dict[str, Any]:
    """One window of ``files`` files (each the seed file's profiles under its own id), merged every ``every``
    files (None: never), then evaluated; what the evaluation read and took."""
    w = World()
    w.install("m")
    profiles = w.file_profiles("m")
    merger = WindowMerger(w.store, every=every or 2**62)
    t0 = time.perf_counter()
    for n in range(1, files):  # the seed file is the first
        fid = f"f{n:07d}"
        w.store.claim_file(fid, model_id="m", key=f"predictions/m/{n}", kind="predictions")
        windows = w.store.put_file_profiles("m", fid, profiles)
        w.store.finish_file(fid, status="done", rows=40)
        merger.after_file("m", windows)
    ingest_s = time.perf_counter() - t0
    table = w.table
    assert isinstance(table, CountingTable)
    before_items, before_requests = table.items_read, table.requests
    t0 = time.perf_counter()
    (report,) = w.evaluate.evaluate_all(at=AT)
    eval_s = time.perf_counter() - t0
    (files_point,) = w.store.series("m", "volume.files", None, None, start=T0, end=T0 + HOUR)
    return {
        "files": files,
        "merge_every": every,
        "items_read_by_evaluation": table.items_read - before_items,
        "requests_by_evaluation": table.requests - before_requests,
        "evaluation_s": round(eval_s, 3),
        "writes_and_merges_s": round(ingest_s, 1),
        "volume.files": int(files_point.value),
        "windows": len(report.windows),
    }


# -- many models -------------------------------------------------------------------------------------------------


def models_run(models: int, *, workers: int = 10, batch: int = 10) -> dict[str, Any]:
    seed = World(MemoryTable())
    seed.install("m0000", file_rows=40)
    items = seed.table.items()
    table, objects = CountingTable(), MemoryObjectStore(BUCKET)
    copies = []
    for i in range(models):
        mid = f"m{i:04d}"
        for key in seed.objects.keys():  # noqa: SIM118
            if key.startswith("_driftline/"):
                objects.put_bytes(key.replace("m0000", mid), seed.objects.get_bytes(key))
        copies += registration_copy(items, "m0000", mid)
    table.batch_put(copies)
    tick = World(table, objects)
    pool = [World(table, objects) for _ in range(workers)]
    queue = MemoryQueue()
    out: dict[str, Any] = {"models": models, "workers": workers, "batch": batch, "ticks": []}
    batches = 0
    for k in range(2):
        before = table.items_read
        t0 = time.perf_counter()
        report = EvaluationDispatcher(tick.store, tick.registry, queue).dispatch(at=AT + 60 * k)
        dispatch_s = time.perf_counter() - t0
        dispatch_reads = table.items_read - before
        windows = busy = 0
        t0 = time.perf_counter()
        while queue.messages:
            w = pool[batches % workers]
            result = EvaluationWorker(w.store, w.evaluate).run(
                [parse_evaluate_message(m) for m in queue.take(batch)], time_left=300
            )
            batches += 1
            windows += sum(len(r.windows) for r in result.reports)
            busy += len(result.busy)
        evaluated = sum(1 for i in range(models) if (tick.store.get_state(f"m{i:04d}").last_closed or 0) >= T0)
        out["ticks"].append(
            {
                "queued": len(report.queued),
                "dispatch_s": round(dispatch_s, 2),
                "dispatch_reads_per_model": round(dispatch_reads / models, 2),
                "windows": windows,
                "busy": busy,
                "models_evaluated_so_far": evaluated,
                "workers_s_one_core": round(time.perf_counter() - t0, 1),
            }
        )
    out["worker_batches"] = batches
    return out


# -- backfill ----------------------------------------------------------------------------------------------------


def backfill_run(files: int) -> dict[str, Any]:
    w = World()
    w.install("b", file_rows=0)
    body = encode(generate(20, seed=5, start=T0, span=HOUR - 1, id_prefix="bf").drop_columns(["churned"]), "csv")
    for n in range(files):
        w.objects.put_bytes(f"predictions/b/old/{n:05d}.csv", body)  # already there: never notified
    queue = MemoryQueue()
    runs = []
    for _ in range(2):
        service = BackfillService(w.store, w.objects, {"predictions": queue}, bucket=BUCKET, rate=1e9)
        t0 = time.perf_counter()
        report = service.run("b", kinds=["predictions"])
        processed = 0
        while queue.messages:
            for ref in parse_sqs_body(queue.take(1)[0]).refs:
                processed += w.ingest.handle(ref).status == "processed"
        kr = report.kinds["predictions"]
        runs.append(
            {"listed": kr.listed, "queued": kr.queued, "already_processed": kr.already, "processed": processed,
             "seconds": round(time.perf_counter() - t0, 1)}
        )  # fmt: skip
    w.evaluate.evaluate_all(at=AT)
    (rows,) = w.store.series("b", "volume.rows", None, None, start=T0, end=T0 + HOUR)
    (nfiles,) = w.store.series("b", "volume.files", None, None, start=T0, end=T0 + HOUR)
    return {"files": files, "runs": runs, "volume.files": int(nfiles.value), "volume.rows": int(rows.value),
            "rows_expected": 20 * files}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", default="100,1000,20000", help="window sizes (files), comma-separated")
    p.add_argument("--every", type=int, default=MERGE_EVERY)
    p.add_argument("--no-plain", action="store_true", help="skip the unmerged windows")
    p.add_argument("--models", type=int, default=1000)
    p.add_argument("--backfill-files", type=int, default=1000)
    p.add_argument("--only", choices=("windows", "models", "backfill"), default=None)
    args = p.parse_args(argv)
    if args.only in (None, "windows"):
        for n in (int(x) for x in args.files.split(",")):
            print(json.dumps(window_run(n, args.every)), flush=True)
            if not args.no_plain:
                print(json.dumps(window_run(n, None)), flush=True)
    if args.only in (None, "models"):
        print(json.dumps(models_run(args.models)), flush=True)
    if args.only in (None, "backfill"):
        print(json.dumps(backfill_run(args.backfill_files)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
