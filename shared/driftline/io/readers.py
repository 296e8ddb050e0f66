"""Streamed readers: Parquet, CSV and JSON Lines, each optionally gzip-compressed, as Arrow record batches.

Memory does not grow with the size of the file: CSV goes through pyarrow's streaming CSV reader, JSON Lines
through blocks of whole lines parsed one block at a time, gzip is decompressed on the fly, and Parquet (which
needs random access) is read row group by row group, from a spooled temporary file on disk when the source
is a non-seekable stream such as an S3 ``get_object()["Body"]``.

Typing, and what pyarrow does (checked with pyarrow 26):

- CSV: the streaming reader infers column types from the first block and then fails on a later block
  that does not fit (one "abc" in row 900,000 of a numerical column). Every wanted column is therefore read
  as ``pa.string()`` and converted by :mod:`driftline.io.coerce`; empty fields stay ``""``.
- JSON Lines: pyarrow fails a whole parse when a field holds a number in one line and a string (or a
  boolean) in another ("Column(/a) changed from number to string in row 1"), and an explicit schema does not
  help: a number is rejected by a ``pa.string()`` field and a string by ``pa.float64()``. Its streaming
  reader (``pyarrow.json.open_json``) infers the schema from the first block only, so it fails on a later
  block even for an integer column that meets its first 1.5. So this module reads blocks of whole lines
  itself and parses each with ``pyarrow.json.read_json`` (types inferred per block, in parallel). A block
  that pyarrow refuses because of a type conflict is split into groups of lines whose wanted fields have
  the same JSON kind (found with a regular expression per wanted column, vectorised), each group is parsed
  with an explicit schema that ignores the other fields, and the groups are put back in line order; a
  column whose groups disagree becomes text (numbers in their canonical form: 1.0 -> "1"). A mixed-type
  column is thus never a file-level failure. pyarrow also turns ISO-looking strings into ``timestamp[s]``;
  for string columns the block is parsed again with the column declared as a string, to keep the text.
  JSON does not validate UTF-8: wanted text columns are validated here.
- Parquet: native types are kept. A string column listed in ``string_columns`` whose values are stored
  dictionary-encoded (a dictionary page that is a small share of every column chunk: no fallback to plain
  pages) is read as ``dictionary<string>`` (``read_dictionary``), which spares decoding every row to a
  string; the coercion functions code the small dictionary and gather by the indices.

Columns listed in ``string_columns`` always come out as ``pa.string()`` or, from Parquet,
``dictionary<string>`` (decode with ``dictionary_decode()`` when plain text is needed); other columns keep the type
the file gives them, which in JSON Lines may differ from one batch to the next (int64 in one, float64 or
string in another): the coercion functions accept any type. A wanted column absent from the file is absent
from the batches; in JSON Lines a key that no line of a block holds is absent from that block's batches,
so callers should read "absent" as "all null for these rows".
"""

from __future__ import annotations

import contextlib
import enum
import gzip
import io
import json
import os
import re
import tempfile
import zlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from driftline.core.errors import InputError
from driftline.io.coerce import NESTED_PLACEHOLDER, to_category

__all__ = ["FileFormat", "detect_format", "iter_batches"]


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
_BLOCK_BYTES: Final = 8 << 20
#: pyarrow's JSON chunk size within a block (the unit of parallel parsing).
_JSON_CHUNK_BYTES: Final = 1 << 20
#: A CSV header line longer than this is not a header.
_MAX_HEADER_BYTES: Final = 16 << 20
_SPOOL_CHUNK_BYTES: Final = 1 << 20
#: A Parquet string column is read as a dictionary when its dictionary page is at most this share of the
#: bytes of each of its column chunks (see :func:`_dictionary_columns`).
_DICTIONARY_SHARE: Final = 0.1
#: JSON values nested deeper than this reject the file before pyarrow parses it: pyarrow's JSON parser recurses per
#: level and crashes the process (SIGSEGV) at a few tens of thousands of levels (30,000 in pyarrow 26).
MAX_JSON_DEPTH: Final = 512
#: A JSON line longer than this rejects the file (a line is parsed whole: memory grows with it).
MAX_JSON_LINE_BYTES: Final = 128 << 20


def detect_format(name: str) -> tuple[FileFormat, bool]:
    """The format and whether it is gzip-compressed, from the extension of ``name`` (case-insensitive)."""
    lower = name.lower()
    gzipped = lower.endswith(".gz")
    stem = lower[:-3] if gzipped else lower
    for extension, file_format in _EXTENSIONS.items():
        if stem.endswith(extension):
            return file_format, gzipped
    supported = ", ".join(_EXTENSIONS)
    raise InputError(
        f"unsupported file extension: expected one of {supported}, each optionally followed by .gz",
        key=name,
    )


