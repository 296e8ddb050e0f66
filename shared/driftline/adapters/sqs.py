"""``MessageQueue`` over one SQS queue, with the boto3 client: messages sent ten to a ``SendMessageBatch``, the
entries SQS reports failed sent again (a few times, with backoff) and then reported as one error naming the queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from driftline.adapters._errors import translate
from driftline.core.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

_RETRYABLE = frozenset(
    {"RequestThrottled", "ThrottlingException", "ServiceUnavailable", "InternalError", "KmsThrottled"}
)
BATCH = 10  # SQS: at most 10 entries per SendMessageBatch
ATTEMPTS = 5


class SqsQueue:
    """``ports.MessageQueue`` over one queue URL."""

    def __init__(self, client: SQSClient, url: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self.url = url
        self._sleep = sleep

    def send_batch(self, bodies: Sequence[str]) -> None:
        for i in range(0, len(bodies), BATCH):
            self._send(list(bodies[i : i + BATCH]))

    def _send(self, chunk: list[str]) -> None:
        pending = {str(j): body for j, body in enumerate(chunk)}
        for attempt in range(ATTEMPTS):
            try:
                resp = self._client.send_message_batch(
                    QueueUrl=self.url, Entries=[{"Id": k, "MessageBody": v} for k, v in pending.items()]
                )
            except (ClientError, BotoCoreError) as err:
                raise translate(err, f"SQS queue {self.url}", retryable=_RETRYABLE) from err
            failed = resp.get("Failed", [])
            if not failed:
                return
            final = [f for f in failed if f.get("SenderFault")]
            if final:
                raise StorageError(f"SQS queue {self.url}: message refused: {final[0].get('Message', final[0])}")
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            self._sleep(0.1 * 2**attempt)
        raise StorageError(
            f"SQS queue {self.url}: {len(pending)} message(s) not sent after {ATTEMPTS} tries", retryable=True
        )
