"""DynamoDB's item rules, shared by the adapter (``driftline.adapters.dynamodb``) and the in-memory fake
(``driftline.adapters.memory``): how values are encoded and decoded, an item's size, equality in conditions, and
the checks on a request's arguments that DynamoDB itself would make.

Values. Items hold str, int, float, bool, bytes, None, and lists and dicts of those. DynamoDB has one number
type (decimal, 38 significant digits, magnitude about 1E-130 to 1E+126), and it trims trailing zeros, so the
type of a number cannot be stored. The rule, the same in this adapter and in the in-memory fake:

* on the way in, an int is stored exactly (``Decimal(n)``) and a float as its shortest repr
  (``Decimal(repr(x))``); NaN and infinities, ints of more than 38 digits and floats out of DynamoDB's range
  are refused with a ``StorageError`` naming the attribute;
* on the way out, a number that is not integral comes back as ``float``; an integral one as ``int``, except
  above 2**53 when it is exactly the shortest repr of a float (``1.5e100``, ``1e18``): then as that float.

So every float ``x`` comes back equal to ``x`` (non-integral ones and large ones as the same float, integral
ones up to 2**53 such as ``3.0`` as the equal int ``3``), and every int comes back exactly, except large round
ints indistinguishable from a float's repr (``10**18`` comes back as ``1e18``; ``10**23`` as ``1e23``, which is
not equal to it). Counters added with ``add()`` are summed in decimal by DynamoDB (``0.1 + 0.2`` gives
``0.3``). bytes are stored as Binary and come back as bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, DecimalException
from typing import Any, cast

from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary

from driftline.core.errors import StorageError
from driftline.services.ports import Item, Put

MAX_ITEM_BYTES = 400 * 1024
MAX_TRANSACT_OPS = 100
GSI1 = "gsi1"
KEY_ATTRS = ("pk", "sk")
INDEX_ATTRS = ("gsi1pk", "gsi1sk")


# -- values ----------------------------------------------------------------------------------------------------------


def _binary_bytes(value: Binary) -> bytes:
    return bytes(cast(Any, value).value)  # the stubs type Binary.__bytes__ as returning str


def _number(value: Decimal, path: str, where: str) -> Decimal:
    if not value.is_finite():
        raise StorageError(f"{where}: attribute {path!r} is {value}; NaN and infinities cannot be stored")
    try:
        return DYNAMODB_CONTEXT.create_decimal(value)
    except DecimalException as err:
        raise StorageError(
            f"{where}: attribute {path!r} = {value} cannot be stored as a DynamoDB number "
            "(at most 38 significant digits, magnitude 1E-128 to 1E+126)"
        ) from err


def encode_value(value: Any, path: str, where: str) -> Any:
    """A value in the form DynamoDB stores (numbers as Decimal, bytes as bytes), checked; ``path`` names the
    attribute in error messages."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return _number(Decimal(value), path, where)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StorageError(f"{where}: attribute {path!r} is {value!r}; NaN and infinities cannot be stored")
        return _number(Decimal(repr(value)), path, where)
    if isinstance(value, Decimal):
        return _number(value, path, where)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Binary):
        return _binary_bytes(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StorageError(f"{where}: attribute {path!r} has a non-string map key {k!r}")
            out[k] = encode_value(v, f"{path}.{k}", where)
        return out
    if isinstance(value, list | tuple):
        return [encode_value(v, f"{path}[{i}]", where) for i, v in enumerate(value)]
    raise StorageError(f"{where}: attribute {path!r} has a type that cannot be stored: {type(value).__name__}")


_EXACT_FLOAT_INTS = Decimal(2**53)


def decode_number(value: Decimal) -> int | float:
    """A stored number as int or float (the rule in the module docstring)."""
    if value != value.to_integral_value():
        return float(value)
    if abs(value) <= _EXACT_FLOAT_INTS:
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == value:
        return as_float  # what a float stored: its shortest repr
    return int(value)


def decode_value(value: Any) -> Any:
    """The Python value of a stored value: integral numbers as int, other numbers as float, Binary as bytes."""
    if isinstance(value, Decimal):
        return decode_number(value)
    if isinstance(value, Binary):
        return _binary_bytes(value)
    if isinstance(value, dict):
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return {decode_value(v) for v in value}
    return value


def describe_key(table: str, pk: Any, sk: Any) -> str:
    return f"table {table!r}, key (pk={pk!r}, sk={sk!r})"


def check_key_value(name: str, value: Any, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise StorageError(f"{where}: key attribute {name!r} must be a non-empty string, got {value!r}")


def encode_item(item: Mapping[str, Any], table: str) -> dict[str, Any]:
    """The stored form of a whole item: keys checked, values encoded, size within DynamoDB's 400 KB."""
    where = describe_key(table, item.get("pk"), item.get("sk"))
    for name in KEY_ATTRS:
        check_key_value(name, item.get(name), where)
    for name in INDEX_ATTRS:
        if name in item:
            check_key_value(name, item[name], where)
    out = {str(k): encode_value(v, str(k), where) for k, v in item.items()}
    size = item_size(out)
    if size > MAX_ITEM_BYTES:
        raise StorageError(
            f"{where}: item is {size} bytes, above DynamoDB's limit of {MAX_ITEM_BYTES} bytes (400 KB); "
            "split it into several items"
        )
    return out


def _value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Decimal):
        digits = len(value.normalize().as_tuple().digits)
        return 1 + (digits + 1) // 2
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode("utf-8")) + _value_size(v) for k, v in value.items())
    if isinstance(value, list):
        return 3 + sum(1 + _value_size(v) for v in value)
    return len(repr(value))


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an encoded item (names + values, per the documented rules; within a few bytes)."""
    return sum(len(k.encode("utf-8")) + _value_size(v) for k, v in item.items())


def values_equal(a: Any, b: Any) -> bool:
    """DynamoDB's ``=`` on decoded values: no equality across types (``True`` is not ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


