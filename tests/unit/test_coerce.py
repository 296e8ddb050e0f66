"""Vectorised column coercion: numbers, event times, categories, codes and equality masks on edge values."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.io.coerce import (
    NESTED_PLACEHOLDER,
    category_codes,
    equals_mask,
    to_category,
    to_epoch_seconds,
    to_numeric,
)

T0 = dt.datetime(2026, 11, 20, 13, 45, tzinfo=dt.UTC).timestamp()  # 2026-11-20T13:45:00Z
DAY0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC).timestamp()


def _flags(col: object) -> tuple[list[bool], list[bool]]:
    return list(col.missing), list(col.type_error)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------- to_numeric


def test_to_numeric_strings_edge_values() -> None:
    # Given text with every kind of value a log may hold
    arr = pa.array(["1", " 3.5 ", "", None, "abc", "inf", "-Infinity", "nan", "NA", "null", "1e3", "+.5", "1,5", "  "])
    # When it is coerced
    col = to_numeric(arr)
    # Then numbers parse (whitespace and infinities included), gaps are missing, the rest are type errors
    expected = [1.0, 3.5, None, None, None, math.inf, -math.inf, None, None, None, 1000.0, 0.5, None, None]
    for got, want in zip(col.values, expected, strict=True):
        assert (math.isnan(got) and want is None) or got == want
    missing, type_error = _flags(col)
    assert missing == [False, False, True, True, False, False, False, True, True, True, False, False, False, True]
    assert type_error == [
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
    ]


def test_to_numeric_native_types() -> None:
    # Given floats with NaN and infinities, integers with nulls, booleans and decimals
    floats = to_numeric(pa.array([1.5, None, math.nan, math.inf, -math.inf]))
    ints = to_numeric(pa.array([1, None, -3], pa.int8()))
    bools = to_numeric(pa.array([True, False, None]))
    decimals = to_numeric(pa.array([1, 2], pa.int64()).cast(pa.decimal128(22, 2)))
    # Then NaN and null are missing, ±inf are numbers, booleans are 1/0
    assert list(floats.missing) == [False, True, True, False, False]
    assert not floats.type_error.any()
    assert floats.values[3] == math.inf
    assert floats.values[4] == -math.inf
    assert list(ints.values[[0, 2]]) == [1.0, -3.0]
    assert list(ints.missing) == [False, True, False]
    assert list(bools.values[:2]) == [1.0, 0.0]
    assert list(bools.missing) == [False, False, True]
    assert list(decimals.values) == [1.0, 2.0]
    assert floats.values.dtype == np.float64
    assert floats.missing.dtype == np.bool_


def test_to_numeric_nested_temporal_and_null_types() -> None:
    # Given columns that are not numbers at all
    nested = to_numeric(pa.array([{"a": 1}, None]))
    lists = to_numeric(pa.array([[1, 2], None, []]))
    times = to_numeric(pa.array([dt.datetime(2026, 1, 1), None], pa.timestamp("s")))
    nulls = to_numeric(pa.nulls(3))
    # Then present values are type errors and nulls are missing
    assert _flags(nested) == ([False, True], [True, False])
    assert _flags(lists) == ([False, True, False], [True, False, True])
    assert _flags(times) == ([False, True], [True, False])
    assert nulls.missing.all()
    assert not nulls.type_error.any()
    assert np.isnan(nulls.values).all()


def test_to_numeric_dictionary_chunked_and_large_string() -> None:
    # Given the same text as a dictionary, a chunked array and a large string array
    text = ["1.5", "x", None, "2"]
    variants = [
        pa.array(text).dictionary_encode(),
        pa.chunked_array([pa.array(text[:2]), pa.array(text[2:])]),
        pa.array(text, pa.large_string()),
        pa.array([t.encode() if t else None for t in text], pa.binary()),
    ]
    # Then they coerce alike
    for arr in variants:
        col = to_numeric(arr)
        assert _flags(col) == ([False, False, True, False], [False, True, False, False])
        assert col.values[0] == 1.5
        assert col.values[3] == 2.0


def test_to_numeric_flags_one_bad_value_among_a_million() -> None:
    # Given a million numbers as text with one "abc" near the end (the fast cast fails)
    values = np.arange(1_000_000, dtype=np.float64) / 7
    text = pa.array(values).cast(pa.string()).to_pylist()
    text[987_654] = "abc"
    # When coerced
    col = to_numeric(pa.array(text))
    # Then exactly that row is a type error and every other value parsed
    assert np.flatnonzero(col.type_error).tolist() == [987_654]
    assert not col.missing.any()
    keep = np.ones(len(values), dtype=bool)
    keep[987_654] = False
    np.testing.assert_allclose(col.values[keep], values[keep], rtol=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=8), st.none()), max_size=30))
def test_to_numeric_never_raises_and_flags_are_consistent(items: list[object]) -> None:
    # Given any mix of floats rendered as text, arbitrary text and nulls
    text = [None if v is None else (repr(v) if isinstance(v, float) else v) for v in items]
    # When coerced
    col = to_numeric(pa.array(text, pa.string()))
    # Then missing and type errors never overlap and values are NaN exactly where either is set
    assert not (col.missing & col.type_error).any()
    assert np.isnan(col.values[col.missing | col.type_error]).all()
    assert not np.isnan(col.values[~(col.missing | col.type_error)]).any()
    # And every Python-float text parses to its value
    for i, v in enumerate(items):
        if isinstance(v, float) and not math.isnan(v):
            assert col.values[i] == v


# --------------------------------------------------------------------------------------------- to_epoch_seconds


def test_to_epoch_seconds_iso_text() -> None:
    # Given ISO-8601 text in the forms the SPEC names, and a few more
    arr = pa.array(
        [
            "2026-11-20T13:45:00Z",
            "2026-11-20T13:45:00.123+01:00",
            "2026-11-20 13:45:00",
            "2026-11-20",
            "2026-11-20T13:45:00-05:30",
            "2026-11-20T13:45:00.123456789Z",
            " 2026-11-20T13:45:00Z ",
        ]
    )
    # When converted
    col = to_epoch_seconds(arr)
    # Then offsets are applied, text without one is UTC, and sub-microsecond digits are dropped
    assert col.values[0] == T0
    assert col.values[1] == pytest.approx(T0 - 3600 + 0.123, abs=1e-6)
    assert col.values[2] == T0
    assert col.values[3] == DAY0
    assert col.values[4] == T0 + 5.5 * 3600
    assert col.values[5] == pytest.approx(T0 + 0.123456, abs=1e-6)
    assert col.values[6] == T0
    assert not col.missing.any()
    assert not col.type_error.any()


def test_to_epoch_seconds_numbers_seconds_and_milliseconds() -> None:
    # Given epoch numbers in seconds and milliseconds, before and after 1970, as numbers and as text
    numbers = pa.array([T0, T0 * 1000, -86_400, -86_400_000_000_000, 0, None, math.inf])
    text = pa.array([str(int(T0)), str(int(T0 * 1000)), "-86400", "1e11", "abc", "", None])
    # When converted
    by_number = to_epoch_seconds(numbers)
    by_text = to_epoch_seconds(text)
    # Then a magnitude of 1e11 or more is milliseconds, per value
    assert by_number.values[:5].tolist() == [T0, T0, -86_400.0, -86_400_000_000.0, 0.0]
    assert _flags(by_number) == ([False] * 5 + [True, False], [False] * 6 + [True])
    assert by_text.values[:4].tolist() == [T0, T0, -86_400.0, 1e8]
    assert _flags(by_text) == ([False] * 5 + [True, True], [False] * 4 + [True, False, False])


def test_to_epoch_seconds_native_timestamps_and_dates() -> None:
    # Given native timestamps of every unit, naive and zone-aware, and dates
    naive = dt.datetime(2026, 11, 20, 13, 45)
    paris = dt.datetime(2026, 11, 20, 14, 45, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for unit in ("s", "ms", "us", "ns"):
        col = to_epoch_seconds(pa.array([naive, None], pa.timestamp(unit)))
        assert col.values[0] == T0
        assert list(col.missing) == [False, True]
        aware = to_epoch_seconds(pa.array([paris], pa.timestamp(unit, tz="Europe/Paris")))
        assert aware.values[0] == T0
    pre_1970 = to_epoch_seconds(pa.array([dt.datetime(1969, 12, 31, 23, 59, 59)], pa.timestamp("ms")))
    assert pre_1970.values[0] == -1.0
    assert to_epoch_seconds(pa.array([dt.date(2026, 11, 20)], pa.date32())).values[0] == DAY0
    assert to_epoch_seconds(pa.array([dt.date(2026, 11, 20)], pa.date64())).values[0] == DAY0


def test_to_epoch_seconds_rejects_what_is_not_a_time() -> None:
    # Given impossible dates, bad text, booleans and nested values
    text = to_epoch_seconds(pa.array(["2026-02-30", "2026-13-01", "2026-11-20T25:00:00Z", "yesterday", "NA"]))
    bools = to_epoch_seconds(pa.array([True, None]))
    nested = to_epoch_seconds(pa.array([{"a": 1}]))
    # Then they are type errors (and the null marker is missing)
    assert _flags(text) == ([False, False, False, False, True], [True, True, True, True, False])
    assert _flags(bools) == ([False, True], [True, False])
    assert _flags(nested) == ([False], [True])


def test_to_epoch_seconds_mixed_forms_in_one_column() -> None:
    # Given one column mixing offsets, naive text, epoch seconds and milliseconds
    arr = pa.chunked_array([["2026-11-20T13:45:00Z", "2026-11-20 13:45:00"], [str(int(T0)), str(int(T0) * 1000)]])
    # Then every form gives the same instant
    assert to_epoch_seconds(arr).values.tolist() == [T0] * 4


# --------------------------------------------------------------------------------------------- categories


def test_to_category_normalises_values() -> None:
    # Given the same class written as integers, integral floats, and text; plus booleans and gaps
    ints = to_category(pa.array([1, None, -3]))
    floats = to_category(pa.array([1.0, 0.5, math.nan, None, -0.0, 0.1, math.inf]))
    float32 = to_category(pa.array([0.1, 2.0], pa.float32()))
    text = to_category(pa.array(["1", "", None, " a "]))
    bools = to_category(pa.array([True, False, None]))
    # Then classes agree (1 == 1.0), NaN and "" are null, text is otherwise unchanged
    assert ints.to_pylist() == ["1", None, "-3"]
    assert floats.to_pylist() == ["1", "0.5", None, None, "0", "0.1", "inf"]
    assert float32.to_pylist() == ["0.1", "2"]
    assert text.to_pylist() == ["1", None, None, " a "]
    assert bools.to_pylist() == ["true", "false", None]
    for out in (ints, floats, text, bools):
        assert out.type == pa.string()


def test_to_category_other_types() -> None:
    # Given dictionaries, nulls, nested values, dates and big decimals
    assert to_category(pa.array(["a", None, "a"]).dictionary_encode()).to_pylist() == ["a", None, "a"]
    assert to_category(pa.nulls(2)).to_pylist() == [None, None]
    assert to_category(pa.array([{"x": 1}, None])).to_pylist() == [NESTED_PLACEHOLDER, None]
    assert to_category(pa.array([dt.date(2026, 11, 20)])).to_pylist() == ["2026-11-20"]
    big = pa.array([12345678901234567890123], pa.decimal128(38, 0))
    assert to_category(big).to_pylist() == ["12345678901234567890123"]


def test_category_codes() -> None:
    # Given values, some unknown, some missing
    arr = pa.array(["b", "a", None, "", "z"])
    # When coded against the known categories
    codes = category_codes(arr, ["a", "b"])
    # Then known values get their index, unknown -1, missing -2
    assert codes.tolist() == [1, 0, -2, -2, -1]
    assert codes.dtype == np.int32
    # And non-text input is normalised first (1.0 is the class "1")
    assert category_codes(pa.array([1.0, 2.5, None]), ["1", "2.5"]).tolist() == [0, 1, -2]


def test_equals_mask() -> None:
    # Given numbers, text and booleans
    numbers = pa.array([1, 0, None, 2])
    floats = pa.array([1.0, 1.5, math.nan])
    text = pa.array(["1", "1.0", " 1 ", "x", None, "true", "TRUE"])
    bools = pa.array([True, False, None])
    # Then 1, 1.0 and "1" are the same value
    assert equals_mask(numbers, 1).tolist() == [True, False, False, False]
    assert equals_mask(floats, 1).tolist() == [True, False, False]
    assert equals_mask(floats, "1").tolist() == [True, False, False]
    assert equals_mask(text, 1).tolist() == [True, True, True, False, False, False, False]
    assert equals_mask(text, "x").tolist() == [False, False, False, True, False, False, False]
    # And True matches "true" in any case, True, and 1
    assert equals_mask(text, True).tolist() == [True, True, True, False, False, True, True]
    assert equals_mask(bools, True).tolist() == [True, False, False]
    assert equals_mask(bools, "false").tolist() == [False, True, False]
    assert equals_mask(numbers, True).tolist() == [True, False, False, False]
    # And NaN equals nothing
    assert not equals_mask(floats, math.nan).any()


def _dictionary_forms(values: list[str | None]) -> list[object]:
    """The same text as dictionary arrays: encoded, sliced, chunked with different dictionaries, null entries."""
    plain = pa.array(values, type=pa.string())
    encoded = plain.dictionary_encode()
    padded = pa.array(["pad", *values, "pad"], type=pa.string()).dictionary_encode().slice(1, len(values))
    half = len(values) // 2
    chunked = pa.chunked_array([plain.slice(0, half).dictionary_encode(), plain.slice(half).dictionary_encode()])
    # a dictionary holding a null entry and unused values, with large_string values
    dictionary = pa.array(["unused", None, *dict.fromkeys(v for v in values if v is not None)], type=pa.large_string())
    position = {v: i for i, v in enumerate(dictionary.to_pylist())}
    with_null_entry = pa.DictionaryArray.from_arrays(
        pa.array([position[v] if v is not None else (1 if i % 2 else None) for i, v in enumerate(values)], pa.int8()),
        dictionary,
    )
    return [encoded, padded, chunked, with_null_entry]


def test_dictionary_arrays_code_like_their_decoded_text() -> None:
    # Given text with nulls, empty strings, numbers, booleans and padding, as plain and as dictionary arrays
    values = ["b", "a", None, "", "z", " 1 ", "1.0", "TRUE", "x", "a", None, "abc", "b", "NA"]
    plain = pa.array(values, type=pa.string())
    categories = ["a", "b", "1.0", "TRUE"]
    for form in _dictionary_forms(values):
        # Then every element-wise function gives the same result as on the decoded text
        assert to_category(form).to_pylist() == to_category(plain).to_pylist()
        assert to_category(form).type == pa.string()
        assert category_codes(form, categories).tolist() == category_codes(plain, categories).tolist()
        assert category_codes(form, categories).dtype == np.int32
        numbers, expected = to_numeric(form), to_numeric(plain)
        assert np.array_equal(numbers.values, expected.values, equal_nan=True)
        assert _flags(numbers) == _flags(expected)
        for value in ("a", "", 1, 1.0, True, False, "true", "x", math.nan):
            assert equals_mask(form, value).tolist() == equals_mask(plain, value).tolist()


def test_dictionary_with_empty_dictionary_or_all_null_indices() -> None:
    # Given dictionary arrays without values
    empty = pa.DictionaryArray.from_arrays(pa.array([None, None], pa.int32()), pa.array([], pa.string()))
    # Then every row is missing
    assert category_codes(empty, ["a"]).tolist() == [-2, -2]
    assert to_category(empty).to_pylist() == [None, None]
    assert to_numeric(empty).missing.tolist() == [True, True]
    assert equals_mask(empty, "a").tolist() == [False, False]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-300, 300)), min_size=1, max_size=60),
    categories=st.lists(
        st.one_of(st.integers(-300, 300).map(str), st.sampled_from(["07", "1.0", "+3", " 4", "x", "", "-0"])),
        unique=True,
        max_size=12,
    ),
    type_=st.sampled_from([pa.int16(), pa.int64(), pa.uint8(), pa.uint64()]),
)
def test_integer_category_codes_equal_the_text_path(
    values: list[int | None], categories: list[str], type_: pa.DataType
) -> None:
    """Integer columns are coded without writing rows as text; the codes are those of their decimal text."""
    info = np.iinfo(type_.to_pandas_dtype())
    arr = pa.array([v if v is None or info.min <= v <= info.max else None for v in values], type=type_)
    text = pa.array([None if v is None else str(v) for v in arr.to_pylist()], type=pa.string())
    assert category_codes(arr, categories).tolist() == category_codes(text, categories).tolist()
