"""Delayed labels through the local cloud (``make load-labels``): the label join at scale, checked and measured.

Predictions in many files over ``--days`` days (no label column), then label files arriving shuffled: 5% of the
labelled ids labelled again by another file (with the other label: the first file must win), 2% unknown ids, 1% of
the labels in a file dropped before any prediction (they are joined when their predictions arrive); half the label
files carry the prediction's event time (which narrows the search). Every S3 event goes through SQS to the handlers,
the ingest and labels pumps running concurrently. Checked: every window's confusion counts equal a direct join of
the same data (numpy, on the generator's own row numbers, with the label of the first label file by join-log
position); the same after every S3 event is delivered again. Measured: CPU-s (thread time of the handlers, moto's
own CPU excluded) per million labels and per million predictions against profiling's, S3 requests and bytes under
``_driftline/ids/``, join-log items, and the peak memory (RSS) of one label and one prediction file in a fresh
process. Writes Markdown (``--out``) and the figures as JSON beside it (``bench/cost.py --delayed-labels`` reads
them).

    python -m bench.labels_load                      # reduced: 1M predictions / 200 files, 100k labels / 10 files
    python -m bench.labels_load --full               # the issue's: 10M / 2,000 files, 1M labels / 50 files (hours)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa

from bench import generate as gen

T0 = 1_767_225_600  # 2026-01-01
HOUR = 3600


class Meter:
    """Thread CPU time of wrapped calls, and counts of the label join's S3 and DynamoDB requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.bytes: dict[str, int] = defaultdict(int)

    def wrap(
        self, owner: Any, name: str, label: str, size: Callable[[Any, tuple[Any, ...]], int] | None = None
    ) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            c0 = time.thread_time()
            result = fn(*args, **kwargs)
            with self.lock:
                self.cpu[label] += time.thread_time() - c0
                self.calls[label] += 1
                if size is not None:
                    self.bytes[label] += size(result, args)
            return result

        setattr(owner, name, timed)


