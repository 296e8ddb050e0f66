"""The store's encodings, shared by its areas: keys (window starts, file ids), packed blobs split into parts, and
the base every area of the ``Store`` builds on (its table, clock and retention)."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from driftline.core.profile import Profile
from driftline.services.ports import Item, Table

PART_BYTES = 280_000  # AWS counts binary bytes; moto 5.0 counts their base64 (4/3): fits both
NONE = "-"  # stands for "no column" / "whole population" inside keys


PARTIAL_TTL = 2 * 86_400  # an open window's packed partial points expire this long after the window ends
KEY_EPOCH_OFFSET = 10**12  # keys of times before 1970 stay non-negative, so they sort like the times


def ws_key(window_start: float) -> str:
    """A time as a sort key: 13 digits of whole seconds (offset so that pre-1970 times sort too), and for a
    non-integral time a fraction, e.g. ``1001763856000`` or ``1001763856000.250000``."""
    shifted = window_start + KEY_EPOCH_OFFSET
    return f"{shifted:013d}" if isinstance(shifted, int) else f"{shifted:020.6f}"


def file_id_for(bucket: str, key: str, etag: str) -> str:
    """One id per object version: the same (bucket, key, ETag) always gives the same id."""
    return hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode()).hexdigest()[:24]


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":"), allow_nan=False).encode(), 6)


def _unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


def _parts(blob: bytes) -> list[bytes]:
    return [blob[i : i + PART_BYTES] for i in range(0, max(len(blob), 1), PART_BYTES)] or [b""]


def profiles_to_doc(profiles: dict[str | None, Profile]) -> dict[str, Any]:
    return {(NONE if seg is None else seg): p.to_dict() for seg, p in profiles.items()}


def doc_to_profiles(doc: dict[str, Any]) -> dict[str | None, Profile]:
    return {(None if seg == NONE else seg): Profile.from_dict(p) for seg, p in doc.items()}


def _storable(x: float) -> float:
    """DynamoDB numbers span 1e-130 .. 1e125 in magnitude: smaller values (p-values) are stored as 0."""
    return 0.0 if abs(x) < 1e-120 else x


def _complete(items: Sequence[Item], prefix: str) -> bool:
    parts = [i for i in items if str(i["sk"]).startswith(prefix)]
    return bool(parts) and len(parts) == int(parts[0]["parts"])


def _join(parts: Iterable[Item]) -> bytes:
    ordered = sorted(parts, key=lambda i: str(i["sk"]))
    return b"".join(bytes(i["data"]) for i in ordered)


class StoreBase:
    """What every area of the store works with: the table, the clock, and how long items are kept."""

    table: Table
    clock: Callable[[], float]
    metrics_ttl: int
    id_ttl: int
