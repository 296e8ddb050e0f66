"""``python -m bench.load_scale --only bigparquet|bigcsv``: one large prediction file through the local cloud, in parts.

The file is generated streaming — chunks of 500,000 rows of the benchmark model (``bench/generate.py``; two
chunks generated, then reused with fresh request ids, so that 5 GB take minutes, not an hour), written as they
come (Parquet: one row group per chunk; CSV: appended) — so memory never holds more than two chunks. Its rows
spread over ``WINDOWS`` hourly windows. It is put with a multipart upload (64 MiB parts, 4 threads); S3 notifies
the ingest queue; the ingest function plans the parts (256 MiB each) and queues them on the ingest queue; the
local cloud's ingest workers (``--concurrency`` at once) profile them. Measured: the generation, the upload, the
split, the parts' profiling (first part claimed → last part finished, and the parallelism: the parts' summed
handling time over that span), the evaluation; checked: every part done, rows exact, ``volume.files`` 1 in each
window. The file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any, Final

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from botocore.config import Config

from bench import generate as gen
from bench.load import HOUR, HOUR_MS, START, model_config_text
from bench.load_scale import local_cloud, log, measured, moto_peak_rss_mb

CHUNK_ROWS: Final = 500_000
POOL: Final = 2  # distinct chunks generated; the others reuse them with new ids
WINDOWS: Final = 4
MIB: Final = 1 << 20


def write_big(path: Path, fmt: str, target_bytes: int, seed: int, *, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write chunks of ``chunk_rows`` rows to ``path`` until it holds at least ``target_bytes``; the rows written."""
    pool = [gen.generate_table(chunk_rows, seed + k, time_range_ms=(0, WINDOWS * HOUR_MS)) for k in range(POOL)]
    if fmt == "csv":
        pool = [gen._iso_times(t) for t in pool]
    id_col = pool[0].schema.get_field_index("request_id")
    writer: Any = pq.ParquetWriter(path, pool[0].schema) if fmt == "parquet" else pacsv.CSVWriter(path, pool[0].schema)
    rows = chunk = 0
    try:
        while True:
            ids = pa.array(np.arange(rows, rows + chunk_rows)).cast(pa.string())
            table = pool[chunk % POOL].set_column(
                id_col, "request_id", pc.binary_join_element_wise(f"big{seed}-", ids, "")
            )
            writer.write_table(table)
            rows += chunk_rows
            chunk += 1
            if chunk % 20 == 0:
                log(f"{fmt}: {rows:,} rows, {path.stat().st_size / 1e9:.2f} GB")
            if path.stat().st_size >= target_bytes:
                break
    finally:
        writer.close()
    return rows


