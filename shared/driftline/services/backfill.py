"""Backfill: objects already in the bucket, queued for processing as if they had just arrived (SPEC §5).

Each object under ``predictions/<model>/<prefix>`` (then ``labels/<model>/<prefix>``) becomes one message on the
queue its prefix notifies, with the body S3 → SQS itself sends (an ``ObjectCreated:Put`` event record, the key
URL-encoded, the ETag without quotes): the ingest path cannot tell a backfilled file from a live one, and its
exactly-once claim on (bucket, key, ETag) holds for both. Before queueing, the file records are read (one
BatchGetItem per 100 objects): a file already done, or failed for good, is not queued again, so a second run
queues nothing and counts nothing twice; a file whose processing is still open is queued (its claim lets one
attempt finish it, and its items are written under the same keys).

Labels join predictions by id, so labels are queued only once every prediction file queued by this run is
finished (the file records are polled): each label file then joins the predictions already there, in its own run.

Messages go out at most ``rate`` a second (ten to a request). ``recompute`` marks a model's windows over a time
range as changed, so the evaluator judges them again with the configuration in force (see README, "Scaling out").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import quote_plus

from driftline.core.errors import DriftlineError, InputError
from driftline.services.models import ModelRegistry, parse_key
from driftline.services.ports import ListedObject, MessageQueue, ObjectLister
from driftline.services.store import Store, file_id_for

KINDS = ("predictions", "labels")
CHECK_BATCH = 100  # file records read per BatchGetItem
FINISHED = ("done", "failed", "split")  # split: its parts are queued already
MAX_RECOMPUTE_WINDOWS = 100_000
T = TypeVar("T")


def s3_event_body(bucket: str, obj: ListedObject, *, region: str, now: float) -> str:
    """The SQS message body S3 sends for an ``ObjectCreated:Put`` of ``obj`` (event structure version 2.1)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "driftline-backfill"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "driftline-backfill", "x-amz-id-2": "driftline-backfill"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "driftline-backfill",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "driftline-backfill"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(obj.key, safe="/"),
                "size": obj.size,
                "eTag": obj.etag,
                "sequencer": f"{int(obj.last_modified * 1e6):016X}",
            },
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))


@dataclass
class KindReport:
    listed: int = 0  # objects under the prefix (newer than ``since``)
    queued: int = 0  # messages sent
    already: int = 0  # already done or failed for good: not queued again
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (key, reason): keys ingest would refuse


@dataclass
class BackfillReport:
    model_id: str
    kinds: dict[str, KindReport] = field(default_factory=dict)
    waited: float = 0.0  # seconds spent waiting for prediction files before queueing labels
    unfinished: int = 0  # prediction files still open when the wait ended (labels then not queued)
    recomputed: list[int] = field(default_factory=list)  # window starts marked for evaluation

    def to_dict(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            **{
                k: {"listed": r.listed, "queued": r.queued, "already_processed": r.already, "rejected": r.rejected}
                for k, r in self.kinds.items()
            },
            "unfinished_predictions": self.unfinished,
            "windows_recomputed": len(self.recomputed),
        }


class RateLimit:
    """At most ``rate`` events a second on average, from the first one (``timer`` monotonic, ``sleep`` injected)."""

    def __init__(self, rate: float, *, timer: Callable[[], float], sleep: Callable[[float], None]) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 messages a second, got {rate}")
        self.rate, self.timer, self.sleep = rate, timer, sleep
        self.start: float | None = None
        self.count = 0

    def take(self, n: int) -> None:
        if self.start is None:
            self.start = self.timer()
        self.count += n
        ahead = self.start + self.count / self.rate - self.timer()
        if ahead > 0:
            self.sleep(ahead)


