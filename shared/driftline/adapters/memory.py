"""In-memory fakes of the ports, with the adapters' semantics, for tests and for running services without AWS.

Over 400 lines: one fake per port (table, objects, alerts, events, queues), each as strict as the service it stands for.

``MemoryTable`` keeps DynamoDB's rules (see ``driftline.adapters.dynamodb``): the same value encoding (numbers
integral → int, else float; NaN refused; 400 KB items), conditions, sorted queries over ``sk`` or the sparse
``gsi1`` view, decimal counters, all-or-nothing transactions. Values are copied in and out, so callers cannot
change stored state by mutating what they passed or got. All three fakes are thread-safe and take
``fail_next(op, exc)``: the next call of ``op`` raises ``exc`` (fault injection).
"""

from __future__ import annotations

import copy
import hashlib
import io
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, DecimalException
from typing import Any, BinaryIO

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from driftline.adapters.dynamo_items import (
    GSI1,
    INDEX_ATTRS,
    check_add_args,
    check_key_value,
    check_query_args,
    check_transact_args,
    decode_value,
    dedupe_items,
    describe_key,
    encode_item,
    encode_value,
    values_equal,
)
from driftline.adapters.eventbridge import DETAIL_TYPE, SOURCE, check_detail
from driftline.adapters.sns import check_publish
from driftline.core.errors import StorageError
from driftline.services.ports import Condition, ConditionFailed, Item, ListedObject, NotFound, Put


class _Faults:
    """``fail_next(op, exc)``: the next call of operation ``op`` raises ``exc`` (queued, one per call)."""

    OPERATIONS: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: dict[str, list[BaseException]] = {}

    def fail_next(self, op_name: str, exc: BaseException) -> None:
        if op_name not in self.OPERATIONS:
            raise ValueError(f"fail_next: unknown operation {op_name!r}; one of {sorted(self.OPERATIONS)}")
        with self._lock:
            self._faults.setdefault(op_name, []).append(exc)

    def _maybe_fail(self, op_name: str) -> None:
        with self._lock:
            queued = self._faults.get(op_name)
            exc = queued.pop(0) if queued else None
        if exc is not None:
            raise exc


class _Partitioned(dict[tuple[str, str], Item]):
    """The table's items by key, with the keys of each partition kept aside, so a query on the table's key reads
    its partition only (as DynamoDB does), not every item. Mutated only through ``[key] =`` and ``pop``."""

    def __init__(self) -> None:
        super().__init__()
        self.by_pk: dict[str, dict[tuple[str, str], None]] = {}

    def __setitem__(self, key: tuple[str, str], item: Item) -> None:
        super().__setitem__(key, item)
        self.by_pk.setdefault(key[0], {})[key] = None

    def pop(self, key: tuple[str, str], default: Any = None) -> Any:  # type: ignore[override]
        part = self.by_pk.get(key[0])
        if part is not None:
            part.pop(key, None)
            if not part:
                del self.by_pk[key[0]]
        return super().pop(key, default)

    def partition(self, pk: str) -> list[Item]:
        return [self[k] for k in self.by_pk.get(pk, ())]


