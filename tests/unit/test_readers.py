"""Streamed readers: every format and compression, from paths and non-seekable streams, and their failures."""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.core.errors import InputError
from driftline.io import readers
from driftline.io.coerce import NESTED_PLACEHOLDER, NumericColumn, to_category, to_epoch_seconds, to_numeric
from driftline.io.readers import FileFormat, detect_format, iter_batches

FORMATS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
_ABSENT = object()  # a JSON field left out of its line


class ReadOnlyStream:
    """Like a botocore StreamingBody: ``read(n)`` only, no seek, no tell, no ``closed``."""

    def __init__(self, data: bytes | io.BufferedIOBase) -> None:
        self._buffer = io.BytesIO(data) if isinstance(data, bytes) else data

    def read(self, n: int = -1) -> bytes:
        return self._buffer.read(n)


class FailingStream(ReadOnlyStream):
    """A stream whose connection drops after ``fail_after`` bytes."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__(data)
        self.fail_after = fail_after
        self.sent = 0

    def read(self, n: int = -1) -> bytes:
        if self.sent >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        chunk = super().read(n)
        self.sent += len(chunk)
        return chunk


def sample_table() -> pa.Table:
    return pa.table(
        {
            "request_id": ["r-001", "r-002", "007", "r-004", "r-005"],
            "event_time": ["2026-11-20T13:45:00Z"] * 5,
            "tenure": [1.5, None, 3.0, -2.25, 1e6],
            "tickets": [1, 2, None, 4, 5],
            "plan": ["basic", "pro", None, "basic", "enterprise"],
            "noise": ["n1", "n2", "n3", "n4", "n5"],
        }
    )


def encode(table: pa.Table, file_format: str) -> bytes:
    """The table written in a format (Python loops are fine here: this is the test's writer)."""
    buffer = io.BytesIO()
    if file_format == "parquet":
        pq.write_table(table, buffer)
    elif file_format == "csv":
        pacsv.write_csv(table, buffer)
    else:
        buffer.write("".join(json.dumps(row) + "\n" for row in table.to_pylist()).encode())
    return buffer.getvalue()


def read_all(source: Any, name: str, **kwargs: Any) -> list[pa.RecordBatch]:
    return list(iter_batches(source, name=name, **kwargs))


def column(batches: list[pa.RecordBatch], name: str) -> pa.ChunkedArray:
    return pa.chunked_array([b.column(b.schema.get_field_index(name)) for b in batches])


def numeric(batches: list[pa.RecordBatch], name: str) -> NumericColumn:
    """to_numeric batch by batch: in JSON Lines a column's type may differ from one batch to the next."""
    parts = [to_numeric(b.column(b.schema.get_field_index(name))) for b in batches]
    return NumericColumn(
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.missing for p in parts]),
        np.concatenate([p.type_error for p in parts]),
    )


# --------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("detect", [("a.csv", FileFormat.CSV, False), ("x/y/B.JSON.GZ", FileFormat.JSONL, True)])
def test_detect_format_examples(detect: tuple[str, FileFormat, bool]) -> None:
    name, file_format, gzipped = detect
    assert detect_format(name) == (file_format, gzipped)


def test_detect_format_every_extension() -> None:
    # Given every supported extension, in any case, with and without .gz
    expected = {
        "f.parquet": FileFormat.PARQUET,
        "f.pq": FileFormat.PARQUET,
        "f.csv": FileFormat.CSV,
        "f.jsonl": FileFormat.JSONL,
        "f.ndjson": FileFormat.JSONL,
        "f.json": FileFormat.JSONL,
    }
    for name, file_format in expected.items():
        assert detect_format(name) == (file_format, False)
        assert detect_format(name.upper() + ".gz") == (file_format, True)


