"""``make load``: prediction logs for one model through the embedded local cloud, end to end, measured.

The real path: S3 puts → the bucket's notifications → SQS → the ingest handler (the very function Lambda runs,
driven by the local cloud's event pump) → DynamoDB; then the scheduled evaluator. Two layouts of one model
(``bench/config.yaml``), in one local cloud, in event-time order:

1. **one window**: ``--files`` files (default 2,000 × 5,000 rows = 10M rows) whose rows all fall in one hourly
   window (2026-01-01T00:00Z); then one evaluator run, which merges the 2,000 files' profiles of that window;
2. **30 days**: ``--range-files`` files (default: as many) spread evenly over the next ``--range-windows``
   hourly windows (default 720 = 30 days); then one evaluator run over all of them (every window is dirty),
   and the reads a user makes of a 30-day range (``driftline metrics``, run in this process).

Measured: ingest throughput end to end (from the first put until every file's FILE record is ``done``: the
handler writes it after the file's profile items, and its ``finished_at`` timestamps the end), the handler's
own time per file (wall and CPU, split into profiling, S3 reads and DynamoDB calls), the evaluator's time and
where it goes, and every DynamoDB write Driftline makes, by item kind (items, bytes computed as DynamoDB does
— attribute names + values — and the write units they imply), checked against scans of the table before and
after. CPU seconds of this process (Driftline's handlers) and of the moto server process are reported apart:
moto is far slower than DynamoDB, so wall times here are an upper bound for the storage part.

``--delayed-labels`` drops the label column from the logs: the ingest handler then also writes the id index
(one item per prediction, for joining labels that arrive later). Writing 10M items to moto would take hours, so
that mode defaults to 40 files and the one-window layout only, and extrapolates, labelled as such.

    python -m bench.load                                   # the full run: about 40 min on 2 cores
    python -m bench.load --files 100 --range-files 144 --range-windows 72   # about 3 min
    python -m bench.load --delayed-labels                  # the id index's cost: about 8 min

The full run's time (2 cores; generating the 4,000 files the first time adds about 5 min): each layout's ingest
about 5 min (one event pump: one batch at a time, as one Lambda instance), the evaluation of the one window under
a minute, and the 720-window evaluation about 22 min: it writes 1,140 metric points per window, 820,800 in all,
and both this process (boto3 serialising them) and moto spend about a second of CPU per window. The read of
every metric of the last day goes through the GSI, which moto answers in time proportional to the whole table
(2-3 min here). Results: ``--out`` (default ``bench/results/load.md``) and the same figures as JSON beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import io
import json
import math
import os
import platform
import resource
import shlex
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from bench import generate as gen
from driftline.adapters.dynamo_items import encode_value, item_size

LOAD_VERSION: Final = 1  # bump when the files generated here change
HOUR: Final = 3600
HOUR_MS: Final = HOUR * 1000
START: Final = gen.START_EPOCH_S  # 2026-01-01T00:00:00Z: the one-window layout's window
DEFAULT_FILES: Final = 2_000
DEFAULT_DELAYED_FILES: Final = 40
DEFAULT_ROWS: Final = 5_000
DEFAULT_WINDOWS: Final = 720
REFERENCE_ROWS: Final = 100_000
POLL_S: Final = 1.0
PROGRESS_S: Final = 10.0
#: Scheduled evaluator runs one evaluation phase may take before its check fails (a 720-window backlog takes ~6).
MAX_EVALUATOR_RUNS: Final = 50
STALL_S: Final = 600.0  # no file finished for this long: something is wrong, stop
WRU_PRICE: Final = 0.625  # USD per million write request units, DynamoDB on-demand, us-east-1
RRU_PRICE: Final = 0.125  # USD per million read request units
DRIFTLINE_DDB_WRITES: Final = ("PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
DDB_READS: Final = ("GetItem", "BatchGetItem", "Query", "Scan")
KIND_ORDER: Final = (
    "profile (file)",
    "rollup",
    "metric point",
    "join log",
    "file record",
    "dirty mark",
    "model state",
    "alert state",
    "alert history",
    "error",
)


def _log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


# -- DynamoDB item sizes, from the wire format: the project's own rules (driftline.adapters.dynamo_items) ----------

_DESERIALIZER = TypeDeserializer()


def wire_value_size(value: Mapping[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value in the low-level format (``{"S": ...}``, ...)."""
    return item_size({"": encode_value(_DESERIALIZER.deserialize(value), "value", "bench")})


