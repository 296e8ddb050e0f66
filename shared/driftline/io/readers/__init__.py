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
import os
import zlib
from collections.abc import Collection, Iterator, Sequence
from typing import IO, BinaryIO

import pyarrow as pa

from driftline.core.errors import InputError
from driftline.io.readers.csv import _read_csv
from driftline.io.readers.jsonl import MAX_JSON_DEPTH, MAX_JSON_LINE_BYTES, _JsonLinesReader
from driftline.io.readers.parquet import _read_parquet
from driftline.io.readers.stream import _EXTENSIONS, FileFormat, _describe, _open, _Plan

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_LINE_BYTES", "FileFormat", "detect_format", "iter_batches"]


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