@pytest.mark.parametrize("name", ["data.txt", "data.csv.bz2", "data.gz", "data", "data.parquet.zip"])
def test_unsupported_extension_is_an_input_error_naming_the_key(name: str) -> None:
    # When the extension is not one Driftline reads
    with pytest.raises(InputError) as info:
        iter_batches(io.BytesIO(b"x"), name=f"predictions/m/{name}")
    # Then the error names the key and lists what is supported
    assert info.value.key == f"predictions/m/{name}"
    assert f"predictions/m/{name}" in str(info.value)
    assert ".parquet" in info.value.reason
    assert ".jsonl" in info.value.reason
    assert ".gz" in info.value.reason


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("file_format", list(FORMATS))
@pytest.mark.parametrize("via", ["path", "stream"])
def test_round_trip_every_format(file_format: str, gzipped: bool, via: str, tmp_path: Path) -> None:
    # Given the same table written in each format, optionally gzipped
    table = sample_table()
    data = encode(table, file_format)
    name = "predictions/churn/2026/part-0" + FORMATS[file_format] + (".gz" if gzipped else "")
    if gzipped:
        data = gzip.compress(data)
    source: Any = ReadOnlyStream(data)
    if via == "path":
        source = tmp_path / Path(name).name
        source.write_bytes(data)
    # When it is read for some of its columns, one of them absent from the file
    wanted = ["request_id", "event_time", "tenure", "tickets", "plan", "not_there"]
    batches = read_all(source, name, columns=wanted, string_columns=["request_id", "plan"], batch_rows=2)
    # Then the values survive, the absent column is absent and the extra column is not read
    assert all(b.num_rows <= 2 for b in batches)
    assert sum(b.num_rows for b in batches) == 5
    for batch in batches:
        assert batch.schema.names == ["request_id", "event_time", "tenure", "tickets", "plan"]
        assert batch.schema.field("request_id").type == pa.string()
        assert batch.schema.field("plan").type == pa.string()
    assert column(batches, "request_id").to_pylist() == ["r-001", "r-002", "007", "r-004", "r-005"]
    assert to_category(column(batches, "plan")).to_pylist() == ["basic", "pro", None, "basic", "enterprise"]
    tenure = to_numeric(column(batches, "tenure"))
    assert tenure.values[[0, 2, 3, 4]].tolist() == [1.5, 3.0, -2.25, 1e6]
    assert tenure.missing.tolist() == [False, True, False, False, False]
    tickets = to_numeric(column(batches, "tickets"))
    assert tickets.values[[0, 1, 3, 4]].tolist() == [1, 2, 4, 5]
    assert tickets.missing[2]
    assert (to_epoch_seconds(column(batches, "event_time")).values == 1795182300.0).all()


@pytest.mark.parametrize("file_format", list(FORMATS))
def test_all_columns_when_none_are_named(file_format: str) -> None:
    # Given a file, read without a column list
    batches = read_all(ReadOnlyStream(encode(sample_table(), file_format)), "f" + FORMATS[file_format])
    # Then every column comes back
    assert set(batches[0].schema.names) == set(sample_table().column_names)


@pytest.mark.parametrize("file_format", list(FORMATS))
def test_file_without_any_wanted_column_still_counts_rows(file_format: str) -> None:
    # Given a file that has none of the wanted columns
    batches = read_all(ReadOnlyStream(encode(sample_table(), file_format)), "f" + FORMATS[file_format], columns=["x"])
    # Then the batches have no columns but the right number of rows
    assert sum(b.num_rows for b in batches) == 5
    assert all(b.num_columns == 0 for b in batches)


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("file_format", list(FORMATS))
def test_empty_file_yields_nothing(file_format: str, gzipped: bool) -> None:
    # Given a 0-byte file (or a gzip of nothing)
    data = gzip.compress(b"") if gzipped else b""
    name = "f" + FORMATS[file_format] + (".gz" if gzipped else "")
    # Then nothing is yielded and nothing is raised
    assert read_all(ReadOnlyStream(data), name) == []


