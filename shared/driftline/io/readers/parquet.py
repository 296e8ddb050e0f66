"""Parquet: read row group by row group (spooled to a temporary file when the source cannot seek), string
columns stored as small dictionaries read as ``dictionary<string>``."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from driftline.core.errors import InputError
from driftline.io.readers.stream import _check_unique, _finish, _Plan, _Utf8Error

_SPOOL_CHUNK_BYTES: Final = 1 << 20
#: A Parquet string column is read as a dictionary when its dictionary page is at most this share of the
#: bytes of each of its column chunks (see :func:`_dictionary_columns`).
_DICTIONARY_SHARE: Final = 0.1


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
