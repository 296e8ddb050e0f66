"""The local cloud's AWS endpoint: moto's server, with speed-ups (same answers) and one fidelity fix.

moto answers a DynamoDB Query by sorting every item of the table and filtering on the partition key, so each
Query costs O(table size log table size) and the local cloud slows down as its table grows. Here a Query on the
base table sorts only the items of its partition (the result is the same: moto keeps items per partition key), and
a Query on a GSI with a sort key skips the table-wide sort (moto then sorts the matching items by the index's sort
key, which is what the answer's order depends on).

Real S3 URL-encodes the object key in event notifications (``a b+c=1`` arrives as ``a+b%2Bc%3D1``) and the
functions decode it; moto 5.0 sends the raw key, so a key with ``+``, ``%`` or a space would be decoded into
another key and never found. Here moto's notifications carry the key encoded as real S3 encodes it (moto does so
itself from 5.1.9, getmoto/moto#9060: then nothing is changed).

Three more of moto's costs are cut, the answers unchanged: moto lists its own package directory (a ``stat`` per
service, ~150) on every request to find the service a Host header names, here listed once; and it builds a
DynamoDB item attribute by attribute, summing the sizes of all the attributes set so far at each one (quadratic in
the attribute count), both when an item is written and when every item a Query or Scan returns is deep-copied;
here the size is summed once per written item (the same 400 KB check), and a copy of a stored item, already
checked, is not checked again. A GSI Query of 3,400 metric points took 10 s, most of it in those copies.

And one cost that made the local cloud quadratic in a queue's backlog: moto checks each message it hands out
against the queue's retention period by computing every attribute of the queue, three times, each computation
counting the queue's messages three times (visible, in flight, delayed). With 1,000 messages waiting, receiving 10
took 7 s (2,000 files put at once were ingested at under 2 files/s); here the retention period is read directly,
and a GetQueueAttributes computes the queue's attributes once instead of three times per name. Sending a message
(each S3 notification) computes them too, and each message's visibility costs two clock readings through
``datetime``: with 2,000 messages waiting, a put took 85 ms of moto's CPU instead of 20 ms; here the queue's
counts read the clock once.

And a ranged GET read the whole object to answer a few bytes of it: moto answers ``GetObject`` with the object's
whole value and slices the range out afterwards, so each 8 MiB read of a 5 GB Parquet file copied 5 GB (the
profiling of a large file in parts reads it with ranged GETs). Here, during a GET with a single byte range, an
object's value is a view that reads only the bytes sliced from it (moto's same slice, the same answer). Likewise
completing a multipart upload joined every part in memory (5 GB of RAM for a 5 GB object) before writing the
object to its spooled file: here the parts are copied into it in 16 MiB blocks (the same checks, ETag and bytes).

Run as ``python -m driftline.cli.local.motoserver -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

from moto import backends as moto_backends
from moto.core.utils import unix_time, unix_time_millis
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.s3 import notifications as s3_notifications
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.s3.models import FakeKey, FakeMultipart
from moto.s3.responses import S3Response
from moto.s3.utils import compute_checksum
from moto.settings import S3_UPLOAD_PART_MIN_SIZE, get_s3_default_key_buffer_size
from moto.sqs.models import Queue, SQSBackend
from moto.utilities.utils import md5_hash

_local = threading.local()
_all_items = Table.all_items
_query = Table.query


_UNSORTED = object()  # scope of a GSI Query: every item, in no particular order


def _partition_items(self: Table) -> Any:
    table, hash_key = getattr(_local, "scope", (None, None))
    if table is self and self.range_key_attr:
        if hash_key is _UNSORTED:
            return [item for bucket in self.items.values() for item in bucket.values()]
        bucket = self.items.get(hash_key) or {}
        return sorted(bucket.values(), key=lambda item: item.range_key)
    return _all_items(self)


def _partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name:
        index = next((i for i in self.all_indexes() if i.name == index_name), None)
        if index is None or not any(k["KeyType"] == "RANGE" for k in index.schema):
            return _query(self, hash_key, *args, **kwargs)
        # moto sorts the matching items by the index's sort key itself: the table-wide sort before is not needed
        _local.scope = (self, _UNSORTED)
    else:
        _local.scope = (self, hash_key)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _local.scope = (None, None)


_list_of_moto_modules = moto_backends.list_of_moto_modules
_moto_modules: tuple[str, ...] | None = None


def _cached_moto_modules() -> tuple[str, ...]:
    """moto's service package names: a directory listing that cannot change while the server runs."""
    global _moto_modules
    if _moto_modules is None:
        _moto_modules = tuple(_list_of_moto_modules())
    return _moto_modules