def test_byte_order_mark_crlf_and_quoted_newlines() -> None:
    # Given files written on Windows (BOM, CRLF) and a CSV field holding a newline
    csv = b'\xef\xbb\xbfa,b\r\n1,"multi\nline"\r\n3,\r\n'
    jsonl = b'\xef\xbb\xbf{"a": 1}\r\n{"a": "x"}\r\n'
    # Then they read as written
    assert read_all(ReadOnlyStream(csv), "f.csv")[0].to_pydict() == {"a": ["1", "3"], "b": ["multi\nline", ""]}
    assert column(read_all(ReadOnlyStream(jsonl), "f.jsonl", columns=["a"]), "a").to_pylist() == ["1", "x"]


def test_csv_with_only_a_header_yields_nothing() -> None:
    assert read_all(ReadOnlyStream(b"a,b,c\n"), "f.csv", columns=["a"]) == []


def test_seekable_stream_and_path_like_parquet(tmp_path: Path) -> None:
    # Given Parquet as a seekable in-memory stream
    data = encode(sample_table(), "parquet")
    # Then it is read in place, columns selected
    batches = read_all(io.BytesIO(data), "f.parquet", columns=["tickets"])
    assert column(batches, "tickets").to_pylist() == [1, 2, None, 4, 5]


def test_parquet_row_groups_are_streamed_in_batches(tmp_path: Path) -> None:
    # Given a Parquet file of several row groups
    table = pa.table({"x": np.arange(10_000, dtype=np.float64), "pad": ["p"] * 10_000})
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=1_000)
    # When read in batches of 1,500 rows, from a path and from a non-seekable stream
    for source in (path, ReadOnlyStream(path.read_bytes())):
        batches = read_all(source, "big.parquet", columns=["x"], batch_rows=1_500)
        # Then every batch respects the size and the values come back in order
        assert max(b.num_rows for b in batches) <= 1_500
        assert column(batches, "x").to_numpy().tolist() == list(range(10_000))


def test_string_columns_keep_their_text() -> None:
    # Given ids that look like numbers, in every format
    table = pa.table({"id": ["007", "1.0", "12"], "n": [1, 2, 3]})
    json_lines = b'{"id": 7, "n": 1}\n{"id": 1.0, "n": 2}\n{"id": 12345678901234567890123, "n": 3}\n'
    # When read as string columns
    csv = column(read_all(ReadOnlyStream(encode(table, "csv")), "f.csv", string_columns=["id"]), "id")
    parquet = read_all(ReadOnlyStream(encode(table, "parquet")), "f.parquet", string_columns=["id", "n"])
    jsonl = column(read_all(ReadOnlyStream(json_lines), "f.jsonl", string_columns=["id"]), "id")
    # Then CSV and Parquet text is untouched, numbers become their canonical text
    assert csv.to_pylist() == ["007", "1.0", "12"]
    assert column(parquet, "id").to_pylist() == ["007", "1.0", "12"]
    assert column(parquet, "n").to_pylist() == ["1", "2", "3"]
    assert jsonl.type == pa.string()
    # (the JSON block mixes integers and a float: pyarrow reads them all as float64, so 1e22 loses digits)
    assert jsonl.to_pylist()[:2] == ["7", "1"]


def test_json_string_column_that_looks_like_dates_keeps_its_text() -> None:
    # Given a categorical column whose values pyarrow would turn into timestamps
    data = b'{"d": "2026-11-20", "t": "2026-11-20T13:45:00Z"}\n{"d": "2026-11-21", "t": "2026-11-20T13:45:00Z"}\n'
    # When read with it as a string column
    batches = read_all(ReadOnlyStream(data), "f.jsonl", string_columns=["d"])
    # Then its text is kept, and the other column may be a native timestamp
    assert column(batches, "d").to_pylist() == ["2026-11-20", "2026-11-21"]
    assert (to_epoch_seconds(column(batches, "t")).values == 1795182300.0).all()


# --------------------------------------------------------------------------------------------- mixed types


