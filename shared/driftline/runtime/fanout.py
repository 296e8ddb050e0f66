"""The evaluator fanned out, at the edge: the scheduled tick queues the models due (``dispatch``); the judge
function's SQS batches are evaluated by a worker under leases (``judge``). See ``driftline.services.dispatch``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from driftline.core.errors import InputError

# the container through lambda_runtime: every function imports the runtime in the same order (the local cloud loads
# the functions in threads at once, and two imports in opposite orders can deadlock)
from driftline.runtime.lambda_runtime import container, logger, metrics, summarize
from driftline.services.dispatch import parse_evaluate_message


def dispatch(*, at: float | None) -> dict[str, Any]:
    """One tick: a message per model with windows due on the evaluate queue."""
    report = container().dispatcher.dispatch(at=at)
    metrics.add_metric(name="ModelsQueued", unit=MetricUnit.Count, value=len(report.queued))
    for model_id, reason in report.errors.items():
        logger.warning("model not dispatched", extra={"model_id": model_id, "reason": reason})
    return {"models": report.models, "queued": len(report.queued), "errors": len(report.errors)}


def judge(event: dict[str, Any], *, time_left_ms: int | None = None) -> dict[str, Any]:
    """A batch of evaluate messages: every model named, under one time budget. A message that is not an evaluate
    message fails alone (partial batch response: retried, then dead-lettered with an alarm); an unexpected error
    fails the batch (every model stays due, and the next tick queues it again)."""
    requests: list[tuple[str, float | None]] = []
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            requests.append(parse_evaluate_message(str(record.get("body", ""))))
        except InputError as err:
            logger.error("bad evaluate message", extra={"message_id": record.get("messageId"), "reason": str(err)})
            failures.append({"itemIdentifier": str(record.get("messageId", ""))})
    result = container().worker.run(requests, time_left=None if time_left_ms is None else time_left_ms / 1000)
    metrics.add_metric(name="ModelsBusy", unit=MetricUnit.Count, value=len(result.busy))
    summary = summarize(result.reports)
    summary["busy"] = len(result.busy)
    # Lambda reads batchItemFailures only; the summary is for logs and the local cloud
    return {"batchItemFailures": failures, "summary": summary}
