"""Vectorised coercion of Arrow columns into the shapes the metrics need.

Every function here takes a ``pa.Array`` or ``pa.ChunkedArray`` of any type (string, integer, floating,
boolean, decimal, timestamp, date, dictionary, nested, null) and works on whole arrays with pyarrow compute
kernels and numpy: there is no Python loop over rows. Strings are parsed with a fast path first (one cast
of the whole array) and, only when that cast fails, a slow path that marks the valid values with a regular
expression and casts just those.

Conventions shared by all functions:

- *missing*: null, the empty string (also after trimming whitespace), NaN, and in text the common null
  markers ``NA``, ``N/A``, ``#N/A``, ``null``, ``None``, ``nan`` (any case).
- *type error*: present but not of the expected kind: ``"abc"`` in a numerical column, a nested value
  (struct, list, map), an unparseable timestamp.
- Categories are strings: 1, 1.0 and "1" are the same class, True is "true".
- Dictionary arrays (Parquet string columns are read as ``dictionary<string>``): the element-wise functions
  (:func:`to_numeric`, :func:`to_category`, :func:`category_codes`, :func:`equals_mask`) work on the small
  dictionary and gather the result by the indices; a null index is missing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "NESTED_PLACEHOLDER",
    "NumericColumn",
    "canonical_category",
    "category_codes",
    "equals_mask",
    "to_category",
    "to_epoch_seconds",
    "to_numeric",
]

ArrayLike: TypeAlias = Any  # pa.Array | pa.ChunkedArray (pyarrow ships no type information)
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
#: Epoch numbers (finite) -> epoch seconds; the default decides per value by magnitude (:data:`EPOCH_MS_THRESHOLD`).
EpochConverter: TypeAlias = Callable[[FloatArray], FloatArray]

#: The category text of a nested value (struct, list, map): present, but never a number nor a timestamp.
NESTED_PLACEHOLDER: Final = "<nested>"

#: Epoch numbers at or above this magnitude are milliseconds, below it seconds (1e11 s is the year 5138).
EPOCH_MS_THRESHOLD: Final = 1e11

# Text that pyarrow's string -> float64 cast accepts (checked against pyarrow 26): optional sign, digits with
# an optional fraction or a bare fraction, optional exponent; inf, infinity and nan in any case.
_NUMBER_RE: Final = (
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)
_NULL_TEXT_RE: Final = r"^(?:|na|n/a|#n/a|null|none|[+-]?nan)$"
_DATE_RE: Final = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME_RE: Final = r"(?:[01][0-9]|2[0-3])(?::[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?)?"
_OFFSET_RE: Final = r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
_ISO_TZ_RE: Final = f"^{_DATE_RE}[T ]{_TIME_RE}{_OFFSET_RE}$"
_ISO_NAIVE_RE: Final = f"^{_DATE_RE}(?:[T ]{_TIME_RE})?$"
_TS_UTC: Final = pa.timestamp("us", tz="UTC")
_TS_NAIVE: Final = pa.timestamp("us")
_UNIT_PER_SECOND: Final = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_INT64_LIMIT: Final = 2.0**63


@dataclass(frozen=True)
class NumericColumn:
    """A column as float64 with per-row flags.

    ``values`` is NaN wherever ``missing`` or ``type_error`` is set; ``missing`` and ``type_error`` never
    overlap. ±inf are numbers (neither missing nor a type error) in :func:`to_numeric`.
    """

    values: FloatArray
    missing: BoolArray
    type_error: BoolArray

    def __len__(self) -> int:
        return int(self.values.shape[0])


# --------------------------------------------------------------------------------------------- helpers


def _flatten(arr: ArrayLike) -> Any:
    """One contiguous ``pa.Array``: chunks combined, dictionaries decoded, extension and view types unwrapped."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not isinstance(arr, pa.Array):
        raise TypeError(f"expected a pyarrow Array or ChunkedArray, got {type(arr).__name__}")
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    elif pa.types.is_binary_view(arr.type):
        arr = arr.cast(pa.large_binary())
    return arr