def test_csv_bad_value_far_down_a_numeric_column(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 300k-row CSV whose numeric column holds "abc" at row 250,000, read in small blocks
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 1 << 20)
    n = 300_000
    values = np.arange(n, dtype=np.float64) * 0.25
    text = pa.array(values).cast(pa.string()).to_pylist()
    text[250_000] = "abc"
    data = encode(pa.table({"id": [f"r{i}" for i in range(n)], "x": text, "extra": ["e"] * n}), "csv")
    # When streamed
    batches = read_all(ReadOnlyStream(gzip.compress(data, 1)), "big.csv.gz", columns=["x"])
    # Then the file reads in several batches and exactly that row is a type error
    assert len(batches) > 3
    col = to_numeric(column(batches, "x"))
    assert np.flatnonzero(col.type_error).tolist() == [250_000]
    assert not col.missing.any()
    assert col.values[249_999] == values[249_999]
    assert col.values[299_999] == values[299_999]


def test_json_number_in_one_line_and_string_in_another() -> None:
    # Given JSON Lines where a field is a number, a string, a boolean, null, nested, or absent
    data = (
        b'{"x": 1, "c": "a", "keep": 1}\n'
        b'{"x": "abc", "c": 2, "keep": 2}\n'
        b"\n"
        b'{"x": 2.5, "c": true, "keep": 3}\n'
        b'{"x": null, "c": {"k": 1}, "keep": 4}\n'
        b'{"x": " 4 ", "keep": 5}\n'
    )
    # When read
    batches = read_all(ReadOnlyStream(data), "mixed.jsonl", columns=["x", "c", "keep"], string_columns=["c"])
    # Then the file is not rejected: rows stay in order and each value keeps its meaning
    x = to_numeric(column(batches, "x"))
    assert x.type_error.tolist() == [False, True, False, False, False]
    assert x.missing.tolist() == [False, False, False, True, False]
    assert x.values[[0, 2, 4]].tolist() == [1.0, 2.5, 4.0]
    assert column(batches, "c").to_pylist() == ["a", "2", "true", "<nested>", None]
    assert to_numeric(column(batches, "keep")).values.tolist() == [1, 2, 3, 4, 5]


def test_json_mixed_types_without_a_column_list() -> None:
    data = b'{"x": 1, "y": [1]}\n{"x": "abc", "y": {"a": 1}}\n{"x": 3}\n'
    batches = read_all(ReadOnlyStream(data), "mixed.jsonl")
    x = to_numeric(column(batches, "x"))
    assert x.type_error.tolist() == [False, True, False]
    assert x.values[[0, 2]].tolist() == [1.0, 3.0]


def test_json_string_far_down_a_numeric_field(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 200k JSON lines in small blocks, with one string in a numeric field near the end and an unwanted
    # field that mixes types in every block
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 1 << 20)
    n = 200_000
    lines = [f'{{"x": {i}, "junk": {i if i % 2 else json.dumps(str(i))}}}' for i in range(n)]
    lines[190_000] = '{"x": "abc", "junk": 1}'
    data = ("\n".join(lines) + "\n").encode()
    # When streamed for the numeric field only
    batches = read_all(ReadOnlyStream(data), "big.jsonl", columns=["x"])
    # Then it reads, in order, with exactly that row flagged
    col = numeric(batches, "x")
    assert len(col) == n
    assert np.flatnonzero(col.type_error).tolist() == [190_000]
    expected = np.arange(n, dtype=np.float64)
    expected[190_000] = np.nan
    np.testing.assert_array_equal(col.values, expected)


def test_json_heavily_mixed_column_keeps_row_order() -> None:
    # Given a field that alternates between numbers and strings on every line
    n = 50_000
    lines = [json.dumps({"i": i, "v": i if i % 2 else f"s{i}"}) for i in range(n)]
    # When read
    batches = read_all(ReadOnlyStream(("\n".join(lines) + "\n").encode()), "alt.jsonl", columns=["i", "v"])
    # Then every row keeps its own value, in order
    i = to_numeric(column(batches, "i")).values
    assert i.tolist() == list(range(n))
    v = to_category(column(batches, "v")).to_pylist()
    assert v[:4] == ["s0", "1", "s2", "3"]
    assert v[-1] == str(n - 1)


