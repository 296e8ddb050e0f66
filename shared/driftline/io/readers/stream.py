"""Stream plumbing of the readers: the file formats, the read plan, non-seekable sources as pyarrow streams,
error messages naming the file, and the last step of every batch (string columns, UTF-8, the wanted columns)."""

from __future__ import annotations

import contextlib
import enum
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Final

import pyarrow as pa

from driftline.core.errors import InputError
from driftline.io.coerce import to_category


class FileFormat(enum.Enum):
    """The data file formats Driftline reads."""

    PARQUET = "parquet"
    CSV = "csv"
    JSONL = "jsonl"


_EXTENSIONS: Final = {
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
    ".csv": FileFormat.CSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".json": FileFormat.JSONL,
}
_FORMAT_LABEL: Final = {FileFormat.PARQUET: "Parquet", FileFormat.CSV: "CSV", FileFormat.JSONL: "JSON Lines"}

#: Bytes read per block: the unit of CSV parsing, of JSON Lines parsing and of gzip/spool copies.
BLOCK_BYTES: Final = 8 << 20


@dataclass
class _Plan:
    source: str | os.PathLike[str] | BinaryIO | IO[bytes]
    name: str
    file_format: FileFormat
    gzipped: bool
    wanted: list[str] | None
    strings: frozenset[str]
    batch_rows: int
    row_groups: list[int] | None = None
    # Filled in while reading, for error messages.
    stream: _StreamSource | None = None
    native: Any = None
    rows_read: int = 0
    csv_header: list[str] = field(default_factory=list)
    csv_bad_row: tuple[int, int] | None = None
    #: An error of the environment, not of the data (the spool's disk is full): re-raised unchanged.
    local_failure: BaseException | None = None

    def compressed_position(self) -> int | None:
        if self.stream is not None:
            return self.stream.position
        if self.native is not None:
            with contextlib.suppress(Exception):
                return int(self.native.tell())
        return None


class _StreamSource(io.RawIOBase):
    """A raw reader over any object with ``read(n)``; remembers the position and the stream's own failure.

    pyarrow needs a file-like object (``closed``, ``readable``...) and the stream may offer only ``read``.
    An exception raised by the stream (a dropped connection) is recorded so that it is re-raised as it is,
    not mistaken for corrupt data.
    """

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
        self.position = 0
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view))
        except Exception as exc:
            self.failure = exc
            raise
        n = len(data)
        view[:n] = data
        self.position += n
        return n


class _PrefixedReader(io.RawIOBase):
    """Bytes already read (a peeked CSV header) followed by the rest of a stream."""

    def __init__(self, prefix: bytes, rest: Any) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if len(self._prefix):
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _open(plan: _Plan, stack: contextlib.ExitStack) -> Any:
    """The source as a pyarrow input stream (not yet decompressed)."""
    source = plan.source
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            native = stack.enter_context(pa.OSFile(path, "rb"))
        except FileNotFoundError as exc:
            raise InputError("the file does not exist", key=plan.name) from exc
        except (IsADirectoryError, PermissionError) as exc:
            raise InputError(f"the file cannot be opened ({type(exc).__name__})", key=plan.name) from exc
        plan.native = native
        return native
    if not callable(getattr(source, "read", None)):
        raise TypeError(f"source must be a path or a readable binary stream, got {type(source).__name__}")
    plan.stream = _StreamSource(source)
    return pa.PythonFile(plan.stream, mode="r")


