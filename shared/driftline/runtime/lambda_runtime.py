"""What the Lambda handlers share: Powertools objects, the SQS record handler, error mapping."""

from __future__ import annotations

import contextvars
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from driftline.core.errors import InputError
from driftline.runtime.container import container
from driftline.runtime.events import parse_sqs_body
from driftline.runtime.lasttry import LastTryWatch
from driftline.services.rejects import report_dead_letter, report_rejected_key
from driftline.services.split import parse_part_message

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# A duplicate delivery or a test event publishes no metric: that is normal, not worth a warning per invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


class WrongPrefixError(InputError):
    pass


def handle_record(record: SQSRecord, *, prefix: str) -> None:
    """One SQS message: the S3 objects it names, each ingested exactly once. Raising fails just this message
    (partial batch response), so SQS retries it and, after maxReceiveCount tries, dead-letters it. A part of a
    large file (queued by the ingest function itself, services/split.py) is handled the same way."""
    part = parse_part_message(record.body)
    if part is not None:
        ref, piece = part
        logger.set_correlation_id(ref.key)
        if ref.prefix == prefix:
            try:
                outcome = container().ingest.handle(ref, piece)
            except Exception as err:
                tries = _receive_count(record)
                if tries >= container().settings.max_receive_count:  # dead-lettered next: a record and an alert
                    logger.error("part dead-lettered", extra={"s3_key": ref.key, "part": piece.index, "tries": tries,
                                                              "reason": str(err)})  # fmt: skip
                    report_dead_letter(container().ingest, ref, err, tries, part=piece)
                    metrics.add_metric(name="PartsDeadLettered", unit=MetricUnit.Count, value=1)
                raise
            logger.info("part handled", extra={"s3_key": ref.key, "part": piece.index, "of": piece.count,
                                               "status": outcome.status, "rows": outcome.rows})  # fmt: skip
        else:
            logger.warning("part under another prefix ignored", extra={"s3_key": ref.key, "expected": prefix})
        return
    note = parse_sqs_body(record.body)
    if note.test_event:
        logger.info("s3:TestEvent ignored")
        return
    c = container()
    for key, reason in note.rejected:
        model_id = report_rejected_key(c.ingest, c.settings.bucket, key, reason)
        logger.warning("object rejected", extra={"s3_key": key, "reason": reason, "model_id": model_id})
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
    for ref in note.refs:
        logger.set_correlation_id(ref.key)
        if ref.prefix != prefix:
            logger.warning("object under another prefix ignored", extra={"s3_key": ref.key, "expected": prefix})
            continue
        try:
            outcome = c.ingest.handle(ref)
        except Exception as err:
            tries = _receive_count(record)
            if tries >= c.settings.max_receive_count:  # SQS dead-letters it next: leave a record and an alert first
                logger.error("object dead-lettered", extra={"s3_key": ref.key, "tries": tries, "reason": str(err)})
                report_dead_letter(c.ingest, ref, err, tries)
                metrics.add_metric(name="FilesDeadLettered", unit=MetricUnit.Count, value=1)
            raise
        logger.info(
            "object handled",
            extra={
                "s3_key": ref.key,
                "status": outcome.status,
                "rows": outcome.rows,
                "windows": len(outcome.windows),
                **outcome.details,
            },
        )
        if outcome.status == "processed":
            metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="RowsProcessed", unit=MetricUnit.Count, value=outcome.rows)
        elif outcome.status == "failed":
            metrics.add_metric(name="FilesFailed", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)


def report_last_try(record: Any, tries: int, *, prefix: str) -> None:
    """An error record (and alert) for each object of a raw SQS record whose last try ran out of time."""
    err = TimeoutError("the function's time ran out on its last try (Lambda's timeout)")
    c = container()
    body = str(record.get("body", ""))
    part = parse_part_message(body)
    targets = [part] if part is not None else [(ref, None) for ref in parse_sqs_body(body).refs]
    for ref, piece in targets:
        if ref.prefix == prefix:
            logger.error(
                "last try out of time", extra={"s3_key": ref.key, "part": None if piece is None else piece.index}
            )
            report_dead_letter(c.ingest, ref, err, tries, part=piece)


def _max_receive_count() -> int:
    try:
        return container().settings.max_receive_count
    except Exception:  # no container: each record fails on its own (and is reported there); nothing to watch
        logger.exception("no container to watch last tries with")
        return 1 << 30


def _remaining_s(context: Any) -> float | None:
    try:
        return float(context.get_remaining_time_in_millis()) / 1000
    except (AttributeError, TypeError, ValueError):
        return None