def _as_dictionary(arr: ArrayLike) -> Any:
    """``arr`` as one non-empty ``pa.DictionaryArray``, or None when it is not a dictionary array."""
    if isinstance(arr, pa.ChunkedArray):
        if not pa.types.is_dictionary(arr.type):
            return None
        try:
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if isinstance(arr, pa.DictionaryArray) and len(arr.dictionary) > 0:
        return arr
    return None


def _positions(d: Any) -> tuple[npt.NDArray[np.intp], BoolArray]:
    """(per row, the position in the dictionary with 0 for a null index; per row, whether the index is valid)."""
    indices = d.indices
    valid = _valid(indices)
    filled = pc.fill_null(indices, 0) if indices.null_count else indices
    positions: npt.NDArray[np.intp] = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.intp)
    return positions, valid


def _is_text(t: Any) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_bytes(t: Any) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t))


def _is_number(t: Any) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_nested(t: Any) -> bool:
    return bool(pa.types.is_nested(t))


def _bools(arr: Any) -> BoolArray:
    """A pyarrow boolean array (nulls read as False) as a numpy bool array."""
    out: BoolArray = pc.fill_null(arr, False).to_numpy(zero_copy_only=False)
    return out


def _floats(arr: Any) -> FloatArray:
    """A pyarrow float64 array (nulls read as NaN) as a writable numpy float64 array."""
    out: FloatArray = np.array(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out


def _valid(arr: Any) -> BoolArray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=np.bool_)
    return _bools(arr.is_valid())


def _cast_or_null(arr: Any, target: Any) -> Any:
    """Cast ``arr`` to ``target``; values that do not cast become null.

    A safety net behind the regular-expression pre-filters: it first tries the whole array, and only if that
    fails splits it in halves (so a handful of stragglers costs O(k log n) casts, never one per row unless
    the pre-filter let through a large share of bad values).
    """
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if len(arr) <= 1:
            return pa.nulls(len(arr), type=target)
        mid = len(arr) // 2
        return pa.concat_arrays([_cast_or_null(arr.slice(0, mid), target), _cast_or_null(arr.slice(mid), target)])


def _text_of_bytes(arr: Any) -> Any:
    """Binary -> string; values that are not valid UTF-8 become null."""
    return _cast_or_null(arr.cast(pa.large_binary()), pa.large_string())


def _null_texts(text: Any) -> BoolArray:
    """Rows whose (already trimmed) text is empty or a common null marker."""
    return _bools(pc.match_substring_regex(text, _NULL_TEXT_RE, ignore_case=True))


def _all_missing(n: int) -> NumericColumn:
    return NumericColumn(np.full(n, np.nan), np.ones(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_))


def _all_type_errors(arr: Any) -> NumericColumn:
    valid = _valid(arr)
    return NumericColumn(np.full(len(arr), np.nan), ~valid, valid)


def _parse_number_text(text: Any) -> NumericColumn:
    """Numbers from a string array: fast path (one cast), then the empty-string path, then the regex path."""
    valid = _valid(text)
    try:
        values = _floats(text.cast(pa.float64()))
        return NumericColumn(values, np.isnan(values), np.zeros(len(values), dtype=np.bool_))
    except pa.ArrowInvalid:
        pass
    empty = pc.equal(text, "")
    if pc.any(empty).as_py():
        try:
            # The usual reason for the fast path to fail: empty fields in a CSV.
            values = _floats(pc.if_else(empty, None, text).cast(pa.float64()))
            return NumericColumn(values, np.isnan(values), np.zeros(len(values), dtype=np.bool_))
        except pa.ArrowInvalid:
            pass
    trimmed = pc.utf8_trim_whitespace(text)
    is_number = _bools(pc.match_substring_regex(trimmed, _NUMBER_RE))
    null_text = _null_texts(trimmed)
    cast = _cast_or_null(pc.if_else(pa.array(is_number), trimmed, None), pa.float64())
    values = _floats(cast)
    cast_ok = is_number & _valid(cast)
    parsed = cast_ok & ~np.isnan(values)
    nan_text = cast_ok & np.isnan(values)
    missing = ~valid | null_text | nan_text
    type_error = valid & ~missing & ~parsed
    values[~parsed] = np.nan
    return NumericColumn(values, missing, type_error)


