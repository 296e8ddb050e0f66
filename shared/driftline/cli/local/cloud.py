"""The embedded local cloud: a moto server on 127.0.0.1, Driftline's resources provisioned from template.yaml,
S3 notifications delivered to the queues, an event pump handing SQS batches to the very handlers Lambda runs,
and the evaluator ticking on the template's schedule.

Over 400 lines: one embedded cloud: the stack's resources, their event wiring and the function runners share its state.

    with LocalCloud() as cloud:            # or: driftline local up
        boto3.client("s3", endpoint_url=cloud.endpoint_url).put_object(...)
        cloud.wait_idle()
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from driftline.cli.local.state import clear_state, write_state
from driftline.cli.local.template import Stack, load_template
from driftline.core.errors import DriftlineError

log = logging.getLogger("driftline.local")

STACK_NAME = "driftline-local"
REGION = "us-east-1"
FANOUT_ENV = "DRIFTLINE_EVALUATE_QUEUE_URL"  # a scheduled function with it queues work for the function of that queue
_LOAD_LOCK = threading.Lock()
RETRY_VISIBILITY = 1  # seconds before a failed message is visible again (Lambda would wait out the timeout)


def project_root() -> Path:
    """The directory holding template.yaml: DRIFTLINE_HOME, else the source checkout this package runs from."""
    env = os.environ.get("DRIFTLINE_HOME")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").is_file() and (parent / "functions").is_dir():
            return parent
    raise FileNotFoundError("template.yaml not found: set DRIFTLINE_HOME to the Driftline checkout")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def client_host(bind: str) -> str:
    """The address a client on this machine uses for a server bound to ``bind`` (``0.0.0.0``: every interface)."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(bind, bind)  # noqa: S104


