"""The local cloud's AWS endpoint: moto's server, with one speed-up.

moto answers a DynamoDB Query by sorting every item of the table and filtering on the partition key, so each
Query costs O(table size log table size) and the local cloud slows down as its table grows. Here a Query on the
base table sorts only the items of its partition (the result is the same: moto keeps items per partition key).
Run as ``python -m driftline.cli.local.motoserver -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from moto.dynamodb.models.table import Table

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


def patch() -> None:
    Table.all_items = _partition_items  # type: ignore[method-assign]
    Table.query = _partition_query  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    patch()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
