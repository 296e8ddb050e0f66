"""``driftline backfill --model ID [--prefix P] [--since T]``: objects already in the bucket, processed (SPEC §5).

The work is ``driftline.services.backfill``; here: the queues' URLs and the progress line. The queues are those the
bucket's own notifications name for ``predictions/`` and ``labels/`` (so nothing more needs to be told), unless
``--ingest-queue-url``/``--labels-queue-url`` (or ``DRIFTLINE_INGEST_QUEUE_URL``/``DRIFTLINE_LABELS_QUEUE_URL``)
or the stack's outputs ``IngestQueueUrl``/``LabelsQueueUrl`` give them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from driftline.core.errors import DriftlineError

OUTPUTS = {"predictions": "IngestQueueUrl", "labels": "LabelsQueueUrl"}


def queue_urls(args: argparse.Namespace, container: Any, kinds: list[str]) -> dict[str, str]:
    """The URL of the queue of each of ``kinds``: flags/environment, else the stack's outputs, else the bucket's
    notification configuration (the queue S3 itself notifies for that prefix)."""
    urls = {k: v for k, v in {"predictions": args.ingest_queue_url, "labels": args.labels_queue_url}.items() if v}
    if args.stack and any(k not in urls for k in kinds):
        from driftline.cli.stack import stack_outputs

        outputs = stack_outputs(args.stack, endpoint_url=args.endpoint_url, region=args.region)
        urls.update({k: outputs[o] for k, o in OUTPUTS.items() if k not in urls and o in outputs})
    missing = [k for k in kinds if k not in urls]
    if missing:
        notified = container.objects.notified_queues()
        sqs = container.client("sqs")
        for kind in missing:
            arn = notified.get(f"{kind}/")
            if arn is None:
                raise DriftlineError(
                    f"the bucket {container.settings.bucket!r} notifies no queue for {kind}/ objects: "
                    f"pass --{'ingest' if kind == 'predictions' else 'labels'}-queue-url"
                )
            _, _, _, _region, account, name = arn.split(":", 5)
            urls[kind] = str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    return urls


def progress_printer(quiet: bool) -> Callable[[str], None]:
    """One progress line on stderr, rewritten in place on a terminal (a line each otherwise)."""
    start = time.monotonic()
    tty = sys.stderr.isatty()

    def say(line: str) -> None:
        if quiet:
            return
        text = f"backfill · {time.monotonic() - start:5.0f} s · {line}"
        sys.stderr.write(("\r\x1b[2K" + text) if tty else text + "\n")
        sys.stderr.flush()

    return say


def cmd_backfill(args: argparse.Namespace) -> int:
    from driftline.adapters.sqs import SqsQueue
    from driftline.cli.main import _container, parse_time
    from driftline.services.backfill import BackfillService, recompute

    c = _container(args)
    since = parse_time(args.since) if args.since else None
    kinds = ["predictions"] + ([] if args.no_labels else ["labels"])
    say = progress_printer(args.quiet)
    if args.recompute:
        if since is None:
            raise DriftlineError("--recompute needs --since: the first window to compute again")
        windows = recompute(c.store, c.registry, args.model, since=since, now=time.time())
        say(f"{len(windows):,} windows marked for evaluation")
        if not args.quiet:
            sys.stderr.write("\n")
        print(json.dumps({"model_id": args.model, "windows_recomputed": len(windows)}))
        return 0
    urls = queue_urls(args, c, kinds)
    queues = {k: SqsQueue(c.client("sqs"), u) for k, u in urls.items()}
    service = BackfillService(
        c.store, c.objects, queues, bucket=c.settings.bucket, region=c.settings.region or "us-east-1",
        rate=args.rate, progress=say,
    )  # fmt: skip
    report = service.run(args.model, prefix=args.prefix, since=since, kinds=kinds, wait_timeout=args.wait_timeout)
    if not args.quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    print(json.dumps(report.to_dict(), indent=2))
    return 1 if report.unfinished else 0


def add_parser(sub: Any, aws_options: Callable[[argparse.ArgumentParser], None]) -> None:
    bf = sub.add_parser(
        "backfill",
        help="process objects already in the bucket (idempotent: a file already counted is not counted again)",
    )
    bf.add_argument("--model", required=True)
    bf.add_argument("--prefix", default="", help="only keys below predictions/<model>/<prefix> (and labels/...)")
    bf.add_argument("--since", default=None, help="only objects last modified at or after this time (ISO-8601)")
    bf.add_argument("--rate", type=float, default=50.0, help="messages queued per second at most (default 50)")
    bf.add_argument("--no-labels", action="store_true", help="queue predictions/ only")
    bf.add_argument(
        "--wait-timeout", type=float, default=900.0,
        help="seconds to wait for the prediction files before queueing labels (default 900)",
    )  # fmt: skip
    bf.add_argument(
        "--recompute", action="store_true",
        help="queue nothing: evaluate again every window from --since with the configuration in force",
    )  # fmt: skip
    bf.add_argument("--quiet", action="store_true", help="no progress line")
    bf.add_argument("--ingest-queue-url", default=os.environ.get("DRIFTLINE_INGEST_QUEUE_URL"))
    bf.add_argument("--labels-queue-url", default=os.environ.get("DRIFTLINE_LABELS_QUEUE_URL"))
    aws_options(bf)
    bf.set_defaults(func=cmd_backfill)
