"""Cold start of each Lambda handler as the python3.12 runtime pays it: import, first and warm invocation.

With a `sam build` output (``.aws-sam/build``; ``--build`` runs ``infra/build.sh`` first, which also prunes the
layers), every function runs in fresh processes of an isolated Python 3.12 (``python3.12 -I -S -B``: no
site-packages, no environment, no bytecode written) whose ``sys.path`` is Lambda's: the function's built code
(``/var/task``), its layers' ``python/`` dirs (``/opt/python``), the standard library, then a stand-in for the
boto3 the runtime ships (boto3's closure copied from the project venv into ``.aws-sam/coldstart-runtime``).
The environment is Lambda's too (``LAMBDA_TASK_ROOT`` and the rest, so Powertools and the X-Ray SDK take their
Lambda code paths; ``Tracing: Active`` as deployed, ``--no-tracing`` turns it off), plus the function's variables
from template.yaml, fake credentials and ``AWS_ENDPOINT_URL`` pointing at a moto server (its own process,
resources provisioned from template.yaml by ``driftline.cli.local.cloud``, reset before every round).

Each process imports the handler (timed: what Lambda's INIT pays for our code, the runtime's own bootstrap
modules already loaded), then calls it with a realistic event (timed alone: the first invocation), then once more
with a second event (timed: a warm invocation, for contrast). The events are SQS batches carrying the S3
notification of one small file (a model config, a 2,000-row baseline, a 1,000-row prediction file, its labels),
shaped as S3 → SQS delivers them, and the scheduler's event for the evaluator. A round runs config, baseline,
ingest, labels, evaluate in that order on one fresh moto state (each needs the previous ones' results); the table
reports the best of ``--repeat`` rounds, in wall-clock and CPU seconds (the process's own CPU time: the stable
figure on a busy machine). An invocation that did not process its file (a failure, a duplicate) is reported as
an error, never timed. ``--importtime`` adds where the import goes (``-X importtime``, by package).

Without a build it says so and falls back to what it measured before: the handler import in the project venv.

    python -m bench.coldstart [--repeat 3] [--build] [--functions ingest,evaluate] [--importtime] [--no-tracing]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("config", "baseline", "ingest", "labels", "evaluate", "judge")  # also the order of a round
LOGICAL_IDS = {name: f"{name.capitalize()}Function" for name in FUNCTIONS}
PREFIXES = {"config": "models", "baseline": "baselines", "ingest": "predictions", "labels": "labels"}
DEFAULT_BUILD_DIR = ROOT / ".aws-sam" / "build"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
MODEL_ID = "coldstart"
IMPORT_AIM_S = 1.0
# boto3 and its dependency closure: what the python3.12 runtime ships (after /opt/python on sys.path).
RUNTIME_DISTS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# What the runtime's bootstrap (awslambdaric) has imported before it imports the handler module.
RUNTIME_PRELOADED = ("json", "logging", "decimal", "traceback", "warnings", "importlib", "http.client")
MARK = "@@coldstart@@ "

from driftline.cli.local.events import schedule_event, sqs_event, sqs_record  # noqa: E402 - the shared builders

# --------------------------------------------------------------------------------------------------------------
# Events, shaped as the services deliver them (see infra/events/)
# --------------------------------------------------------------------------------------------------------------


def s3_notification(bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
    """The S3 ``ObjectCreated:Put`` notification of one object (driftline.cli.local.events, the one home)."""
    from driftline.cli.local.events import s3_notification as build

    return build(bucket, key, principal="AWS:AROAEXAMPLEROLEID:coldstart-bench", **kwargs)


# --------------------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of one step (CPU: this process only, less sensitive to a busy machine)."""

    wall: float
    cpu: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


def best(timings: Sequence[Timing]) -> Timing:
    """Best of N: the least wall-clock time and, separately, the least CPU time."""
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))


@dataclasses.dataclass
class Result:
    """One function's best-of-N figures (None when not measured)."""

    function: str
    size_mb: float | None = None
    imported: Timing | None = None
    first: Timing | None = None
    total: Timing | None = None  # import + first invocation, best of the rounds' sums
    warm: Timing | None = None
    error: str | None = None


def _cell(value: Timing | None) -> str:
    return "-" if value is None else f"{value.wall:.3f} ({value.cpu:.2f})"


