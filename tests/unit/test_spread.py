"""A split file's parts, one per invocation (driftline.runtime.spread): the others go back to the ingest queue."""

from __future__ import annotations

import json

from driftline.adapters.memory import MemoryQueue
from driftline.core.errors import StorageError
from driftline.io.parts import Part
from driftline.runtime.spread import is_part, one_part_each
from driftline.services.models import parse_key
from driftline.services.split import parse_part_message, part_message

REF = parse_key("b", "predictions/m/big.csv", "etag1", 10_000, encoded=False)


def part_record(i: int) -> dict[str, object]:
    return {"messageId": f"p{i}", "body": part_message(REF, Part(i, 4, i * 2500, (i + 1) * 2500, False))}


def file_record(i: int) -> dict[str, object]:
    body = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "driftline_part"}}}]}
    return {"messageId": f"f{i}", "body": json.dumps(body)}


def test_a_batch_keeps_its_first_part_and_every_file_and_sends_the_other_parts_back() -> None:
    queue = MemoryQueue()
    records = [file_record(0), part_record(0), part_record(1), file_record(1), part_record(2), part_record(3)]
    kept = one_part_each(records, queue)
    assert [r["messageId"] for r in kept] == ["f0", "p0", "f1"]
    assert [parse_part_message(b)[1].index for b in queue.messages] == [1, 2, 3]  # type: ignore[index]
    assert queue.messages == [r["body"] for r in records[2:3] + records[4:]]  # the same bodies, unchanged


def test_one_part_or_none_changes_nothing() -> None:
    queue = MemoryQueue()
    for records in ([file_record(0), file_record(1)], [part_record(0), file_record(0)], []):
        assert one_part_each(records, queue) == records
    assert queue.sent == 0


def test_without_a_queue_or_when_the_send_fails_the_batch_keeps_its_parts() -> None:
    records = [part_record(0), part_record(1), part_record(2)]
    assert one_part_each(records, None) == records
    queue = MemoryQueue()
    queue.fail_next("send_batch", StorageError("SQS queue q: throttled", retryable=True))
    assert one_part_each(records, queue) == records
    assert queue.messages == []


def test_only_part_messages_are_parts() -> None:
    assert is_part(part_record(0))
    assert not is_part(file_record(0))  # a key naming the part key does not make an S3 event a part
    assert not is_part({"body": None})