def wire_item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it: the UTF-8 bytes of each attribute name plus its value's size."""
    return sum(len(name.encode("utf-8")) + wire_value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    """Write request units of one item write: one per started KB."""
    return max(1, math.ceil(size / 1024))


def item_kind(pk: str, sk: str) -> str:
    head = pk.split("#", 1)[0]
    if head == "PROF":
        return "profile (file)" if sk.startswith("F#") else "window counter" if sk.startswith("C#") else "rollup"
    if head == "ALERT":
        return "alert state" if sk.startswith("S#") else "alert history"
    return {
        "MET": "metric point",
        "JOIN": "join log",
        "FILE": "file record",
        "DIRTY": "dirty mark",
        "MODEL": "model state",
        "MODELS": "model state",
        "ERR": "error",
    }.get(head, head)


def _wire_key(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["pk"]["S"]), str(item["sk"]["S"])


# -- instrumentation ---------------------------------------------------------------------------------------------


_INHERITED = object()  # Probe._patch: the patched attribute was inherited, not the owner's own


@dataclass
class Tally:
    count: int = 0
    items: int = 0
    bytes: int = 0
    units: float = 0.0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        self.count += other.count
        self.items += other.items
        self.bytes += other.bytes
        self.units += other.units
        self.seconds += other.seconds


@dataclass
class Timing:
    count: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    walls: list[float] = field(default_factory=list)


class Probe:
    """Times Driftline's calls and accounts for every AWS request made in this process, per phase.

    AWS requests are seen in botocore's ``BaseClient._make_api_call`` (every client, every thread); the bench's
    own requests (puts, polls, scans) run inside ``excluded()`` and are not counted as Driftline's. DynamoDB
    writes are accounted from their parameters (items, bytes, write units by item kind), reads from their
    responses."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.lock = threading.Lock()
        self.local = threading.local()
        self.calls: dict[str, dict[tuple[str, str], Tally]] = defaultdict(lambda: defaultdict(Tally))
        self.writes: dict[str, dict[tuple[str, str], Tally]] = defaultdict(lambda: defaultdict(Tally))
        self.timings: dict[str, dict[str, Timing]] = defaultdict(lambda: defaultdict(Timing))
        self.sizes: dict[tuple[str, str], int] = {}  # items that get deleted later: profiles, rollups, marks
        self.validation: dict[str, float] = defaultdict(float)
        self._undo: list[tuple[Any, str, Any]] = []
        self.on_window: Callable[[], None] | None = None

    # -- patching --------------------------------------------------------------------------------------------------

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        # a class's own attribute, or none (an inherited one, e.g. the Store's areas' methods: undone by deleting)
        original = owner.__dict__.get(name, _INHERITED) if isinstance(owner, type) else getattr(owner, name)
        self._undo.append((owner, name, original))
        setattr(owner, name, make(getattr(owner, name)))

    def time(self, owner: Any, name: str, label: str, *, keep_walls: bool = False) -> None:
        def make(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                w0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
                    with self.lock:
                        t = self.timings[self.phase][label]
                        t.count += 1
                        t.wall += wall
                        t.cpu += cpu
                        if keep_walls:
                            t.walls.append(wall)

            return timed

        self._patch(owner, name, make)

    def install(self, cloud_cls: type) -> None:
        import botocore.client
        import botocore.validate

        from driftline.adapters import s3 as s3_adapter
        from driftline.services import evaluate as evaluate_mod
        from driftline.services import ingest as ingest_mod
        from driftline.services import labels as labels_mod
        from driftline.services import profiling as profiling_mod
        from driftline.services.store import Store

        probe = self

        def make_api_call(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
                if getattr(probe.local, "excluded", False):
                    return fn(client, operation, params)
                service = client.meta.service_model.service_name
                t0 = time.perf_counter()
                response: Any = None
                try:
                    response = fn(client, operation, params)
                    return response
                finally:
                    probe._account(service, operation, params, response, time.perf_counter() - t0)

            return call

        def validate(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                c0 = time.thread_time()  # CPU: the batch writers' threads wait for the GIL meanwhile
                try:
                    return fn(*args, **kwargs)
                finally:
                    if not getattr(probe.local, "excluded", False):
                        with probe.lock:
                            probe.validation[probe.phase] += time.thread_time() - c0

            return timed

        def window(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def each(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fn(*args, **kwargs)
                finally:
                    if probe.on_window is not None:
                        probe.on_window()

            return each

        self._patch(botocore.client.BaseClient, "_make_api_call", make_api_call)
        self._patch(botocore.validate.ParamValidator, "validate", validate)
        # ingest: the handler's call per file, and its parts
        self.time(ingest_mod.IngestService, "handle", "handle", keep_walls=True)
        self.time(profiling_mod, "profile_file", "profile_file")  # ingest imports it from there when it runs
        self.time(s3_adapter.RangedReader, "_fill", "s3 read")
        self.time(Store, "put_file_profiles", "put_file_profiles")
        self.time(labels_mod.LabelService, "join_predictions", "label join")
        self.time(cloud_cls, "_invoke_batch", "invocation")
        # evaluate: per window, and its parts
        self._patch(evaluate_mod.EvaluateService, "_evaluate_window", window)
        self.time(evaluate_mod.EvaluateService, "_evaluate_window", "window", keep_walls=True)
        self.time(Store, "window_profiles", "read + merge profiles")
        self.time(evaluate_mod, "window_points", "compute metrics")
        self.time(Store, "put_points", "write metric points")
        self.time(evaluate_mod.EvaluateService, "_judge", "judge rules + alert state")
        self.time(Store, "roll_up", "roll up")
        self.time(Store, "clear_dirty", "clear dirty mark")

    def uninstall(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    @contextlib.contextmanager
    def excluded(self) -> Iterator[None]:
        before = getattr(self.local, "excluded", False)
        self.local.excluded = True
        try:
            yield
        finally:
            self.local.excluded = before

    # -- accounting ------------------------------------------------------------------------------------------------

    def _account(self, service: str, op: str, params: dict[str, Any], response: Any, seconds: float) -> None:
        with self.lock:
            call = self.calls[self.phase][(service, op)]
            call.count += 1
            call.seconds += seconds
            if service != "dynamodb":
                return
            if op in DRIFTLINE_DDB_WRITES:
                self._account_writes(op, params)
            elif op in DDB_READS and isinstance(response, dict):
                self._account_reads(op, params, response, call)

    def _write(self, verb: str, pk: str, sk: str, size: int | None, *, factor: float = 1.0) -> None:
        """One item written (``verb``: put, update or delete), under its kind, with its size and write units."""
        kind = item_kind(pk, sk)
        if size is None:  # a delete: DynamoDB charges the deleted item's size
            size = self.sizes.pop((pk, sk), 0)
        elif kind in ("profile (file)", "rollup", "dirty mark"):
            self.sizes[(pk, sk)] = size
        t = self.writes[self.phase][(kind, verb)]
        t.items += 1
        t.bytes += size
        t.units += write_units(size) * factor

    def _account_writes(self, op: str, params: dict[str, Any]) -> None:
        if op == "PutItem":
            item = params["Item"]
            self._write("put", *_wire_key(item), wire_item_size(item))
        elif op == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for r in requests:
                    if "PutRequest" in r:
                        item = r["PutRequest"]["Item"]
                        self._write("put", *_wire_key(item), wire_item_size(item))
                    else:
                        self._write("delete", *_wire_key(r["DeleteRequest"]["Key"]), None)
        elif op == "UpdateItem":  # charged by the larger of the item before and after: small items here
            key = params["Key"]
            values = params.get("ExpressionAttributeValues", {})
            size = wire_item_size(key) + sum(wire_value_size(v) for v in values.values())
            self._write("update", *_wire_key(key), size)
        elif op == "DeleteItem":
            self._write("delete", *_wire_key(params["Key"]), None)
        else:  # TransactWriteItems: twice the units
            for entry in params["TransactItems"]:
                ((verb, body),) = entry.items()
                if verb == "Put":
                    self._write("put", *_wire_key(body["Item"]), wire_item_size(body["Item"]), factor=2.0)
                elif verb == "Delete":
                    self._write("delete", *_wire_key(body["Key"]), None, factor=2.0)

    def _account_reads(self, op: str, params: dict[str, Any], response: dict[str, Any], call: Tally) -> None:
        if op == "GetItem":
            items = [response["Item"]] if "Item" in response else []
        elif op == "BatchGetItem":
            items = [i for rows in response.get("Responses", {}).values() for i in rows]
        else:
            items = list(response.get("Items", []))
        size = sum(wire_item_size(i) for i in items)
        eventually = bool(params.get("IndexName")) or not params.get("ConsistentRead", False)
        factor = 0.5 if eventually else 1.0
        call.items += len(items)
        call.bytes += size
        if op in ("Query", "Scan"):  # one charge per request, on the total size read
            call.units += max(1, math.ceil(size / 4096)) * factor
        else:
            call.units += sum(max(1, math.ceil(wire_item_size(i) / 4096)) for i in items) * factor or factor

    # -- reading the results ---------------------------------------------------------------------------------------

    def writes_by_kind(self, phase: str) -> dict[str, Tally]:
        out: dict[str, Tally] = defaultdict(Tally)
        for (kind, _verb), t in self.writes[phase].items():
            out[kind].add(t)
        return out

    def writes_of(self, phase: str, kind: str, verb: str) -> Tally:
        return self.writes[phase].get((kind, verb), Tally())

    def ddb_calls(self, phase: str, ops: Sequence[str] | None = None) -> Tally:
        total = Tally()
        for (service, op), t in self.calls[phase].items():
            if service == "dynamodb" and (ops is None or op in ops):
                total.add(t)
        return total

    def call(self, phase: str, service: str, op: str) -> Tally:
        return self.calls[phase].get((service, op), Tally())

    def timing(self, phase: str, label: str) -> Timing:
        return self.timings[phase].get(label, Timing())


# -- the data ----------------------------------------------------------------------------------------------------


def model_config_text(model_id: str | None) -> tuple[str, str]:
    """bench/config.yaml (optionally under another model id) and its model id."""
    text = gen.CONFIG_PATH.read_text()
    current = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model_id:"))
    if model_id and model_id != current:
        text = text.replace(f"model_id: {current}", f"model_id: {model_id}", 1)
        return text, model_id
    return text, current


def encode_table(table: pa.Table, fmt: str) -> bytes:
    """A generated table as a file of ``fmt`` (parquet, csv or jsonl.gz), as bench/generate.py writes them."""
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    if fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(gen._iso_times(table), buf)
        return buf.getvalue()
    return gzip.compress(gen.jsonl_bytes(table), 6)


@dataclass(frozen=True)
class FileSpec:
    index: int
    hour: int  # hours after START: the file's window
    path: Path


def _write_file(job: tuple[int, int, int, int, str, bool, str]) -> None:
    """Generate one file (in a worker process): ``rows`` rows of hour ``hour``, ids from ``index * rows``."""
    index, hour, rows, seed, fmt, delayed, path = job
    table = gen.generate_table(rows, seed, first_id=index * rows, time_range_ms=(hour * HOUR_MS, (hour + 1) * HOUR_MS))
    if delayed:
        table = table.drop_columns(["label"])
    target = Path(path)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.write_bytes(encode_table(table, fmt))
    tmp.replace(target)


def ensure_files(
    hours: Sequence[int], *, rows: int, seed: int, fmt: str, delayed: bool, data_dir: Path, label: str
) -> list[FileSpec]:
    """The files of one layout (file i in window ``hours[i]``), generated where not cached yet."""
    tag = f"load-v{gen.VERSION}.{LOAD_VERSION}-n{rows}-s{seed}{'-nolabel' if delayed else ''}"
    folder = data_dir / tag
    folder.mkdir(parents=True, exist_ok=True)
    specs = [FileSpec(i, h, folder / f"h{h:04d}-i{i:05d}.{fmt}") for i, h in enumerate(hours)]
    jobs = [(s.index, s.hour, rows, seed, fmt, delayed, str(s.path)) for s in specs if not s.path.exists()]
    if jobs:
        _log(f"{label}: generating {len(jobs):,} files of {rows:,} rows in {folder} (cached for later runs)")
        t0 = time.time()
        if len(jobs) < 50:
            for job in jobs:
                _write_file(job)
        else:
            with ProcessPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
                for done, _ in enumerate(pool.map(_write_file, jobs, chunksize=16), start=1):
                    if done % 200 == 0:
                        _log(f"{label}: generated {done:,}/{len(jobs):,} files, {time.time() - t0:.0f} s")
        _log(f"{label}: generated in {time.time() - t0:.0f} s")
    return specs


def spread(files: int, windows: int, first_hour: int) -> list[int]:
    """The window (hour) of each of ``files`` files spread evenly over ``windows`` consecutive hours."""
    return [first_hour + i * windows // files for i in range(files)]


# -- measuring ---------------------------------------------------------------------------------------------------


def moto_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the moto server process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Span:
    """Wall and CPU seconds of one stretch of the run, and the machine's load meanwhile."""

    wall: float = 0.0
    cpu: float = 0.0
    moto_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


@contextlib.contextmanager
def span(moto_pid: int) -> Iterator[Span]:
    s = Span()
    w0, c0, m0, l0 = time.perf_counter(), own_cpu(), moto_cpu(moto_pid), os.getloadavg()[0]
    try:
        yield s
    finally:
        s.wall, s.cpu = time.perf_counter() - w0, own_cpu() - c0
        s.moto_cpu = moto_cpu(moto_pid) - m0
        s.load = (l0, os.getloadavg()[0])


@dataclass
class IngestResult:
    label: str
    files: int
    rows_sent: int
    bytes_sent: int
    put_s: float
    end_to_end_s: float
    rows_counted: int
    failed: list[str]
    span: Span
    put_latency: list[float]
    finished: list[float] = field(default_factory=list)  # each file's finished_at, seconds after the first put

    @property
    def after_puts(self) -> tuple[int, float]:
        """Files finished after the last put returned, and the seconds they took: the ingest rate once the puts no
        longer compete with the handler for moto."""
        later = [t for t in self.finished if t > self.put_s]
        return len(later), (max(later) - self.put_s) if later else 0.0

    @property
    def files_per_s(self) -> float:
        return self.files / self.end_to_end_s

    @property
    def rows_per_s(self) -> float:
        return self.rows_counted / self.end_to_end_s


@dataclass
class EvalResult:
    label: str
    windows: int
    files: int
    wall: float
    span: Span
    answer: dict[str, Any]


@dataclass
class ReadResult:
    label: str
    command: str
    points: int  # every point listed (json lists the population and each segment)
    wall: float
    value_sum: float | None
    queries: int
    rru: float
    population: int = 0  # the whole population's points


class Run:
    """One load run: the local cloud, the model, the phases, the checks."""

    def __init__(self, args: argparse.Namespace, probe: Probe, cloud: Any) -> None:
        self.args = args
        self.probe = probe
        self.cloud = cloud
        self.bucket = cloud.outputs["DataBucketName"]
        self.table = cloud.outputs["MetricsTableName"]
        self.moto_pid = int(cloud._server.pid)
        self.config_text, self.model_id = model_config_text(args.model_id)
        pool = Config(max_pool_connections=max(10, args.workers + 4))
        self.s3 = cloud.client("s3")
        self.put_client: Any = boto3.client(
            "s3", endpoint_url=cloud.endpoint_url, region_name=cloud.region, config=pool
        )
        self.ddb: Any = cloud.client("dynamodb")
        self.checks: list[tuple[str, bool, str]] = []
        self.scans: dict[str, dict[str, Tally]] = {}

    def check(self, what: str, ok: bool, detail: str) -> None:
        self.checks.append((what, ok, detail))
        if not ok:
            _log(f"CHECK FAILED: {what}: {detail}")

    # -- setup -----------------------------------------------------------------------------------------------------

    def setup(self) -> None:
        with self.probe.excluded():
            self.s3.put_object(
                Bucket=self.bucket, Key=f"models/{self.model_id}/config.yaml", Body=self.config_text.encode()
            )
            self.cloud.wait_idle()
            reference = gen.ensure(
                self.args.reference_rows, self.args.seed + 1, "parquet", data_dir=self.args.data_dir, stem="reference"
            )
            _log(f"baseline: {self.args.reference_rows:,} reference rows → baselines/{self.model_id}/")
            self.s3.put_object(
                Bucket=self.bucket, Key=f"baselines/{self.model_id}/reference.parquet", Body=reference.read_bytes()
            )
            self.cloud.wait_idle(timeout=900)
            item = self.ddb.get_item(
                TableName=self.table, Key={"pk": {"S": f"MODEL#{self.model_id}"}, "sk": {"S": "BASELINE"}}
            )
        if "Item" not in item:
            raise RuntimeError(f"the baseline of {self.model_id} was not registered (failures: {self.cloud.failures})")

    # -- scans -----------------------------------------------------------------------------------------------------

    def scan(self, name: str) -> dict[str, Tally]:
        """Every item of the table, by kind: count and bytes (DynamoDB's size rules)."""
        out: dict[str, Tally] = defaultdict(Tally)
        kwargs: dict[str, Any] = {"TableName": self.table}
        t0 = time.perf_counter()
        with self.probe.excluded():
            while True:
                page = self.ddb.scan(**kwargs)
                for item in page.get("Items", []):
                    t = out[item_kind(*_wire_key(item))]
                    t.items += 1
                    size = wire_item_size(item)
                    t.bytes += size
                    t.units += write_units(size)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        _log(f"scan {name}: {sum(t.items for t in out.values()):,} items in {time.perf_counter() - t0:.1f} s")
        self.scans[name] = out
        return out

    # -- ingest ----------------------------------------------------------------------------------------------------

    def ingest(self, label: str, phase: str, specs: list[FileSpec], prefix: str) -> IngestResult:
        from driftline.services.store import file_id_for

        n = len(specs)
        rows_sent = n * self.args.rows_per_file
        ids: dict[str, int] = {}  # file id → index, once its put has returned
        put_latency: list[float] = []
        put_end = [0.0]
        lock = threading.Lock()
        sent_bytes = [0]

        def put(spec: FileSpec) -> None:
            with self.probe.excluded():
                key = f"predictions/{self.model_id}/{prefix}/" + time.strftime(
                    "%Y/%m/%d/%H", time.gmtime(START + spec.hour * HOUR)
                )
                key += f"/part-{spec.index:05d}.{self.args.format}"
                body = spec.path.read_bytes()
                t0 = time.perf_counter()
                resp = self.put_client.put_object(Bucket=self.bucket, Key=key, Body=body)
                latency = time.perf_counter() - t0
                fid = file_id_for(self.bucket, key, str(resp["ETag"]).strip('"'))
                with lock:
                    ids[fid] = spec.index
                    put_latency.append(latency)
                    sent_bytes[0] += len(body)
                    put_end[0] = time.time()

        self.probe.phase = phase
        done: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        with span(self.moto_pid) as sp:
            t_first = time.time()
            pool = ThreadPoolExecutor(max_workers=self.args.workers, thread_name_prefix="bench-put")
            futures = [pool.submit(put, s) for s in specs]
            last_progress = last_change = time.time()
            while len(done) < n:
                time.sleep(POLL_S)
                for f in [f for f in futures if f.done() and f.exception() is not None]:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise RuntimeError(f"{label}: a put failed: {f.exception()}")
                with lock:
                    waiting = [fid for fid in ids if fid not in done]  # in the order the puts returned
                    puts = len(ids)
                found = self._poll(waiting)
                if found:
                    last_change = time.time()
                for fid, rec in found.items():
                    if rec.get("status") in ("done", "failed"):
                        done[fid] = rec
                        if rec["status"] == "failed":
                            failed.append(f"{fid}: {rec.get('reason')}")
                now = time.time()
                if now - last_progress >= PROGRESS_S or len(done) == n:
                    _log(f"{label}: put {puts:,}/{n:,} · ingested {len(done):,}/{n:,} · {now - t_first:.0f} s")
                    last_progress = now
                if now - last_change > STALL_S:
                    raise RuntimeError(
                        f"{label}: no file finished for {STALL_S:.0f} s ({len(done):,}/{n:,} done); queues "
                        f"{self.cloud.queue_depths()}, failed invocations {self.cloud.failures}"
                    )
            pool.shutdown(wait=True)
        t_end = max(float(rec.get("finished_at", 0.0)) for rec in done.values())
        rows_counted = sum(int(rec.get("rows", 0)) for rec in done.values())
        result = IngestResult(
            label,
            n,
            rows_sent,
            sent_bytes[0],
            put_end[0] - t_first,
            t_end - t_first,
            rows_counted,
            failed,
            sp,
            put_latency,
            sorted(float(rec.get("finished_at", 0.0)) - t_first for rec in done.values()),
        )
        self.check(
            f"{label}: every file processed", not failed and len(done) == n, f"{len(done) - len(failed):,}/{n:,}"
        )
        self.check(f"{label}: rows counted = rows sent", rows_counted == rows_sent, f"{rows_counted:,} / {rows_sent:,}")
        handled = self.probe.timing(phase, "handle").count
        self.check(
            f"{label}: one handler call per file (no redelivery)", handled == n, f"{handled:,} calls, {n:,} files"
        )
        return result

    def _poll(self, waiting: list[str]) -> dict[str, dict[str, Any]]:
        """The FILE records of the oldest files not done yet, 100 at a time until one of them is not done (files
        are processed about in the order they were put): one or two requests a poll, not one per 100 files."""
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(waiting), 100):
            chunk = waiting[i : i + 100]
            records = self._file_records(chunk)
            found.update(records)
            if any(records.get(fid, {}).get("status") not in ("done", "failed") for fid in chunk):
                break
        return found

    def _file_records(self, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The FILE records of these files that exist yet: status, rows, finished_at."""
        out: dict[str, dict[str, Any]] = {}
        with self.probe.excluded():
            for i in range(0, len(file_ids), 100):
                request: dict[str, Any] = {
                    self.table: {
                        "Keys": [{"pk": {"S": f"FILE#{fid}"}, "sk": {"S": "FILE"}} for fid in file_ids[i : i + 100]],
                        "ConsistentRead": True,
                        "ProjectionExpression": "pk, #s, #r, finished_at, reason",
                        "ExpressionAttributeNames": {"#s": "status", "#r": "rows"},
                    }
                }
                while request:
                    resp = self.ddb.batch_get_item(RequestItems=request)
                    for item in resp.get("Responses", {}).get(self.table, []):
                        rec = {k: next(iter(v.values())) for k, v in item.items()}
                        out[str(rec["pk"]).removeprefix("FILE#")] = rec
                    request = resp.get("UnprocessedKeys") or {}
        return out

    # -- evaluate --------------------------------------------------------------------------------------------------

    def evaluate(self, label: str, phase: str, at: float, expected_windows: int, files: int) -> EvalResult:
        self.probe.phase = phase
        done = [0]
        t0 = time.time()
        last = [t0]

        def on_window() -> None:
            done[0] += 1
            now = time.time()
            if now - last[0] >= PROGRESS_S or done[0] == expected_windows:
                _log(f"{label}: evaluated {done[0]:,}/{expected_windows:,} windows · {now - t0:.0f} s")
                last[0] = now

        self.probe.on_window = on_window
        windows = ticks = 0
        answer: Any = None
        try:
            with span(self.moto_pid) as sp:
                # one scheduled run after another, as the minute ticks would: a run stops short of the function's
                # timeout and leaves the rest of a backlog (``windows_left``) to the next
                while True:
                    answer = self.cloud.invoke_scheduled(at=at)
                    if not isinstance(answer, dict):
                        raise RuntimeError(f"{label}: the evaluator failed (see the log above)")
                    ticks += 1
                    windows += int(answer.get("windows", 0))
                    if not answer.get("windows_left") or ticks >= MAX_EVALUATOR_RUNS:
                        break
        finally:
            self.probe.on_window = None
        self.check(
            f"{label}: windows evaluated",
            windows == expected_windows and not answer.get("windows_left"),
            f"{windows:,} in {ticks} run{'s' * (ticks != 1)} (expected {expected_windows:,})",
        )
        return EvalResult(label, windows, files, sp.wall, sp, {**answer, "windows": windows, "runs": ticks})

    # -- reads -----------------------------------------------------------------------------------------------------

    def read(self, label: str, phase: str, argv: list[str]) -> tuple[ReadResult, list[dict[str, Any]]]:
        """``driftline metrics ...`` in this process (the interpreter's start and imports not counted)."""
        from driftline.cli.main import main as cli

        self.probe.phase = phase
        aws = ["--endpoint-url", self.cloud.endpoint_url, "--bucket", self.bucket, "--table", self.table]
        aws += ["--topic-arn", self.cloud.outputs["AlertsTopicArn"], "--region", self.cloud.region]
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = cli([*argv, "--format", "json", *aws])
        wall = time.perf_counter() - t0
        if code != 0:
            raise RuntimeError(f"driftline {' '.join(argv)} exited with {code}")
        points: list[dict[str, Any]] = json.loads(out.getvalue())
        queries = self.probe.call(phase, "dynamodb", "Query")
        values = [float(p["value"]) for p in points if p["segment"] is None]
        result = ReadResult(
            label,
            f"driftline {shlex.join(argv)}",
            len(points),
            wall,
            sum(values),
            queries.count,
            queries.units,
            population=len(values),
        )
        return result, points

    # -- checks after evaluation -----------------------------------------------------------------------------------

    def window_metric(self, metric: str, window_start: int) -> float | None:
        with self.probe.excluded():
            item = self.ddb.get_item(
                TableName=self.table,
                Key={"pk": {"S": f"MET#{self.model_id}#{metric}#-#-"}, "sk": {"S": _ws_key(window_start)}},
                ConsistentRead=True,
            ).get("Item")
        return None if item is None else float(item["value"]["N"])

    def dead_letters(self) -> dict[str, int]:
        sqs = self.cloud.client("sqs")
        out: dict[str, int] = {}
        with self.probe.excluded():
            for url in sqs.list_queues().get("QueueUrls", []):
                name = url.rsplit("/", 1)[1]
                if "dead" in name.lower() or "dlq" in name.lower():
                    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                    out[name] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        return out


def _ws_key(window_start: int) -> str:
    from driftline.services.store import ws_key

    return ws_key(window_start)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the run -----------------------------------------------------------------------------------------------------


@dataclass
class Report:
    args: dict[str, Any]
    model_id: str = ""
    total_s: float = 0.0
    ingest: list[IngestResult] = field(default_factory=list)
    evals: list[EvalResult] = field(default_factory=list)
    reads: list[ReadResult] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    markdown: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def run(args: argparse.Namespace) -> Report:
    from driftline.cli.local.cloud import LocalCloud

    t_start = time.perf_counter()
    report = Report(args={k: str(v) for k, v in vars(args).items()})
    one_hours = [0] * args.files
    range_hours = spread(args.range_files, args.range_windows, 1) if args.range_files else []
    delayed = args.delayed_labels
    specs_a = ensure_files(
        one_hours,
        rows=args.rows_per_file,
        seed=args.seed,
        fmt=args.format,
        delayed=delayed,
        data_dir=args.data_dir,
        label="one window",
    )
    specs_b = (
        ensure_files(
            range_hours,
            rows=args.rows_per_file,
            seed=args.seed + 2,
            fmt=args.format,
            delayed=delayed,
            data_dir=args.data_dir,
            label=f"{args.range_windows} windows",
        )
        if range_hours
        else []
    )
    probe = Probe()
    probe.install(LocalCloud)
    try:
        _log("starting the local cloud")
        with LocalCloud(tick=0) as cloud:
            r = Run(args, probe, cloud)
            report.model_id = r.model_id
            r.setup()
            r.scan("before")
            # 1. one window holding every file
            report.ingest.append(r.ingest("one window", "A.ingest", specs_a, "one-window"))
            r.scan("after ingest (one window)")
            report.evals.append(r.evaluate("one window", "A.eval", START + HOUR + 60, 1, len(specs_a)))
            r.scan("after evaluation (one window)")
            rows_a = args.files * args.rows_per_file
            vol = r.window_metric("volume.rows", START)
            r.check("one window: volume.rows = rows sent", vol == rows_a, f"{vol} / {rows_a:,}")
            nfiles = r.window_metric("volume.files", START)
            r.check("one window: volume.files = files sent", nfiles == args.files, f"{nfiles} / {args.files:,}")
            left = r.scans["after evaluation (one window)"].get("profile (file)", Tally()).items
            r.check("one window: file profile items rolled up (none left)", left == 0, f"{left:,} left")
            # 2. the windows of a range, then the reads of that range
            if specs_b:
                windows_b = len(set(range_hours))
                report.ingest.append(r.ingest(f"{args.range_windows} windows", "B.ingest", specs_b, "range"))
                r.scan(f"after ingest ({args.range_windows} windows)")
                at_b = START + (args.range_windows + 1) * HOUR + 60
                report.evals.append(
                    r.evaluate(f"{args.range_windows} windows", "B.eval", at_b, windows_b, len(specs_b))
                )
                first, last = START + HOUR, START + args.range_windows * HOUR  # last: the last window's start
                span_args = ["--from", _iso(first), "--to", _iso(last)]
                drift = ["--metric", "drift.jensen_shannon", "--column", "amount"]
                series, _ = r.read(
                    "one drift series", "B.read.series", ["metrics", "--model", r.model_id, *drift, *span_args]
                )
                volume, volume_points = r.read(
                    "row counts",
                    "B.read.volume",
                    ["metrics", "--model", r.model_id, "--metric", "volume.rows", *span_args],
                )
                day = ["--from", _iso(max(first, last - 23 * HOUR)), "--to", _iso(last)]
                everything, _ = r.read("every metric, last day", "B.read.day", ["metrics", "--model", r.model_id, *day])
                report.reads += [series, volume, everything]
                rows_b = args.range_files * args.rows_per_file
                r.check(
                    f"{args.range_windows} windows: sum of volume.rows = rows sent",
                    volume.value_sum == rows_b,
                    f"{volume.value_sum:,.0f} / {rows_b:,}",
                )
                r.check(
                    f"{args.range_windows} windows: one volume.rows point per window evaluated",
                    sum(p["segment"] is None for p in volume_points) == windows_b,
                    f"{sum(p['segment'] is None for p in volume_points):,} / {windows_b:,}",
                )
            dlq = r.dead_letters()
            r.check("dead-letter queues empty", not any(dlq.values()), json.dumps(dlq))
            r.check("no failed invocation", not cloud.failures, json.dumps(cloud.failures))
            report.checks = r.checks
            report.total_s = time.perf_counter() - t_start
            report.markdown = render(report, probe, r)
    finally:
        probe.uninstall()
    report.numbers = numbers(report, probe)
    return report


# -- the report --------------------------------------------------------------------------------------------------


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def handler_parts(probe: Probe, phase: str, files: int) -> dict[str, float]:
    """Mean seconds per file of the ingest handler and its parts (wall), and its CPU."""
    handle = probe.timing(phase, "handle")
    pf = probe.timing(phase, "profile_file")
    s3_read = probe.timing(phase, "s3 read").wall + probe.call(phase, "s3", "HeadObject").seconds
    ddb = probe.ddb_calls(phase).seconds
    inv = probe.timing(phase, "invocation")
    n = max(files, 1)
    return {
        "handle": handle.wall / n,
        "handle_cpu": handle.cpu / n,
        "handle_p50": statistics.median(handle.walls) if handle.walls else 0.0,
        "handle_p95": _pct(handle.walls, 0.95),
        "profile": (pf.wall - probe.timing(phase, "s3 read").wall) / n,
        "profile_cpu": pf.cpu / n,
        "s3": s3_read / n,
        "ddb": ddb / n,
        "validation": probe.validation.get(phase, 0.0) / n,
        "invocation": inv.wall / n,
    }


def numbers(report: Report, probe: Probe) -> dict[str, Any]:
    """The report's figures as plain data (for tests and for comparing runs)."""
    out: dict[str, Any] = {"total_s": report.total_s, "ok": report.ok, "checks": report.checks}
    for phase, ing in zip(("A", "B"), report.ingest, strict=False):
        out[f"{phase}.ingest"] = {
            "files": ing.files,
            "rows_sent": ing.rows_sent,
            "rows_counted": ing.rows_counted,
            "end_to_end_s": ing.end_to_end_s,
            "files_per_s": ing.files_per_s,
            "put_s": ing.put_s,
            "after_puts": ing.after_puts,
            "rows_per_s": ing.rows_per_s,
            "handler": handler_parts(probe, f"{phase}.ingest", ing.files),
            "writes": {k: vars(t) for k, t in probe.writes_by_kind(f"{phase}.ingest").items()},
        }
    for phase, ev in zip(("A", "B"), report.evals, strict=False):
        out[f"{phase}.eval"] = {
            "windows": ev.windows,
            "wall_s": ev.wall,
            "cpu_s": ev.span.cpu,
            "moto_cpu_s": ev.span.moto_cpu,
            "writes": {k: vars(t) for k, t in probe.writes_by_kind(f"{phase}.eval").items()},
        }
    out["reads"] = [vars(r) for r in report.reads]
    return out


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores ({model or platform.machine()}){mem}, Python {platform.python_version()}"


def _moto_version() -> str:
    from importlib.metadata import version

    try:
        return version("moto")
    except Exception:
        return "?"


def render(report: Report, probe: Probe, r: Run) -> str:
    args = r.args
    lines: list[str] = []
    add = lines.append
    cmd = (
        shlex.join(["python", "-m", "bench.load", *sys.argv[1:]]) if Path(sys.argv[0]).stem == "load" else "bench.load"
    )
    labels_note = (
        "label column dropped from the logs (delayed labels: the id index is written)"
        if args.delayed_labels
        else "label in the logs (no id index)"
    )
    add("# Driftline load test: the local cloud, end to end")
    add("")
    add(f"`{cmd}` — {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {machine()}, moto {_moto_version()}.")
    add(
        f"Model `{r.model_id}` (`bench/config.yaml`: 15 numerical + 5 categorical features, segments by `region`, "
        f"1-hour windows), {labels_note}; "
        f"{args.format} files of {args.rows_per_file:,} rows; {args.workers} put threads. "
        f"Whole run {report.total_s / 60:.1f} min."
    )
    add("")
    add(
        "Everything runs on this machine: the moto server in its own process, and in this process the event pump "
        "that hands SQS batches to the handlers (one batch at a time per queue, like one Lambda instance) and the "
        "evaluator. CPU columns: *Driftline* = this process (handlers, evaluator, boto3), *moto* = the server "
        "process. moto does roughly 1,000 small DynamoDB writes/s where DynamoDB takes them in parallel at a few "
        "ms each, so wall times are dominated by moto wherever the moto CPU is high."
    )
    add("")
    add(summary(report, probe))
    add("")
    add("## Ingest")
    add("")
    add(
        "| layout | files | rows | MB put | puts done s | end to end s | files/s | rows/s | files/s once put | "
        "handler ms/file (mean · p50 · p95) | handler CPU ms/file | Driftline CPU s | moto CPU s | load avg |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for phase, ing in zip(("A", "B"), report.ingest, strict=False):
        h = handler_parts(probe, f"{phase}.ingest", ing.files)
        add(
            f"| {ing.label} | {ing.files:,} | {ing.rows_counted:,} | {ing.bytes_sent / 1e6:,.0f} | {_f(ing.put_s)} | "
            f"{_f(ing.end_to_end_s)} | {_f(ing.files_per_s, 2)} | {ing.rows_per_s:,.0f} | {_after_puts(ing)} | "
            f"{h['handle'] * 1e3:.0f} · {h['handle_p50'] * 1e3:.0f} · {h['handle_p95'] * 1e3:.0f} | "
            f"{h['handle_cpu'] * 1e3:.0f} | {_f(ing.span.cpu)} | {_f(ing.span.moto_cpu)} | "
            f"{ing.span.load[0]:.1f} → {ing.span.load[1]:.1f} |"
        )
    add("")
    add("Where the ingest handler's time goes, per file (mean ms, wall):")
    add("")
    add(
        "| layout | handler | profiling (Driftline, CPU) | S3 reads (moto) | DynamoDB calls (moto; summed over "
        "threads) | of which botocore param validation (CPU) | rest (pack, encode, logging) | Lambda invocation incl. "
        "SQS |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for phase, ing in zip(("A", "B"), report.ingest, strict=False):
        h = handler_parts(probe, f"{phase}.ingest", ing.files)
        rest = h["handle"] - h["profile"] - h["s3"] - h["ddb"]
        add(
            f"| {ing.label} | {h['handle'] * 1e3:.0f} | {h['profile'] * 1e3:.0f} ({h['profile_cpu'] * 1e3:.0f}) | "
            f"{h['s3'] * 1e3:.0f} | {h['ddb'] * 1e3:.0f} | {h['validation'] * 1e3:.1f} | {max(rest, 0) * 1e3:.0f} | "
            f"{h['invocation'] * 1e3:.0f} |"
        )
    add("")
    add(
        "End to end: from the first put until the last file's FILE record is `done` (written after its profile "
        "items; its `finished_at` is the end). *Profiling* is `profile_file` less its S3 reads (its CPU in "
        "brackets: includes reading the Parquet bytes); the DynamoDB calls are the claim, the baseline and state "
        "reads, the profile items, the dirty mark and the finish. Puts: median "
        f"{statistics.median(report.ingest[0].put_latency) * 1e3:.0f} ms each."
        if report.ingest and report.ingest[0].put_latency
        else ""
    )
    add("")
    add("## Evaluator")
    add("")
    add(
        "| what | windows | files merged | wall s | s per window | Driftline CPU s | moto CPU s | "
        "DynamoDB calls (summed over threads) s | botocore param validation CPU s |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    for phase, ev in zip(("A", "B"), report.evals, strict=False):
        ddb = probe.ddb_calls(f"{phase}.eval")
        add(
            f"| {ev.label}: one scheduled run | {ev.windows:,} | {ev.files:,} | {_f(ev.wall)} | "
            f"{_f(ev.wall / max(ev.windows, 1), 2)} | {_f(ev.span.cpu)} | {_f(ev.span.moto_cpu)} | "
            f"{_f(ddb.seconds)} ({ddb.count:,} calls) | {_f(probe.validation.get(f'{phase}.eval', 0.0))} |"
        )
    add("")
    add("Where the evaluator's time goes (wall s, and this thread's CPU s):")
    add("")
    labels = [
        "read + merge profiles",
        "compute metrics",
        "write metric points",
        "judge rules + alert state",
        "roll up",
        "clear dirty mark",
    ]
    add("| what | " + " | ".join(labels) + " |")
    add("|---|" + "---|" * len(labels))
    for phase, ev in zip(("A", "B"), report.evals, strict=False):
        cells = [probe.timing(f"{phase}.eval", lab) for lab in labels]
        add(f"| {ev.label} | " + " | ".join(f"{_f(t.wall, 2)} ({_f(t.cpu, 2)})" for t in cells) + " |")
    add("")
    add(
        "*read + merge*: the Query of the window's partition (every file's profile items), decompressing and "
        "merging them; *roll up*: the rollup item, then one DeleteItem per file item it replaces. The metric "
        "points are written with BatchWriteItem, 25 items a request, 4 threads."
    )
    if report.reads:
        add("")
        add(f"## Reading the {args.range_windows}-window range (`driftline metrics`, in this process)")
        add("")
        add("| what | command | points | wall s | Query requests | read units |")
        add("|---|---|---|---|---|---|")
        for rd in report.reads:
            add(f"| {rd.label} | `{rd.command}` | {rd.points:,} | {_f(rd.wall, 2)} | {rd.queries:,} | {rd.rru:,.0f} |")
        add("")
        add(
            "One metric's series is one Query on its own partition. Every metric of a range goes through the GSI "
            "(`gsi1`), which moto answers by going through every item of the table and sorting the matching ones for "
            "each 1 MB page — the table here holds every metric point of the run — so that read is moto-bound; "
            "DynamoDB reads a GSI page in milliseconds."
        )
    add("")
    add("## DynamoDB writes, by item kind")
    add("")
    add(
        "Counted from the requests Driftline made (PutItem, BatchWriteItem, UpdateItem, DeleteItem); bytes as "
        "DynamoDB counts them (attribute names + values); write units = one per started KB of each item written "
        "or deleted. "
        f"Cost at ${WRU_PRICE} per million write units (on-demand, us-east-1)."
    )
    add("")
    add(
        "| phase | item kind | puts | updates | deletes | per file / per window: puts · updates · deletes | "
        "bytes per put | write units | per file / per window |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    for phase, label, per, unit in write_phases(report):
        kinds = probe.writes_by_kind(phase)
        total = Tally()
        for kind in sorted(kinds, key=_kind_rank):
            put, upd, dele = (probe.writes_of(phase, kind, v) for v in ("put", "update", "delete"))
            t = kinds[kind]
            total.add(t)
            add(
                f"| {label} | {kind} | {put.items:,} | {upd.items:,} | {dele.items:,} | "
                f"{put.items / per:,.2f} · {upd.items / per:,.2f} · {dele.items / per:,.2f} | "
                f"{put.bytes / max(put.items, 1):,.0f} | {t.units:,.0f} | {t.units / per:,.2f} |"
            )
        add(
            f"| {label} | **all** | | | | **{total.items / per:,.2f} writes per {unit}** | | {total.units:,.0f} | "
            f"**{total.units / per:,.2f} per {unit}** (${total.units / per * WRU_PRICE / 1e6:.6f}) |"
        )
    add("")
    add("Items in the table (scans), by kind: count and total bytes:")
    add("")
    names = list(r.scans)
    kinds_seen = sorted({k for s in r.scans.values() for k in s}, key=_kind_rank)
    add("| item kind | " + " | ".join(names) + " |")
    add("|---|" + "---|" * len(names))
    for kind in kinds_seen:
        cells = []
        for name in names:
            t = r.scans[name].get(kind)
            cells.append(f"{t.items:,} · {t.bytes / 1e6:,.2f} MB" if t else "–")
        add(f"| {kind} | " + " | ".join(cells) + " |")
    if len(report.evals) > 1:
        add("")
        add(
            f"(No scan after the {args.range_windows}-window evaluation: moto sorts the whole table for every 1 MB "
            "page of a Scan, and the table then holds every metric point; the request accounting above covers it.)"
        )
    if args.delayed_labels and report.ingest:
        add("")
        add(extrapolation(report, probe))
    add("")
    add("## Checks")
    add("")
    for what, ok, detail in report.checks:
        add(f"- {'OK' if ok else '**FAILED**'} — {what}: {detail}")
    add("")
    return "\n".join(lines)


def _after_puts(ing: IngestResult) -> str:
    files, seconds = ing.after_puts
    return f"{files / seconds:,.2f}" if files > 1 and seconds > 0 else "–"


def summary(report: Report, probe: Probe) -> str:
    """The headline figures, as one table."""
    rows: list[tuple[str, str]] = []
    for phase, ing in zip(("A", "B"), report.ingest, strict=False):
        h = handler_parts(probe, f"{phase}.ingest", ing.files)
        rows.append(
            (
                f"ingest end to end: {ing.files:,} files ({ing.rows_counted:,} rows), {ing.label}",
                f"{ing.files_per_s:,.2f} files/s · {ing.rows_per_s:,.0f} rows/s ({ing.end_to_end_s:,.0f} s; puts done "
                f"after {ing.put_s:,.0f} s, then {_after_puts(ing)} files/s)",
            )
        )
        rows.append(
            (
                f"ingest handler per file ({ing.label})",
                f"{h['handle'] * 1e3:.0f} ms: profiling {h['profile'] * 1e3:.0f} ms, S3 reads {h['s3'] * 1e3:.0f} ms, "
                f"{probe.ddb_calls(f'{phase}.ingest').count / ing.files:.1f} DynamoDB calls {h['ddb'] * 1e3:.0f} ms; "
                f"CPU {h['handle_cpu'] * 1e3:.0f} ms",
            )
        )
    for ev in report.evals:
        rows.append(
            (
                f"evaluator, one run: {ev.windows:,} window{'s' if ev.windows != 1 else ''} ({ev.files:,} files)",
                f"{ev.wall:,.1f} s ({ev.wall / max(ev.windows, 1):,.2f} s a window); CPU: Driftline "
                f"{ev.span.cpu:,.1f} s, moto {ev.span.moto_cpu:,.1f} s",
            )
        )
    for rd in report.reads:
        rows.append((f"`driftline metrics`: {rd.label} ({rd.points:,} points)", f"{rd.wall:,.2f} s"))
    for phase, label, per, unit in write_phases(report):
        kinds = probe.writes_by_kind(phase)
        items = sum(t.items for t in kinds.values())
        units = sum(t.units for t in kinds.values())
        puts = [probe.writes_of(phase, k, "put") for k in kinds]
        put_bytes = sum(t.bytes for t in puts)
        rows.append(
            (
                f"DynamoDB per {unit}, {label}",
                f"{items / per:,.1f} writes, {put_bytes / per / 1024:,.1f} KB put, {units / per:,.1f} write units",
            )
        )
    out = ["| measure | figure |", "|---|---|"]
    out += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(out)


def _kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def write_phases(report: Report) -> list[tuple[str, str, int, str]]:
    """(phase, label, files or windows, "file" or "window") of the phases that ran."""
    out = []
    for i, ing in enumerate(report.ingest):
        out.append((f"{'AB'[i]}.ingest", f"ingest ({ing.label})", ing.files, "file"))
    for i, ev in enumerate(report.evals):
        out.append((f"{'AB'[i]}.eval", f"evaluate ({ev.label})", max(ev.windows, 1), "window"))
    return out


def extrapolation(report: Report, probe: Probe) -> str:
    """The id index at the default size, extrapolated from the measured files (labelled as such)."""
    ing = report.ingest[0]
    kinds = probe.writes_by_kind("A.ingest")
    ids = kinds.get("join log", Tally())
    per_file_items = ids.items / ing.files
    per_file_bytes = ids.bytes / ing.files
    per_file_units = ids.units / ing.files
    put_ids = probe.timing("A.ingest", "label join")
    target = DEFAULT_FILES
    rows = ing.rows_sent // ing.files
    units = per_file_units * target
    put_s, e2e_s = put_ids.wall / ing.files, ing.end_to_end_s / ing.files
    lines = [
        f"### Delayed labels: the id index, extrapolated to {target:,} files × {rows:,} rows",
        "",
        f"Measured on {ing.files:,} files; the figures for {target:,} files are **extrapolations** (linear: the id "
        "index writes one item per prediction, and its time per file does not depend on the number of files):",
        "",
        f"| | measured, per file | extrapolated to {target:,} files |",
        "|---|---|---|",
        f"| join log items | {per_file_items:,.0f} | {per_file_items * target:,.0f} |",
        f"| id bytes | {per_file_bytes:,.0f} | {per_file_bytes * target / 1e9:,.2f} GB |",
        f"| write units | {per_file_units:,.0f} | {units:,.0f} (${units * WRU_PRICE / 1e6:,.2f}) |",
        f"| label join (pack + log) wall on moto | {put_s:,.2f} s | {put_s * target / 3600:,.1f} h |",
        f"| ingest end to end on moto | {e2e_s:,.2f} s | {e2e_s * target / 3600:,.1f} h |",
    ]
    return "\n".join(lines)


# -- the command -------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument(
        "--files",
        type=int,
        default=None,
        help=f"files in the one-window layout (default {DEFAULT_FILES:,}; "
        f"{DEFAULT_DELAYED_FILES} with --delayed-labels)",
    )
    p.add_argument("--rows-per-file", type=int, default=DEFAULT_ROWS, help=f"default {DEFAULT_ROWS:,}")
    p.add_argument("--format", choices=gen.FORMATS, default="parquet", help="file format (default parquet)")
    p.add_argument("--workers", type=int, default=4, help="concurrent S3 puts (default 4)")
    p.add_argument(
        "--range-files",
        type=int,
        default=None,
        help="files spread over --range-windows hourly windows (default: as many as --files; 0 skips that layout, "
        "the default with --delayed-labels)",
    )
    p.add_argument("--range-windows", type=int, default=DEFAULT_WINDOWS, help="hourly windows (default 720: 30 days)")
    p.add_argument("--delayed-labels", action="store_true", help="drop the label column: the id index is written")
    p.add_argument("--reference-rows", type=int, default=REFERENCE_ROWS, help="baseline rows (default 100,000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model-id", default=None, help="default: bench/config.yaml's")
    p.add_argument("--data-dir", type=Path, default=gen.DATA_DIR, help="where generated files are cached")
    p.add_argument("--out", type=Path, default=gen.BENCH_DIR / "results" / "load.md", help="Markdown results")
    args = p.parse_args(argv)
    if args.files is None:
        args.files = DEFAULT_DELAYED_FILES if args.delayed_labels else DEFAULT_FILES
    if args.range_files is None:
        args.range_files = 0 if args.delayed_labels else args.files
    if args.files < 1 or args.rows_per_file < 1 or args.workers < 1 or args.range_windows < 1:
        p.error("--files, --rows-per-file, --workers and --range-windows must be positive")
    if args.range_files < 0:
        p.error("--range-files must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report.markdown)
    args.out.with_suffix(".json").write_text(json.dumps(report.numbers, indent=2, default=str))
    print(report.markdown)
    verdict = "all checks passed" if report.ok else "SOME CHECKS FAILED"
    _log(f"wrote {args.out} ({verdict}) in {report.total_s / 60:.1f} min")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