def render_table(results: Sequence[Result], *, repeat: int) -> str:
    lines = [
        f"| function | unzipped MB (code + layers) | import s | first invocation s | import + first s "
        f"| warm invocation s | best of {repeat}: wall s (CPU s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        note = f"ERROR: {r.error.strip().splitlines()[0][:120]}" if r.error else ""
        if not r.error and r.imported is not None and r.imported.wall > IMPORT_AIM_S:
            note = f"import over the {IMPORT_AIM_S:g} s aim"
        size = "-" if r.size_mb is None else f"{r.size_mb:.1f}"
        lines.append(
            f"| {r.function} | {size} | {_cell(r.imported)} | {_cell(r.first)} | {_cell(r.total)} "
            f"| {_cell(r.warm)} | {note} |"
        )
    return "\n".join(lines)


def render_venv_table(times: dict[str, float], *, repeat: int) -> str:
    lines = [f"| function | handler import s in the project venv (best of {repeat}) |", "|---|---|"]
    lines += [f"| {name} | {seconds:.3f} |" for name, seconds in times.items()]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Fallback: the import in the project venv (what this benchmark measured before the build was looked at)
# --------------------------------------------------------------------------------------------------------------

VENV_PROBE = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
    "print(time.perf_counter() - t)"
)


def import_seconds(name: str, repeat: int) -> float:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    code = VENV_PROBE.format(path=str(ROOT / "functions" / name))
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


# --------------------------------------------------------------------------------------------------------------
# The clean runtime: interpreter, boto3 stand-in, built functions
# --------------------------------------------------------------------------------------------------------------


def _load_built() -> ModuleType:
    """infra/_built.py (reads the template `sam build` wrote); infra/ is scripts, not a package."""
    spec = importlib.util.spec_from_file_location("_driftline_infra_built", ROOT / "infra" / "_built.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def find_python312(explicit: str | None = None) -> list[str]:
    """A Python 3.12 interpreter: --python, pyenv's 3.12.1 (what `sam build` uses), python3.12, this one."""
    candidates: list[list[str]] = [explicit.split()] if explicit else []
    candidates += [["env", "PYENV_VERSION=3.12.1", "python3.12"], ["python3.12"], [sys.executable]]
    for cmd in candidates:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [*cmd, "-I", "-c", "import sys; print(sys.version_info[:2], sys.executable)"], **_QUIET
            )
            version, _, executable = out.stdout.strip().partition(") ")
            if out.returncode == 0 and version == "(3, 12" and executable:
                return [executable]  # the interpreter itself: pyenv's shim needs PATH and PYENV_VERSION
    raise SystemExit("no Python 3.12 found (the runtime's version): pass --python")


_QUIET: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 60, "check": False}


def runtime_standin(dest: Path, python: Sequence[str]) -> Path:
    """A dir holding only boto3's closure, copied from this venv once per version set, with its bytecode (the
    runtime's boto3 has it; compiled here by ``python`` where the venv's installer left none)."""
    dists = [importlib.metadata.distribution(name) for name in RUNTIME_DISTS]
    stamp = " ".join(f"{d.metadata['Name']}=={d.version}" for d in dists)
    if (dest / ".stamp").is_file() and (dest / ".stamp").read_text() == stamp:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for dist in dists:
        for file in dist.files or ():
            src = Path(str(dist.locate_file(file)))
            target = (dest / file).resolve()
            if src.is_file() and target.is_relative_to(dest.resolve()):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
    subprocess.run([*python, "-I", "-m", "compileall", "-q", str(dest)], check=True, capture_output=True)
    (dest / ".stamp").write_text(stamp)
    return dest


