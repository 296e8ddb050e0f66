"""Lambda entry point: the scheduled evaluator (EventBridge Scheduler). Thin: the work is in driftline.services."""

from typing import Any

from driftline.runtime.lambda_runtime import evaluate, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluate(event, time_left_ms=context.get_remaining_time_in_millis())