# --------------------------------------------------------------------------------------------- numbers


def _parse_textual(a: Any, parse: Callable[[Any], NumericColumn]) -> NumericColumn:
    """Text parsed by ``parse``; bytes decoded as UTF-8 first (undecodable bytes are type errors); any other
    type (nested values) is a type error."""
    t = a.type
    if _is_bytes(t):
        text = _text_of_bytes(a)
        parsed = parse(text)
        undecodable = _valid(a) & ~_valid(text)
        return NumericColumn(parsed.values, parsed.missing & ~undecodable, parsed.type_error | undecodable)
    if _is_text(t):
        return parse(a)
    return _all_type_errors(a)


def to_numeric(arr: ArrayLike) -> NumericColumn:
    """The column as float64 numbers, with missing values and type errors flagged per row.

    Integers, floats, decimals and booleans (1.0 / 0.0) are numbers. Strings are parsed after trimming
    whitespace: ``"3.5"``, ``" 3.5 "``, ``"1e3"``, ``"inf"``, ``"-Infinity"`` are numbers; ``""`` and the
    null markers are missing; anything else (``"abc"``, ``"1,5"``) is a type error. Temporal and nested
    values are type errors.
    """
    d = _as_dictionary(arr)
    if d is not None:
        on_values = to_numeric(d.dictionary)
        positions, valid = _positions(d)
        values = on_values.values[positions]
        values[~valid] = np.nan
        return NumericColumn(values, on_values.missing[positions] | ~valid, on_values.type_error[positions] & valid)
    a = _flatten(arr)
    t = a.type
    if pa.types.is_null(t):
        return _all_missing(len(a))
    if _is_number(t) or pa.types.is_boolean(t):
        values = _floats(a.cast(pa.float64(), safe=False))
        return NumericColumn(values, np.isnan(values), np.zeros(len(values), dtype=np.bool_))
    return _parse_textual(a, _parse_number_text)


# --------------------------------------------------------------------------------------------- timestamps


def _epoch_from_numbers(values: FloatArray) -> FloatArray:
    """Epoch seconds or milliseconds, decided per value by magnitude, as seconds."""
    with np.errstate(invalid="ignore"):
        out: FloatArray = np.where(np.abs(values) >= EPOCH_MS_THRESHOLD, values / 1000.0, values)
    return out


def _timestamp_seconds(ts: Any) -> FloatArray:
    """Seconds since the epoch (UTC) of a timestamp array of any unit; a naive timestamp is read as UTC."""
    factor = _UNIT_PER_SECOND[ts.type.unit]
    return _floats(ts.cast(pa.int64()).cast(pa.float64(), safe=False)) / factor


def _valid_dates(text: Any) -> BoolArray:
    """Rows whose first ten characters are a real calendar date (rejects 2026-02-30, which strptime rolls over)."""
    date_part = pc.utf8_slice_codeunits(text, 0, 10)
    parsed = pc.strptime(date_part, format="%Y-%m-%d", unit="s", error_is_null=True)
    return _bools(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), date_part))


def _parse_iso(text: Any, pattern: str, target: Any) -> tuple[BoolArray, FloatArray]:
    """(parsed mask, epoch seconds) of the rows matching an ISO-8601 pattern, cast to ``target``."""
    shape = _bools(pc.match_substring_regex(text, pattern))
    if not shape.any():
        return shape, np.full(len(text), np.nan)
    shape &= _valid_dates(text)
    candidates = pc.if_else(pa.array(shape), text, None)
    # Arrow parses at most microseconds into timestamp[us]: drop the digits beyond the sixth.
    candidates = pc.replace_substring_regex(candidates, r"(\.[0-9]{6})[0-9]+", r"\1")
    seconds = _timestamp_seconds(_cast_or_null(candidates, target))
    return shape & ~np.isnan(seconds), seconds