# --------------------------------------------------------------------------------------------------------------
# The AWS endpoint: moto in its own process, resources from template.yaml
# --------------------------------------------------------------------------------------------------------------

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@contextlib.contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclasses.dataclass
class Cloud:
    endpoint_url: str
    bucket: str
    functions: dict[str, Any]  # logical id -> driftline.cli.local.cloud.FunctionWiring
    s3: Any


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "driftline.cli.local.motoserver", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the moto server exited with code {server.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.time() > deadline:
                raise RuntimeError("the moto server did not start within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def provision(endpoint_url: str) -> Cloud:
    """Forget everything moto holds, then create the stack's queues, topics, table (with its GSI) and bucket."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    from driftline.cli.local.cloud import LocalCloud

    port = int(endpoint_url.rsplit(":", 1)[1])
    with _patched_environ(FAKE_CREDENTIALS):  # provision() also writes the stack's settings into os.environ
        cloud = LocalCloud(port=port, region=REGION)
        cloud.provision()
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return Cloud(endpoint_url, cloud.outputs["DataBucketName"], cloud.functions, s3)


# --------------------------------------------------------------------------------------------------------------
# The workload of one round: two small files per SQS function (first and warm invocation), uploaded first
# --------------------------------------------------------------------------------------------------------------

HOUR = 3600


def workload_files(
    now: float, *, seed: int = 0, rows: int = 1_000, reference_rows: int = 2_000
) -> dict[str, list[tuple[str, bytes]]]:
    """(key, body) of the two files each SQS function gets: config, baseline, predictions (two closed hourly
    windows, no labels), and the labels of those predictions. The demo's churn model."""
    import pyarrow as pa

    from driftline.cli.demo import CONFIG_YAML, encode, generate
    from driftline.cli.demo import MODEL_ID as DEMO_ID

    config = CONFIG_YAML.replace(f"model_id: {DEMO_ID}", f"model_id: {MODEL_ID}").encode()
    last_closed = int(now // HOUR) * HOUR - HOUR
    files: dict[str, list[tuple[str, bytes]]] = {name: [] for name in PREFIXES}
    for i in range(2):
        files["config"].append((f"models/{MODEL_ID}/config.yaml", config + f"# upload {i}\n".encode()))
        ref = generate(
            reference_rows, seed=seed + 100 + i, start=now - 8 * 86_400, span=7 * 86_400, id_prefix=f"ref{i}"
        )
        files["baseline"].append((f"baselines/{MODEL_ID}/reference-{i}.parquet", encode(ref, "parquet")))
        logs: pa.Table = generate(
            rows, seed=seed + 200 + i, start=last_closed - HOUR, span=2 * HOUR - 1, id_prefix=f"p{i}"
        )
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(last_closed))
        files["ingest"].append(
            (f"predictions/{MODEL_ID}/{hour}/part-{i}.parquet", encode(logs.drop_columns(["churned"]), "parquet"))
        )
        files["labels"].append(
            (f"labels/{MODEL_ID}/{hour}/labels-{i}.csv", encode(logs.select(["request_id", "churned"]), "csv"))
        )
    return files


def upload_round(cloud: Cloud, now: float, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Upload a round's files; the two events (first, warm) of every function."""
    events: dict[str, list[dict[str, Any]]] = {}
    for name, files in workload_files(now, seed=seed).items():
        queue_arn = cloud.functions[LOGICAL_IDS[name]].queue_arn
        events[name] = []
        for key, body in files:
            put = cloud.s3.put_object(Bucket=cloud.bucket, Key=key, Body=body)
            note = s3_notification(cloud.bucket, key, size=len(body), etag=put["ETag"], version_id=put.get("VersionId"))
            events[name].append(sqs_event(sqs_record(note, queue_arn=queue_arn)))
    events["evaluate"] = [schedule_event(at=now), schedule_event(at=now + 60)]
    # the evaluator queues the model due; the judge function evaluates it (its first message: the window due)
    from driftline.services.dispatch import evaluate_message

    judge_arn = cloud.functions[LOGICAL_IDS["judge"]].queue_arn or ""
    events["judge"] = [sqs_event(sqs_record(evaluate_message(MODEL_ID, at=None), queue_arn=judge_arn)) for _ in "ab"]
    return events


# --------------------------------------------------------------------------------------------------------------
# One fresh process: import, first invocation, warm invocation
# --------------------------------------------------------------------------------------------------------------

# Runs on the clean interpreter: argv = [spec file, front paths, back paths] (os.pathsep-joined). Nothing is
# imported before the timed handler import but sys, time and what the runtime's bootstrap has loaded.
PROBE = r"""
import sys, time
sys.path[:0] = [p for p in sys.argv[2].split(":") if p]
sys.path += [p for p in sys.argv[3].split(":") if p]
for name in PRELOADED:
    __import__(name)
sys.stderr.write(MARK + "preloaded\n")  # -X importtime: what follows is the handler's
sys.stderr.flush()
import importlib, json, os, traceback
spec = json.load(open(sys.argv[1]))
out = {"import_s": None, "import_cpu": None, "calls": [], "error": None}
mark = MARK
def emit():
    sys.stdout.flush()
    print(mark + json.dumps(out, default=str), flush=True)
class Context:
    def __init__(self, deadline):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "fn")
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        self.aws_request_id = os.urandom(16).hex()
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = deadline
    def get_remaining_time_in_millis(self):
        return max(int((self._deadline - time.time()) * 1000), 0)
module_name, _, attr = spec["handler"].rpartition(".")
try:
    t0, c0 = time.perf_counter(), time.process_time()
    handler = getattr(importlib.import_module(module_name), attr)
    out["import_s"], out["import_cpu"] = time.perf_counter() - t0, time.process_time() - c0
except BaseException:
    out["error"] = "import failed: " + traceback.format_exc()[-3000:]
    emit()
    raise SystemExit(0)
for event in spec["events"]:
    os.environ["_X_AMZN_TRACE_ID"] = "Root=1-%08x-%s;Parent=%s;Sampled=1" % (
        int(time.time()), os.urandom(12).hex(), os.urandom(8).hex())
    context = Context(time.time() + spec["timeout"])
    print(mark + "call", flush=True)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        response = handler(event, context)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        out["calls"].append({"seconds": seconds, "cpu": cpu, "response": response})
    except BaseException:
        out["error"] = "invocation %d failed: %s" % (len(out["calls"]) + 1, traceback.format_exc()[-3000:])
        break
emit()
"""


@dataclasses.dataclass
class Probe:
    imported: Timing | None
    calls: list[Timing]
    error: str | None


def lambda_environment(
    fn: Any, wiring: Any, cloud: Cloud, runtime: Path, home: Path, *, tracing: bool
) -> dict[str, str]:
    """The environment Lambda gives the function (names from its wiring), pointed at moto."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),  # empty: no ~/.aws of this machine
        "LAMBDA_TASK_ROOT": str(fn.code),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": wiring.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{wiring.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **FAKE_CREDENTIALS,
        **wiring.env,
        "AWS_ENDPOINT_URL": cloud.endpoint_url,
        "POWERTOOLS_LOG_LEVEL": "INFO",  # as template.yaml sets it; check_work() reads the "object handled" lines
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def run_probe(
    python: list[str],
    fn: Any,
    events: list[dict[str, Any]],
    env: dict[str, str],
    *,
    back: Sequence[Path],
    timeout: float = 600,
    flags: Sequence[str] = (),
) -> tuple[Probe, str]:
    """One fresh clean process; the probe's figures and its output (the function's logs, -X importtime's)."""
    front = [fn.code, *(layer.path / "python" for layer in fn.layers)]
    code = PROBE.replace("PRELOADED", repr(RUNTIME_PRELOADED)).replace("MARK", repr(MARK))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec_file:
        json.dump(
            {
                "handler": fn.handler,
                "events": events,
                "timeout": 900,
                "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{env['AWS_LAMBDA_FUNCTION_NAME']}",
            },
            spec_file,
        )
    try:
        run = subprocess.run(
            [
                *python,
                "-I",
                "-S",
                "-B",
                *flags,
                "-c",
                code,
                spec_file.name,
                *(":".join(map(str, p)) for p in (front, back)),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(fn.code),
            timeout=timeout,
            check=False,
        )
    finally:
        os.unlink(spec_file.name)
    results = [line[len(MARK) :] for line in run.stdout.splitlines() if line.startswith(MARK) and line != MARK + "call"]
    if not results:
        return Probe(None, [], f"the probe crashed (exit {run.returncode}): {run.stderr[-2000:]}"), run.stdout
    data = json.loads(results[-1])
    imported = Timing(data["import_s"], data["import_cpu"]) if data["import_s"] is not None else None
    probe = Probe(imported, [Timing(c["seconds"], c["cpu"]) for c in data["calls"]], data["error"])
    if probe.error is None:
        probe.error = check_work(fn.logical_id, data["calls"], run.stdout)
    return probe, run.stdout + run.stderr


def check_work(logical_id: str, calls: list[dict[str, Any]], stdout: str) -> str | None:
    """None when each call did its work: its file processed (Powertools' "object handled" log line), no batch item
    failure; for the evaluator, windows evaluated on the first tick."""
    chunks = stdout.split(MARK + "call")[1:]
    for i, call in enumerate(calls, start=1):
        chunk = chunks[i - 1] if i <= len(chunks) else ""
        response = call.get("response")
        if logical_id == LOGICAL_IDS["evaluate"]:
            if i == 1 and not (isinstance(response, dict) and response.get("queued")):
                return f"the first tick queued no model: {response}"
            continue
        if logical_id == LOGICAL_IDS["judge"]:
            summary = response.get("summary", {}) if isinstance(response, dict) else {}
            if i == 1 and not summary.get("windows"):
                return f"the first evaluation evaluated no window: {response}"
            if isinstance(response, dict) and response.get("batchItemFailures"):
                return f"invocation {i}: batch item failures {response['batchItemFailures']}"
            continue
        if isinstance(response, dict) and response.get("batchItemFailures"):
            return f"invocation {i}: batch item failures {response['batchItemFailures']}"
        statuses = []
        for line in chunk.splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("message") == "object handled":
                    statuses.append(record.get("status"))
        if statuses != ["processed"]:
            return f"invocation {i}: the file was not processed (logged statuses: {statuses or 'none'})"
    return None


# --------------------------------------------------------------------------------------------------------------
# python -X importtime in the clean environment: where the import time goes, by top-level package
# --------------------------------------------------------------------------------------------------------------


def importtime_by_package(stderr: str) -> list[tuple[str, float]]:
    """Self time (s) summed per top-level package from ``-X importtime`` output, largest first; the standard
    library as one entry."""
    totals: dict[str, float] = {}
    stdlib = sys.stdlib_module_names
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        top = parts[2].strip().split(".")[0]
        key = "(standard library)" if top in stdlib or top.startswith("_") else top
        totals[key] = totals.get(key, 0.0) + int(parts[0]) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])


def importtime_tree(stderr: str, top: int = 15) -> list[tuple[str, float]]:
    """The modules with the largest cumulative import time (s), as ``-X importtime`` reports them."""
    rows = []
    for line in stderr.splitlines():
        parts = line[len("import time:") :].split("|") if line.startswith("import time:") else []
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].rstrip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda kv: -kv[1])[:top]