def _describe(exc: BaseException, plan: _Plan) -> str:
    """One sentence about why the file could not be read. Never quotes data (pyarrow's messages can)."""
    message = str(exc)
    label = _FORMAT_LABEL[plan.file_format]
    if plan.gzipped:
        position = plan.compressed_position()
        where = f" (after {position:,} compressed bytes)" if position is not None else ""
        if isinstance(exc, EOFError) or "Truncated compressed stream" in message:
            return f"the gzip data ends before its end marker: the file is truncated{where}"
        if "incorrect header check" in message or isinstance(exc, gzip.BadGzipFile):
            return "the file name ends in .gz but its content is not gzip data"
        if "zlib" in message or "inflate" in message or isinstance(exc, zlib.error):
            return f"the gzip data is corrupt{where}"
    if plan.file_format is FileFormat.PARQUET:
        return "the file is not a readable Parquet file: it is corrupt, truncated or not Parquet at all"
    if plan.file_format is FileFormat.CSV:
        after = f" after data row {plan.rows_read:,}" if plan.rows_read else " in the first block of rows"
        if plan.csv_bad_row is not None:
            expected, actual = plan.csv_bad_row
            fields = "field" if actual == 1 else "fields"
            return f"a CSV row{after} has {actual} {fields} where the header has {expected}"
        if "UTF8" in message or "UTF-8" in message:
            return f"{_csv_column(message, plan)} holds text that is not valid UTF-8{after}"
        if "Expected" in message and "columns" in message:
            return f"a CSV row{after} has the wrong number of fields"
        return f"the CSV data could not be parsed{after} ({type(exc).__name__})"
    if isinstance(exc, UnicodeError):
        return f"the {label} text is not valid UTF-8"
    return f"the {label} data could not be read ({type(exc).__name__})"


def _csv_column(message: str, plan: _Plan) -> str:
    match = re.search(r"CSV column #(\d+)", message)
    if match and int(match.group(1)) < len(plan.csv_header):
        return f"column {plan.csv_header[int(match.group(1))]!r}"
    return "a column"


def _slices(batch: pa.RecordBatch, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, batch_rows):
        yield batch.slice(offset, batch_rows)


def _as_string(arr: Any, *, keep_dictionary: bool = False) -> Any:
    """A column as ``pa.string()``: text unchanged (the empty string too), other values as category text.

    With ``keep_dictionary``, a dictionary of text stays a dictionary (as ``dictionary<string>``).
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return arr.cast(pa.string())
    if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
        if keep_dictionary:
            return arr if pa.types.is_string(t.value_type) else arr.cast(pa.dictionary(t.index_type, pa.string()))
        return arr.dictionary_decode().cast(pa.string())
    return to_category(arr)


def _check_utf8(name: str, arr: Any) -> None:
    """Raise if a text column holds bytes that are not UTF-8 (pyarrow's JSON and Parquet readers do not check)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type  # full validation covers the dictionary (and the indices' bounds)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise _Utf8Error(name) from exc


class _Utf8Error(Exception):
    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


def _finish(
    plan: _Plan, names: list[str], arrays: list[Any], num_rows: int, *, validate: bool, keep_dictionary: bool = False
) -> pa.RecordBatch:
    """A batch with ``string_columns`` as strings (or dictionaries of strings) and text validated."""
    out = []
    for column_name, arr in zip(names, arrays, strict=True):
        if column_name in plan.strings:
            arr = _as_string(arr, keep_dictionary=keep_dictionary)
        if validate:
            _check_utf8(column_name, arr)
        out.append(arr)
    if not names:
        return _empty_batch(num_rows)
    return pa.RecordBatch.from_arrays(out, names=names)


def _empty_batch(num_rows: int) -> pa.RecordBatch:
    """A batch with no columns and ``num_rows`` rows (a file that holds none of the wanted columns)."""
    return pa.RecordBatch.from_arrays([pa.nulls(num_rows)], names=["_"]).select([])


def _check_unique(plan: _Plan, names: list[str]) -> None:
    """A wanted column named twice in the file is ambiguous: reject the file, naming the column."""
    wanted = set(names) if plan.wanted is None else set(plan.wanted)
    seen: set[str] = set()
    for column_name in names:
        if column_name in seen and column_name in wanted:
            count = names.count(column_name)
            raise InputError(f"the file has {count} columns named {column_name!r}", key=plan.name)
        seen.add(column_name)
