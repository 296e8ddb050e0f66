"""``python -m bench.load_scale --only window|models|backfill``: the evaluator's fan-out, merged windows and backfill
on the local cloud.

- ``window``: the benchmark model; one real file (5,000 rows) through S3 → SQS → the ingest function, then its
  profiles written for ``--window-files`` - 1 more files into the same window by the ingest service's own store
  calls after profiling (the file's claim, its profile items, its finish, the window's file counter and the merge
  every 64th file: ``Store`` and ``WindowMerger`` against the local cloud's DynamoDB, 4 threads) — profiling
  20,000 files through moto would take about an hour (``make load``: 6-7 files/s end to end) and measures
  nothing more here. Then one scheduled tick: the dispatcher queues the model, an evaluation worker (the judge
  function, through JudgeQueue) evaluates the window; its DynamoDB reads (requests, items) are counted.
- ``models``: ``--models`` lean models (``driftline.testing.lean_config``): the first registered through the real
  path (config and baseline functions), the others copies of its registration items and objects; then one file
  per model (40 rows, one window) through S3 → SQS → ingest; then two scheduled ticks a minute apart.
- ``backfill``: a lean model; ``--backfill-files`` CSV files of 20 rows put while the bucket's notifications are
  off (objects already there when Driftline is deployed), notifications back on; ``driftline backfill`` run twice
  (each time until the ingest queue is drained); then the window evaluated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from bench import generate as gen
from bench.load import HOUR, START, encode_table, model_config_text
from bench.load_scale import Env, local_cloud, log, measured

AT: Final = START + HOUR + 60  # a minute after the first window closes
EVALUATOR_TIMEOUT_S: Final = 300  # JudgeFunction's Timeout (template.yaml)


def window(args: argparse.Namespace) -> dict[str, Any]:
    from driftline.services.merge import MERGE_EVERY, WindowMerger
    from driftline.services.store import file_id_for

    n = args.window_files
    config_text, model_id = model_config_text(None)
    with local_cloud(args, model_id) as env:
        reference = gen.ensure(args.reference_rows, args.seed + 1, "parquet", data_dir=args.data_dir, stem="reference")
        env.register(model_id, config_text, reference.read_bytes())
        rows = 5_000
        table = gen.generate_table(rows, args.seed, time_range_ms=(0, HOUR * 1000))
        key = f"predictions/{model_id}/w/first.parquet"
        with env.probe.excluded():
            etag = env.s3.put_object(Bucket=env.bucket, Key=key, Body=encode_table(table, "parquet"))["ETag"]
        env.wait_files([file_id_for(env.bucket, key, etag.strip('"'))], "window: the first file")
        store = env.store
        profiles = {(START, seg): p for seg, p in store.window_profiles(model_id, START).profiles.items()}
        merger = WindowMerger(store)
        merges = [0]
        lock = threading.Lock()

        def write(i: int) -> None:  # IngestService.handle after profile_file: claim, profiles, finish, merge
            fid = f"load-window-{i:06d}"
            store.claim_file(
                fid, model_id=model_id, key=f"predictions/{model_id}/w/{i:06d}.parquet", kind="predictions"
            )
            windows = store.put_file_profiles(model_id, fid, profiles)
            store.finish_file(fid, status="done", rows=rows)
            done = merger.after_file(model_id, windows)
            with lock:
                merges[0] += done

        env.probe.phase = "write"
        with measured(env, "write") as w, ThreadPoolExecutor(4) as pool:
            for k, _ in enumerate(pool.map(write, range(1, n)), start=2):
                if k % 2000 == 0:
                    log(f"window: {k:,}/{n:,} files written · {w.get('wall_s', 0)}")
        with env.probe.excluded():
            held = env.ddb.query(
                TableName=env.table,
                KeyConditionExpression="pk = :p",
                Select="COUNT",
                ExpressionAttributeValues={":p": {"S": f"PROF#{model_id}#{_ws(START)}"}},
            )["Count"]
        env.probe.phase = "eval"
        with measured(env, "evaluate") as e:
            ev = env.run.evaluate("window", "eval", AT, 1, n)
        reads = env.reads("eval")
        judge = env.probe.timing("eval", "read + merge profiles")
        nfiles = env.metric(model_id, "volume.files", START)
        nrows = env.metric(model_id, "volume.rows", START)
        env.check("window: volume.files = files", nfiles == n, f"{nfiles} / {n:,}")
        env.check("window: volume.rows = rows", nrows == n * rows, f"{nrows} / {n * rows:,}")
        env.check(
            "window: evaluated within the evaluator's timeout",
            e["wall_s"] < EVALUATOR_TIMEOUT_S,
            f"{e['wall_s']} s (tick: dispatch + the worker) < {EVALUATOR_TIMEOUT_S} s",
        )
        env.finish()
        return {
            "files": n,
            "rows_per_file": rows,
            "merge_every": MERGE_EVERY,
            "write": env.figures["write"],
            "merges_during_writes": merges[0],
            "write_calls_per_file": round(env.probe.ddb_calls("write").count / max(n - 1, 1), 2),
            "items_in_window_partition_before_evaluation": held,
            "evaluate": env.figures["evaluate"],
            "evaluate_reads": reads,
            "read_and_merge_s": round(judge.wall, 2),
            "windows": ev.windows,
            "volume_files": nfiles,
            "volume_rows": nrows,
            "checks": env.run.checks,
        }


def _ws(ws: int) -> str:
    from driftline.services.store import ws_key

    return ws_key(ws)


def _clone(env: Env, source: str, targets: list[str]) -> None:
    """Copy ``source``'s registration (items, ``_driftline/`` objects) to each of ``targets`` (bench/scale.py's)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    from driftline.testing import registration_copy

    des, ser = TypeDeserializer(), TypeSerializer()
    with env.probe.excluded():
        items = [
            {k: des.deserialize(v) for k, v in i.items()}
            for page in env.ddb.get_paginator("scan").paginate(TableName=env.table)
            for i in page["Items"]
        ]
        keys = [
            o["Key"]
            for page in env.s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket, Prefix="_driftline/")
            for o in page.get("Contents", [])
            if source in o["Key"]
        ]
        bodies = {k: env.s3.get_object(Bucket=env.bucket, Key=k)["Body"].read() for k in keys}
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            request = {
                env.table: [{"PutRequest": {"Item": {k: ser.serialize(v) for k, v in c.items()}}} for c in batch]
            }
            while request:
                request = env.ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            batch.clear()

        for t in targets:
            for k, body in bodies.items():
                env.s3.put_object(Bucket=env.bucket, Key=k.replace(source, t), Body=body)
            for c in registration_copy(items, source, t):
                batch.append(c)
                if len(batch) == 25:
                    flush()
        if batch:
            flush()


