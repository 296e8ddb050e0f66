"""Lambda entry point: the evaluate queue's batches (one message per model due). Thin: the work is in
driftline.services.dispatch."""

from typing import Any

from driftline.runtime.fanout import judge
from driftline.runtime.lambda_runtime import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return judge(event, time_left_ms=context.get_remaining_time_in_millis())