class BackfillService:
    def __init__(
        self,
        store: Store,
        lister: ObjectLister,
        queues: Mapping[str, MessageQueue],
        *,
        bucket: str,
        region: str = "us-east-1",
        rate: float = 50.0,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.lister, self.queues, self.bucket, self.region = store, lister, queues, bucket, region
        self.clock, self.timer, self.sleep = clock, timer, sleep
        self.limit = RateLimit(rate, timer=timer, sleep=sleep)
        self.progress = progress or (lambda line: None)

    def run(
        self,
        model_id: str,
        *,
        prefix: str = "",
        since: float | None = None,
        kinds: Sequence[str] = KINDS,
        wait_timeout: float = 900.0,
        poll: float = 2.0,
    ) -> BackfillReport:
        """Queue the model's existing objects (see the module docstring). ``prefix``: a path below
        ``<kind>/<model>/``; ``since``: only objects last modified at or after it (epoch seconds)."""
        if prefix.startswith("/") or ".." in prefix.split("/"):
            raise InputError(f"--prefix must be a relative path below <kind>/{model_id}/, got {prefix!r}")
        report = BackfillReport(model_id)
        for kind in kinds:
            if kind not in self.queues:
                raise DriftlineError(f"no queue for {kind}/ objects: pass its queue URL (see driftline backfill -h)")
        queued_predictions: list[str] = []
        for kind in kinds:
            if kind == "labels" and queued_predictions:
                report.waited, report.unfinished = self._wait_finished(queued_predictions, wait_timeout, poll)
                if report.unfinished:
                    self.progress(
                        f"{report.unfinished:,} prediction files still processing after {report.waited:.0f} s: "
                        "labels not queued (run the backfill again later: nothing is counted twice)"
                    )
                    break
            kr = report.kinds.setdefault(kind, KindReport())
            ids = self._queue_kind(model_id, kind, f"{kind}/{model_id}/{prefix}", since, kr)
            if kind == "predictions":
                queued_predictions = ids
        return report

    def _queue_kind(self, model_id: str, kind: str, prefix: str, since: float | None, kr: KindReport) -> list[str]:
        queue = self.queues[kind]
        queued_ids: list[str] = []
        for page in _chunks(self._eligible(prefix, since, kr), CHECK_BATCH):
            ids = [file_id_for(self.bucket, o.key, o.etag) for o in page]
            statuses = self.store.file_statuses(ids)
            finished = {i for i, st in statuses.items() if st in FINISHED}
            todo = [(fid, o) for fid, o in zip(ids, page, strict=True) if fid not in finished]
            kr.already += len(page) - len(todo)
            now = self.clock()
            for chunk in _chunks(todo, 10):
                self.limit.take(len(chunk))
                queue.send_batch([s3_event_body(self.bucket, o, region=self.region, now=now) for _, o in chunk])
                kr.queued += len(chunk)
                queued_ids += [fid for fid, _ in chunk]
            self.progress(
                f"{kind}: {kr.listed:,} listed · {kr.queued:,} queued · {kr.already:,} already processed"
                + (f" · {len(kr.rejected):,} rejected" if kr.rejected else "")
            )
        return queued_ids

    def _eligible(self, prefix: str, since: float | None, kr: KindReport) -> Iterator[ListedObject]:
        for obj in self.lister.list_objects(prefix):
            if obj.key.endswith("/") or (since is not None and obj.last_modified < since):
                continue  # a "folder" marker, or older than --since
            kr.listed += 1
            try:
                parse_key(self.bucket, obj.key, obj.etag, obj.size, encoded=False)
            except InputError as err:
                kr.rejected.append((obj.key, err.reason))
                continue
            yield obj

    def _wait_finished(self, file_ids: list[str], timeout: float, poll: float) -> tuple[float, int]:
        """Poll the file records until every one is finished; (seconds waited, files still open)."""
        start = self.timer()
        open_ids = list(file_ids)
        while True:
            still: list[str] = []
            for chunk in _chunks(open_ids, CHECK_BATCH):
                done = {i for i, st in self.store.file_statuses(chunk).items() if st in FINISHED}
                still += [i for i in chunk if i not in done]
            open_ids = still
            waited = self.timer() - start
            if not open_ids or waited >= timeout:
                return waited, len(open_ids)
            self.progress(f"waiting for {len(open_ids):,} prediction files before the labels · {waited:.0f} s")
            self.sleep(poll)


def recompute(
    store: Store, registry: ModelRegistry, model_id: str, *, since: float, until: float | None = None, now: float
) -> list[int]:
    """Mark the model's closed windows that start in [since, until) (default: up to now) and hold data or follow
    its first window as changed: the evaluator computes their metrics again from their stored profiles and judges
    them with the rules in force. Returns the window starts marked."""
    config = registry.config(model_id)
    width = config.window_seconds
    first = store.get_state(model_id).first_window
    if first is None:
        return []
    last_closed = int(now // width) * width - width
    end = last_closed if until is None else min(last_closed, int(until) - 1)
    start = max(int(first), -(-int(since) // width) * width)
    windows = list(range(start, end + 1, width))
    if len(windows) > MAX_RECOMPUTE_WINDOWS:
        raise InputError(f"{len(windows):,} windows to recompute: narrow --since (at most {MAX_RECOMPUTE_WINDOWS:,})")
    for ws in windows:
        store.mark_dirty(model_id, ws)
    return windows


def _chunks(items: Iterable[T], n: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
