"""JSON Lines: blocks of whole lines parsed one at a time, and the recovery of a block pyarrow refuses (type
conflicts split by JSON kind, a broken line located by halves); see the package docstring.

Over 400 lines: one reader whose parse and recovery paths share the block's lines and the plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from driftline.core.errors import InputError
from driftline.io.coerce import NESTED_PLACEHOLDER
from driftline.io.readers import stream
from driftline.io.readers.stream import _as_string, _check_utf8, _Plan, _Utf8Error

#: pyarrow's JSON chunk size within a block (the unit of parallel parsing).
_JSON_CHUNK_BYTES: Final = 1 << 20
#: JSON values nested deeper than this reject the file before pyarrow parses it: pyarrow's JSON parser recurses per
#: level and crashes the process (SIGSEGV) at a few tens of thousands of levels (30,000 in pyarrow 26).
MAX_JSON_DEPTH: Final = 512
#: A JSON line longer than this rejects the file (a line is parsed whole: memory grows with it).
MAX_JSON_LINE_BYTES: Final = 128 << 20


_KIND_ABSENT: Final = 0
_KIND_NULL: Final = 1
_KIND_STRING: Final = 2
_KIND_INT: Final = 3
_KIND_FLOAT: Final = 4
_KIND_BOOL: Final = 5
_KIND_NESTED: Final = 6
_KIND_TYPES: Final = {
    _KIND_STRING: pa.string(),
    _KIND_INT: pa.decimal128(38, 0),  # only for string columns: integer ids of any size, exactly
    _KIND_FLOAT: pa.float64(),
    _KIND_BOOL: pa.bool_(),
}
_CONFLICT_RE: Final = re.compile(r"Column\((?P<path>[^)]*)\) changed from")
_DUPLICATE_RE: Final = re.compile(r"Column\((?P<path>[^)]*)\) was specified twice")


class _Lines:
    """A block of JSON Lines as an Arrow binary array of its lines (zero-copy), for the recovery paths."""

    def __init__(self, block: bytes, first_line: int) -> None:
        if not block.endswith(b"\n"):
            block += b"\n"
        self.block = block
        self.first_line = first_line
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n")).astype(np.int64) + 1
        offsets = np.concatenate([np.zeros(1, dtype=np.int64), ends])
        self.offsets = offsets
        self.count = len(ends)
        self.lines = pa.Array.from_buffers(
            pa.large_binary(), self.count, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
        )

    def span(self, lo: int, hi: int) -> Any:
        """The bytes of lines ``lo`` (inclusive) to ``hi`` (exclusive) as one buffer."""
        start, stop = int(self.offsets[lo]), int(self.offsets[hi])
        return pa.py_buffer(self.block)[start:stop]

    def gather(self, rows: npt.NDArray[np.int64]) -> Any:
        """The bytes of the given lines, in that order, as one buffer."""
        taken = self.lines.take(pa.array(rows))
        offsets = np.frombuffer(taken.buffers()[1], dtype=np.int64, count=len(taken) + 1, offset=taken.offset * 8)
        return taken.buffers()[2][int(offsets[0]) : int(offsets[-1])]

    def nonblank(self) -> npt.NDArray[np.int64]:
        mask = pc.fill_null(pc.match_substring_regex(self.lines, r"[^ \t\r\n]"), False)
        return np.flatnonzero(mask.to_numpy(zero_copy_only=False)).astype(np.int64)


_JSON_OPEN, _JSON_CLOSE, _JSON_QUOTE, _JSON_ESCAPE = 1, 2, 3, 4
_JSON_CLASS: Final = np.zeros(256, dtype=np.uint8)
_JSON_CLASS[[ord("{"), ord("[")]] = _JSON_OPEN
_JSON_CLASS[[ord("}"), ord("]")]] = _JSON_CLOSE
_JSON_CLASS[ord('"')] = _JSON_QUOTE
_JSON_CLASS[ord("\\")] = _JSON_ESCAPE


def _check_nesting(block: bytes, first_line: int, name: str) -> None:
    """Reject a block holding a line nested deeper than :data:`MAX_JSON_DEPTH`, before pyarrow sees it.

    Vectorised: a line's depth is at most its number of ``{`` and ``[``, so only the (rare) lines with more than the
    limit are measured exactly (brackets outside strings, escapes honoured)."""
    if block.count(b"{") + block.count(b"[") <= MAX_JSON_DEPTH:
        return  # no allocation: most blocks of long lines end here
    data = np.frombuffer(block, dtype=np.uint8)
    ends = _positions_of(data, (ord("\n"),))
    if len(ends) == 0 or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))
    if np.diff(ends, prepend=-1).max() <= MAX_JSON_DEPTH:
        return  # no line is long enough to open more brackets than the limit
    opens = _positions_of(data, (ord("{"), ord("[")))
    per_line = np.diff(np.searchsorted(opens, ends), prepend=0)
    starts = np.concatenate([[0], ends[:-1] + 1])
    for i in np.flatnonzero(per_line > MAX_JSON_DEPTH):
        if _json_depth(data[starts[i] : ends[i]]) > MAX_JSON_DEPTH:
            raise InputError(
                f"line {first_line + int(i):,} nests values more than {MAX_JSON_DEPTH} levels deep", key=name
            )


def _positions_of(data: npt.NDArray[np.uint8], values: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """The positions of any of ``values`` in ``data``, found in 4 MiB pieces (no temporary as large as the data)."""
    step = 4 << 20
    parts = []
    for start in range(0, len(data), step):
        piece = data[start : start + step]
        mask = piece == values[0]
        for v in values[1:]:
            mask |= piece == v
        parts.append(np.flatnonzero(mask).astype(np.int64) + start)
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _json_depth(line: npt.NDArray[np.uint8]) -> int:
    """The deepest nesting of one JSON line: brackets outside strings (a quote after an odd run of backslashes is
    escaped)."""
    classes = _JSON_CLASS[line]
    pos = np.flatnonzero(classes)
    cls = classes[pos]
    quotes = pos[cls == _JSON_QUOTE]
    slashes = pos[cls == _JSON_ESCAPE]
    if len(slashes):
        breaks = np.flatnonzero(np.diff(slashes) != 1) + 1
        run_start = np.concatenate([[0], breaks])
        run_end = np.concatenate([breaks, [len(slashes)]])
        escaped = (slashes[run_end - 1] + 1)[(run_end - run_start) % 2 == 1]
        quotes = quotes[~np.isin(quotes, escaped)]
    brackets = pos[(cls == _JSON_OPEN) | (cls == _JSON_CLOSE)]
    outside = np.searchsorted(quotes, brackets) % 2 == 0
    step = np.where(classes[brackets] == _JSON_OPEN, 1, -1)[outside]
    return int(np.cumsum(step).max(initial=0))


def _read_json(data: Any, *, schema: Any = None, ignore_others: bool = False, threads: bool = True) -> pa.Table:
    size = data.size if isinstance(data, pa.Buffer) else len(data)
    parse = pajson.ParseOptions(
        explicit_schema=schema,
        unexpected_field_behavior="ignore" if ignore_others else "infer",
        newlines_in_values=False,
    )
    chunk = _JSON_CHUNK_BYTES if threads else max(_JSON_CHUNK_BYTES, size + 1)
    try:
        return pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(use_threads=threads, block_size=chunk),
            parse_options=parse,
        )
    except pa.ArrowInvalid as exc:
        if "straddling" not in str(exc) or not threads:
            raise
        # A line longer than a parsing chunk: parse the block as one chunk.
        return _read_json(data, schema=schema, ignore_others=ignore_others, threads=False)


def _syntax_ok(data: Any) -> bool:
    """Whether every line is a JSON object, ignoring the types of their fields."""
    try:
        _read_json(data, schema=pa.schema([]), ignore_others=True, threads=False)
    except pa.ArrowInvalid:
        return False
    return True


def _line_range(first: int, last: int) -> str:
    return f"line {first:,}" if first >= last else f"lines {first:,} to {last:,}"


def _top_level(path: str) -> str:
    """The top-level field of a pyarrow JSON path such as ``/a/b`` (JSON Pointer escapes undone)."""
    first = path.lstrip("/").split("/", 1)[0]
    return first.replace("~1", "/").replace("~0", "~")


def _kind_pattern(column: str) -> str:
    keys = {json.dumps(column, ensure_ascii=False), json.dumps(column, ensure_ascii=True)}
    key = "|".join(re.escape(k) for k in sorted(keys))
    return r"[{,]\s*(?:" + key + r')\s*:\s*(?P<v>"|-?(?:[0-9]+[.eE]?|Infinity)|NaN|true|false|null|\{|\[)'


def _numpy_bools(arr: Any) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _kinds(lines: Any, column: str) -> npt.NDArray[np.int8]:
    """Per line, the JSON kind of the top-level field ``column`` (first occurrence), vectorised.

    One regular expression finds the key and the first bytes of its value; the kind is then read from the
    first byte (a number is whatever is left, a float if it has a fraction or an exponent).
    """
    match = pc.extract_regex(lines, _kind_pattern(column))
    found = _numpy_bools(match.is_valid())
    token = pc.if_else(match.is_valid(), match.field("v"), None)  # the child alone forgets unmatched rows
    first = pc.binary_slice(token, 0, 1)

    def is_(values: list[bytes]) -> npt.NDArray[np.bool_]:
        return _numpy_bools(pc.is_in(first, value_set=pa.array(values, pa.binary())))

    floating = _numpy_bools(pc.match_substring_regex(token, r"[.eE]$|N|I"))
    kinds = np.where(found, _KIND_INT, _KIND_ABSENT).astype(np.int8)
    kinds[found & floating] = _KIND_FLOAT
    kinds[is_([b'"'])] = _KIND_STRING
    kinds[is_([b"t", b"f"])] = _KIND_BOOL
    kinds[is_([b"n"])] = _KIND_NULL
    kinds[is_([b"{", b"["])] = _KIND_NESTED
    return kinds


def _group_rows(keys: npt.NDArray[np.int8]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.intp]]:
    """The distinct rows of a small-integer matrix and, per row, the index of its distinct row."""
    if keys.shape[1] <= 20:  # pack each row (kinds < 8) into one int64 key: a 1-d unique is much faster
        packed = (keys.astype(np.int64) << (3 * np.arange(keys.shape[1], dtype=np.int64))).sum(axis=1)
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        return keys[first], inverse.reshape(-1)
    groups, inverse = np.unique(keys, axis=0, return_inverse=True)
    return groups, inverse.reshape(-1)


class _JsonLinesReader:
    """JSON Lines in blocks of whole lines; see the module docstring for the typing rules."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.string_hints: set[str] = set()

    def read(self, text: Any) -> Iterator[pa.RecordBatch]:
        pending = b""
        first_line = 1
        while True:
            chunk = text.read(stream.BLOCK_BYTES)
            if chunk:
                data = pending + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    if len(data) > MAX_JSON_LINE_BYTES:
                        raise InputError(
                            f"line {first_line:,} is longer than {MAX_JSON_LINE_BYTES >> 20} MiB", key=self.plan.name
                        )
                    pending = data  # one line longer than a block: keep reading
                    continue
                block, pending = data[: cut + 1], data[cut + 1 :]
            else:
                block, pending = pending, b""
            if block and not block.isspace():
                _check_nesting(block, first_line, self.plan.name)
                # one chunk per block (pyarrow parses in 1 MiB chunks): fewer, larger batches downstream
                table = self._parse_block(block, first_line).combine_chunks()
                yield from table.to_batches(max_chunksize=self.plan.batch_rows)
            first_line += block.count(b"\n")
            if not chunk:
                return

    # -- one block

    def _parse_block(self, block: bytes, first_line: int) -> pa.Table:
        plan = self.plan
        hints = pa.schema([(c, pa.string()) for c in sorted(self.string_hints)]) if self.string_hints else None
        try:
            table = self._select(_read_json(pa.py_buffer(block), schema=hints))
        except pa.ArrowInvalid as err:
            table = self._recover(block, first_line, err)
        else:
            inferred = {
                c for c in table.column_names if c in plan.strings and pa.types.is_timestamp(table.schema.field(c).type)
            }
            if inferred - self.string_hints:
                # pyarrow read ISO-looking text as timestamps; keep the text of string columns.
                self.string_hints |= inferred
                return self._parse_block(block, first_line)
        arrays = []
        for column_name in table.column_names:
            arr = table.column(column_name)
            if column_name in plan.strings:
                arr = _as_string(arr)
            try:
                _check_utf8(column_name, arr)
            except _Utf8Error as exc:
                lines = _line_range(first_line, first_line + max(block.count(b"\n"), 1) - 1)
                raise InputError(
                    f"column {column_name!r} holds text that is not valid UTF-8 ({lines})", key=plan.name
                ) from exc
            arrays.append(arr)
        return pa.table(arrays, names=table.column_names) if arrays else table

    def _select(self, table: pa.Table) -> pa.Table:
        if self.plan.wanted is None:
            return table
        return table.select([c for c in self.plan.wanted if c in table.column_names])

    def _recover(self, block: bytes, first_line: int, err: pa.ArrowInvalid) -> pa.Table:
        """A block pyarrow refused: find a broken line (InputError), or parse around a type conflict."""
        plan = self.plan
        lines = _Lines(block, first_line)
        if not _syntax_ok(lines.span(0, lines.count)):
            raise InputError(self._locate_broken_line(lines), key=plan.name) from err
        duplicate = _DUPLICATE_RE.search(str(err))
        if duplicate:
            where = _line_range(first_line, first_line + lines.count - 1)
            key = _top_level(duplicate.group("path"))
            raise InputError(f"a line repeats the key {key!r} ({where})", key=plan.name) from err
        rows = lines.nonblank()
        if plan.wanted is not None:
            return self._parse_by_kinds(lines, rows)
        return self._parse_by_halves(lines, rows)

    def _locate_broken_line(self, lines: _Lines) -> str:
        lo, hi = 0, lines.count
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if not _syntax_ok(lines.span(lo, mid)):
                hi = mid
            elif not _syntax_ok(lines.span(mid, hi)):
                lo = mid
            else:
                break
        where = lines.first_line + lo
        if hi - lo > 1:
            return f"the JSON Lines data is not valid JSON ({_line_range(where, lines.first_line + hi - 1)})"
        try:
            _read_json(lines.span(lo, hi), schema=pa.schema([]), ignore_others=True, threads=False)
        except pa.ArrowInvalid as exc:
            detail = str(exc)
            if "Column() changed from object" in detail:
                return f"line {where:,} is not a JSON object (each line of a JSON Lines file must be one object)"
            if "Number too big" in detail:
                return f"line {where:,} holds a number too large for a 64-bit float"
        return f"line {where:,} is not valid JSON"

    def _parse_by_kinds(self, lines: _Lines, rows: npt.NDArray[np.int64]) -> pa.Table:
        """Parse lines grouped by the JSON kind of each wanted field; other fields are ignored."""
        plan = self.plan
        assert plan.wanted is not None
        subset = lines.lines.take(pa.array(rows))
        kinds = {c: _kinds(subset, c) for c in plan.wanted}
        keys = np.empty((len(rows), len(plan.wanted)), dtype=np.int8)
        for i, column_name in enumerate(plan.wanted):
            k = kinds[column_name].copy()
            if column_name not in plan.strings:
                k[k == _KIND_INT] = _KIND_FLOAT  # one number type outside string columns
            present = k[k >= _KIND_STRING]
            # A null or absent value fits any type: such lines join the column's most common kind.
            k[k < _KIND_STRING] = np.bincount(present).argmax() if len(present) else _KIND_ABSENT
            keys[:, i] = k
        groups, inverse = _group_rows(keys)
        parts: list[pa.Table] = []
        order: list[npt.NDArray[np.int64]] = []
        by_group = np.argsort(inverse, kind="stable").astype(np.int64)
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(groups)))])
        for g, group in enumerate(groups):
            members = by_group[bounds[g] : bounds[g + 1]]
            fields = [
                (c, _KIND_TYPES[int(kind)]) for c, kind in zip(plan.wanted, group, strict=True) if kind in _KIND_TYPES
            ]
            try:
                part = _read_json(lines.gather(rows[members]), schema=pa.schema(fields), ignore_others=True)
            except pa.ArrowInvalid:
                # The kinds were misread (a nested field of the same name came first): fall back on halves.
                part = self._parse_by_halves(lines, rows[members])
            parts.append(part)
            order.append(members)
        table = _unify(parts, plan.wanted, plan.strings)
        permutation = np.concatenate(order)
        inverse_permutation = np.empty_like(permutation)
        inverse_permutation[permutation] = np.arange(len(permutation), dtype=np.int64)
        table = table.take(pa.array(inverse_permutation))
        # Nested values were ignored by the explicit schemas: mark them present (never a number).
        columns, names = [], []
        for column_name in plan.wanted:
            kind = kinds[column_name]
            if not (kind != _KIND_ABSENT).any():
                continue  # no line has the key
            nested = kind == _KIND_NESTED
            if column_name in table.column_names:
                arr = table.column(column_name).combine_chunks()
            else:
                arr = pa.nulls(len(rows))
            if nested.any():
                arr = pc.if_else(pa.array(nested), NESTED_PLACEHOLDER, _as_string(arr))
            columns.append(arr)
            names.append(column_name)
        return pa.table(columns, names=names) if names else _empty_table(len(rows))

    def _parse_by_halves(self, lines: _Lines, rows: npt.NDArray[np.int64]) -> pa.Table:
        """Parse with inferred types, splitting the lines in halves around conflicts (down to one line)."""
        try:
            return self._select(_read_json(lines.gather(rows)))
        except pa.ArrowInvalid as exc:
            if len(rows) <= 1:
                line = lines.first_line + int(rows[0]) if len(rows) else lines.first_line
                conflict = _CONFLICT_RE.search(str(exc))
                column = f" in {_top_level(conflict.group('path'))!r}" if conflict else ""
                raise InputError(
                    f"line {line:,} could not be read: a list or object{column} mixes value types",
                    key=self.plan.name,
                ) from exc
        mid = len(rows) // 2
        halves = [self._parse_by_halves(lines, rows[:mid]), self._parse_by_halves(lines, rows[mid:])]
        return _unify(halves, self.plan.wanted, self.plan.strings)