def _one_part_each(records: list[Any]) -> list[Any]:
    """A large file's parts, one per invocation (runtime/spread.py): the others sent back to the ingest queue."""
    from driftline.runtime.spread import is_part, one_part_each

    if sum(1 for r in records if isinstance(r, dict) and is_part(r)) < 2:
        return records
    splitter = container().ingest.splitter
    return one_part_each(records, None if splitter is None else splitter.queue)


def _receive_count(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count or 1)
    except (TypeError, ValueError, KeyError):
        return 1


def sqs_handler(prefix: str) -> Any:
    """A Lambda handler for the SQS queue of one S3 prefix."""
    # A batch whose every record failed is reported record by record too (Lambda retries them all the same), not
    # as a function error: "baseline not there yet" is a normal retry, not an invocation failure to alarm on.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    watch: contextvars.ContextVar[LastTryWatch | None] = contextvars.ContextVar(f"last_try_{prefix}", default=None)

    def record_handler(record: SQSRecord) -> None:
        try:
            handle_record(record, prefix=prefix)
        except Exception:
            # Powertools' BatchProcessor logs a failed record at DEBUG only: say it at ERROR, with the traceback.
            logger.exception("record failed", extra={"message_id": record.message_id})
            raise
        finally:
            w = watch.get()
            if w is not None:
                w.done(record.message_id)

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if prefix == "predictions" and isinstance(event.get("Records"), list) and len(event["Records"]) > 1:
            event = {**event, "Records": _one_part_each(event["Records"])}
        # Messages on their last try are reported even if the invocation's time runs out (runtime/lasttry.py)
        w = LastTryWatch(
            event.get("Records") or [] if isinstance(event, dict) else [],
            max_receive_count=_max_receive_count(),
            remaining_s=_remaining_s(context),
            report=lambda record, tries: report_last_try(record, tries, prefix=prefix),
        )
        token = watch.set(w)
        try:
            return process_partial_response(  # type: ignore[return-value]
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            w.cancel()
            watch.reset(token)

    return handler


def evaluate(event: dict[str, Any], *, time_left_ms: int | None = None) -> dict[str, Any]:
    """The scheduled evaluator: every model, every window due. ``event["at"]`` (epoch seconds) overrides now.

    ``time_left_ms``: the invocation's remaining time (Lambda's ``context.get_remaining_time_in_millis()``); the
    run starts no window it may not finish, and leaves the rest (``windows_left``) to the next tick."""
    at = event.get("at") if isinstance(event, dict) else None
    if container().settings.evaluate_queue_url:  # fanned out: queue the models due, workers evaluate them
        return dispatch(at=float(at) if at is not None else None)
    reports = container().evaluate.evaluate_all(
        at=float(at) if at is not None else None, time_left=None if time_left_ms is None else time_left_ms / 1000
    )
    return summarize(reports)


def summarize(reports: list[Any]) -> dict[str, Any]:
    """The metrics, log lines and response of an evaluation run (``EvaluationReport`` list)."""
    alerts = sum(len(r.alerts) for r in reports)
    windows = sum(len(r.windows) for r in reports)
    left = sum(r.windows_left for r in reports)
    metrics.add_metric(name="WindowsEvaluated", unit=MetricUnit.Count, value=windows)
    metrics.add_metric(name="WindowsLeft", unit=MetricUnit.Count, value=left)
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=alerts)
    for r in reports:
        logger.info(
            "model evaluated",
            extra={
                "model_id": r.model_id,
                "windows": len(r.windows),
                "windows_left": r.windows_left,
                "points": r.points,
                "alerts": len(r.alerts),
                "errors": r.errors,
            },
        )
    response: dict[str, Any] = {"models": len(reports), "windows": windows, "alerts": alerts}
    if left:
        # out of time: the next tick goes on from the oldest window left
        logger.warning("evaluation deferred", extra={"windows": windows, "windows_left": left})
        response["windows_left"] = left
    return response


__all__ = ["container", "evaluate", "handle_record", "logger", "metrics", "sqs_handler", "summarize", "tracer"]


def dispatch(*, at: float | None) -> dict[str, Any]:
    """One tick: a message per model with windows due on the evaluate queue."""
    report = container().dispatcher.dispatch(at=at)
    metrics.add_metric(name="ModelsQueued", unit=MetricUnit.Count, value=len(report.queued))
    for model_id, reason in report.errors.items():
        logger.warning("model not dispatched", extra={"model_id": model_id, "reason": reason})
    return {"models": report.models, "queued": len(report.queued), "errors": len(report.errors)}