def check_port(host: str, port: int) -> None:
    """Refuse a port already in use in one line (else moto fails to bind, and the local cloud would provision the
    server already listening there: ResourceInUseException)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as err:
            raise DriftlineError(
                f"port {port} on {host} is in use ({err.strerror}): another `driftline local up`? pass --port N"
            ) from None


def rate_seconds(expression: str) -> float:
    """``rate(1 minute)``, ``rate(5 minutes)``, ``rate(1 hour)`` → seconds (cron expressions: 60)."""
    m = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not m:
        return 60.0
    n, unit = int(m.group(1)), m.group(2).rstrip("s")
    return float(n * {"minute": 60, "hour": 3600, "day": 86400}[unit])


def clear_metrics() -> None:
    """Forget the Powertools metrics of the invocation that just ended. With POWERTOOLS_METRICS_DISABLED (set here:
    there is no CloudWatch) ``log_metrics`` publishes nothing and clears nothing, so the values pile up across
    invocations, and Powertools prints them to stdout anyway each time one metric reaches 100 values (every 100
    files): stray EMF lines after ``local up``'s ready line. Lambda starts each execution environment with its
    own, flushed at the end of each invocation."""
    from driftline.runtime.lambda_runtime import metrics

    metrics.clear_metrics()


@dataclass
class FunctionWiring:
    logical: str
    name: str
    code_dir: Path
    handler: str
    env: dict[str, str]
    queue_url: str | None = None
    queue_arn: str | None = None
    batch_size: int = 10
    partial_failures: bool = False
    schedule: str | None = None
    module: ModuleType | None = None
    timeout_s: float = 900.0  # the template's Timeout: what the context's remaining time counts down from

    def load(self, *, fresh: bool = False) -> Callable[[dict[str, Any], Any], Any]:
        """The handler; ``fresh``: from a module of its own (a concurrent instance: the handler's batch
        processor holds the batch it is working on, so two pumps of one function must not share it)."""
        module_name, func = self.handler.rsplit(".", 1)
        with _LOAD_LOCK:  # one handler module at a time: the pumps' threads importing at once can deadlock
            return self._load(module_name, func, fresh=fresh)

    def _load(self, module_name: str, func: str, *, fresh: bool = False) -> Callable[[dict[str, Any], Any], Any]:
        if self.module is None or fresh:
            spec = importlib.util.spec_from_file_location(
                f"driftline_fn_{self.logical}", self.code_dir / f"{module_name}.py"
            )
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {self.code_dir}/{module_name}.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if fresh and self.module is not None:
                return getattr(module, func)  # type: ignore[no-any-return]
            self.module = module
        return getattr(self.module, func)  # type: ignore[no-any-return]


class LambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    def __init__(self, fn: FunctionWiring, region: str) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{fn.name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = "local"
        self._deadline = time.time() + fn.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.time()) * 1000), 0)


@dataclass
class LocalCloud:
    port: int = 0
    host: str = "127.0.0.1"
    tick: float | None = None
    root: Path = field(default_factory=project_root)
    stack_name: str = STACK_NAME
    region: str = REGION
    quiet_logs: bool = True
    pumps: bool = True  # False: notifications wait in the queues (for `sam local invoke` or a test to deliver)
    concurrency: int = 1  # invocations at once per SQS-fed function (Lambda: up to ScalingConfig.MaximumConcurrency)

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)
        self.endpoint_url = f"http://{client_host(self.host)}:{self.port}"
        self.functions: dict[str, FunctionWiring] = {}
        self.outputs: dict[str, str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._eval_lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.summaries: dict[str, list[dict[str, Any]]] = {}  # function → the "summary" of each batch's response
        self._busy_fn: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        self._environment()
        # moto in its own process: the handlers here and the AWS endpoint there use both cores
        self._server = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "driftline.cli.local.motoserver", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        self._wait_up()
        self.provision()
        for fn in self.functions.values():
            if fn.queue_url and self.pumps:
                for i in range(max(1, self.concurrency)):
                    self._spawn(self._pump, fn, i)
            elif fn.schedule and self.tick != 0:
                self._spawn(self._scheduler, fn)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        if self._server is not None:
            self._server.terminate()
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
            self._server = None
        from driftline.runtime.container import reset_container

        reset_container()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ready_line(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "bucket": self.outputs["DataBucketName"],
            "table": self.outputs["MetricsTableName"],
            "topic_arn": self.outputs["AlertsTopicArn"],
            "event_bus": self.outputs["EventBusName"],
        }

    def client(self, service: str) -> Any:
        client: Any = boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region)  # type: ignore[call-overload]
        return client

    def _environment(self) -> None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ["AWS_DEFAULT_REGION"] = self.region
        os.environ["AWS_REGION"] = self.region
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ.setdefault("POWERTOOLS_DEV", "false")
        if self.quiet_logs:
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

    def _wait_up(self) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            if self._server is not None and self._server.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self._server.returncode} on {self.endpoint_url}")
            with contextlib.suppress(OSError), socket.create_connection((client_host(self.host), self.port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"moto server did not start on {self.endpoint_url}")

    # -- provisioning from template.yaml -------------------------------------------------------------------------

    def provision(self) -> None:
        stack = Stack(load_template(self.root / "template.yaml"), name=self.stack_name, region=self.region)
        sqs, sns, ddb, s3 = (self.client(s) for s in ("sqs", "sns", "dynamodb", "s3"))
        urls: dict[str, str] = {}
        queues = stack.of_type("AWS::SQS::Queue")
        # dead-letter queues first: a queue's redrive policy names its DLQ
        queues.sort(key=lambda q: "RedrivePolicy" in (stack.resources[q].get("Properties") or {}))
        for q in queues:
            props = stack.properties(q)
            attrs: dict[str, str] = {
                k: str(props[k])
                for k in (
                    "VisibilityTimeout",
                    "MessageRetentionPeriod",
                    "DelaySeconds",
                    "ReceiveMessageWaitTimeSeconds",
                )
                if k in props
            }
            if "RedrivePolicy" in props:
                attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            name = stack.physical_name(q)
            urls[name] = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        for t in stack.of_type("AWS::SNS::Topic"):
            sns.create_topic(Name=stack.physical_name(t))
        bus = str(stack.ref("EventBusName"))
        if bus != "default":  # moto, like AWS, has the account's default bus already
            events = self.client("events")
            with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
                events.create_event_bus(Name=bus)
        for t in stack.of_type("AWS::DynamoDB::Table"):
            self._create_table(ddb, stack, t)
        for b in stack.of_type("AWS::S3::Bucket"):
            self._create_bucket(s3, stack, b)
        for f in stack.of_type("AWS::Serverless::Function"):
            self.functions[f] = self._wire(stack, f, urls)
        outputs = stack.template.get("Outputs") or {}
        self.outputs = {k: self._url(str(stack.resolve(v["Value"])), urls) for k, v in outputs.items()}
        self._register_stack()
        env = next(iter(self.functions.values())).env if self.functions else {}
        for k, v in env.items():
            os.environ[k] = v
        for fn in self.functions.values():  # one process, one container: the settings only some functions have
            for k, v in fn.env.items():
                if k.startswith("DRIFTLINE_"):
                    os.environ[k] = v  # (not setdefault: a cloud started earlier in this process had other URLs)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        os.environ["POWERTOOLS_SERVICE_NAME"] = "driftline-local"  # one process runs every function
        if self.quiet_logs:
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

    def _register_stack(self) -> None:
        """A CloudFormation stack of the local cloud's name holding the template's outputs, so that ``--stack``
        (the CLI's, or ``aws cloudformation describe-stacks``) resolves against the local cloud as against AWS."""
        body = {
            "Resources": {"Provisioned": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {k: {"Value": v} for k, v in self.outputs.items()},
        }
        self.client("cloudformation").create_stack(StackName=self.stack_name, TemplateBody=json.dumps(body))

    @staticmethod
    def _url(value: str, urls: dict[str, str]) -> str:
        return urls.get(value.split(":", 1)[1], value) if value.startswith("__queue_url__:") else value

    def _create_table(self, ddb: Any, stack: Stack, logical: str) -> None:
        p = stack.properties(logical)
        kwargs: dict[str, Any] = {
            "TableName": stack.physical_name(logical),
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if p.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
        if p.get("SSESpecification"):
            kwargs["SSESpecification"] = {"Enabled": bool(p["SSESpecification"].get("SSEEnabled", True))}
        ddb.create_table(**kwargs)
        ttl = p.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={
                    "Enabled": str(ttl.get("Enabled", True)).lower() == "true",
                    "AttributeName": ttl["AttributeName"],
                },
            )

    def _create_bucket(self, s3: Any, stack: Stack, logical: str) -> None:
        p = stack.properties(logical)
        name = stack.physical_name(logical)
        s3.create_bucket(Bucket=name)
        if p.get("VersioningConfiguration"):
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
            )
        if p.get("BucketEncryption"):
            rules = [
                {
                    ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                    for k, v in rule.items()
                }
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]  # CloudFormation's names → the API's
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if p.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        notif = p.get("NotificationConfiguration") or {}
        queue_cfgs = []
        for qc in notif.get("QueueConfigurations", []):
            qcfg: dict[str, Any] = {"QueueArn": qc["Queue"], "Events": [qc["Event"]]}
            key_rules: Any = ((qc.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if key_rules:
                qcfg["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in key_rules]}}
            queue_cfgs.append(qcfg)
        if queue_cfgs:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": queue_cfgs}
            )

    def _wire(self, stack: Stack, logical: str, urls: dict[str, str]) -> FunctionWiring:
        p = stack.properties(logical)
        env = {k: self._url(str(v), urls) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
        fn = FunctionWiring(
            logical,
            stack.physical_name(logical),
            self.root / str(p.get("CodeUri", ".")),
            str(p.get("Handler", "app.handler")),
            env,
            timeout_s=float(p.get("Timeout", 900)),
        )
        for ev in (p.get("Events") or {}).values():
            props = ev.get("Properties") or {}
            if ev.get("Type") == "SQS":
                fn.queue_arn = str(props["Queue"])
                fn.queue_url = urls[fn.queue_arn.rsplit(":", 1)[1]]
                fn.batch_size = int(props.get("BatchSize", 10))
                fn.partial_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
            elif ev.get("Type") in ("ScheduleV2", "Schedule"):
                fn.schedule = str(props.get("ScheduleExpression", "rate(1 minute)"))
        return fn

    # -- the event pump ------------------------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], fn: FunctionWiring, *args: Any) -> None:
        name = f"pump-{fn.logical}" + "".join(f"-{a}" for a in args)
        t = threading.Thread(target=target, args=(fn, *args), name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _pump(self, fn: FunctionWiring, instance: int = 0) -> None:
        """One instance of ``fn`` (``instance`` > 0: a concurrent one, with its own handler module)."""
        sqs = self.client("sqs")
        handler = fn.load(fresh=instance > 0)
        while not self._stop.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=fn.queue_url,
                    MaxNumberOfMessages=min(fn.batch_size, 10),
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception:  # the server is stopping
                if self._stop.is_set():
                    return
                log.exception("receive failed")
                time.sleep(0.5)
                continue
            messages = resp.get("Messages", [])
            if not messages:
                continue
            with self._busy_lock:
                self._busy += 1
                self._busy_fn[fn.logical] = self._busy_fn.get(fn.logical, 0) + 1
            try:
                self._invoke_batch(sqs, fn, handler, messages)
            finally:
                with self._busy_lock:
                    self._busy -= 1
                    self._busy_fn[fn.logical] -= 1

    def _invoke_batch(self, sqs: Any, fn: FunctionWiring, handler: Any, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._sqs_record(fn, m) for m in messages]}
        failed: set[str] = set()
        try:
            result = handler(event, LambdaContext(fn, self.region))
            if fn.partial_failures and isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            if isinstance(result, dict) and isinstance(result.get("summary"), dict):
                self.summaries.setdefault(fn.logical, []).append(result["summary"])
        except Exception:
            log.exception("function %s failed on a batch of %d", fn.name, len(messages))
            failed = {m["MessageId"] for m in messages}
        finally:
            clear_metrics()
        with self._busy_lock:  # pumps of one function run concurrently
            self.invocations[fn.logical] = self.invocations.get(fn.logical, 0) + 1
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=fn.queue_url,
                Entries=[{"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(done[i : i + 10])],
            )
        for m in messages:
            if m["MessageId"] in failed:
                with self._busy_lock:
                    self.failures[fn.logical] = self.failures.get(fn.logical, 0) + 1
                sqs.change_message_visibility(
                    QueueUrl=fn.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=RETRY_VISIBILITY
                )

    def _sqs_record(self, fn: FunctionWiring, m: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": fn.queue_arn,
            "awsRegion": self.region,
        }

    def _scheduler(self, fn: FunctionWiring) -> None:
        period = self.tick if self.tick is not None else rate_seconds(fn.schedule or "rate(1 minute)")
        while not self._stop.wait(period):
            self.invoke_scheduled(fn.logical)

    def invoke_scheduled(self, logical: str | None = None, *, at: float | None = None) -> Any:
        """Run a scheduled function now (the evaluator), as EventBridge Scheduler would."""
        fn = self.functions[logical] if logical else next(f for f in self.functions.values() if f.schedule)
        event: dict[str, Any] = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": self.region,
            "resources": [],
            "detail": {},
        }
        if at is not None:
            event["at"] = at
        with self._eval_lock:
            workers = [f for f in self.functions.values() if f.queue_url and f.queue_url == fn.env.get(FANOUT_ENV)]
            seen = {w.logical: len(self.summaries.get(w.logical, [])) for w in workers}
            try:
                answer = fn.load()(event, LambdaContext(fn, self.region))
            except Exception:
                log.exception("scheduled function %s failed", fn.name)
                return None
            finally:
                clear_metrics()
            if not workers or not isinstance(answer, dict) or "queued" not in answer:
                return answer
            # fanned out: the tick is over when its workers have drained the queue it filled
            for w in workers:
                self.wait_idle(functions=[w.logical])
            return self._fanout_answer(
                answer, [s for w in workers for s in self.summaries.get(w.logical, [])[seen[w.logical] :]]
            )

    @staticmethod
    def _fanout_answer(answer: dict[str, Any], summaries: list[dict[str, Any]]) -> dict[str, Any]:
        """The dispatcher's answer with its workers' summaries added up (as one run without fan-out answers)."""
        out = dict(answer)
        for k in ("windows", "alerts", "windows_left", "busy"):
            total = sum(int(s.get(k, 0)) for s in summaries)
            if total or k in ("windows", "alerts"):
                out[k] = total
        out["worker_batches"] = len(summaries)
        return out

    def queue_depths(self, functions: list[str] | None = None) -> dict[str, int]:
        sqs = self.client("sqs")
        out = {}
        for fn in self.functions.values():
            if fn.queue_url and (functions is None or fn.logical in functions):
                a = sqs.get_queue_attributes(
                    QueueUrl=fn.queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                out[fn.logical] = int(a["ApproximateNumberOfMessages"]) + int(
                    a["ApproximateNumberOfMessagesNotVisible"]
                )
        return out

    def wait_idle(self, timeout: float = 600.0, *, functions: list[str] | None = None) -> None:
        """Block until every queue (or those of ``functions``) is drained and no batch of theirs is in flight."""
        deadline = time.time() + timeout
        quiet = 0
        while time.time() < deadline:
            with self._busy_lock:
                busy = self._busy if functions is None else sum(self._busy_fn.get(f, 0) for f in functions)
            if busy == 0 and not any(self.queue_depths(functions).values()):
                quiet += 1
                if quiet >= 2:
                    return
            else:
                quiet = 0
            time.sleep(0.2)
        raise TimeoutError(f"the local cloud is still busy after {timeout:.0f} s: {self.queue_depths()}")


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[LocalCloud]:
    cloud = LocalCloud(**kwargs).start()
    try:
        yield cloud
    finally:
        cloud.stop()


def serve(*, port: int = 4566, tick: float | None = None, host: str = "127.0.0.1", pumps: bool = True) -> int:
    """``driftline local up``: print the ready line (the only line on stdout: every log goes to stderr), leave the
    settings where the CLI finds them (``driftline.cli.local.state``), serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    check_port(host, port)
    # stdout keeps the ready line alone: file descriptor 1 becomes stderr for everything else (the functions'
    # Powertools logs and metrics, warnings), the ready line goes to a copy of the original stdout
    sys.stdout.flush()
    ready_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cloud = LocalCloud(port=port, host=host, tick=tick, pumps=pumps).start()
    try:
        write_state(cloud.ready_line, stack=cloud.stack_name, root=cloud.root, host=host)
        ready_out.write(json.dumps(cloud.ready_line) + "\n")
        ready_out.close()
        while not stop.wait(0.5):
            pass
    finally:
        clear_state()
        cloud.stop()
        print("driftline local cloud stopped", file=sys.stderr, flush=True)
    return 0