# -- request checks shared with the in-memory fake -------------------------------------------------------------------


def check_add_args(counters: Mapping[str, int | float], set_values: Mapping[str, Any]) -> None:
    for name in list(counters) + list(set_values):
        if name in KEY_ATTRS:
            raise ValueError(f"add(): {name!r} is a key attribute and cannot be updated")
    both = set(counters) & set(set_values)
    if both:
        raise ValueError(f"add(): attributes {sorted(both)} are both counters and set values")
    for name, inc in counters.items():
        if isinstance(inc, bool) or not isinstance(inc, int | float):
            raise ValueError(f"add(): counter {name!r} must be an int or a float, got {inc!r}")


def check_query_args(sk_from: str | None, sk_to: str | None, index: str | None, limit: int | None) -> None:
    if index not in (None, GSI1):
        raise ValueError(f"query(): unknown index {index!r} (the table has {GSI1!r})")
    if sk_from is not None and sk_to is not None and sk_from > sk_to:
        raise ValueError(f"query(): sk_from {sk_from!r} is after sk_to {sk_to!r}")
    if limit is not None and limit < 0:
        raise ValueError(f"query(): limit must be >= 0, got {limit}")


def check_transact_args(ops: Sequence[Put]) -> None:
    if len(ops) > MAX_TRANSACT_OPS:
        raise ValueError(f"transact(): at most {MAX_TRANSACT_OPS} operations, got {len(ops)}")
    seen: set[tuple[Any, Any]] = set()
    for op in ops:
        key = (op.item.get("pk"), op.item.get("sk"))
        if key in seen:
            raise ValueError(f"transact(): two operations on the same item (pk={key[0]!r}, sk={key[1]!r})")
        seen.add(key)


def dedupe_items(items: Sequence[Item]) -> list[Item]:
    """The last item written per key, in first-seen key order (as if written one by one)."""
    by_key: dict[tuple[Any, Any], Item] = {}
    for item in items:
        by_key[(item.get("pk"), item.get("sk"))] = item
    return list(by_key.values())