_json_value = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet="abcxyz 09.-", max_size=6),
    st.booleans(),
    st.none(),
    st.just({"k": 1}),
    st.just([1, 2]),
    st.just(_ABSENT),
)


def _expected_category(value: object) -> str | None:
    if value is None or value is _ABSENT or value == "":
        return None
    if isinstance(value, dict | list):
        return NESTED_PLACEHOLDER
    return str(to_category(pa.array([value])).to_pylist()[0])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(_json_value, _json_value, _json_value), min_size=1, max_size=40))
def test_json_any_mix_of_kinds_reads_in_order(rows: list[tuple[object, object, object]]) -> None:
    # Given JSON lines whose fields take any kind of value, line by line
    names = ["a", "b", "c"]
    lines = [json.dumps({k: v for k, v in zip(names, row, strict=True) if v is not _ABSENT}) for row in rows]
    data = ("\n".join(lines) + "\n").encode()
    # When read with every field as a string column
    batches = read_all(ReadOnlyStream(data), "any.jsonl", columns=names, string_columns=names)
    # Then each value comes back, in its line, in its canonical text
    assert sum(b.num_rows for b in batches) == len(rows)
    for i, name in enumerate(names):
        if all(row[i] is _ABSENT for row in rows):
            assert all(name not in b.schema.names for b in batches)
            continue
        got = to_category(column(batches, name)).to_pylist()
        assert got == [_expected_category(row[i]) for row in rows]


# --------------------------------------------------------------------------------------------- failures


def test_truncated_gzip_is_an_input_error() -> None:
    # Given each format gzipped, with the end of the gzip stream cut off
    for file_format in FORMATS:
        name = "predictions/m/f" + FORMATS[file_format] + ".gz"
        payload = gzip.compress(encode(sample_table(), file_format) * (1 if file_format == "parquet" else 200))
        with pytest.raises(InputError) as info:
            read_all(ReadOnlyStream(payload[: len(payload) - 10]), name)
        assert info.value.key == name
        assert name in str(info.value)
        # Then it is an InputError naming the file and saying why
        assert "truncated" in info.value.reason


def test_not_gzip_content_with_gz_name() -> None:
    with pytest.raises(InputError, match="not gzip"):
        read_all(ReadOnlyStream(b"a,b\n1,2\n"), "f.csv.gz")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "zero-middle"])
def test_corrupt_parquet_is_an_input_error(damage: str, tmp_path: Path) -> None:
    # Given a Parquet file that is damaged
    data = encode(pa.table({"x": np.arange(1000.0)}), "parquet")
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"PAR1" + b"not parquet at all" * 10
    else:
        middle = len(data) - 200
        data = data[:middle] + b"\x00" * 100 + data[middle + 100 :]
    path = tmp_path / "bad.parquet"
    path.write_bytes(data)
    # Then reading it from a stream or a path is an InputError naming the file
    for source in (ReadOnlyStream(data), path):
        with pytest.raises(InputError) as info:
            read_all(source, "bad.parquet")
        assert info.value.key == "bad.parquet"
        assert "Parquet" in info.value.reason


