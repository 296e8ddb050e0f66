"""``make load``, the scale-out steps (issue 17): each on its own embedded local cloud (moto server, the template's
resources, the functions wired to their queues), each runnable alone:

- ``bigparquet``: a 5 GB Parquet file, generated streaming (pyarrow writer, 500,000-row row groups), put with a
  multipart upload, split into parts by the ingest function, the parts profiled by the local cloud's ingest
  workers in parallel (``--concurrency`` pumps), then evaluated: rows exact, ``volume.files`` 1 per window;
- ``bigcsv``: the same with a 2 GB CSV file (chunked CSV writes, byte-range parts);
- ``window``: a window of 20,000 files evaluated by one evaluation worker, the DynamoDB reads it makes counted
  (the merges every 64 files bound them), its wall time set against the worker's 300 s timeout;
- ``models``: 1,000 models each sending a file into one window; two scheduled ticks (dispatcher → JudgeQueue →
  evaluation workers): every model's window evaluated within them;
- ``backfill``: 5,000 files already in the bucket (put while its notifications were off) backfilled twice with
  ``driftline backfill``: the second run queues nothing, counts exact.

    python -m bench.load_scale                       # every step at full scale (~1 h on 2 shared cores)
    python -m bench.load_scale --only bigparquet     # one step; --quick: every step at a small scale (~5 min)

Results: ``bench/results/load_scale-<step>.json`` per step, and a Markdown table of every step run in ``--out``
(default ``bench/results/load_scale.md``). Big files are generated in ``--data-dir`` and deleted after the step;
the step refuses to start when the disk cannot hold the file three times (the local file, moto's parts, moto's
object). The machine's load (1-minute average) before and after each step is recorded with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from bench import generate as gen
from bench.load import DDB_READS, Probe, Run, moto_cpu, own_cpu

STEPS: Final = ("bigparquet", "bigcsv", "window", "models", "backfill")
RESULTS: Final = gen.BENCH_DIR / "results"
POLL_S: Final = 2.0


def log(message: str) -> None:
    print(f"[load-scale] {message}", file=sys.stderr, flush=True)


def moto_peak_rss_mb(pid: int) -> float:
    """The moto server's peak resident memory (VmHWM), MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Env:
    """One step's local cloud, with ``bench.load``'s probe (every AWS request of this process, per phase) and its
    ``Run`` helpers (file records, evaluation by scheduled ticks, metric reads, dead-letter queues, checks)."""

    def __init__(self, args: argparse.Namespace, probe: Probe, cloud: Any, model_id: str) -> None:
        run_args = argparse.Namespace(
            model_id=model_id, workers=8, reference_rows=args.reference_rows, seed=args.seed, data_dir=args.data_dir
        )
        self.run = Run(run_args, probe, cloud)
        self.args, self.probe, self.cloud = args, probe, cloud
        self.bucket, self.table = self.run.bucket, self.run.table
        self.ddb, self.s3 = self.run.ddb, self.run.s3
        self.moto_pid = self.run.moto_pid
        self.figures: dict[str, Any] = {}

    def check(self, what: str, ok: bool, detail: str) -> None:
        self.run.check(what, ok, detail)

    def register(self, model_id: str, config_text: str, reference: bytes, ref_name: str = "reference.parquet") -> None:
        """A model's config and baseline through the real path (S3 → SQS → the config and baseline functions)."""
        with self.probe.excluded():
            self.s3.put_object(Bucket=self.bucket, Key=f"models/{model_id}/config.yaml", Body=config_text.encode())
            self.cloud.wait_idle()
            self.s3.put_object(Bucket=self.bucket, Key=f"baselines/{model_id}/{ref_name}", Body=reference)
            self.cloud.wait_idle(timeout=900)
            item = self.ddb.get_item(
                TableName=self.table, Key={"pk": {"S": f"MODEL#{model_id}"}, "sk": {"S": "BASELINE"}}
            )
        if "Item" not in item:
            raise RuntimeError(f"the baseline of {model_id} was not registered (failures: {self.cloud.failures})")

    def wait_files(self, file_ids: list[str], label: str, *, timeout: float = 7200.0) -> dict[str, dict[str, Any]]:
        """Poll the FILE records of ``file_ids`` until each is done or failed (or split)."""
        done: dict[str, dict[str, Any]] = {}
        t0 = last = time.time()
        while len(done) < len(file_ids):
            waiting = [f for f in file_ids if f not in done]
            for i in range(0, len(waiting), 1000):
                for fid, rec in self.run._file_records(waiting[i : i + 1000]).items():
                    if rec.get("status") in ("done", "failed", "split"):
                        done[fid] = rec
            now = time.time()
            if now - last >= 15 or len(done) == len(file_ids):
                log(f"{label}: {len(done):,}/{len(file_ids):,} finished · {now - t0:.0f} s")
                last = now
            if now - t0 > timeout:
                raise RuntimeError(f"{label}: {len(file_ids) - len(done):,} files not finished after {timeout:.0f} s")
            if len(done) < len(file_ids):
                time.sleep(POLL_S)
        return done

    def records(self, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The whole FILE records of ``file_ids`` that exist (status, rows, started_at, finished_at, reason)."""
        from driftline.services.store import Store

        store: Store = self.store
        out = {}
        with self.probe.excluded():
            for i in range(0, len(file_ids), 100):
                for item in store.table.batch_get([(f"FILE#{f}", "FILE") for f in file_ids[i : i + 100]]):
                    out[str(item["pk"]).removeprefix("FILE#")] = item
        return out

    @property
    def store(self) -> Any:
        from driftline.runtime.container import container

        return container().store

    def metric(self, model_id: str, metric: str, window_start: int) -> float | None:
        self.run.model_id = model_id
        return self.run.window_metric(metric, window_start)

    def reads(self, phase: str) -> dict[str, int]:
        """DynamoDB reads of a phase: requests and items returned, per operation."""
        out = {"requests": 0, "items": 0}
        for op in DDB_READS:
            t = self.probe.call(phase, "dynamodb", op)
            out["requests"] += t.count
            out["items"] += t.items
            if t.count:
                out[op] = t.items
        return out

    def finish(self) -> None:
        dlq = self.run.dead_letters()
        self.check("dead-letter queues empty", not any(dlq.values()), json.dumps(dlq))
        self.check("no failed invocation", not self.cloud.failures, json.dumps(self.cloud.failures))


@contextlib.contextmanager
def local_cloud(args: argparse.Namespace, model_id: str, **env: str) -> Iterator[Env]:
    """A fresh local cloud (``env``: function settings, e.g. ``DRIFTLINE_SPLIT_BYTES``) with the probe installed."""
    from driftline.cli.local.cloud import LocalCloud

    saved = {k: os.environ.get(k) for k in env}
    probe = Probe()
    probe.install(LocalCloud)
    try:
        with LocalCloud(tick=0, concurrency=args.concurrency) as cloud:
            for fn in cloud.functions.values():
                fn.env.update(env)
            os.environ.update(env)
            from driftline.runtime.container import reset_container

            reset_container()  # the settings above, read again
            yield Env(args, probe, cloud, model_id)
    finally:
        probe.uninstall()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def measured(env: Env, name: str) -> Iterator[dict[str, Any]]:
    """Wall and CPU seconds (this process: Driftline's handlers; the moto server) and the load average of a span,
    stored in ``env.figures[name]``."""
    out: dict[str, Any] = {}
    w0, c0, m0, l0 = time.perf_counter(), own_cpu(), moto_cpu(env.moto_pid), os.getloadavg()[0]
    try:
        yield out
    finally:
        out.update(
            wall_s=round(time.perf_counter() - w0, 1),
            driftline_cpu_s=round(own_cpu() - c0, 1),
            moto_cpu_s=round(moto_cpu(env.moto_pid) - m0, 1),
            load_avg=[round(l0, 2), round(os.getloadavg()[0], 2)],
        )
        env.figures[name] = out


def run_step(step: str, args: argparse.Namespace) -> dict[str, Any]:
    import importlib

    load_bigfiles: Any = importlib.import_module("bench.load_bigfiles")
    load_fanout: Any = importlib.import_module("bench.load_fanout") if step not in ("bigparquet", "bigcsv") else None
    fn = {
        "bigparquet": lambda: load_bigfiles.big_file(args, "parquet", args.parquet_gb),
        "bigcsv": lambda: load_bigfiles.big_file(args, "csv", args.csv_gb),
        "window": lambda: load_fanout.window(args),
        "models": lambda: load_fanout.models(args),
        "backfill": lambda: load_fanout.backfill(args),
    }[step]
    t0 = time.time()
    load0 = os.getloadavg()
    result: dict[str, Any] = fn()
    result.update(
        step=step,
        total_s=round(time.time() - t0, 1),
        cpus=os.cpu_count(),
        load_avg_1_5_15_at_start=[round(x, 2) for x in load0],
        load_avg_1_5_15_at_end=[round(x, 2) for x in os.getloadavg()],
        ok=all(ok for _, ok, _ in result["checks"]),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["# `make load`: scaling out, on the local cloud", ""]
    for r in results:
        lines += [
            f"## {r['step']} ({'all checks passed' if r['ok'] else 'SOME CHECKS FAILED'}, {r['total_s']:,.0f} s)",
            "",
            "```json",
            json.dumps({k: v for k, v in r.items() if k != "checks"}, indent=1),
            "```",
            "",
        ]
        lines += [f"- {'OK' if ok else '**FAILED**'} — {what}: {detail}" for what, ok, detail in r["checks"]]
        lines.append("")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load_scale", description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=STEPS, action="append", help="run this step (repeatable; default: all)")
    p.add_argument("--quick", action="store_true", help="every size small: a smoke run of the steps")
    p.add_argument("--parquet-gb", type=float, default=5.0, help="the big Parquet file, GB (default 5)")
    p.add_argument("--csv-gb", type=float, default=2.0, help="the big CSV file, GB (default 2)")
    p.add_argument("--window-files", type=int, default=20_000, help="files in the big window (default 20,000)")
    p.add_argument("--models", type=int, default=1_000, help="models (default 1,000)")
    p.add_argument("--backfill-files", type=int, default=5_000, help="files backfilled (default 5,000)")
    p.add_argument("--backfill-rate", type=float, default=1000.0, help="backfill messages a second (default 1,000)")
    p.add_argument("--concurrency", type=int, default=2, help="invocations at once per queue (default 2: 2 cores)")
    p.add_argument("--reference-rows", type=int, default=100_000, help="the benchmark model's baseline rows")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", type=Path, default=gen.DATA_DIR, help="where the big files are written")
    p.add_argument("--out", type=Path, default=RESULTS / "load_scale.md")
    args = p.parse_args(argv)
    if args.quick:
        args.parquet_gb, args.csv_gb = min(args.parquet_gb, 0.3), min(args.csv_gb, 0.15)
        args.window_files, args.models, args.backfill_files = 200, 30, 100
        args.reference_rows = 20_000
    args.split_bytes = (32 << 20) if args.quick else (256 << 20)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    steps = args.only or list(STEPS)
    results = []
    suffix = "-quick" if args.quick else ""
    for step in steps:
        log(f"step {step}: starting (load average {os.getloadavg()[0]:.2f})")
        result = run_step(step, args)
        results.append(result)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"load_scale-{step}{suffix}.json").write_text(json.dumps(result, indent=1, default=str))
        verdict = "all checks passed" if result["ok"] else "SOME CHECKS FAILED"
        log(f"step {step}: {verdict} in {result['total_s']:,.0f} s")
    # the report: every step's latest results (a step run alone updates its own section)
    latest = [
        json.loads(f.read_text()) for step in STEPS if (f := RESULTS / f"load_scale-{step}{suffix}.json").exists()
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_name(args.out.stem + suffix + args.out.suffix).write_text(markdown(latest))
    print(markdown(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
