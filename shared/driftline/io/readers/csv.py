"""CSV: pyarrow's streaming reader, every wanted column read as text (converted by ``driftline.io.coerce``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv

from driftline.core.errors import InputError
from driftline.io.csvcuts import CsvCuts
from driftline.io.readers import stream
from driftline.io.readers.stream import _check_unique, _Plan, _PrefixedReader, _slices

#: A CSV header line longer than this is not a header.
_MAX_HEADER_BYTES: Final = 16 << 20


def _peek_header(text: Any) -> tuple[bytes, bytes]:
    """(the header record, everything read so far) from the start of a CSV stream. A quoted column name may hold a
    line break (``driftline.io.csvcuts``); with a stray quote, the header is the first line."""
    buffered = bytearray()
    finder = CsvCuts(())
    while len(buffered) <= _MAX_HEADER_BYTES:
        chunk = text.read(64 << 10)
        if not chunk:
            break
        buffered += chunk
        if finder.feed(chunk) and finder.header_end is not None:
            return bytes(buffered[: finder.header_end]), bytes(buffered)
        if finder.stray is not None and b"\n" in buffered:
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
        read_options=pacsv.ReadOptions(block_size=stream.BLOCK_BYTES, use_threads=True),
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
