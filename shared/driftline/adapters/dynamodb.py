"""``Table`` over one DynamoDB table (keys ``pk``/``sk``, GSI ``gsi1`` on ``gsi1pk``/``gsi1sk``), with the
low-level boto3 client.

Over 400 lines: one client adapter, each Table operation with its paging, chunking and retries.

Values follow ``driftline.adapters.dynamo_items`` (the same rules as the in-memory fake).

Errors are translated here: ConditionalCheckFailed → ``ConditionFailed``; throttling and server errors (after
botocore's own retries) → ``StorageError(retryable=True)``; anything else → ``StorageError``; each message names
the table and the key.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from driftline.adapters._errors import translate
from driftline.adapters.dynamo_items import (
    GSI1,
    INDEX_ATTRS,
    KEY_ATTRS,
    check_add_args,
    check_key_value,
    check_query_args,
    check_transact_args,
    decode_value,
    dedupe_items,
    describe_key,
    encode_item,
    encode_value,
)
from driftline.core.errors import StorageError
from driftline.services.ports import Condition, ConditionFailed, Item, Put

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_PUT_CHUNK = 25
BATCH_GET_CHUNK = 100

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
_RETRYABLE_CANCEL_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


# -- the adapter -----------------------------------------------------------------------------------------------------


class _Expr:
    """Collects ExpressionAttributeNames/Values for one request."""

    def __init__(self, serializer: TypeSerializer) -> None:
        self._ser = serializer
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attr: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attr:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, encoded: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = self._ser.serialize(encoded)
        return placeholder

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


class DynamoTable:
    """``ports.Table`` over a DynamoDB table. ``client`` is a boto3 DynamoDB client created once by the runtime."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 4,
    ) -> None:
        self._workers = workers
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._client = client
        self.table_name = table_name
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _where(self, pk: Any, sk: Any) -> str:
        return describe_key(self.table_name, pk, sk)

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        where = self._where(pk, sk)
        check_key_value("pk", pk, where)
        check_key_value("sk", sk, where)
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _wire(self, encoded: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in encoded.items()}

    def _decode(self, wire: Mapping[str, Any]) -> Item:
        return {k: decode_value(self._de.deserialize(v)) for k, v in wire.items()}

    def _condition(self, cond: Condition | None, expr: _Expr, where: str) -> str | None:
        parts: list[str] = []
        if cond is not None:
            if cond.absent:
                parts.append(f"attribute_not_exists({expr.name('pk')})")
            if cond.attr is not None:
                if cond.equals is None:
                    parts.append(f"attribute_not_exists({expr.name(cond.attr)})")
                else:
                    value = encode_value(cond.equals, cond.attr, where)
                    parts.append(f"{expr.name(cond.attr)} = {expr.value(value)}")
        return " AND ".join(parts) if parts else None

    def _error(self, err: Exception, where: str) -> StorageError:
        return translate(
            err,
            where,
            retryable=RETRYABLE_CODES,
            special={
                "ConditionalCheckFailedException": lambda m: ConditionFailed(f"{where}: condition failed"),
                "ResourceNotFoundException": lambda m: StorageError(
                    f"{where}: table {self.table_name!r} not found ({m})"
                ),
            },
        )

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt)))

    # -- Table -----------------------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> Item | None:
        where = self._where(pk, sk)
        try:
            resp = self._client.get_item(TableName=self.table_name, Key=self._key(pk, sk), ConsistentRead=True)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, where) from err
        wire = resp.get("Item")
        return None if wire is None else self._decode(wire)

    def put(self, item: Item, *, condition: Condition | None = None) -> None:
        encoded = encode_item(item, self.table_name)
        where = self._where(item.get("pk"), item.get("sk"))
        expr = _Expr(self._ser)
        kwargs: dict[str, Any] = {}
        cond = self._condition(condition, expr, where)
        if cond:
            kwargs = {"ConditionExpression": cond, **expr.kwargs()}
        try:
            self._client.put_item(TableName=self.table_name, Item=self._wire(encoded), **kwargs)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, where) from err

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
        where = self._where(pk, sk)
        key = self._key(pk, sk)
        if not counters and not set_values:
            return self._touch(pk, sk)
        for name in INDEX_ATTRS:
            if name in set_values:
                check_key_value(name, set_values[name], where)
        expr = _Expr(self._ser)
        adds = [f"{expr.name(n)} {expr.value(encode_value(v, n, where))}" for n, v in counters.items()]
        sets = [f"{expr.name(n)} = {expr.value(encode_value(v, n, where))}" for n, v in set_values.items()]
        clauses = (["ADD " + ", ".join(adds)] if adds else []) + (["SET " + ", ".join(sets)] if sets else [])
        update = " ".join(clauses)
        try:
            resp = self._client.update_item(
                TableName=self.table_name, Key=key, UpdateExpression=update, ReturnValues="ALL_NEW", **expr.kwargs()
            )
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, where) from err
        return self._decode(resp.get("Attributes", {}))

    def _touch(self, pk: str, sk: str) -> Item:
        """``add()`` with nothing to add: create the item with its key alone if it does not exist."""
        for _ in range(self._max_attempts):
            try:
                self.put({"pk": pk, "sk": sk}, condition=Condition(absent=True))
                return {"pk": pk, "sk": sk}
            except ConditionFailed:
                existing = self.get(pk, sk)
                if existing is not None:
                    return existing
        raise StorageError(f"{self._where(pk, sk)}: item keeps appearing and disappearing", retryable=True)

    def delete(self, pk: str, sk: str, *, condition: Condition | None = None) -> None:
        where = self._where(pk, sk)
        expr = _Expr(self._ser)
        kwargs: dict[str, Any] = {}
        cond = self._condition(condition, expr, where)
        if cond:
            kwargs = {"ConditionExpression": cond, **expr.kwargs()}
        try:
            self._client.delete_item(TableName=self.table_name, Key=self._key(pk, sk), **kwargs)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, where) from err

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
        pk_name, sk_name = ("gsi1pk", "gsi1sk") if index == GSI1 else ("pk", "sk")
        where = f"table {self.table_name!r}{', index ' + index if index else ''}, query {pk_name}={pk!r}"
        check_key_value(pk_name, pk, where)
        expr = _Expr(self._ser)
        cond = f"{expr.name(pk_name)} = {expr.value(pk)}"
        post_prefix: str | None = None  # a prefix combined with a range is checked here, not by DynamoDB
        low, high = sk_from, sk_to
        if sk_prefix is not None and (low is not None or high is not None):
            post_prefix = sk_prefix
            low = max(low, sk_prefix) if low is not None else sk_prefix
            if high is not None and low > high:
                return iter(())
        if sk_prefix is not None and post_prefix is None:
            cond += f" AND begins_with({expr.name(sk_name)}, {expr.value(sk_prefix)})"
        elif low is not None and high is not None:
            cond += f" AND {expr.name(sk_name)} BETWEEN {expr.value(low)} AND {expr.value(high)}"
        elif low is not None:
            cond += f" AND {expr.name(sk_name)} >= {expr.value(low)}"
        elif high is not None:
            cond += f" AND {expr.name(sk_name)} <= {expr.value(high)}"
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": cond,
            "ScanIndexForward": not reverse,
            **expr.kwargs(),
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        return self._pages(kwargs, sk_name, post_prefix, reverse, limit, where)

    def _pages(
        self,
        kwargs: dict[str, Any],
        sk_name: str,
        prefix: str | None,
        reverse: bool,
        limit: int | None,
        where: str,
    ) -> Iterator[Item]:
        remaining = limit
        matched = False
        while remaining is None or remaining > 0:
            if remaining is not None and prefix is None:
                kwargs["Limit"] = remaining
            try:
                resp = self._client.query(**kwargs)
            except (ClientError, BotoCoreError) as err:
                raise self._error(err, where) from err
            for wire in resp.get("Items", []):
                item = self._decode(wire)
                if prefix is not None:
                    if not str(item.get(sk_name, "")).startswith(prefix):
                        if matched or not reverse:
                            return  # sorted: past the prefix's range
                        continue  # reverse: not yet inside it
                    matched = True
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def batch_put(self, items: Sequence[Item]) -> None:
        unique = dedupe_items(items)
        wires = [self._wire(encode_item(item, self.table_name)) for item in unique]  # all checked before any write
        starts = range(0, len(wires), BATCH_PUT_CHUNK)
        self._parallel([lambda s=s: self._put_chunk(unique, wires, s) for s in starts])  # type: ignore[misc]

    def _parallel(self, calls: list[Any]) -> None:
        """Run independent batch requests on a few threads (the boto3 client is thread-safe); the first error
        is raised once all have finished."""
        if len(calls) <= 1 or self._workers <= 1:
            for call in calls:
                call()
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
            errors = [f.exception() for f in futures]
        for err in errors:
            if err is not None:
                raise err

    def _put_chunk(self, unique: Sequence[Item], wires: Sequence[Any], start: int) -> None:
        requests: list[Any] = [{"PutRequest": {"Item": w}} for w in wires[start : start + BATCH_PUT_CHUNK]]
        first = unique[start]
        where = f"table {self.table_name!r}, batch_put of {len(requests)} items from (pk={first.get('pk')!r}, "
        where += f"sk={first.get('sk')!r})"
        for attempt in range(self._max_attempts):
            try:
                resp = self._client.batch_write_item(RequestItems={self.table_name: requests})
            except (ClientError, BotoCoreError) as err:
                raise self._error(err, where) from err
            requests = list(resp.get("UnprocessedItems", {}).get(self.table_name, []))
            if not requests:
                return
            if attempt + 1 < self._max_attempts:
                self._backoff(attempt)
        keys = [self._decode({k: r["PutRequest"]["Item"][k] for k in KEY_ATTRS}) for r in requests[:3]]
        raise StorageError(
            f"{where}: {len(requests)} items still unprocessed after {self._max_attempts} attempts "
            f"(throttled), e.g. {[(k['pk'], k['sk']) for k in keys]}",
            retryable=True,
        )

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        unique = list(dict.fromkeys(keys))
        wire_keys = [self._key(pk, sk) for pk, sk in unique]
        found: list[Item] = []
        for start in range(0, len(wire_keys), BATCH_GET_CHUNK):
            chunk = wire_keys[start : start + BATCH_GET_CHUNK]
            first = unique[start]
            where = f"table {self.table_name!r}, batch_get of {len(chunk)} keys from (pk={first[0]!r}, sk={first[1]!r})"
            request: dict[str, Any] = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(self._max_attempts):
                try:
                    resp = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as err:
                    raise self._error(err, where) from err
                found.extend(self._decode(w) for w in resp.get("Responses", {}).get(self.table_name, []))
                pending = resp.get("UnprocessedKeys", {}).get(self.table_name)
                if not pending or not pending.get("Keys"):
                    break
                request = {self.table_name: pending}
                if attempt + 1 < self._max_attempts:
                    self._backoff(attempt)
            else:
                raise StorageError(
                    f"{where}: {len(request[self.table_name]['Keys'])} keys still unprocessed after "
                    f"{self._max_attempts} attempts (throttled)",
                    retryable=True,
                )
        return found

    def transact(self, ops: Sequence[Put]) -> None:
        check_transact_args(ops)
        if not ops:
            return
        transact_items: list[Any] = []
        for op in ops:
            expr = _Expr(self._ser)
            encoded = encode_item(op.item, self.table_name)
            where = self._where(op.item.get("pk"), op.item.get("sk"))
            body: dict[str, Any] = {"TableName": self.table_name, "Item": self._wire(encoded)}
            cond = self._condition(op.condition, expr, where)
            if cond:
                body.update(ConditionExpression=cond, **expr.kwargs())
            transact_items.append({"Put": body})
        where = f"table {self.table_name!r}, transaction of {len(ops)} operations"
        try:
            self._client.transact_write_items(TransactItems=transact_items)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise self._cancelled(err, ops, where) from err
            raise self._error(err, where) from err
        except BotoCoreError as err:
            raise self._error(err, where) from err

    def _cancelled(self, err: ClientError, ops: Sequence[Put], where: str) -> StorageError:
        reasons: list[Any] = list(err.response.get("CancellationReasons", []))  # type: ignore[call-overload]
        codes = [str(r.get("Code", "None")) for r in reasons]
        if not codes:  # older responses: only the message lists the codes, "[ConditionalCheckFailed, None]"
            message = str(err.response.get("Error", {}).get("Message", ""))
            inner = message[message.rfind("[") + 1 : message.rfind("]")] if "[" in message else ""
            codes = [c.strip() for c in inner.split(",") if c.strip()]

        def key_of(i: int) -> str:
            return f"(pk={ops[i].item.get('pk')!r}, sk={ops[i].item.get('sk')!r})"

        failed = [key_of(i) for i, c in enumerate(codes) if c == "ConditionalCheckFailed" and i < len(ops)]
        if failed:
            return ConditionFailed(f"{where}: cancelled, condition failed on {', '.join(failed)}")
        if any(c in _RETRYABLE_CANCEL_REASONS for c in codes):
            return StorageError(f"{where}: cancelled ({', '.join(codes)})", retryable=True)
        return StorageError(f"{where}: cancelled ({', '.join(codes) or 'no reason given'})")
