"""Ids as 128-bit keys, and the bucketed id packs the label join stores in S3 (``_driftline/ids/``).

An id is never stored: it is hashed to two independent FNV-1a lanes, ``h1`` (64 bits) and ``h2`` (32), computed for
a whole Arrow column at once (one numpy pass per character position, no Python loop over rows). Two different ids
share both with probability about n² / 2^97 — for 10^10 ids in retention (100M a day for 90 days), about 10^-9.

A *pack* is one S3 object of rows sorted by (bucket, h1, h2): a header of byte offsets, then one Arrow IPC stream
(zstd-compressed) per hash bucket (``bucket = the top BUCKET_BITS of h1``). A reader that needs a few buckets fetches
the header and those byte ranges; one that needs most of them fetches the object whole.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from driftline.io.coerce import to_category

BUCKET_BITS = 4
BUCKETS = 1 << BUCKET_BITS
_MAGIC = b"DLID"
_HEADER = struct.Struct(f"<4sI{BUCKETS + 1}Q")  # magic, version, bucket offsets (from the end of the header)
HEADER_BYTES = _HEADER.size
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")  # windows, codes, predictions compress; the hashes do not

_FNV_PRIME = np.uint64(0x100000001B3)
_BASIS_1 = np.uint64(0xCBF29CE484222325)
_BASIS_2 = np.uint64(0x84222325CBF29CE4)
_MIX_2 = np.uint64(0x9E3779B97F4A7C15)  # the second lane multiplies by another odd constant

U64 = npt.NDArray[np.uint64]


def id_keys(arr: Any) -> tuple[U64, npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
    """(h1, h2, valid) of an id column of any type (read as text, so "007" stays "007"); a missing id is not
    valid (its lanes are 0)."""
    text = to_category(arr)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.large_binary())
    n = len(text)
    valid = np.ones(n, bool) if text.null_count == 0 else ~np.asarray(text.is_null().to_numpy(zero_copy_only=False))
    bufs = text.buffers()
    offsets = np.frombuffer(bufs[1], np.int64)[text.offset : text.offset + n + 1] if n else np.zeros(1, np.int64)
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h1 = np.full(n, _BASIS_1, np.uint64)
    h2 = np.full(n, _BASIS_2, np.uint64) ^ lengths.astype(np.uint64)
    maxlen = int(lengths.max()) if n else 0
    active = np.arange(n)
    for j in range(maxlen):
        active = active[lengths[active] > j]
        b = data[starts[active] + j].astype(np.uint64)
        h1[active] = (h1[active] ^ b) * _FNV_PRIME
        h2[active] = (h2[active] ^ b) * _MIX_2
    h1 = _finalize(h1)
    h1[~valid] = 0
    h2 = (_finalize(h2) >> np.uint64(32)).astype(np.uint32)
    h2[~valid] = 0
    return h1, h2, valid


def _finalize(h: U64) -> U64:
    """splitmix64's finaliser: FNV's high bits (the bucket) are poorly mixed for short ids."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def bucket_of(h1: U64) -> npt.NDArray[np.int64]:
    return (h1 >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


def sort_order(h1: U64, h2: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Rows by (h1, h2) (the bucket is h1's top bits), stable: of equal keys the earlier row comes first."""
    return np.lexsort((h2, h1))


def first_of_each(h1: U64, h2: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Indices of the first row of each distinct key, in key order."""
    order = sort_order(h1, h2)
    s1, s2 = h1[order], h2[order]
    new = np.ones(len(order), bool)
    new[1:] = (s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1])
    return order[new]


def lookup(keys1: U64, keys2: npt.NDArray[Any], h1: U64, h2: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """For each (h1, h2), its index in the sorted, distinct ``(keys1, keys2)``, or -1."""
    pos = np.searchsorted(keys1, h1, side="left")
    out = np.full(len(h1), -1, np.int64)
    for _ in range(4):  # equal h1 with different h2 (a 64-bit collision): step over them, rarely more than once
        inside = pos < len(keys1)
        cand = np.zeros(len(h1), bool)
        cand[inside] = keys1[pos[inside]] == h1[inside]
        if not cand.any():
            break
        hit = cand.copy()
        hit[cand] = keys2[pos[cand]] == h2[cand]
        out[hit & (out < 0)] = pos[hit & (out < 0)]
        pos = np.where(cand & ~hit, pos + 1, len(keys1))
    return out


def encode_pack(table: pa.Table) -> bytes:
    """A pack of ``table``, which has ``h1``/``h2`` columns (uint64) and is sorted by them."""
    h1 = table.column("h1").to_numpy()
    edges = np.searchsorted(bucket_of(h1), np.arange(BUCKETS + 1))
    parts: list[bytes] = []
    offsets = [0]
    for b in range(BUCKETS):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
            writer.write_table(table.slice(int(edges[b]), int(edges[b + 1] - edges[b])))
        parts.append(sink.getvalue().to_pybytes())
        offsets.append(offsets[-1] + len(parts[-1]))
    return _HEADER.pack(_MAGIC, 1, *offsets) + b"".join(parts)


def _offsets(header: bytes, key: str) -> tuple[int, ...]:
    magic, version, *offsets = _HEADER.unpack(header[:HEADER_BYTES])
    if magic != _MAGIC or version != 1:
        raise ValueError(f"{key}: not a Driftline id pack")
    return tuple(offsets)


def read_pack(
    key: str,
    buckets: Sequence[int],
    get: Callable[[str], bytes],
    get_range: Callable[[str, int, int], bytes] | None,
) -> pa.Table | None:
    """The rows of ``buckets`` (sorted by key), with ``get`` (whole object) or ``get_range`` (start, end
    exclusive); None when no bucket is asked for."""
    wanted = sorted(set(int(b) for b in buckets))
    if not wanted:
        return None
    runs: list[tuple[int, int]] = []  # contiguous bucket runs
    for b in wanted:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + 1)
        else:
            runs.append((b, b + 1))
    if get_range is None or len(wanted) * 2 >= BUCKETS or len(runs) > 3:  # one GET of the whole, or a few ranged
        whole = get(key)
        offsets = _offsets(whole, key)
        view = memoryview(whole)
        blobs: list[Any] = [view[HEADER_BYTES + offsets[a] : HEADER_BYTES + offsets[b]] for a, b in runs]
    else:
        offsets = _offsets(get_range(key, 0, HEADER_BYTES), key)
        blobs = [get_range(key, HEADER_BYTES + offsets[a], HEADER_BYTES + offsets[b]) for a, b in runs]
    tables = []
    for (a, b), blob in zip(runs, blobs, strict=True):
        buf, pos = pa.py_buffer(blob), 0  # zero-copy slices of the run
        for bucket in range(a, b):
            size = offsets[bucket + 1] - offsets[bucket]
            tables.append(pa.ipc.open_stream(buf.slice(pos, size)).read_all())
            pos += size
    return pa.concat_tables(tables) if tables else None