def _fast_time_target(text: Any, valid: BoolArray) -> Any:
    """The timestamp type one cast of the whole column should succeed with, or None.

    A failing string -> timestamp cast costs about 3 s per million values in pyarrow 26 (against 0.05 s for
    one that succeeds), so it is only tried when byte checks on the string buffers (numpy gathers, a few
    milliseconds per million) say that every value is ISO-like and that all or none carry a zone offset.
    """
    if not valid.any():
        return None
    offsets_buffer, data_buffer = text.buffers()[1:3]
    if data_buffer is None:
        return None
    offset_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(
        offsets_buffer, dtype=offset_type, count=len(text) + 1, offset=text.offset * np.dtype(offset_type).itemsize
    ).astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    if len(data) == 0:
        return None
    starts, ends = offsets[:-1], offsets[1:]
    if not ((ends - starts)[valid] >= 10).all():
        return None
    # Null rows may point anywhere in the buffer: "clip" keeps the gathers in bounds, ``valid`` ignores them.
    iso_like = (data.take(starts + 4, mode="clip") == ord("-")) & (data.take(starts + 7, mode="clip") == ord("-"))
    if not iso_like[valid].all():
        return None
    offset = data.take(ends - 1, mode="clip") == ord("Z")
    for back in (6, 5, 3):  # +01:00, +0100, +01 after at least "YYYY-MM-DDTHH"
        sign = data.take(ends - back, mode="clip")
        offset |= ((sign == ord("+")) | (sign == ord("-"))) & (ends - back >= starts + 13)
    if offset[valid].all():
        return _TS_UTC
    if not offset[valid].any():
        return _TS_NAIVE
    return None


def _normalise_iso(trimmed: Any) -> tuple[Any, BoolArray]:
    """ISO-8601 variants in the extended form Arrow casts, and the rows written at ``24:00`` (the end of their
    day: parsed as 00:00 of that date, one day added by the caller). Lowercase ``t``/``z``, a decimal comma
    (``10:15:00,5``), the basic format (``20261201T101500Z``, ``20261201T1015+0100``, ``20261201``)."""
    text = pc.utf8_upper(trimmed)
    text = pc.replace_substring_regex(
        text,
        r"^([0-9]{4})([0-9]{2})([0-9]{2})(?:T([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})([.,][0-9]+)?)?)?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$",
        r"\1-\2-\3T\4:\5:\6\7\8",
    )
    # the basic form's absent parts leave "T::", "T10::" or "T1015:" behind: fill them with zeros
    text = pc.replace_substring_regex(text, r"^([0-9-]{10})T::(Z|[+-].*)?$", r"\1\2")
    text = pc.replace_substring_regex(text, r"T([0-9]{2})::", r"T\1:00:00")
    text = pc.replace_substring_regex(text, r"T([0-9]{2}):([0-9]{2}):($|[.Z+-])", r"T\1:\2:00\3")
    text = pc.replace_substring_regex(text, r"(:[0-9]{2}),([0-9])", r"\1.\2")
    end_of_day = _bools(
        pc.match_substring_regex(text, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]24(?::00(?::00(?:\.0+)?)?)?(?:Z|[+-]|$)")
    )
    if end_of_day.any():
        text = pc.replace_substring_regex(text, r"^([0-9-]{10}[T ])24", r"\100")
    return text, end_of_day


def _parse_time_text(text: Any, epoch: EpochConverter | None = None) -> NumericColumn:
    valid = _valid(text)
    target = _fast_time_target(text, valid)
    if target is not None:
        try:
            seconds = _timestamp_seconds(text.cast(target))
            return NumericColumn(seconds, ~valid, np.zeros(len(text), dtype=np.bool_))
        except pa.ArrowInvalid:
            pass
    trimmed = pc.utf8_trim_whitespace(text)
    numbers = _parse_number_text(trimmed)
    with np.errstate(invalid="ignore"):
        is_number = ~numbers.missing & ~numbers.type_error & np.isfinite(numbers.values)
    iso_text, end_of_day = _normalise_iso(pc.if_else(pa.array(is_number), None, trimmed))
    tz_ok, tz_seconds = _parse_iso(iso_text, _ISO_TZ_RE, _TS_UTC)
    naive_ok, naive_seconds = _parse_iso(iso_text, _ISO_NAIVE_RE, _TS_NAIVE)
    values = np.full(len(text), np.nan)
    values[is_number] = (epoch or _epoch_from_numbers)(numbers.values[is_number])
    values[tz_ok] = tz_seconds[tz_ok]
    values[naive_ok] = naive_seconds[naive_ok]
    values[end_of_day] += 86400.0
    missing = ~valid | numbers.missing
    type_error = valid & ~missing & ~(is_number | tz_ok | naive_ok)
    values[missing | type_error] = np.nan
    return NumericColumn(values, missing, type_error)


