"""Lambda entry point: `labels/` drops arriving through SQS. Thin: the work is in driftline.services."""

from driftline.runtime.lambda_runtime import sqs_handler

handler = sqs_handler("labels")