def test_broken_json_line_in_the_middle_names_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 100k JSON lines in several blocks with line 73,456 broken
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 256 << 10)
    lines = [json.dumps({"x": i, "secret": "s3cr3t"}) for i in range(100_000)]
    lines[73_455] = '{"x": 1, "secret": "s3cr3t"'
    data = ("\n".join(lines) + "\n").encode()
    # When read
    with pytest.raises(InputError) as info:
        read_all(ReadOnlyStream(data), "logs/f.jsonl", columns=["x"])
    # Then the error names the file and the line, and quotes no value
    assert info.value.key == "logs/f.jsonl"
    assert "line 73,456" in info.value.reason
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n[1, 2]\n', "line 2 is not a JSON object"),
        (b'{"a": 1}\n{"a": 2}\n{"a": 3}}\n', "line 3 is not valid JSON"),
        (b'{"a": 1, "a": 2}\n', "repeats the key 'a'"),
        (b'{"a": "\xff\xfe"}\n', "not valid UTF-8"),
        (b'[{"a": 1}, {"a": 2}]\n', "line 1 is not a JSON object"),
    ],
)
def test_bad_json_lines(data: bytes, expected: str) -> None:
    with pytest.raises(InputError) as info:
        read_all(ReadOnlyStream(data), "f.json")
    assert expected in info.value.reason
    assert info.value.key == "f.json"


def test_non_utf8_csv_is_an_input_error_naming_the_column() -> None:
    # Given a CSV with bytes that are not UTF-8 in a wanted column
    data = b"id,plan,x\nr1,basic,1\nr2,b\xe4sic,2\n"
    # Then it is an InputError naming the file and the column, without the value
    with pytest.raises(InputError) as info:
        read_all(ReadOnlyStream(data), "f.csv", columns=["plan", "x"])
    assert info.value.key == "f.csv"
    assert "'plan'" in info.value.reason
    assert "UTF-8" in info.value.reason
    assert "sic" not in info.value.reason
    # And bad bytes in a column that is not read do not matter
    assert len(read_all(ReadOnlyStream(data), "f.csv", columns=["x"])[0]) == 2


def test_csv_row_with_wrong_field_count() -> None:
    data = b"a,b,c\n1,2,3\n4,secret\n"
    with pytest.raises(InputError) as info:
        read_all(ReadOnlyStream(data), "f.csv")
    assert "2 fields where the header has 3" in info.value.reason
    assert "secret" not in str(info.value)


def test_missing_local_file() -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_all("/nonexistent/dir/f.csv", "f.csv")


