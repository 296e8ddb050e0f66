"""The small interfaces the services are written against; adapters (DynamoDB, S3, SNS) and in-memory fakes
implement them.

``Table`` is deliberately low-level (one DynamoDB table: items keyed by ``pk``/``sk``, one GSI ``gsi1``): the
key design lives once, in ``driftline.services.store``, over either implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from driftline.core.errors import StorageError

Item = dict[str, Any]  # attribute values: str, int, float, bool, bytes, None, list, dict


class ConditionFailed(StorageError):
    """A conditional write found the item in another state than it required."""

    def __init__(self, message: str = "condition failed") -> None:
        super().__init__(message, retryable=False)


class NotFound(StorageError):
    """The object or item does not exist."""


@dataclass(frozen=True)
class Condition:
    """A write condition: the item must not exist (``absent``), or its attribute ``attr`` must equal ``equals``
    (``equals=None`` with ``attr`` set: the attribute must not exist)."""

    absent: bool = False
    attr: str | None = None
    equals: Any = None


@dataclass(frozen=True)
class Put:
    item: Item
    condition: Condition | None = None


class Table(Protocol):
    def get(self, pk: str, sk: str) -> Item | None:
        """The item (a strongly consistent read), or None."""
        ...

    def put(self, item: Item, *, condition: Condition | None = None) -> None:
        """Raises ConditionFailed when ``condition`` does not hold."""

    def add(
        self, pk: str, sk: str, counters: Mapping[str, int | float], *, set_values: Mapping[str, Any] = ...
    ) -> Item:
        """Atomically add to numeric attributes (creating the item) and set others; returns the new item."""
        ...

    def delete(self, pk: str, sk: str, *, condition: Condition | None = None) -> None: ...

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
        """Items of one partition (``pk``, or ``gsi1pk`` with ``index="gsi1"``), sorted by sort key, with
        ``sk_from <= sk <= sk_to`` and/or ``sk`` beginning with ``sk_prefix``; pages followed transparently."""
        ...

    def batch_put(self, items: Sequence[Item]) -> None:
        """Unconditional puts, any number (chunked and retried by the implementation)."""

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        """The items that exist among ``keys``, in no particular order."""
        ...

    def transact(self, ops: Sequence[Put]) -> None:
        """Puts, all or nothing, at most 100 (on distinct items). Raises ConditionFailed if any condition fails."""


class ObjectStore(Protocol):
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's body (not loaded whole). Raises NotFound."""
        ...

    def open_seekable(self, key: str) -> BinaryIO:
        """A seekable stream (ranged reads), for formats that need random access (Parquet)."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the object, in one ranged GET. Raises NotFound."""
        ...

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        storage_class: str | None = None,
    ) -> None:
        """``storage_class``: S3's (e.g. INTELLIGENT_TIERING); default the bucket's (STANDARD)."""

    def open_from(self, key: str, start: int, *, etag: str) -> BinaryIO:
        """A readable stream of the object from byte ``start``, if its ETag is still ``etag``. Raises NotFound."""
        ...


class AlertSink(Protocol):
    def publish(self, *, subject: str, messages: Mapping[str, str], attributes: Mapping[str, str]) -> str:
        """Publish one alert: ``messages`` per protocol (``default``, ``email``, ...), sent with
        MessageStructure=json; ``attributes`` become String message attributes. Returns the message id."""
        ...


class EventSink(Protocol):
    def put(self, *, detail: str) -> str:
        """Put one alert event on the bus (source ``driftline``, detail type ``Driftline Alert``, ``detail`` the
        alert's JSON object). Returns the event id."""
        ...


@dataclass(frozen=True)
class ListedObject:
    """One object of a bucket listing: its key (decoded), ETag (without quotes), size and last modification."""

    key: str
    etag: str
    size: int
    last_modified: float  # epoch seconds


class MessageQueue(Protocol):
    def send_batch(self, bodies: Sequence[str]) -> None:
        """Send messages (any number: chunked by 10 and retried by the implementation); each body is a string.
        Raises StorageError naming the queue when some could not be sent."""


class ObjectLister(Protocol):
    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """The objects whose key begins with ``prefix``, in key order; pages followed transparently."""
        ...