ITEM_SIZE_LIMIT = 405_000  # moto's own limit (LimitedSizeDict): real DynamoDB refuses between 409 and 410 KB


def _item_init(self: dynamo_type.Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """``moto.dynamodb.models.dynamo_type.Item.__init__`` with the size summed once instead of per attribute."""
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = dynamo_type.LimitedSizeDict()
    dict.update(self.attrs, values)  # the attributes checked together above; later updates are checked one by one


def _copy_checked(self: dynamo_type.LimitedSizeDict, memo: dict[int, Any]) -> dynamo_type.LimitedSizeDict:
    """``deepcopy`` of a stored item's attributes without re-checking its size at each attribute."""
    copied = dynamo_type.LimitedSizeDict()
    memo[id(self)] = copied
    dict.update(copied, {key: _copy_value(value, memo) for key, value in self.items()})
    return copied


def _copy_value(value: Any, memo: dict[int, Any]) -> Any:
    """``deepcopy`` of one attribute value: a scalar's value (str, bytes, bool, None: immutable) is shared."""
    if type(value) is not dynamo_type.DynamoType:
        return copy.deepcopy(value, memo)
    copied = dynamo_type.DynamoType.__new__(dynamo_type.DynamoType)
    copied.__dict__.update(value.__dict__)
    if isinstance(value.value, list | dict | set):  # L, M, SS, NS, BS
        copied.value = copy.deepcopy(value.value, memo)
    return copied


def _within_retention(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """``SQSBackend.is_message_valid_based_on_retention_period`` without computing every queue attribute."""
    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


_get_queue_attributes = SQSBackend.get_queue_attributes


def _queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    """``SQSBackend.get_queue_attributes`` with the queue's attributes computed once, not three times per name."""
    if not attribute_names or "All" in attribute_names:
        return _get_queue_attributes(self, queue_name, attribute_names)
    queue = self.get_queue(queue_name)  # raises QueueDoesNotExist
    valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    if any(name not in valid for name in attribute_names):
        return _get_queue_attributes(self, queue_name, attribute_names)  # moto's own error
    attributes = queue.attributes
    return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}


def _visible_messages(self: Queue) -> list[Any]:
    """``Queue.messages``: the visible, undelayed messages, with the clock read once for the whole queue."""
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _in_flight(self: Queue) -> int:
    """``Queue.approximate_number_of_messages_not_visible``, with the clock read once."""
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _delayed(self: Queue) -> int:
    """``Queue.approximate_number_of_messages_delayed``, with the clock read once."""
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


class _RangedValue:
    """An S3 object's value during a ranged GET: its length, and the bytes of a slice read from its buffer."""

    def __init__(self, key: FakeKey) -> None:
        self.key = key

    def __len__(self) -> int:
        return int(self.key.contentsize)

    def __getitem__(self, item: slice) -> bytes:
        start, stop, step = item.indices(len(self))
        if step != 1:
            return bytes(self)[item]
        with self.key.lock:
            self.key._value_buffer.seek(start)
            return bytes(self.key._value_buffer.read(max(stop - start, 0)))

    def __bytes__(self) -> bytes:
        return self[:]


class _Parts:
    """A completed multipart upload's value: its parts copied, block by block, into a spooled file of its own
    (moto disposes of the parts before it stores the object), which becomes the object's buffer."""

    def __init__(self, parts: list[FakeKey]) -> None:
        self.size = sum(int(p.contentsize) for p in parts)
        self.buffer: Any = tempfile.SpooledTemporaryFile(get_s3_default_key_buffer_size())  # noqa: SIM115
        for part in parts:
            with part.lock:
                part._value_buffer.seek(0)
                while block := part._value_buffer.read(16 << 20):
                    self.buffer.write(block)

    def __len__(self) -> int:
        return self.size


def _complete_streamed(self: FakeMultipart, body: Any) -> Any:
    """``FakeMultipart.complete`` (the same checks and ETag) returning the parts instead of their bytes joined."""
    algorithm = self.metadata.get("x-amz-checksum-algorithm")  # boto3 asks for CRC32 by default
    checksum = bytearray()
    md5s = bytearray()
    parts: list[FakeKey] = []
    for pn, etag in body:
        part = self.parts.get(pn)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        if algorithm:  # one part's bytes at a time
            checksum.extend(compute_checksum(part.value, algorithm, encode_base64=False))
        parts.append(part)
    if not parts:
        raise MalformedXML
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    encoded = compute_checksum(bytes(checksum), algorithm).decode("utf-8") if algorithm else None
    return _Parts(parts), f"{full_etag.hexdigest()}-{len(parts)}", encoded


_key_value = FakeKey.value
_key_response = S3Response.key_response


def _set_value(self: FakeKey, new_value: Any) -> None:
    """``FakeKey.value = ...``; a completed upload's parts: their spooled file becomes the object's buffer."""
    if not isinstance(new_value, _Parts):
        _key_value.fset(self, new_value)  # type: ignore[attr-defined]
        return
    self._value_buffer.close()
    self._value_buffer = new_value.buffer
    self.contentsize = new_value.size


def _value(self: FakeKey) -> Any:
    """``FakeKey.value``: during a ranged GET (this thread), a view reading only the bytes sliced from it."""
    if getattr(_local, "ranged", False):
        return _RangedValue(self)
    return _key_value.fget(self)  # type: ignore[attr-defined]


def _ranged_key_response(self: S3Response, request: Any, full_url: str, headers: Any) -> Any:
    """``S3Response.key_response``, a GET with one byte range reading only that range of the object."""
    spec = str(request.headers.get("range") or "")
    _local.ranged = request.method == "GET" and spec.startswith("bytes=") and "," not in spec
    try:
        status, response_headers, content = _key_response(self, request, full_url, headers)
    finally:
        _local.ranged = False
    if isinstance(content, _RangedValue):  # a range moto answers with the whole object
        content = bytes(content)
    return status, response_headers, content


_ranged_key_response.__name__ = "key_response"  # moto's URL map calls the method of that name on each request


S3EventBuilder = Callable[..., Any]  # moto.s3.notifications._get_s3_event(event_name, bucket, key, notification_id)


def moto_encodes_keys(build: S3EventBuilder | None = None) -> bool:
    """Whether moto's S3 event builder already URL-encodes keys, as real S3 does."""
    build = build or s3_notifications._get_s3_event
    bucket: Any = SimpleNamespace(region_name="us-east-1", name="bucket", arn="arn:aws:s3:::bucket")
    event = build("s3:ObjectCreated:Put", bucket, SimpleNamespace(name="a b", size=0, etag=""), "probe")
    return bool(event["Records"][0]["s3"]["object"]["key"] != "a b")


def with_encoded_keys(build: S3EventBuilder) -> S3EventBuilder:
    """moto's S3 event builder, its object keys URL-encoded like real S3's (``/`` kept, space as ``+``)."""

    def encoded(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event: dict[str, Any] = build(event_name, bucket, key, notification_id)
        for rec in event.get("Records", []):
            rec["s3"]["object"]["key"] = quote_plus(rec["s3"]["object"]["key"], safe="/")
        return event

    return encoded


def patch() -> None:
    Table.all_items = _partition_items  # type: ignore[method-assign]
    Table.query = _partition_query  # type: ignore[method-assign]
    moto_backends.list_of_moto_modules = _cached_moto_modules
    dynamo_type.Item.__init__ = _item_init  # type: ignore[method-assign]
    dynamo_type.LimitedSizeDict.__deepcopy__ = _copy_checked  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention  # type: ignore[method-assign]
    SQSBackend.get_queue_attributes = _queue_attributes  # type: ignore[method-assign]
    Queue.messages = property(_visible_messages)  # type: ignore[method-assign, assignment]
    Queue.approximate_number_of_messages_not_visible = property(_in_flight)  # type: ignore[method-assign, assignment]
    Queue.approximate_number_of_messages_delayed = property(_delayed)  # type: ignore[method-assign, assignment]
    FakeKey.value = property(_value, _set_value)  # type: ignore[method-assign, assignment]
    FakeMultipart.complete = _complete_streamed  # type: ignore[method-assign]
    S3Response.key_response = _ranged_key_response  # type: ignore[method-assign]
    if not moto_encodes_keys():
        s3_notifications._get_s3_event = with_encoded_keys(s3_notifications._get_s3_event)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    patch()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