def _lean(env: Env, model_id: str) -> None:
    from driftline.testing import encode, generate, lean_config

    ref = generate(2_000, seed=11, start=START - 86_400, span=86_400, id_prefix="ref")
    env.register(model_id, lean_config(model_id), encode(ref, "parquet"))


def _put_all(env: Env, keys_bodies: list[tuple[str, bytes]], label: str) -> list[str]:
    """Put objects (8 threads); their file ids."""
    from driftline.services.store import file_id_for

    def put(kb: tuple[str, bytes]) -> str:
        with env.probe.excluded():
            etag = env.run.put_client.put_object(Bucket=env.bucket, Key=kb[0], Body=kb[1])["ETag"]
        return file_id_for(env.bucket, kb[0], str(etag).strip('"'))

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(put, keys_bodies))
    log(f"{label}: {len(ids):,} objects put")
    return ids


def models(args: argparse.Namespace) -> dict[str, Any]:
    from driftline.testing import encode, generate

    m = args.models
    ids = [f"m{i:04d}" for i in range(m)]
    with local_cloud(args, ids[0]) as env:
        _lean(env, ids[0])
        with measured(env, "clone"):
            _clone(env, ids[0], ids[1:])
        body = encode(generate(40, seed=3, start=START, span=HOUR - 1, id_prefix="mm"), "parquet")
        env.probe.phase = "ingest"
        with measured(env, "ingest"):
            fids = _put_all(env, [(f"predictions/{mid}/f.parquet", body) for mid in ids], "models")
            recs = env.wait_files(fids, "models: files")
        env.check("models: every file done", all(r.get("status") == "done" for r in recs.values()), f"{len(recs):,}")
        store = env.store
        ticks = []
        for k in range(2):
            env.probe.phase = f"tick{k + 1}"
            with measured(env, f"tick{k + 1}") as t:
                answer = env.cloud.invoke_scheduled(at=AT + 60 * k)
            with env.probe.excluded():
                evaluated = sum((store.get_state(mid).last_closed or 0) >= START for mid in ids)
            ticks.append(
                {
                    **t,
                    "answer": answer,
                    "models_evaluated_so_far": evaluated,
                    "dispatcher_reads": env.reads(f"tick{k + 1}"),
                }
            )
            log(f"models: tick {k + 1}: {answer} · {evaluated:,}/{m:,} models evaluated · {t['wall_s']} s")
        env.check(
            "models: every model's window evaluated within two ticks",
            ticks[-1]["models_evaluated_so_far"] == m,
            f"{ticks[-1]['models_evaluated_so_far']:,} / {m:,}",
        )
        rows = [env.metric(mid, "volume.rows", START) for mid in ids[:: max(1, m // 20)]]
        env.check("models: volume.rows = 40 (a sample of 20 models)", all(r == 40 for r in rows), str(rows[:5]))
        env.finish()
        return {
            "models": m,
            "concurrency": args.concurrency,
            "clone": env.figures["clone"],
            "ingest": env.figures["ingest"],
            "ticks": ticks,
            "checks": env.run.checks,
        }


def backfill(args: argparse.Namespace) -> dict[str, Any]:
    from driftline.cli.main import main as cli
    from driftline.testing import encode, generate

    n, model_id = args.backfill_files, "bf"
    with local_cloud(args, model_id) as env:
        _lean(env, model_id)
        body = encode(generate(20, seed=5, start=START, span=HOUR - 1, id_prefix="bf"), "csv")
        with env.probe.excluded():
            notifications = env.s3.get_bucket_notification_configuration(Bucket=env.bucket)
            notifications.pop("ResponseMetadata", None)
            env.s3.put_bucket_notification_configuration(Bucket=env.bucket, NotificationConfiguration={})
        _put_all(env, [(f"predictions/{model_id}/old/{i:05d}.csv", body) for i in range(n)], "backfill")
        with env.probe.excluded():
            env.s3.put_bucket_notification_configuration(Bucket=env.bucket, NotificationConfiguration=notifications)
        env.cloud.wait_idle()
        before = env.store.file_counts(model_id)  # the config and the baseline
        env.check(
            "backfill: no data file processed before the backfill",
            before.received == before.done == 2,
            f"{before.received} objects received (the config and the baseline)",
        )
        aws = [
            "--endpoint-url",
            env.cloud.endpoint_url,
            "--bucket",
            env.bucket,
            "--table",
            env.table,
            "--topic-arn",
            env.cloud.outputs["AlertsTopicArn"],
            "--region",
            env.cloud.region,
        ]
        runs = []
        for k in range(2):
            env.probe.phase = f"run{k + 1}"
            out = io.StringIO()
            with measured(env, f"run{k + 1}") as r:
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(out):
                    code = cli(
                        [
                            "backfill",
                            "--model",
                            model_id,
                            "--no-labels",
                            "--rate",
                            str(args.backfill_rate),
                            "--quiet",
                            *aws,
                        ]
                    )
                queued_s = time.perf_counter() - t0
                env.cloud.wait_idle(timeout=7200)
            summary = json.loads(out.getvalue())
            counts = env.store.file_counts(model_id)
            runs.append(
                {
                    **r,
                    "exit": code,
                    "queue_s": round(queued_s, 1),
                    "summary": summary,
                    "files_received": counts.received - before.received,
                    "files_done": counts.done - before.done,
                }
            )
            log(f"backfill: run {k + 1}: {summary} · {counts.done:,} done · {r['wall_s']} s")
        env.probe.phase = "eval"
        env.run.evaluate("backfill", "eval", AT, 1, n)
        nfiles, nrows = env.metric(model_id, "volume.files", START), env.metric(model_id, "volume.rows", START)
        first, second = (r["summary"]["predictions"] for r in runs)
        env.check("backfill: run 1 queued every file", first.get("queued") == n, json.dumps(first))
        env.check("backfill: run 2 queued none", second.get("queued") == 0, json.dumps(second))
        env.check(
            "backfill: files done = files, after both runs",
            runs[-1]["files_done"] == n == runs[-1]["files_received"],
            f"{runs[-1]['files_done']:,} done, {runs[-1]['files_received']:,} received / {n:,}",
        )
        env.check("backfill: volume.files = files", nfiles == n, f"{nfiles} / {n:,}")
        env.check("backfill: volume.rows = rows put", nrows == 20 * n, f"{nrows} / {20 * n:,}")
        env.finish()
        return {
            "files": n,
            "rows": 20 * n,
            "rate": args.backfill_rate,
            "concurrency": args.concurrency,
            "runs": runs,
            "volume_files": nfiles,
            "volume_rows": nrows,
            "checks": env.run.checks,
        }
