"""``driftline baseline create``: many reference files → one Parquet object, streamed, with progress."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from driftline.core.errors import InputError
from driftline.io.readers import iter_batches


class Progress:
    """A one-line progress indicator on stderr (only on a terminal, or when forced)."""

    def __init__(self, total_bytes: int, *, enabled: bool) -> None:
        self.total = max(total_bytes, 1)
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self.rows = 0

    def update(self, name: str, done_bytes: int, rows: int) -> None:
        self.rows = rows
        if not self.enabled:
            return
        frac = min(done_bytes / self.total, 1.0)
        bar = "#" * int(frac * 30)
        rate = rows / max(time.monotonic() - self.start, 1e-6)
        sys.stderr.write(f"\r[{bar:<30}] {frac:6.1%} {rows:,} rows ({rate:,.0f}/s) {Path(name).name[:40]}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def combine_reference(files: Sequence[str], *, progress: bool = True) -> bytes:
    """Every reference file, in any supported format, as one Parquet file (columns unified by name; a column
    missing from a file is null there). Streams each file in record batches."""
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise InputError("no such file", key=str(p))
    total = sum(p.stat().st_size for p in paths)
    bar = Progress(total, enabled=progress)
    schema: pa.Schema | None = None
    tables: list[pa.Table] = []
    sink = io.BytesIO()
    writer: pq.ParquetWriter | None = None
    done_bytes = rows = 0
    for p in paths:
        for batch in iter_batches(str(p), name=str(p)):
            table = pa.Table.from_batches([batch])
            if schema is None:
                schema = table.schema
                writer = pq.ParquetWriter(sink, schema, compression="zstd")
            table = _conform(table, schema, str(p))
            assert writer is not None
            writer.write_table(table)
            rows += table.num_rows
            bar.update(str(p), done_bytes, rows)
        done_bytes += p.stat().st_size
        bar.update(str(p), done_bytes, rows)
    bar.close()
    del tables
    if writer is None:
        raise InputError("the reference files hold no rows", key=", ".join(files))
    writer.close()
    return sink.getvalue()


def _conform(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    cols = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    col = col.cast(pa.string()).cast(field.type, safe=False) if pa.types.is_string(field.type) else col
                    if col.type != field.type:
                        raise InputError(
                            f"column {field.name!r} is {col.type} here but {field.type} in the first file", key=name
                        ) from None
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=schema)