def to_epoch_seconds(arr: ArrayLike, *, epoch: EpochConverter | None = None) -> NumericColumn:
    """Event times as float64 seconds since 1970-01-01 UTC.

    Accepts native timestamps of any unit (naive read as UTC, zone-aware converted), dates, ISO-8601 text
    (``2026-11-20T13:45:00Z``, ``2026-11-20T13:45:00.123+01:00``, ``2026-11-20 13:45:00``, ``2026-11-20``;
    text without an offset is UTC), and epoch numbers or numeric text: per value, a magnitude of at least
    1e11 is milliseconds, anything smaller seconds (negative values are before 1970). Non-finite numbers,
    booleans, nested values and unparseable text are type errors.
    """
    a = _flatten(arr)
    t = a.type
    n = len(a)
    if pa.types.is_null(t):
        return _all_missing(n)
    if pa.types.is_timestamp(t):
        return NumericColumn(_timestamp_seconds(a), ~_valid(a), np.zeros(n, dtype=np.bool_))
    if pa.types.is_date32(t):
        days = _floats(a.cast(pa.int32()).cast(pa.float64()))
        return NumericColumn(days * 86400.0, ~_valid(a), np.zeros(n, dtype=np.bool_))
    if pa.types.is_date64(t):
        ms = _floats(a.cast(pa.int64()).cast(pa.float64(), safe=False))
        return NumericColumn(ms / 1000.0, ~_valid(a), np.zeros(n, dtype=np.bool_))
    if _is_number(t):
        numbers = _floats(a.cast(pa.float64(), safe=False))
        missing = np.isnan(numbers)
        type_error = np.isinf(numbers)
        values = np.full(n, np.nan)
        finite = ~missing & ~type_error
        values[finite] = (epoch or _epoch_from_numbers)(numbers[finite])
        return NumericColumn(values, missing, type_error)
    return _parse_textual(a, lambda text: _parse_time_text(text, epoch))


# --------------------------------------------------------------------------------------------- categories


def _float_category(a: Any) -> Any:
    """Floats as category text: integral values as integers ("3"), others shortest round-trip, NaN -> null."""
    values = _floats(a.cast(pa.float64(), safe=False))
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) < _INT64_LIMIT)
    as_float = a.cast(pa.string())  # shortest round-trip text of the value in its own width: 0.1f -> "0.1"
    as_int = pc.if_else(pa.array(integral), a.cast(pa.float64(), safe=False), None).cast(pa.int64()).cast(pa.string())
    out = pc.if_else(pa.array(integral), as_int, as_float)
    return pc.if_else(pa.array(np.isnan(values)), None, out)


def to_category(arr: ArrayLike) -> Any:
    """The column as ``pa.string()`` category values, nulls preserved.

    Strings are unchanged, except the empty string, which is null. Booleans are ``"true"``/``"false"``,
    integers ``"3"``, integral floats ``"3"`` (so 1 and 1.0 are the same class), other floats their
    shortest round-trip text (``"0.5"``), NaN null. Timestamps and dates are their ISO text, nested values
    :data:`NESTED_PLACEHOLDER`. A dictionary array is decoded (its dictionary normalised first).
    """
    d = _as_dictionary(arr)
    if d is not None:
        return to_category(d.dictionary).take(d.indices)
    a = _flatten(arr)
    t = a.type
    if pa.types.is_null(t):
        return pa.nulls(len(a), type=pa.string())
    if _is_bytes(t):
        a = _text_of_bytes(a)
        t = a.type
    if _is_text(t):
        text = a.cast(pa.string())
        return pc.if_else(pc.equal(text, ""), None, text)
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return a.cast(pa.string())
    if pa.types.is_floating(t):
        return _float_category(a)
    if pa.types.is_decimal(t):
        if t.scale <= 0:
            return a.cast(pa.string())  # integers of any size (JSON ids beyond int64), exactly
        return _float_category(a.cast(pa.float64(), safe=False))
    if _is_nested(t):
        return pc.if_else(a.is_valid(), NESTED_PLACEHOLDER, None)
    try:
        return a.cast(pa.string())  # timestamps, dates, times, durations
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pc.if_else(a.is_valid(), NESTED_PLACEHOLDER, None)


