"""The evaluator fanned out: a scheduled dispatcher finds the models with windows due and queues one message per
model; evaluation workers, fed by that queue with bounded concurrency, each evaluate a batch of models.

Dispatcher (each tick): per model, the model's state, at most one dirty mark of a closed window and the open
window's mark and look record (one batched read) are read (and its configuration, cached per container); a model
is due when a closed window has new files or labels, when windows have closed since its last evaluation (a
no-data window is a verdict too), or when a file reached its open window since the last look check (early
alerts). Models not due cost those reads and nothing more.

Worker (each batch of messages): the models are leased in the store (a conditional write with an expiry: the
worker's remaining time plus a margin), evaluated by ``EvaluateService.evaluate_all`` under the worker's own time
budget (the fair share per model holds within a batch), and released. A model whose lease another worker holds is
skipped: that worker is evaluating it, and what it leaves stays due (dirty marks), so the next tick queues the model
again. One worker per model at a time keeps a model's windows in order and never judges a window twice at once; a
worker that dies leaves a lease that expires by itself.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline.core.config import MODEL_ID_RE
from driftline.core.errors import DriftlineError, InputError
from driftline.services.evaluate import LEASE_MARGIN, EvaluateService, EvaluationReport, lease_seconds
from driftline.services.models import ModelRegistry
from driftline.services.ports import MessageQueue
from driftline.services.store import Store

log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    models: int = 0  # models registered
    queued: list[str] = field(default_factory=list)  # models with windows due, one message each
    errors: dict[str, str] = field(default_factory=dict)  # model → why it could not be looked at


def evaluate_message(model_id: str, *, at: float | None) -> str:
    body: dict[str, Any] = {"model_id": model_id}
    if at is not None:
        body["at"] = at
    return json.dumps(body, separators=(",", ":"))


def parse_evaluate_message(body: str) -> tuple[str, float | None]:
    """(model id, ``at`` or None) of an evaluate-queue message. Raises InputError when it is not one."""
    try:
        msg = json.loads(body)
        model_id, at = msg["model_id"], msg.get("at")
    except (TypeError, ValueError, KeyError) as err:
        raise InputError(f"not an evaluate message: {body[:200]!r}") from err
    if not isinstance(model_id, str) or not MODEL_ID_RE.fullmatch(model_id):
        raise InputError(f"not an evaluate message (model id {model_id!r}): {body[:200]!r}")
    if at is not None and not isinstance(at, int | float):
        raise InputError(f"not an evaluate message (at {at!r}): {body[:200]!r}")
    return model_id, None if at is None else float(at)


class EvaluationDispatcher:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        queue: MessageQueue,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.registry, self.queue, self.clock = store, registry, queue, clock

    def is_due(self, model_id: str, now: float) -> bool:
        width = self.registry.config(model_id).window_seconds
        last_closed = int(now // width) * width - width
        if last_closed < 0:
            return False
        state = self.store.get_state(model_id)
        first = state.first_window
        if first is not None and (first - width if state.last_closed is None else state.last_closed) < last_closed:
            return True  # windows closed since the last evaluation (with data or without: both are judged)
        if self.store.has_dirty(model_id, until=last_closed):
            return True
        # the open window (SPEC §4 early alerts): a file arrived since its last look check; the worker decides
        # whether the rows so far call for a look (services/early.py), this only avoids queueing idle models
        ow = self.store.open_window(model_id, last_closed + width)
        return ow.token is not None and ow.token != ow.checked

    def dispatch(self, *, at: float | None = None) -> DispatchReport:
        """Queue one message per model with windows due (``at``: evaluate as if now were ``at``)."""
        now = self.clock() if at is None else at
        models = self.store.list_models()
        report = DispatchReport(models=len(models))
        for model_id in models:
            try:
                if self.is_due(model_id, now):
                    report.queued.append(model_id)
            except DriftlineError as err:  # one model's problem (no configuration yet) does not stop the others
                report.errors[model_id] = str(err)
        self.queue.send_batch([evaluate_message(m, at=at) for m in report.queued])
        return report


@dataclass
class WorkerReport:
    reports: list[EvaluationReport] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # held by another worker: skipped


class EvaluationWorker:
    def __init__(
        self,
        store: Store,
        evaluate: EvaluateService,
        *,
        owner: str | None = None,
        lease_margin: float = LEASE_MARGIN,
    ) -> None:
        self.store, self.evaluate, self.lease_margin = store, evaluate, lease_margin
        self.owner = owner

    def run(self, requests: Sequence[tuple[str, float | None]], *, time_left: float | None = None) -> WorkerReport:
        """Evaluate the models of ``requests`` ((model id, at)), each under a lease; models asked twice in one
        batch are evaluated once. Models of one ``at`` are evaluated together, under one time budget."""
        owner = self.owner or uuid.uuid4().hex
        seconds = lease_seconds(time_left, self.lease_margin)
        report = WorkerReport()
        by_at: dict[float | None, list[str]] = {}
        for model_id, at in dict.fromkeys(requests):
            if model_id not in {m for ms in by_at.values() for m in ms}:
                by_at.setdefault(at, []).append(model_id)
        timer = self.evaluate.timer
        started = timer()
        for at, models in by_at.items():
            held = [m for m in models if self.store.acquire_lease(m, owner, seconds=seconds)]
            report.busy += [m for m in models if m not in held]
            left = None if time_left is None else max(time_left - (timer() - started), 0.0)
            try:
                report.reports += self.evaluate.evaluate_all(at=at, time_left=left, models=held, leased=True)
            finally:
                for m in held:
                    self.store.release_lease(m, owner)
        if report.busy:
            log.info("models held by another evaluator skipped", extra={"models": report.busy})
        return report