def big_file(args: argparse.Namespace, fmt: str, gigabytes: float) -> dict[str, Any]:
    from boto3.s3.transfer import TransferConfig

    from driftline.services.store import file_id_for

    target = int(gigabytes * 1e9)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.data_dir).free
    if free < 3 * target + (2 << 30):  # the local file, moto's uploaded parts, moto's object (+2 GiB in hand)
        raise RuntimeError(
            f"{fmt}: {free / 1e9:.1f} GB free in {args.data_dir}: a {gigabytes} GB file needs "
            f"{(3 * target + (2 << 30)) / 1e9:.1f} GB (pass a smaller --{fmt}-gb)"
        )
    path = args.data_dir / f"big-{fmt}-{gigabytes:g}GB.{fmt}"
    sent = _count_messages()
    config_text, model_id = model_config_text(None)
    split_env = {"DRIFTLINE_SPLIT_BYTES": str(args.split_bytes)}
    try:
        with local_cloud(args, model_id, **split_env) as env:
            reference = gen.ensure(
                args.reference_rows, args.seed + 1, "parquet", data_dir=args.data_dir, stem="reference"
            )
            env.register(model_id, config_text, reference.read_bytes())
            t0 = time.perf_counter()
            rows = write_big(path, fmt, target, args.seed)
            size = path.stat().st_size
            generate_s = time.perf_counter() - t0
            log(f"{fmt}: {size / 1e9:.2f} GB, {rows:,} rows written in {generate_s:.0f} s; uploading")
            key = f"predictions/{model_id}/big/{path.name}"
            env.probe.phase = "upload"
            with measured(env, "upload"):
                # completing the upload copies the parts into moto's object: minutes for 5 GB on a loaded machine,
                # past botocore's 60 s read timeout (whose retry then fails)
                uploader = boto3.client(
                    "s3",
                    endpoint_url=env.cloud.endpoint_url,
                    region_name=env.cloud.region,
                    config=Config(read_timeout=1800, retries={"max_attempts": 1}),
                )
                uploader.upload_file(
                    str(path),
                    env.bucket,
                    key,
                    Config=TransferConfig(
                        multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB, max_concurrency=4
                    ),
                )
                t_put = time.time()
            path.unlink()  # in moto now: the local copy is not needed any more
            env.probe.phase = "ingest"
            with env.probe.excluded():
                etag = str(env.s3.head_object(Bucket=env.bucket, Key=key)["ETag"]).strip('"')
            fid = file_id_for(env.bucket, key, etag)
            with measured(env, "ingest"):
                (record,) = env.wait_files([fid], f"{fmt}: split").values()
                t_split = float(record.get("finished_at", 0))
                count = int(str(record.get("reason", "in 0 parts")).split("in ")[-1].split()[0])
                part_ids = [f"{fid}.{i:05d}" for i in range(count)]
                parts = env.wait_files(part_ids, f"{fmt}: parts")
            full = env.records(part_ids)  # with started_at, by part id
            starts = [float(full[p].get("started_at", 0)) for p in part_ids]
            ends = [float(full[p].get("finished_at", 0)) for p in part_ids]
            durations = sorted(e - s for s, e in zip(starts, ends, strict=True))
            span = max(ends) - min(starts)
            part_rows = sum(int(p.get("rows", 0)) for p in parts.values())
            failed = [f"{k}: {p.get('reason')}" for k, p in parts.items() if p.get("status") != "done"]
            env.check(f"{fmt}: the file split", record.get("status") == "split" and count > 1, str(record))
            env.check(f"{fmt}: every part done", not failed, "; ".join(failed[:3]) or f"{count} parts")
            env.check(
                f"{fmt}: rows counted by the parts = rows written", part_rows == rows, f"{part_rows:,} / {rows:,}"
            )
            at = START + WINDOWS * HOUR + 60
            env.probe.phase = "eval"
            with measured(env, "evaluate"):
                ev = env.run.evaluate(f"{fmt}", "eval", at, WINDOWS, 1)
            window_rows = [env.metric(model_id, "volume.rows", START + h * HOUR) for h in range(WINDOWS)]
            window_files = [env.metric(model_id, "volume.files", START + h * HOUR) for h in range(WINDOWS)]
            total = sum(v or 0 for v in window_rows)
            env.check(
                f"{fmt}: volume.rows over the {WINDOWS} windows = rows written",
                total == rows,
                f"{total:,.0f} / {rows:,} ({', '.join(f'{v:,.0f}' for v in window_rows if v)})",
            )
            env.check(f"{fmt}: volume.files = 1 in each window", window_files == [1.0] * WINDOWS, str(window_files))
            env.finish()
            handle = env.probe.timing("ingest", "handle")
            return {
                "format": fmt,
                "bytes": size,
                "rows": rows,
                "row_groups_or_chunks": rows // CHUNK_ROWS,
                "split_bytes": args.split_bytes,
                "concurrency": args.concurrency,
                "generate_s": round(generate_s, 1),
                "upload": env.figures["upload"],
                "split_after_upload_s": round(t_split - t_put, 1),
                "parts": count,
                "parts_span_s": round(span, 1),
                "part_s_min_median_max": [
                    round(durations[0], 1),
                    round(durations[len(durations) // 2], 1),
                    round(durations[-1], 1),
                ],
                "parallelism": round(sum(durations) / span, 2),
                "rows_per_s_parts": round(rows / span),
                "ingest": env.figures["ingest"],
                "handler_calls": handle.count,
                "handler_cpu_s": round(handle.cpu, 1),
                "evaluate": env.figures["evaluate"],
                "evaluated_windows": ev.windows,
                "evaluator_runs": ev.answer.get("runs"),
                "volume_rows": window_rows,
                "volume_files": window_files,
                "moto_peak_rss_mb": round(moto_peak_rss_mb(env.moto_pid)),
                "ingest_writes": {
                    k: {"items": t.items, "write_units": round(t.units)}
                    for k, t in env.probe.writes_by_kind("ingest").items()
                },
                "ingest_sqs_messages_sent": dict(sent),
                "checks": env.run.checks,
            }
    finally:
        path.unlink(missing_ok=True)
        _count_messages(undo=True)


_send_batch: Any = None


def _count_messages(*, undo: bool = False) -> dict[str, int]:
    """Count the messages Driftline sends to SQS (parts queued, parts sent back by runtime/spread.py)."""
    from driftline.adapters.sqs import SqsQueue
    from driftline.runtime import spread

    global _send_batch
    if undo:
        if _send_batch is not None:
            SqsQueue.send_batch, spread.one_part_each = _send_batch  # type: ignore[method-assign]
            _send_batch = None
        return {}
    counts = {"all": 0, "parts sent back": 0}
    send, spread_fn = SqsQueue.send_batch, spread.one_part_each
    _send_batch = (send, spread_fn)

    def counted(self: Any, bodies: Any) -> None:
        counts["all"] += len(bodies)
        send(self, bodies)

    def spreading(records: Any, queue: Any) -> Any:
        kept = spread_fn(records, queue)
        counts["parts sent back"] += len(records) - len(kept)
        return kept

    SqsQueue.send_batch = counted  # type: ignore[method-assign]
    spread.one_part_each = spreading
    return counts