#: Text read as a canonical number: no sign but "-", no leading zero (so "007" stays a name, "1.0" is 1).
_CANONICAL_NUMBER_RE: Final = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"
_TRUE_TEXT: Final = ("true", "yes")
_CANONICAL_MAX_BYTES: Final = 64
_FALSE_TEXT: Final = ("false", "no")


def canonical_category(arr: ArrayLike) -> Any:
    """The canonical form of category values, which decides whether two spellings are the same class: booleans
    and the text ``true``/``yes`` / ``false``/``no`` (any case) are ``"1"`` / ``"0"``; numbers and number text
    are their category text (``1.0``, ``"1.0"``, ``" 1 "`` -> ``"1"``; ``"007"`` is a name and stays); other text
    is trimmed. Nulls stay null."""
    text = pc.utf8_trim_whitespace(to_category(arr))
    lower = pc.utf8_lower(text)
    number = _bools(pc.match_substring_regex(text, _CANONICAL_NUMBER_RE))
    out = text
    if number.any():
        values = _cast_or_null(pc.if_else(pa.array(number), text, None), pa.float64())
        out = pc.if_else(pa.array(number & _valid(values)), _float_category(values), text)
    out = pc.if_else(pc.is_in(lower, value_set=pa.array(_TRUE_TEXT)), "1", out)
    return pc.if_else(pc.is_in(lower, value_set=pa.array(_FALSE_TEXT)), "0", out)


@functools.lru_cache(maxsize=256)
def _canonical_lookup(categories: tuple[str, ...]) -> tuple[Any, npt.NDArray[np.int32]]:
    """(canonical forms that stand for exactly one category, the index of that category)."""
    canon = canonical_category(pa.array(categories, type=pa.string())).to_pylist()
    where: dict[str, list[int]] = {}
    for i, c in enumerate(canon):
        if c is not None:
            where.setdefault(c, []).append(i)
    unique = {c: ix[0] for c, ix in where.items() if len(ix) == 1}
    return pa.array(list(unique), type=pa.string()), np.asarray([*unique.values(), -1], dtype=np.int32)


def category_codes(arr_str: ArrayLike, categories: Sequence[str]) -> npt.NDArray[np.int32]:
    """Per row: the index of the value in ``categories``, -1 for a present value not among them, -2 for missing.

    ``arr_str`` is normally the output of :func:`to_category`; any other array is passed through it first
    (so the empty string is missing too). ``categories`` should hold distinct strings. A dictionary array
    is coded through its dictionary (pass it as it is, not through :func:`to_category`, to keep that fast).
    A value not among the categories as it is written is looked up by its :func:`canonical_category` form
    (``True`` in a CSV finds the category ``"true"`` of a Parquet baseline, ``1.0`` finds ``"1"``, ``"yes"`` finds
    ``"1"``), when that form stands for one category only: the baseline's spelling decides.
    """
    codes = _exact_codes(arr_str, categories)
    if _as_dictionary(arr_str) is not None:
        return codes  # coded through the dictionary, canonical forms included
    unseen = codes == -1
    if unseen.any() and len(categories):
        keys, lookup = _canonical_lookup(tuple(categories))
        if len(keys):
            rows = np.flatnonzero(unseen)
            sub = _flatten(arr_str).take(pa.array(rows))
            if _is_text(sub.type) or _is_bytes(sub.type):  # a long text is no number nor boolean: not copied
                short = _bools(pc.less_equal(pc.binary_length(sub), _CANONICAL_MAX_BYTES))
                rows, sub = rows[short], sub.filter(pa.array(short))
            canon = canonical_category(sub)
            found = pc.fill_null(pc.index_in(canon, value_set=keys), -1).to_numpy(zero_copy_only=False)
            codes[rows] = lookup[found]
    return codes