# --------------------------------------------------------------------------------------------------------------


def bench_build(args: argparse.Namespace, names: list[str]) -> int:
    built = _load_built()
    build = built.read_build(args.build_dir)
    by_id = {fn.logical_id: fn for fn in build.functions}
    missing = [LOGICAL_IDS[n] for n in names if LOGICAL_IDS[n] not in by_id]
    if missing:
        raise SystemExit(f"not in {args.build_dir}/template.yaml: {', '.join(missing)}")
    python = find_python312(args.python)
    runtime = runtime_standin(args.build_dir.parent / "coldstart-runtime", python)
    layer_sizes: dict[str, int] = {}
    results = {n: Result(n) for n in names}
    for name in names:
        fn = by_id[LOGICAL_IDS[name]]
        for layer in fn.layers:
            layer_sizes.setdefault(layer.logical_id, built.tree_size(layer.path))
        size = built.tree_size(fn.code) + sum(layer_sizes[layer.logical_id] for layer in fn.layers)
        results[name].size_mb = size / 1e6

    version = subprocess.run([*python, "-I", "-c", "import sys; print(sys.version.split()[0])"], **_QUIET).stdout
    print(
        f"Cold start in a clean Python {version.strip()} ({' '.join(python)} -I -S -B): sys.path = the function's "
        f"code, its layers' python/ ({args.build_dir}), the standard library, boto3 from {runtime} (the runtime's "
        f"stand-in); X-Ray tracing {'on' if args.tracing else 'off'}; AWS = moto. Best of {args.repeat} rounds.",
        flush=True,
    )
    rounds: dict[str, list[Probe]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="coldstart-home-") as home, moto_server() as endpoint:
        # every round needs config → baseline → ingest → labels → evaluate, whatever subset is reported
        chain = [n for n in FUNCTIONS if FUNCTIONS.index(n) <= max(FUNCTIONS.index(m) for m in names)]
        for round_no in range(args.repeat):
            cloud = provision(endpoint)
            events = upload_round(cloud, time.time(), seed=round_no)
            for name in chain:
                fn = by_id[LOGICAL_IDS[name]]
                env = lambda_environment(
                    fn, cloud.functions[fn.logical_id], cloud, runtime, Path(home), tracing=args.tracing
                )
                probe, _stdout = run_probe(python, fn, events[name], env, back=[runtime])
                if name in rounds:
                    rounds[name].append(probe)
                status = probe.error.splitlines()[0][:100] if probe.error else "ok"
                print(
                    f"  round {round_no + 1}/{args.repeat} {name:<9} import {_cell(probe.imported)} s, calls "
                    f"{', '.join(map(_cell, probe.calls)) or '-'} s: {status}",
                    file=sys.stderr,
                    flush=True,
                )
                if probe.error and args.verbose:
                    print(probe.error, file=sys.stderr)
        if args.importtime:
            cloud = provision(endpoint)
            importtimes = {}
            for name in names:
                fn = by_id[LOGICAL_IDS[name]]
                env = lambda_environment(
                    fn, cloud.functions[fn.logical_id], cloud, runtime, Path(home), tracing=args.tracing
                )
                _probe, output = run_probe(python, fn, [], env, back=[runtime], flags=["-X", "importtime"])
                importtimes[name] = output.split(MARK + "preloaded", 1)[-1]  # not the runtime's bootstrap

    for name in names:
        good = [p for p in rounds[name] if p.error is None and p.imported is not None and len(p.calls) == 2]
        result = results[name]
        if not good:
            result.error = next((p.error for p in rounds[name] if p.error), "no measurement")
            continue
        result.imported = best([p.imported for p in good if p.imported is not None])
        result.first = best([p.calls[0] for p in good])
        result.total = best([p.imported + p.calls[0] for p in good if p.imported is not None])
        result.warm = best([p.calls[1] for p in good])
    print()
    print(render_table(list(results.values()), repeat=args.repeat))
    print(
        "\nimport s: `import app` (INIT, for our code); first invocation s: the first `handler(event, context)` "
        "alone (boto3 clients, lazy imports, the work); warm: a second event in the same process (the evaluator's: "
        "the next tick, nothing new)."
    )
    if args.importtime:
        for name in names:
            print(f"\n-X importtime, {name}: self time by top-level package (s; importtime's overhead included)")
            for package, seconds in importtime_by_package(importtimes[name])[:12]:
                print(f"  {seconds:7.3f}  {package}")
            print("  largest cumulative:")
            for module, seconds in importtime_tree(importtimes[name]):
                print(f"  {seconds:7.3f}  {module}")
    return 1 if any(r.error for r in results.values()) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes (rounds) per function; best kept")
    parser.add_argument("--build", action="store_true", help="run `bash infra/build.sh` first")
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument(
        "--functions", default=",".join(FUNCTIONS), help="comma-separated subset of " + ", ".join(FUNCTIONS)
    )
    parser.add_argument("--python", help="the Python 3.12 command (default: pyenv's 3.12.1, else python3.12)")
    parser.add_argument("--no-tracing", dest="tracing", action="store_false", help="POWERTOOLS_TRACE_DISABLED=true")
    parser.add_argument("--importtime", action="store_true", help="also break the import down (-X importtime)")
    parser.add_argument("--venv", action="store_true", help="only the import in the project venv (no build needed)")
    parser.add_argument("--verbose", action="store_true", help="print every error in full")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.functions.split(",") if n.strip()]
    unknown = sorted(set(names) - set(FUNCTIONS))
    if unknown:
        parser.error(f"unknown function(s) {', '.join(unknown)}; choose from {', '.join(FUNCTIONS)}")
    if args.build:
        subprocess.run(["bash", str(ROOT / "infra" / "build.sh")], cwd=ROOT, check=True)
    if not args.venv and (args.build_dir / "template.yaml").is_file():
        return bench_build(args, names)
    if not args.venv:
        print(
            f"No `sam build` output in {args.build_dir}: run `python -m bench.coldstart --build` (or `make build`) to "
            "measure what Lambda runs. Falling back to the handler import in the project venv, which is NOT the "
            "Lambda environment (other packages, bytecode caches, no layers).\n"
        )
    times = {name: import_seconds(name, args.repeat) for name in names}
    print(render_venv_table(times, repeat=args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