def _empty_table(num_rows: int) -> pa.Table:
    """A table with no columns and ``num_rows`` rows (none of the wanted columns is in the data)."""
    return pa.table([pa.nulls(num_rows)], names=["_"]).select([])


def _unify(parts: list[pa.Table], wanted: list[str] | None, strings: frozenset[str]) -> pa.Table:
    """Concatenate tables whose columns may differ in type: text where they disagree, float64 for numbers."""
    if wanted is None:
        names: list[str] = list(dict.fromkeys(c for part in parts for c in part.column_names))
    else:
        names = [c for c in wanted if any(c in part.column_names for part in parts)]
    if not names:
        return _empty_table(sum(p.num_rows for p in parts))
    columns = []
    for column_name in names:
        pieces = []
        for part in parts:
            if column_name in part.column_names:
                piece = part.column(column_name)
                pieces.append(piece.combine_chunks() if piece.num_chunks != 1 else piece.chunk(0))
            else:
                pieces.append(pa.nulls(part.num_rows))
        columns.append(_unify_arrays(pieces, string_column=column_name in strings))
    return pa.table(columns, names=names)


def _unify_arrays(pieces: list[Any], *, string_column: bool) -> Any:
    if string_column:
        return pa.chunked_array([_as_string(p) for p in pieces], type=pa.string())
    types = {p.type for p in pieces if not pa.types.is_null(p.type)}
    if len(types) <= 1:
        target = types.pop() if types else pa.null()
        return pa.chunked_array([p.cast(target) for p in pieces], type=target)
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
        return pa.chunked_array([p.cast(pa.float64()) for p in pieces], type=pa.float64())
    return pa.chunked_array([_as_string(p) for p in pieces], type=pa.string())
