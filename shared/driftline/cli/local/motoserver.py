"""The local cloud's AWS endpoint: moto's server, with one speed-up and one fidelity fix.

moto answers a DynamoDB Query by sorting every item of the table and filtering on the partition key, so each
Query costs O(table size log table size) and the local cloud slows down as its table grows. Here a Query on the
base table sorts only the items of its partition (the result is the same: moto keeps items per partition key).

Real S3 URL-encodes the object key in event notifications (``a b+c=1`` arrives as ``a+b%2Bc%3D1``) and the
functions decode it; moto 5.0 sends the raw key, so a key with ``+``, ``%`` or a space would be decoded into
another key and never found. Here moto's notifications carry the key encoded as real S3 encodes it (moto does so
itself from 5.1.9, getmoto/moto#9060: then nothing is changed).

Run as ``python -m driftline.cli.local.motoserver -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

from moto.dynamodb.models.table import Table
from moto.s3 import notifications as s3_notifications

_local = threading.local()
_all_items = Table.all_items
_query = Table.query


def _partition_items(self: Table) -> Any:
    table, hash_key = getattr(_local, "scope", (None, None))
    if table is self and self.range_key_attr:
        bucket = self.items.get(hash_key) or {}
        return sorted(bucket.values(), key=lambda item: item.range_key)
    return _all_items(self)


def _partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name:
        return _query(self, hash_key, *args, **kwargs)
    _local.scope = (self, hash_key)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _local.scope = (None, None)


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
    if not moto_encodes_keys():
        s3_notifications._get_s3_event = with_encoded_keys(s3_notifications._get_s3_event)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    patch()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