def iter_batches(
    source: str | os.PathLike[str] | BinaryIO | IO[bytes],
    *,
    name: str,
    columns: Sequence[str] | None = None,
    string_columns: Collection[str] = (),
    batch_rows: int = 65_536,
    row_groups: Sequence[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a data file as record batches of at most ``batch_rows`` rows.

    ``source`` is a local path or a readable binary stream, which may be non-seekable (a botocore
    ``StreamingBody``). ``name`` is the file name or S3 key: it tells the format (:func:`detect_format`)
    and names the file in errors. ``columns`` are the columns wanted (all when None): absent ones are simply
    absent from the batches, extra ones are not parsed where the format allows. ``string_columns`` come out
    as ``pa.string()`` (or, from Parquet, ``dictionary<string>``) whatever they look like. An empty file yields
    nothing. ``row_groups`` (Parquet only): read just those row groups (one part of a split file).

    Raises :class:`InputError` (eagerly for the extension, otherwise while iterating) when the file cannot
    be processed at all. Errors raised by the stream itself (a network failure) propagate unchanged.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValueError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    if columns is not None and isinstance(columns, str):
        raise ValueError("columns must be a sequence of column names, not a single string")
    file_format, gzipped = detect_format(name)
    wanted = list(dict.fromkeys(columns)) if columns is not None else None
    plan = _Plan(
        source=source,
        name=name,
        file_format=file_format,
        gzipped=gzipped,
        wanted=wanted,
        strings=frozenset(string_columns),
        batch_rows=batch_rows,
        row_groups=None if row_groups is None else list(row_groups),
    )
    return _guarded(plan)


# --------------------------------------------------------------------------------------------- plumbing


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


def _guarded(plan: _Plan) -> Iterator[pa.RecordBatch]:
    """Run the reader, turning failures of the data into :class:`InputError` with a readable reason."""
    try:
        with contextlib.ExitStack() as stack:
            raw = _open(plan, stack)
            if plan.file_format is FileFormat.PARQUET:
                batches = _read_parquet(plan, raw, stack)
            else:
                text = pa.CompressedInputStream(raw, "gzip") if plan.gzipped else raw
                if plan.file_format is FileFormat.CSV:
                    batches = _read_csv(plan, text)
                else:
                    batches = _JsonLinesReader(plan).read(text)
            for batch in batches:
                if batch.num_rows:
                    plan.rows_read += batch.num_rows
                    yield batch
    except InputError:
        raise
    except (pa.ArrowException, OSError, EOFError, zlib.error, UnicodeError) as exc:
        failure = plan.stream.failure if plan.stream is not None else plan.local_failure
        if failure is not None:
            if failure is exc:
                raise
            raise failure from exc
        raise InputError(_describe(exc, plan), key=plan.name) from exc


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


# --------------------------------------------------------------------------------------------- Parquet


def _read_parquet(plan: _Plan, raw: Any, stack: contextlib.ExitStack) -> Iterator[pa.RecordBatch]:
    seekable_stream = (
        plan.stream is not None
        and not plan.gzipped
        and callable(getattr(plan.source, "seekable", None))
        and bool(plan.source.seekable())  # type: ignore[union-attr]
    )
    if plan.native is not None and not plan.gzipped:
        if raw.size() == 0:
            return
        opened: Any = raw
    elif seekable_stream:
        stream: Any = plan.source
        start = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(start)
        if end == start:
            return
        opened = stream
    else:
        # Parquet needs random access: copy the (decompressed) stream to a temporary file on disk, in
        # chunks, and read that. The file is deleted when it is closed, at the end of the iteration.
        spool: Any = stack.enter_context(tempfile.TemporaryFile(prefix="driftline-", suffix=".parquet"))  # noqa: SIM115
        data = pa.CompressedInputStream(raw, "gzip") if plan.gzipped else raw
        while chunk := data.read(_SPOOL_CHUNK_BYTES):
            try:
                spool.write(chunk)
            except OSError as exc:
                plan.local_failure = exc
                raise
        if spool.tell() == 0:
            return
        spool.flush()
        spool.seek(0)
        opened = spool
    parquet = pq.ParquetFile(opened)
    stack.callback(parquet.close)
    names = list(parquet.schema_arrow.names)
    _check_unique(plan, names)
    present = [c for c in plan.wanted if c in names] if plan.wanted is not None else names
    dictionaries = _dictionary_columns(parquet, [c for c in present if c in plan.strings])
    if dictionaries:
        # Open again (the footer is not read twice) with those columns read as dictionaries.
        parquet = pq.ParquetFile(opened, metadata=parquet.metadata, read_dictionary=dictionaries)
        stack.callback(parquet.close)
    groups = plan.row_groups
    if groups is not None and any(not 0 <= g < parquet.num_row_groups for g in groups):
        raise InputError(f"the file has {parquet.num_row_groups} row groups, not {groups}", key=plan.name)
    if groups == []:
        return
    for batch in parquet.iter_batches(batch_size=plan.batch_rows, columns=present, use_threads=True, row_groups=groups):
        try:
            yield _finish(plan, present, batch.columns, batch.num_rows, validate=True, keep_dictionary=True)
        except _Utf8Error as err:
            raise InputError(f"column {err.column!r} holds text that is not valid UTF-8", key=plan.name) from err


def _check_unique(plan: _Plan, names: list[str]) -> None:
    """A wanted column named twice in the file is ambiguous: reject the file, naming the column."""
    wanted = set(names) if plan.wanted is None else set(plan.wanted)
    seen: set[str] = set()
    for column_name in names:
        if column_name in seen and column_name in wanted:
            count = names.count(column_name)
            raise InputError(f"the file has {count} columns named {column_name!r}", key=plan.name)
        seen.add(column_name)


def _dictionary_columns(parquet: Any, candidates: list[str]) -> list[str]:
    """The flat string columns among ``candidates`` stored dictionary-encoded in every row group.

    pyarrow does not expose the encodings of the data pages, and a column whose dictionary outgrew the
    writer's limit (an id column) falls back to plain pages after a dictionary page: read as a dictionary,
    such a column is slower (pyarrow builds a dictionary of every value). A dictionary page that is a small
    share of its column chunk (:data:`_DICTIONARY_SHARE`) tells a column of few distinct values.
    """
    schema = parquet.schema_arrow
    metadata = parquet.metadata
    if not candidates or metadata.num_row_groups == 0:
        return []
    leaf = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    out = []
    for column_name in candidates:
        t = schema.field(column_name).type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)) or column_name not in leaf:
            continue
        i = leaf[column_name]
        if all(_small_dictionary(metadata.row_group(g).column(i)) for g in range(metadata.num_row_groups)):
            out.append(column_name)
    return out