class MemoryTable(_Faults):
    """``ports.Table`` in memory: items keyed (pk, sk), with the semantics of ``DynamoTable``."""

    OPERATIONS = frozenset({"get", "put", "add", "delete", "query", "batch_put", "batch_get", "transact"})

    def __init__(self, table_name: str = "memory") -> None:
        super().__init__()
        self.table_name = table_name
        self._items = _Partitioned()

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _where(self, pk: Any, sk: Any) -> str:
        return describe_key(self.table_name, pk, sk)

    def _check_key(self, pk: Any, sk: Any) -> tuple[str, str]:
        where = self._where(pk, sk)
        check_key_value("pk", pk, where)
        check_key_value("sk", sk, where)
        return pk, sk

    def _stored(self, item: Mapping[str, Any]) -> Item:
        """A private, normalised copy: what DynamoDB would give back for ``item``."""
        return dict(decode_value(encode_item(item, self.table_name)))

    def _holds(self, cond: Condition | None, existing: Item | None, where: str) -> bool:
        if cond is None or (not cond.absent and cond.attr is None):
            return True
        if cond.absent and existing is not None:
            return False
        if cond.attr is not None:
            if cond.equals is None:
                return existing is None or cond.attr not in existing
            wanted = decode_value(encode_value(cond.equals, cond.attr, where))
            return existing is not None and cond.attr in existing and values_equal(existing[cond.attr], wanted)
        return True

    def items(self) -> list[Item]:
        """Every item, sorted by (pk, sk) (a copy; for tests)."""
        with self._lock:
            return [copy.deepcopy(self._items[k]) for k in sorted(self._items)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    # -- Table -----------------------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> Item | None:
        key = self._check_key(pk, sk)
        with self._lock:
            self._maybe_fail("get")
            item = self._items.get(key)
            return None if item is None else copy.deepcopy(item)

    def put(self, item: Item, *, condition: Condition | None = None) -> None:
        stored = self._stored(item)
        key = (stored["pk"], stored["sk"])
        where = self._where(*key)
        with self._lock:
            self._maybe_fail("put")
            if not self._holds(condition, self._items.get(key), where):
                raise ConditionFailed(f"{where}: condition failed")
            self._items[key] = stored

    def add(
        self,
        pk: str,
        sk: str,
        counters: Mapping[str, int | float],
        *,
        set_values: Mapping[str, Any] | None = None,
    ) -> Item:
        set_values = set_values or {}
        check_add_args(counters, set_values)
        key = self._check_key(pk, sk)
        where = self._where(pk, sk)
        increments = {name: encode_value(inc, name, where) for name, inc in counters.items()}
        with self._lock:
            self._maybe_fail("add")
            existing = self._items.get(key)
            new: Item = copy.deepcopy(existing) if existing is not None else {"pk": pk, "sk": sk}
            for name, inc in increments.items():
                current = new.get(name)
                if current is None and name not in new:
                    total: Decimal = inc
                elif isinstance(current, int | float) and not isinstance(current, bool):
                    try:
                        total = DYNAMODB_CONTEXT.add(encode_value(current, name, where), inc)
                    except DecimalException as err:
                        raise StorageError(f"{where}: counter {name!r} overflows a DynamoDB number") from err
                else:
                    raise StorageError(f"{where}: counter {name!r} holds a {type(current).__name__}, not a number")
                new[name] = decode_value(total)
            new.update(set_values)
            stored = self._stored(new)
            self._items[key] = stored
            return copy.deepcopy(stored)

    def delete(self, pk: str, sk: str, *, condition: Condition | None = None) -> None:
        key = self._check_key(pk, sk)
        where = self._where(pk, sk)
        with self._lock:
            self._maybe_fail("delete")
            if not self._holds(condition, self._items.get(key), where):
                raise ConditionFailed(f"{where}: condition failed")
            self._items.pop(key, None)

    def query(
        self,
        pk: str,
        *,
        sk_from: str | None = None,
        sk_to: str | None = None,
        sk_prefix: str | None = None,
        index: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[Item]:
        check_query_args(sk_from, sk_to, index, limit)
        pk_name, sk_name = INDEX_ATTRS if index == GSI1 else ("pk", "sk")
        check_key_value(pk_name, pk, f"table {self.table_name!r}, query {pk_name}={pk!r}")
        return self._run_query(pk, pk_name, sk_name, sk_from, sk_to, sk_prefix, reverse, limit)

    def _run_query(
        self,
        pk: str,
        pk_name: str,
        sk_name: str,
        sk_from: str | None,
        sk_to: str | None,
        sk_prefix: str | None,
        reverse: bool,
        limit: int | None,
    ) -> Iterator[Item]:
        # Like DynamoDB's pages, the read happens when iteration starts (a generator), and errors surface there.
        with self._lock:
            self._maybe_fail("query")
            found = []
            for item in self._items.partition(pk) if pk_name == "pk" else self._items.values():
                sk = item.get(sk_name)
                if item.get(pk_name) != pk or not isinstance(sk, str):
                    continue
                if (sk_from is not None and sk < sk_from) or (sk_to is not None and sk > sk_to):
                    continue
                if sk_prefix is not None and not sk.startswith(sk_prefix):
                    continue
                found.append(((sk, item["pk"], item["sk"]), item))
            found.sort(key=lambda pair: pair[0], reverse=reverse)
            if limit is not None:
                found = found[:limit]
            snapshot = [copy.deepcopy(item) for _, item in found]
        yield from snapshot

    def batch_put(self, items: Sequence[Item]) -> None:
        stored = [self._stored(item) for item in dedupe_items(items)]
        with self._lock:
            self._maybe_fail("batch_put")
            for item in stored:
                self._items[(item["pk"], item["sk"])] = item

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        unique = [self._check_key(pk, sk) for pk, sk in dict.fromkeys(keys)]
        with self._lock:
            self._maybe_fail("batch_get")
            return [copy.deepcopy(self._items[k]) for k in unique if k in self._items]

    def transact(self, ops: Sequence[Put]) -> None:
        check_transact_args(ops)
        puts = [self._stored(op.item) for op in ops]
        where = f"table {self.table_name!r}, transaction of {len(ops)} operations"
        with self._lock:
            self._maybe_fail("transact")
            failed = [
                f"(pk={item['pk']!r}, sk={item['sk']!r})"
                for op, item in zip(ops, puts, strict=True)
                if not self._holds(op.condition, self._items.get((item["pk"], item["sk"])), where)
            ]
            if failed:
                raise ConditionFailed(f"{where}: cancelled, condition failed on {', '.join(failed)}")
            for item in puts:
                self._items[(item["pk"], item["sk"])] = item


class MemoryObjectStore(_Faults):
    """``ports.ObjectStore`` in memory: key → bytes; the ETag is the MD5 of the body (as S3 gives for a
    single-part upload)."""

    OPERATIONS = frozenset({"open", "open_seekable", "open_from", "get_bytes", "get_range", "put_bytes"})

    def __init__(self, bucket: str = "memory") -> None:
        super().__init__()
        self.bucket = bucket
        self._objects: dict[str, tuple[bytes, str]] = {}
        self.modified: dict[str, float] = {}  # key -> epoch seconds of its last put (tests may set it)

    def _body(self, op: str, key: str) -> bytes:
        with self._lock:
            self._maybe_fail(op)
            found = self._objects.get(key)
        if found is None:
            raise NotFound(f"s3://{self.bucket}/{key}: no such object")
        return found[0]

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._body("open", key))

    def open_seekable(self, key: str) -> BinaryIO:
        return io.BytesIO(self._body("open_seekable", key))

    def get_bytes(self, key: str) -> bytes:
        return self._body("get_bytes", key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self._body("get_range", key)[start:end]

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        storage_class: str | None = None,
    ) -> None:
        with self._lock:
            self._maybe_fail("put_bytes")
            self._objects[key] = (bytes(data), content_type)
            self.modified[key] = time.time()

    def open_from(self, key: str, start: int, *, etag: str) -> BinaryIO:
        body = self._body("open_from", key)
        if hashlib.md5(body, usedforsecurity=False).hexdigest() != etag:
            raise StorageError(f"s3://{self.bucket}/{key}: the object changed while it was being read", retryable=True)
        return io.BytesIO(body[start:])

    def content_type(self, key: str) -> str:
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise NotFound(f"s3://{self.bucket}/{key}: no such object")
        return found[1]

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._objects)

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """``ports.ObjectLister``: the objects under ``prefix`` in key order (last modified: when put)."""
        with self._lock:
            found = sorted((k, v) for k, v in self._objects.items() if k.startswith(prefix))
        for key, (body, _) in found:
            yield ListedObject(key, hashlib.md5(body, usedforsecurity=False).hexdigest(), len(body), self.modified[key])