@pytest.mark.parametrize("name", ["f.csv", "f.jsonl", "f.csv.gz", "f.parquet"])
def test_a_failing_stream_propagates_its_own_error(name: str) -> None:
    # Given a stream whose connection drops part-way
    file_format = FileFormat(detect_format(name)[0]).value
    data = encode(pa.table({"x": list(range(200_000))}), file_format)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    # Then the stream's own error comes out, not an InputError: trying again may help
    with pytest.raises(ConnectionResetError):
        read_all(FailingStream(data, fail_after=len(data) // 3), name)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        iter_batches(io.BytesIO(b""), name="f.csv", batch_rows=0)
    with pytest.raises(ValueError, match="columns"):
        iter_batches(io.BytesIO(b""), name="f.csv", columns="x")


# --------------------------------------------------------------------------------------------- memory


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _generate_gzip_jsonl(path: Path, target_bytes: int) -> int:
    """A multi-member gzip JSON Lines file of about ``target_bytes`` on disk; returns its row count."""
    rng = np.random.default_rng(7)
    members: list[tuple[bytes, int]] = []
    for k in range(8):
        n = 100_000
        x = rng.normal(size=n)
        y = rng.exponential(size=n)
        lines = [
            f'{{"request_id":"r{k}-{i}","event_time":{1795182300 + i},"x":{x[i]:.9f},"y":{y[i]:.9f},'
            f'"plan":"{"abc"[i % 3]}","note":"{rng.integers(1 << 40)}"}}\n'
            for i in range(n)
        ]
        members.append((gzip.compress("".join(lines).encode(), 1), n))
    rows = 0
    written = 0
    with path.open("wb") as out:
        while written < target_bytes:
            for member, n in members:
                out.write(member)
                written += len(member)
                rows += n
    return rows


@pytest.mark.slow
def test_memory_stays_flat_on_a_large_gzip_json_lines_file(tmp_path: Path) -> None:
    # Given a ~200 MB gzip JSON Lines file on disk (well over a gigabyte of JSON once decompressed)
    path = tmp_path / "big.jsonl.gz"
    rows = _generate_gzip_jsonl(path, 200 << 20)
    assert path.stat().st_size >= 200 << 20
    wanted = ["request_id", "event_time", "x", "y", "plan"]
    # (warm up pyarrow's JSON reader and memory pool before measuring)
    read_all(ReadOnlyStream(b'{"x": 1}\n'), "w.jsonl", columns=wanted)
    baseline_rss = _rss_bytes()
    baseline_arrow = pa.total_allocated_bytes()
    # When it is streamed from a non-seekable file object, looking at every batch
    peak_rss = peak_arrow = 0
    seen = 0
    total = 0.0
    with path.open("rb") as raw:
        batches: Iterator[pa.RecordBatch] = iter_batches(ReadOnlyStream(raw), name="big.jsonl.gz", columns=wanted)
        for batch in batches:
            seen += batch.num_rows
            total += float(np.nansum(to_numeric(batch.column(2)).values))
            peak_rss = max(peak_rss, _rss_bytes() - baseline_rss)
            peak_arrow = max(peak_arrow, pa.total_allocated_bytes() - baseline_arrow)
    # Then every row was read and memory stayed far below the size of the data
    assert seen == rows
    assert math.isfinite(total)
    assert peak_arrow < 256 << 20, f"Arrow memory grew by {peak_arrow / 2**20:.0f} MiB"
    assert peak_rss < 256 << 20, f"RSS grew by {peak_rss / 2**20:.0f} MiB"


def test_parquet_categorical_string_columns_are_read_as_dictionaries(tmp_path: Path) -> None:
    # Given a Parquet file of several row groups: a column of few distinct strings, stored dictionary-encoded,
    # and a column of unique ids whose dictionary outgrows the writer's limit (plain pages after it)
    n = 6_000
    cities = [None if i % 7 == 0 else ("" if i % 11 == 0 else f"city-{i % 5}") for i in range(n)]
    ids = [f"id-{i:08d}" for i in range(n)]
    table = pa.table({"city": pa.array(cities, pa.string()), "id": ids, "n": np.arange(n)})
    path = tmp_path / "cats.parquet"
    pq.write_table(table, path, row_group_size=2_000, dictionary_pagesize_limit=4_096)
    # When read with both as string columns, from a path and from a non-seekable stream
    for source in (path, ReadOnlyStream(path.read_bytes())):
        batches = read_all(source, "cats.parquet", string_columns=["city", "id"], batch_rows=1_500)
        # Then the categorical column comes out as dictionary<string>, the ids as plain strings
        assert {str(b.schema.field("city").type) for b in batches} == {str(pa.dictionary(pa.int32(), pa.string()))}
        assert {b.schema.field("id").type for b in batches} == {pa.string()}
        # And the values are those written (the empty string too), and normalise as text does
        assert column(batches, "city").to_pylist() == cities
        assert column(batches, "id").to_pylist() == ids
        assert to_category(column(batches, "city")).to_pylist() == to_category(pa.array(cities)).to_pylist()
    # And a column not listed in string_columns keeps its plain type
    assert {b.schema.field("city").type for b in read_all(path, "cats.parquet")} == {pa.string()}


def test_parquet_dictionary_column_with_invalid_utf8_is_an_input_error(tmp_path: Path) -> None:
    # Given a dictionary-encoded Parquet string column holding bytes that are not UTF-8
    raw = pa.array([b"ok", b"\xff\xfe", b"ok"] * 10_000, pa.binary()).view(pa.string())
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"c": raw}), path)
    # When read as a string column, then the file is refused, naming the column
    with pytest.raises(InputError) as info:
        read_all(path, "bad.parquet", string_columns=["c"])
    assert "'c'" in info.value.reason
    assert "UTF-8" in info.value.reason