def _small_dictionary(chunk: Any) -> bool:
    if not chunk.has_dictionary_page or chunk.dictionary_page_offset is None:
        return False
    dictionary_bytes = chunk.data_page_offset - chunk.dictionary_page_offset
    return bool(0 < dictionary_bytes <= _DICTIONARY_SHARE * chunk.total_compressed_size)


# --------------------------------------------------------------------------------------------- CSV


def _peek_header(text: Any) -> tuple[bytes, bytes]:
    """(the header line, everything read so far) from the start of a CSV stream."""
    buffered = bytearray()
    while b"\n" not in buffered:
        chunk = text.read(64 << 10)
        if not chunk:
            break
        buffered += chunk
        if len(buffered) > _MAX_HEADER_BYTES:
            break
    end = buffered.find(b"\n")
    header = bytes(buffered if end < 0 else buffered[: end + 1])
    return header, bytes(buffered)


def _read_csv(plan: _Plan, text: Any) -> Iterator[pa.RecordBatch]:
    header, buffered = _peek_header(text)
    if not buffered.strip():
        return  # an empty file (or only blank lines): nothing to read
    if len(header) > _MAX_HEADER_BYTES:
        raise InputError("the first line is too long to be a CSV header", key=plan.name)
    try:
        names = pacsv.read_csv(
            pa.BufferReader(header), parse_options=pacsv.ParseOptions(newlines_in_values=True)
        ).column_names
    except pa.ArrowInvalid as exc:
        raise InputError("the CSV header line cannot be parsed", key=plan.name) from exc
    plan.csv_header = list(names)
    _check_unique(plan, names)
    present = [c for c in plan.wanted if c in names] if plan.wanted is not None else list(dict.fromkeys(names))
    # None of the wanted columns: read the first column only, to count the rows.
    include = present or names[:1]

    def on_invalid_row(row: Any) -> str:
        plan.csv_bad_row = (int(row.expected_columns), int(row.actual_columns))
        return "error"

    reader = pacsv.open_csv(
        _PrefixedReader(buffered, text),
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=True),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
        convert_options=pacsv.ConvertOptions(
            include_columns=include,
            include_missing_columns=False,
            # All text, always: pyarrow infers types from the first block only and would fail on a later
            # block where a numerical column holds one bad value; coerce.py does the conversion per value.
            column_types={c: pa.string() for c in include},
            strings_can_be_null=False,
            check_utf8=True,
        ),
    )
    for block in reader:
        batch = block.select(present)
        yield from _slices(batch, plan.batch_rows)


# --------------------------------------------------------------------------------------------- JSON Lines

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
            chunk = text.read(_BLOCK_BYTES)
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
