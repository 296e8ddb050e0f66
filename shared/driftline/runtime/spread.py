"""One part of a split file per invocation, so that a file's parts are profiled in parallel (issue 17, item 1).

The ingest function sends a large file's parts to its own queue at once, and its SQS event source hands a poller
up to ten messages a batch: the parts of a file arrive together, in one invocation, which profiled them one after
the other (measured on the local cloud: 8 parts of a Parquet file in one batch, parallelism 0.97 with two
invocations free; with this change 1.85-1.98). Here an invocation keeps the first
part of its batch (and every whole file) and sends the other parts back to the queue as new messages (a new
message: its receive count starts again, so bouncing never dead-letters a part); its originals are then deleted
as handled. Invocations free meanwhile take them, one each. A part sent back and also redelivered is claimed once
((bucket, key, ETag, part)), so a crash between the send and the deletes costs a duplicate, never a double count.
Should the send fail, the batch keeps its parts and profiles them one after the other, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from driftline.core.errors import DriftlineError
from driftline.services.ports import MessageQueue
from driftline.services.split import is_part_message

log = logging.getLogger(__name__)


def is_part(record: dict[str, Any]) -> bool:
    return is_part_message(record.get("body"))


def one_part_each(records: Sequence[dict[str, Any]], queue: MessageQueue | None) -> list[dict[str, Any]]:
    """The records this invocation handles: every record but the parts after the first, which are sent to
    ``queue`` again (none when there is no queue, or the send fails: then every record is kept)."""
    parts = [r for r in records if is_part(r)]
    if len(parts) < 2 or queue is None:
        return list(records)
    later = parts[1:]
    try:
        queue.send_batch([str(r["body"]) for r in later])
    except DriftlineError as err:
        log.warning("parts not spread: profiled in this invocation", extra={"parts": len(later), "reason": str(err)})
        return list(records)
    sent = {id(r) for r in later}
    return [r for r in records if id(r) not in sent]