def install_meter(meter: Meter) -> None:
    from driftline.adapters import dynamo_items
    from driftline.adapters.s3 import S3ObjectStore
    from driftline.services import labels, profiling, store

    meter.wrap(labels.LabelService, "join_labels", "label file")
    meter.wrap(labels.LabelService, "join_predictions", "prediction join")
    meter.wrap(labels.PredictionIds, "add", "prediction ids")
    meter.wrap(profiling, "profile_file", "profiling")
    ids = "_driftline/ids/"

    def counted(name: str, label: str, size: Callable[[Any, tuple[Any, ...]], int]) -> None:
        fn = getattr(S3ObjectStore, name)

        @functools.wraps(fn)
        def each(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
            result = fn(self, key, *args, **kwargs)
            if key.startswith(ids):
                with meter.lock:
                    meter.calls[label] += 1
                    meter.bytes[label] += size(result, (key, *args))
            return result

        setattr(S3ObjectStore, name, each)

    counted("get_bytes", "s3 GET", lambda r, a: len(r))
    counted("get_range", "s3 GET", lambda r, a: len(r))
    counted("put_bytes", "s3 PUT", lambda r, a: len(a[1]))

    def items_read(result: Any, args: tuple[Any, ...]) -> int:
        if isinstance(result, list):
            return sum(dynamo_items.item_size({"sk": f.file_id, "pos": 1, "at": 1.0, "n": 1}) for f in result)
        entries = [{"sk": "0" * 12, "kind": e.kind, "file_id": e.file_id, "ws": list(e.windows or [])}
                   for e in result.entries]  # fmt: skip
        return sum(map(dynamo_items.item_size, entries)) + 60 * len(result.results)

    meter.wrap(store.Store, "join_log", "ddb read (log)", items_read)
    meter.wrap(store.Store, "join_files", "ddb read (files)", items_read)
    meter.wrap(store.Store, "last_join_position", "ddb read (last)")
    meter.wrap(store.Store, "append_join_entry", "ddb write")
    meter.wrap(store.Store, "put_join_file", "ddb write")
    meter.wrap(store.Store, "put_join_result", "ddb write")


def s3_event(bucket: str, key: str, etag: str, size: int) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "size": size, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


class World:
    """The generated data, by global row number: window, prediction, truth; and the label files' rows."""

    def __init__(self, args: argparse.Namespace, model_id: str) -> None:
        from driftline.testing import generate

        self.generate = generate
        self.args = args
        self.rows_per_file = args.predictions // args.pred_files
        n = self.rows_per_file * args.pred_files
        self.ws = np.zeros(n, np.int64)
        self.pred = np.zeros(n, np.int64)
        self.truth = np.zeros(n, np.int64)
        self.span = args.days * 86_400 / args.pred_files
        rng = np.random.default_rng(args.seed)
        # labels: known rows (without replacement), 2% unknown, 5% labelled again elsewhere, 1% early
        n_known = int(args.labels * 0.98)
        known = np.sort(rng.choice(n, n_known, replace=False))
        files = rng.integers(0, args.label_files, n_known)
        early_n = max(1, int(args.labels * 0.01))
        self.first_late_file = args.pred_files - max(1, args.pred_files // 10)  # the last files logged
        late_rows = known[known >= self.first_late_file * self.rows_per_file]
        early = rng.choice(late_rows, min(early_n, len(late_rows)), replace=False)
        self.label_rows: list[list[np.ndarray]] = [[] for _ in range(args.label_files + 1)]  # file 0: the early one
        self.flipped: list[list[np.ndarray]] = [[] for _ in range(args.label_files + 1)]
        early_set = np.isin(known, early)
        for k in range(args.label_files):
            self.label_rows[k + 1].append(known[(files == k) & ~early_set])
        self.label_rows[0].append(np.sort(early))
        is_dup = rng.random(n_known) < 0.05
        dup = known[is_dup]  # labelled again by another file than their own (never twice in one file)
        shift = rng.integers(1, args.label_files, len(dup)) if args.label_files > 1 else np.zeros(len(dup), np.int64)
        dup_file = (files[is_dup] + shift) % args.label_files + 1
        if args.label_files == 1:
            dup, dup_file = dup[:0], dup_file[:0]
        for k in range(1, args.label_files + 1):
            self.flipped[k].append(dup[dup_file == k])
        self.unknown = [int(args.labels * 0.02) // args.label_files] * (args.label_files + 1)
        self.unknown[0] = 0
        self.with_time = [k % 2 == 0 for k in range(args.label_files + 1)]

    def prediction_file(self, f: int) -> bytes:
        from driftline.testing import encode

        n = self.rows_per_file
        t = self.generate(n, seed=self.args.seed * 7919 + f, start=T0 + f * self.span, span=self.span - 1,
                          id_prefix=f"f{f:05d}")  # fmt: skip
        g = np.arange(f * n, (f + 1) * n)
        self.ws[g] = (t.column("event_time").to_numpy() // 1000 // HOUR) * HOUR
        self.pred[g] = t.column("will_churn").to_numpy()
        self.truth[g] = t.column("churned").to_numpy()
        return encode(t.drop_columns(["churned"]), "parquet")

    def row_ids(self, g: np.ndarray) -> pa.Array:
        f, i = g // self.rows_per_file, g % self.rows_per_file
        return pa.array([f"f{a:05d}-{b:07d}" for a, b in zip(f.tolist(), i.tolist(), strict=True)])

    def label_file(self, k: int, rng: np.random.Generator) -> tuple[bytes, int]:
        from driftline.testing import encode

        rows = np.concatenate(self.label_rows[k])
        flip = np.concatenate(self.flipped[k]) if self.flipped[k] else np.zeros(0, np.int64)
        g = np.concatenate([rows, flip])
        ids = pa.concat_arrays(
            [self.row_ids(g), pa.array([f"unknown-{k}-{i}" for i in range(self.unknown[k])], pa.string())]
        )
        truth = np.concatenate([self.truth[rows], 1 - self.truth[flip], np.ones(self.unknown[k], np.int64)])
        cols: dict[str, Any] = {"request_id": ids, "churned": truth}
        if self.with_time[k]:
            when = np.concatenate([self.ws[g] + 1, np.full(self.unknown[k], T0)]) * 1000
            cols["event_time"] = when
        order = rng.permutation(len(truth))
        return encode(pa.table(cols).take(pa.array(order)), "csv"), len(truth)

    def direct(self, order: list[int], classes: list[str], windows: list[int]) -> dict[int, list[int]]:
        """Confusion counts per window of the direct join: each row's label from the first label file (in
        ``order``) holding it."""
        label = np.full(len(self.ws), -1, np.int64)
        for k in reversed(order):  # the first file's label written last
            rows = np.concatenate(self.label_rows[k])
            flip = np.concatenate(self.flipped[k]) if self.flipped[k] else np.zeros(0, np.int64)
            label[rows] = self.truth[rows]
            label[flip] = 1 - self.truth[flip]
        has = label >= 0
        n_cls = len(classes) + 1
        slot = {int(c): i for i, c in enumerate(classes) if c.lstrip("-").isdigit()}
        y = np.array([slot.get(int(v), n_cls - 1) for v in (0, 1)])[label[has]]
        p = np.array([slot.get(int(v), n_cls - 1) for v in (0, 1)])[self.pred[has]]
        w = np.searchsorted(windows, self.ws[has])
        counts = np.bincount(w * n_cls * n_cls + y * n_cls + p, minlength=len(windows) * n_cls * n_cls)
        out = {}
        for i, ws in enumerate(windows):
            c = counts[i * n_cls * n_cls : (i + 1) * n_cls * n_cls]
            out[ws] = c.tolist() if c.sum() else []
        return out


def stored(store: Any, model_id: str, windows: list[int]) -> dict[int, list[int]]:
    out = {}
    for ws in windows:
        prof = store.window_profiles(model_id, ws).profiles.get(None)
        cm = None if prof is None else prof.performance.confusion
        out[ws] = [] if cm is None or not np.asarray(cm).sum() else np.asarray(cm).ravel().tolist()
    return out


_PROBE = """
import json, sys, time
from driftline.runtime.container import container
from driftline.services.models import ObjectRef
from driftline.services.profiling import profile_file
from driftline.testing import etag_of

def hwm():  # this process's peak RSS (MB) since the last reset
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

key, prefix, model_id = sys.argv[1:]
c = container()
c.ingest
baseline = c.registry.current_baseline(model_id)
import pyarrow, driftline.services.labels  # noqa
c.store.get_state(model_id)  # warm: the clients made, the compute kernels loaded (a Lambda's warm start)
etag = etag_of(c.objects, key)
if prefix == "predictions":
    profile_file(c.registry.open_data(key), name=key, config=c.registry.config(model_id), baseline=baseline)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak: what follows is the file's
before = hwm()
t0 = time.process_time()
out = c.ingest.handle(ObjectRef(c.settings.bucket, key, etag, 0, prefix, model_id))
cpu = time.process_time() - t0
peak = hwm()
profile_cpu = None
if prefix == "predictions":  # profiling alone, the same file, for comparison
    t0 = time.process_time()
    profile_file(c.registry.open_data(key), name=key, config=c.registry.config(model_id), baseline=baseline)
    profile_cpu = time.process_time() - t0
print(json.dumps({"before_mb": before, "peak_mb": peak, "cpu_s": cpu, "profile_cpu_s": profile_cpu,
                  "status": out.status, "details": out.details}, default=str))
"""


def probe(key: str, prefix: str, model_id: str) -> dict[str, Any]:
    """In a fresh process (the environment points at the local cloud): handle the object ``key`` (under
    ``_driftline/probe/``: not notified) as a file of ``prefix``; its peak RSS, CPU-s (all threads), and for a
    prediction file the CPU-s of profiling it alone."""
    argv = [sys.executable, "-c", _PROBE, key, prefix, model_id]
    res = subprocess.run(argv, capture_output=True, text=True, check=True)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from driftline.adapters.dynamodb import DynamoTable
    from driftline.adapters.s3 import S3ObjectStore
    from driftline.cli.local.cloud import LocalCloud
    from driftline.services.models import ModelRegistry
    from driftline.services.store import Store, file_id_for
    from driftline.testing import CONFIG_YAML, MODEL_ID, encode, generate

    meter = Meter()
    install_meter(meter)
    rng = np.random.default_rng(args.seed + 1)
    world = World(args, MODEL_ID)
    figures: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)}}
    t_start = time.time()
    with LocalCloud(tick=0) as cloud:
        bucket = cloud.outputs["DataBucketName"]
        s3 = cloud.client("s3")
        queues = {f.logical: f.queue_url for f in cloud.functions.values() if f.queue_url}
        events: list[tuple[str, str]] = []

        def put(key: str, body: bytes) -> None:
            resp = s3.put_object(Bucket=bucket, Key=key, Body=body)
            events.append((key, s3_event(bucket, key, resp["ETag"].strip('"'), len(body))))

        put(f"models/{MODEL_ID}/config.yaml", CONFIG_YAML.encode())
        cloud.wait_idle()
        reference = generate(20_000, seed=11, start=T0 - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
        put(f"baselines/{MODEL_ID}/reference.parquet", encode(reference, "parquet"))
        cloud.wait_idle(timeout=900)
        label_rows = 0
        late = {f: world.prediction_file(f) for f in range(args.pred_files) if f >= world.first_late_file}
        body, n = world.label_file(0, rng)  # the labels that come before their predictions
        put(f"labels/{MODEL_ID}/early/l00.csv", body)
        label_rows += n
        cloud.wait_idle()
        print(f"predictions: {args.predictions:,} rows in {args.pred_files:,} files", file=sys.stderr)
        for f in range(args.pred_files):
            body = late.pop(f) if f in late else world.prediction_file(f)
            put(f"predictions/{MODEL_ID}/{f // 100:03d}/p{f:05d}.parquet", body)
            if f % 50 == 49:
                cloud.wait_idle(timeout=3600)
        order = list(range(1, args.label_files + 1))
        rng.shuffle(order)
        for k in order:  # while the last predictions are still being ingested
            body, n = world.label_file(k, rng)
            put(f"labels/{MODEL_ID}/late/l{k:02d}.csv", body)
            label_rows += n
        cloud.wait_idle(timeout=6 * 3600)
        figures["ingest_s"] = time.time() - t_start
        figures["failures"] = dict(cloud.failures)

        store = Store(DynamoTable(cloud.client("dynamodb"), cloud.outputs["MetricsTableName"]))
        registry = ModelRegistry(store, S3ObjectStore(s3, bucket))
        baseline = registry.current_baseline(MODEL_ID)
        assert baseline.spec.classes is not None
        classes = list(baseline.spec.classes.categories)
        windows = sorted(set(world.ws.tolist()))
        # the label files by their join-log position (the first one wins an id)
        by_id = {}
        for key, ev in events:
            if key.startswith("labels/"):
                etag = json.loads(ev)["Records"][0]["s3"]["object"]["eTag"]
                by_id[file_id_for(bucket, key, etag)] = int(key.rsplit("/l", 1)[1].split(".")[0])
        placed = sorted(
            (f.position, by_id[f.file_id]) for f in store.join_files(MODEL_ID, "L") if f.position is not None
        )
        want = world.direct([k for _, k in placed], classes, windows)
        got = stored(store, MODEL_ID, windows)
        figures["windows"] = len(windows)
        figures["labelled_rows_direct"] = int(sum(sum(v) for v in want.values()))
        figures["labelled_rows_stored"] = int(sum(sum(v) for v in got.values()))
        figures["equal"] = got == want
        figures["differing_windows"] = [w for w in windows if got[w] != want[w]][:10]
        snapshot = {k: dict(v) for k, v in (("cpu", meter.cpu), ("calls", meter.calls), ("bytes", meter.bytes))}

        # every S3 event delivered again
        sqs = cloud.client("sqs")
        for key, ev in events:
            fn = {"models": "ConfigFunction", "baselines": "BaselineFunction", "predictions": "IngestFunction",
                  "labels": "LabelsFunction"}[key.split("/", 1)[0]]  # fmt: skip
            url = queues.get(fn) or next(
                u for lg, u in queues.items() if fn.removesuffix("Function").lower() in lg.lower()
            )
            sqs.send_message(QueueUrl=url, MessageBody=ev)
        cloud.wait_idle(timeout=3600)
        figures["equal_after_replay"] = stored(store, MODEL_ID, windows) == want

        # one label file and one prediction file, each in a fresh process: peak memory and CPU. The label file
        # labels every prediction of two days (with their event times); the prediction file's ids are new.
        os.environ.update(cloud_env(cloud))
        first_day = T0 + args.days // 3 * 86_400
        days = np.flatnonzero((world.ws >= first_day) & (world.ws < first_day + 2 * 86_400))
        table = pa.table({"request_id": world.row_ids(days), "churned": world.truth[days],
                          "event_time": (world.ws[days] + 1) * 1000})  # fmt: skip
        s3.put_object(Bucket=bucket, Key="_driftline/probe/labels.csv", Body=encode(table, "csv"))
        figures["probe_label"] = probe("_driftline/probe/labels.csv", "labels", MODEL_ID) | {"rows": len(days)}
        rows = generate(args.probe_rows, seed=5, start=T0, span=args.days * 86_400 - 1, id_prefix="probe")
        body = encode(rows.drop_columns(["churned"]), "parquet")
        s3.put_object(Bucket=bucket, Key="_driftline/probe/p.parquet", Body=body)
        figures["probe_prediction"] = probe("_driftline/probe/p.parquet", "predictions", MODEL_ID) | {
            "rows": args.probe_rows
        }
    figures["meter"] = snapshot
    figures["label_rows"] = label_rows
    figures["label_files"] = args.label_files + 1
    figures["pred_files"] = args.pred_files
    figures["predictions"] = world.rows_per_file * args.pred_files
    figures["total_s"] = time.time() - t_start
    figures["peak_rss_mb_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def cloud_env(cloud: Any) -> dict[str, str]:
    return {
        "DRIFTLINE_BUCKET": cloud.outputs["DataBucketName"],
        "DRIFTLINE_TABLE": cloud.outputs["MetricsTableName"],
        "DRIFTLINE_TOPIC_ARN": cloud.outputs["AlertsTopicArn"],
        "AWS_ENDPOINT_URL": cloud.endpoint_url,
    }


def report(f: dict[str, Any]) -> str:
    m = f["meter"]
    cpu, calls, nbytes = m["cpu"], m["calls"], m["bytes"]
    files = f["label_files"] + f["pred_files"]
    pack_row = nbytes.get("s3 PUT", 0) / (f["predictions"] + f["label_rows"])
    rows_read = nbytes.get("s3 GET", 0) / pack_row
    label_cpu = cpu.get("label file", 0.0)
    pjoin = cpu.get("prediction join", 0.0) + cpu.get("prediction ids", 0.0)
    pl, pp = f["probe_label"], f["probe_prediction"]
    a = f["args"]
    log_reads = max(1, calls.get("ddb read (log)", 0))
    file_reads = max(1, calls.get("ddb read (files)", 0))
    lines = [
        f"# Delayed labels through the local cloud ({f['predictions']:,} predictions / {f['pred_files']:,} files over "
        f"{a['days']} days; {f['label_rows']:,} label rows / {f['label_files']} files)",
        "",
        f"Command: `python -m bench.labels_load --predictions {a['predictions']} --pred-files {a['pred_files']} "
        f"--labels {a['labels']} --label-files {a['label_files']} --days {a['days']}`; {f['total_s'] / 60:,.1f} min "
        "on this machine (2 cores shared with other jobs; moto in its own process).",
        "",
        "## Checks",
        "",
        f"- every window's confusion counts equal the direct join: **{f['equal']}** ({f['windows']} windows, "
        f"{f['labelled_rows_stored']:,} labelled predictions stored, {f['labelled_rows_direct']:,} in the direct join)",
        f"- the same after every S3 event is delivered again: **{f['equal_after_replay']}**",
        f"- failed invocations (retried): {f['failures'] or 'none'}",
        "",
        "## Measured (CPU: the handlers' thread time, or a fresh process's; moto's own CPU excluded)",
        "",
        "| what | figure |",
        "|---|---|",
        "| label files of the run: CPU-s per million label rows (each scans every pack: its labels span 30 days) | "
        f"{label_cpu / f['label_rows'] * 1e6:,.1f} |",
        f"| the same per million rows touched (labels + {rows_read / 1e6:,.1f}M pack rows read) | "
        f"{label_cpu / (f['label_rows'] + rows_read) * 1e6:,.2f} |",
        f"| one label file labelling two days ({pl['rows']:,} rows, with event times), fresh process: CPU-s per "
        f"million labels | {pl['cpu_s'] / pl['rows'] * 1e6:,.2f} |",
        f"| one prediction file of {pp['rows']:,} rows: CPU-s per million, whole handler / profiling alone | "
        f"{pp['cpu_s'] / pp['rows'] * 1e6:,.2f} / {pp['profile_cpu_s'] / pp['rows'] * 1e6:,.2f} |",
        "| prediction side of the join per file of the run (hash ids, pack, log, early labels), CPU-s | "
        f"{pjoin / f['pred_files']:,.3f} |",
        "| peak RSS of that label file / that prediction file (fresh process; before the file → peak) | "
        f"{pl['before_mb']:,.0f} → {pl['peak_mb']:,.0f} MB / {pp['before_mb']:,.0f} → {pp['peak_mb']:,.0f} MB |",
        f"| S3 PUTs under `_driftline/ids/` per file | {calls.get('s3 PUT', 0) / files:,.2f} |",
        f"| S3 GETs under `_driftline/ids/` per label file (all packs: no narrowing here) | "
        f"{calls.get('s3 GET', 0) / f['label_files']:,.1f} |",
        f"| pack bytes stored per prediction or label row (zstd) | {pack_row:,.1f} |",
        f"| DynamoDB writes per file (file item ×2, log entry, result ×2) | {calls.get('ddb write', 0) / files:,.2f} |",
        "| DynamoDB bytes read per label file (the whole log) / per prediction file (the label files' items) | "
        f"{nbytes.get('ddb read (log)', 0) / log_reads / 1024:,.1f} KB / "
        f"{nbytes.get('ddb read (files)', 0) / file_reads / 1024:,.2f} KB |",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--predictions", type=int, default=1_000_000)
    p.add_argument("--pred-files", type=int, default=200)
    p.add_argument("--labels", type=int, default=100_000)
    p.add_argument("--label-files", type=int, default=10)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--probe-rows", type=int, default=200_000, help="rows of the prediction file whose memory is probed")
    p.add_argument("--full", action="store_true", help="the issue's scale: 10M / 2,000 files, 1M labels / 50 files")
    p.add_argument("--out", type=Path, default=gen.BENCH_DIR / "results" / "labels_load.md")
    args = p.parse_args(argv)
    if args.full:
        args.predictions, args.pred_files, args.labels, args.label_files = 10_000_000, 2_000, 1_000_000, 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures = run(args)
    text = report(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(figures, indent=2, default=str))
    print(text)
    return 0 if figures["equal"] and figures["equal_after_replay"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
