"""One measurement: profile a file with Driftline, or make the floor pass over it, timed and single-threaded.

The *floor* is the least work any profiler of these columns must do: the minimal pyarrow read of the same
columns, streamed the way ``driftline.io.readers`` streams them, then per batch ``np.histogram`` of every
numerical column (the 15 features and the score) on the baseline's frozen fine edges and ``pc.value_counts``
of every categorical column (the 5 features, the prediction and the label). The event time is read, not used.

- Parquet: ``ParquetFile.iter_batches`` of 65,536 rows;
- CSV: ``pyarrow.csv.open_csv`` in 8 MiB blocks, types inferred by pyarrow, blocks cut to 65,536 rows;
- gzip JSON Lines: 8 MiB blocks of whole lines from the gzip stream, each parsed by ``pyarrow.json.read_json``
  (1 MiB parse chunks) and combined into one chunk. Unlike ``driftline.io.readers``, which yields one batch
  per parse chunk (~2,300 rows), the floor's batches are whole blocks (~19,000 rows).

Run as ``python -m bench.measure '<job as JSON>'`` in a fresh process (``bench.run`` does) it prints one JSON
object with the times and the process's own peak resident memory (``VmHWM``, see :func:`peak_rss_mib`).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from driftline.core.baseline import Baseline, categorical_columns, numeric_columns
from driftline.core.config import ModelConfig, load_config_file
from driftline.services.profiling import profile_file

BLOCK_BYTES: Final = 8 << 20  # as driftline.io.readers
JSON_CHUNK_BYTES: Final = 1 << 20
KINDS: Final = ("floor", "driftline")
# The floor's own fastest batch on this machine (32k: 1.12 s, 64k: 1.06 s, 128k: 1.21 s, 256k: 1.15 s of CPU
# for the Parquet floor), not Driftline's default of 131,072 rows, which would slow the floor down.
FLOOR_BATCH_ROWS: Final = 65_536


def single_thread() -> None:
    """One CPU thread and one I/O thread in pyarrow (numpy's are pinned by ``bench/__init__``)."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


@dataclass(frozen=True)
class FloorPlan:
    """The columns of the floor pass and the edges of the numerical ones."""

    timestamp: str
    numeric: dict[str, np.ndarray]  # column -> frozen fine edges
    categorical: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [self.timestamp, *self.numeric, *self.categorical]

    @classmethod
    def of(cls, config: ModelConfig, baseline: Baseline) -> FloorPlan:
        edges = {c: baseline.spec.numeric[c].edges for c in numeric_columns(config)}
        return cls(config.columns.timestamp, edges, categorical_columns(config))


def _parquet_batches(path: Path, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    with pa.OSFile(str(path), "rb") as raw:
        parquet = pq.ParquetFile(raw)
        yield from parquet.iter_batches(batch_size=batch_rows, columns=columns, use_threads=True)


def _csv_batches(path: Path, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    with pa.OSFile(str(path), "rb") as raw:
        reader = pacsv.open_csv(
            raw,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True),
            convert_options=pacsv.ConvertOptions(include_columns=columns),
        )
        for block in reader:
            for offset in range(0, block.num_rows, batch_rows):
                yield block.slice(offset, batch_rows)


def _jsonl_gz_batches(path: Path, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    with pa.OSFile(str(path), "rb") as raw:
        text = pa.CompressedInputStream(raw, "gzip")
        pending = b""
        while True:
            chunk = text.read(BLOCK_BYTES)
            data = pending + chunk
            cut = data.rfind(b"\n") if chunk else len(data) - 1
            block, pending = data[: cut + 1], data[cut + 1 :]
            if block.strip():
                table = pajson.read_json(
                    pa.BufferReader(pa.py_buffer(block)),
                    read_options=pajson.ReadOptions(use_threads=True, block_size=JSON_CHUNK_BYTES),
                )
                # One chunk per block (read_json gives one per 1 MiB parse chunk): batches of ~19k rows, not ~2k.
                table = table.select([c for c in columns if c in table.column_names]).combine_chunks()
                yield from table.to_batches(batch_rows)
            if not chunk:
                return


_READERS: Final = {"parquet": _parquet_batches, "csv": _csv_batches, "jsonl.gz": _jsonl_gz_batches}


def floor_pass(path: Path, fmt: str, plan: FloorPlan, *, batch_rows: int = FLOOR_BATCH_ROWS) -> int:
    """The floor: read the columns, histogram the numerical ones, count the categorical ones. Returns the rows."""
    hist = {c: np.zeros(e.size - 1, np.int64) for c, e in plan.numeric.items()}
    counts: list[Any] = []
    rows = 0
    for batch in _READERS[fmt](path, plan.columns, batch_rows):
        rows += batch.num_rows
        for col, edges in plan.numeric.items():
            hist[col] += np.histogram(batch.column(col).to_numpy(zero_copy_only=False), bins=edges)[0]
        counts.extend(pc.value_counts(batch.column(col)) for col in plan.categorical)
    return rows


def driftline_pass(path: Path, config: ModelConfig, baseline: Baseline) -> int:
    """Driftline: ``profile_file`` on the local path, without its read-ahead thread (one core, like the
    floor). Returns the rows."""
    return profile_file(path, name=path.name, config=config, baseline=baseline, read_ahead_batches=0).stats.rows


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``getrusage().ru_maxrss`` (and ``RUSAGE_CHILDREN``) carries
    the parent's peak over fork and exec, so a child of a large parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """:func:`measure_job` with pyarrow on one thread; the thread counts are restored afterwards."""
    threads = pa.cpu_count(), pa.io_thread_count()
    single_thread()
    try:
        return measure_job(job)
    finally:
        pa.set_cpu_count(threads[0])
        pa.set_io_thread_count(threads[1])


def measure_job(job: dict[str, Any]) -> dict[str, Any]:
    """Time ``job["kinds"]`` (floor and/or driftline, interleaved) ``job["repeat"]`` times on one file.

    ``job`` holds ``path``, ``format``, ``config`` (a YAML path), ``baseline`` (a JSON path), ``kinds`` and
    ``repeat``. The answer holds, per kind, every wall-clock time (``perf_counter``) and CPU time
    (``process_time``, all threads) in seconds, the rows of the last pass and the peak memory."""
    path, fmt = Path(job["path"]), str(job["format"])
    config = load_config_file(job["config"])
    baseline = Baseline.from_json(Path(job["baseline"]).read_bytes())
    plan = FloorPlan.of(config, baseline)
    times: dict[str, list[float]] = {k: [] for k in job["kinds"]}
    cpu: dict[str, list[float]] = {k: [] for k in job["kinds"]}
    rows: dict[str, int] = {}
    before = peak_rss_mib()
    for _ in range(int(job["repeat"])):
        for kind in job["kinds"]:
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            if kind == "floor":
                rows[kind] = floor_pass(path, fmt, plan)
            elif kind == "driftline":
                rows[kind] = driftline_pass(path, config, baseline)
            else:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            times[kind].append(time.perf_counter() - start)
            cpu[kind].append(time.process_time() - start_cpu)
    return {"times": times, "cpu": cpu, "rows": rows, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": before}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.measure '<job as JSON>'", file=sys.stderr)
        return 2
    print(json.dumps(run_job(json.loads(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