def _exact_codes(arr_str: ArrayLike, categories: Sequence[str]) -> npt.NDArray[np.int32]:
    d = _as_dictionary(arr_str)
    if d is not None:
        on_values = category_codes(d.dictionary, categories)  # the small dictionary, canonical forms included
        positions, valid = _positions(d)
        dict_codes: npt.NDArray[np.int32] = on_values[positions]
        dict_codes[~valid] = -2
        return dict_codes
    flat = _flatten(arr_str)
    if pa.types.is_integer(flat.type):
        return _integer_codes(flat, categories)
    text = to_category(arr_str)
    index = pc.index_in(text, value_set=pa.array(list(categories), type=pa.string()))
    codes: npt.NDArray[np.int32] = pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    codes[~_valid(text)] = -2
    return codes


def _integer_codes(a: Any, categories: Sequence[str]) -> npt.NDArray[np.int32]:
    """:func:`category_codes` of an integer array without writing each row as text: an integer's category is
    its decimal text, so only the categories that are canonical integer text (``"7"``, not ``"07"`` or
    ``"7.0"``) and fit the array's type can match, and they are looked up as integers."""
    info = np.iinfo(a.type.to_pandas_dtype())
    keys: list[int] = []
    where: list[int] = []
    for i, c in enumerate(categories):
        try:
            v = int(c)
        except ValueError:
            continue
        if str(v) == c and info.min <= v <= info.max:
            keys.append(v)
            where.append(i)
    lookup = np.asarray([*where, -1], dtype=np.int32)  # position -1 (not found) -> code -1
    index = pc.index_in(a, value_set=pa.array(keys, type=a.type))
    codes: npt.NDArray[np.int32] = lookup[pc.fill_null(index, -1).to_numpy(zero_copy_only=False)]
    codes[~_valid(a)] = -2
    return codes


def equals_mask(arr: ArrayLike, value: str | int | float | bool) -> BoolArray:
    """Per row: whether the value equals ``value`` after normalisation; missing rows are False.

    - a number (int or float): numeric equality after :func:`to_numeric`, so 1, 1.0, "1", " 1.0 " and
      True all match 1;
    - a boolean: the text "true"/"false" in any case, or the number 1/0 (True matches True, "TRUE", 1);
    - a string: equality of the :func:`to_category` text; a string that reads as a number or a boolean
      also matches as that number or boolean ("1" matches 1.0, "true" matches True).
    """
    d = _as_dictionary(arr)
    if d is not None:
        positions, valid = _positions(d)
        gathered: BoolArray = equals_mask(d.dictionary, value)[positions] & valid
        return gathered
    if isinstance(value, bool):
        text = to_category(arr)
        by_text = _bools(pc.equal(pc.utf8_lower(text), "true" if value else "false"))
        with np.errstate(invalid="ignore"):
            by_number: BoolArray = to_numeric(arr).values == float(value)
        return by_text | by_number
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return np.zeros(len(_flatten(arr)), dtype=np.bool_)
        with np.errstate(invalid="ignore"):
            out: BoolArray = to_numeric(arr).values == float(value)
        return out
    if not isinstance(value, str):
        raise TypeError(f"value must be a str, int, float or bool, got {type(value).__name__}")
    stripped = value.strip()
    if stripped.lower() in ("true", "false"):
        mask = equals_mask(arr, stripped.lower() == "true")
    else:
        parsed = to_numeric(pa.array([stripped], type=pa.string()))
        if not parsed.missing[0] and not parsed.type_error[0]:
            mask = equals_mask(arr, float(parsed.values[0]))
        else:
            mask = np.zeros(len(_flatten(arr)), dtype=np.bool_)
    by_category: BoolArray = mask | _bools(pc.equal(to_category(arr), value))
    return by_category