class MemoryAlertSink(_Faults):
    """``ports.AlertSink`` in memory: every publish is checked like SNS would and recorded in ``published``
    as ``{"message_id", "subject", "messages", "attributes"}``."""

    OPERATIONS = frozenset({"publish"})

    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def publish(self, *, subject: str, messages: Mapping[str, str], attributes: Mapping[str, str]) -> str:
        check_publish(subject, messages, attributes)
        message_id = str(uuid.uuid4())
        with self._lock:
            self._maybe_fail("publish")
            self.published.append(
                {
                    "message_id": message_id,
                    "subject": subject,
                    "messages": dict(messages),
                    "attributes": dict(attributes),
                }
            )
        return message_id


class MemoryEventSink(_Faults):
    """``ports.EventSink`` in memory: every event is checked like EventBridge would and recorded in ``events``
    as ``{"event_id", "source", "detail_type", "detail"}``."""

    OPERATIONS = frozenset({"put"})

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def put(self, *, detail: str) -> str:
        check_detail(detail)
        event_id = str(uuid.uuid4())
        with self._lock:
            self._maybe_fail("put")
            self.events.append({"event_id": event_id, "source": SOURCE, "detail_type": DETAIL_TYPE, "detail": detail})
        return event_id


class MemoryQueue(_Faults):
    """``ports.MessageQueue`` in memory: the bodies sent, in order, in ``messages`` (a consumer pops them)."""

    OPERATIONS = frozenset({"send_batch"})

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.sent = 0

    def send_batch(self, bodies: Sequence[str]) -> None:
        with self._lock:
            self._maybe_fail("send_batch")
            self.messages.extend(str(b) for b in bodies)
            self.sent += len(bodies)

    def take(self, n: int | None = None) -> list[str]:
        """Receive (and delete) up to ``n`` messages, oldest first (all without ``n``)."""
        with self._lock:
            n = len(self.messages) if n is None else n
            out, self.messages = self.messages[:n], self.messages[n:]
            return out
