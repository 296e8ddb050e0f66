"""A large file in parts that separate invocations can profile (issue 17, item 1: the splitting itself).

- Parquet: by row groups, consecutive groups of about ``part_bytes`` compressed bytes; a part is read with
  ``iter_batches(row_groups=...)`` over ranged GETs (only its row groups' pages and the footer are fetched).
- CSV and JSON Lines: by byte ranges, cut at line boundaries: a line belongs to the part its first byte falls in,
  so every line is read by exactly one part whatever the cut points. A part reads from one byte before its start
  (to know whether a line begins there) to the end of the last line that begins in its range. A JSON line cannot
  hold a raw line break (JSON escapes it in strings), so any line break ends a record. A CSV field may (quoted,
  RFC 4180): a CSV file is cut only at record boundaries, found by one streamed pass of quote parity
  (:func:`plan_csv`, ``driftline.io.csvcuts``); a part after the first is given the file's header record.
- gzip: a gzip stream cannot be entered in the middle; a ``.gz`` file is one part (profiled by one function:
  about 65M JSON Lines rows fit in Lambda's 15 minutes at today's speed, see README "Scaling out").

Profiles are mergeable (``Profile.merge``), so the parts' profiles merged equal the whole file's, counts exactly
(property-tested in ``tests/unit/test_parts.py``), except ``files``: each part that has rows in a window counts
one, so a caller counting the file once must give the file count of one part only.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from driftline.io.csvcuts import CsvCuts

PART_BYTES = 256 << 20  # a part: ~30-60 s of profiling at today's speed, far inside Lambda's 15 minutes
_CHUNK = 1 << 20
_SCAN_CHUNK = 8 << 20


@dataclass(frozen=True)
class Part:
    """One part of a file: Parquet row groups [start, end), or the lines beginning in bytes [start, end)."""

    index: int
    count: int
    start: int
    end: int
    row_groups: bool

    def groups(self) -> list[int]:
        return list(range(self.start, self.end)) if self.row_groups else []


def splittable(name: str) -> bool:
    """Whether a file of this name can be cut into parts (not gzip-compressed)."""
    from driftline.io.readers import detect_format  # pyarrow: only where files are read

    _, gzipped = detect_format(name)
    return not gzipped


def plan_parquet(metadata: Any, *, part_bytes: int = PART_BYTES) -> list[Part]:
    """Consecutive row groups of about ``part_bytes`` compressed bytes each (a row group is never cut)."""
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes}")
    cuts = [0]
    size = 0
    for g in range(metadata.num_row_groups):
        rg = metadata.row_group(g)
        size += sum(rg.column(c).total_compressed_size for c in range(rg.num_columns))
        if size >= part_bytes and g + 1 < metadata.num_row_groups:
            cuts.append(g + 1)
            size = 0
    cuts.append(metadata.num_row_groups)
    n = len(cuts) - 1
    return [Part(i, n, cuts[i], cuts[i + 1], True) for i in range(n)]


def plan_text(size: int, *, part_bytes: int = PART_BYTES) -> list[Part]:
    """Byte ranges of ``part_bytes`` (the last one shorter); the lines are cut where they begin."""
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes}")
    n = max(1, -(-size // part_bytes))
    return [Part(i, n, i * part_bytes, min((i + 1) * part_bytes, size), False) for i in range(n)]


def plan_parts(name: str, size: int, *, part_bytes: int = PART_BYTES, parquet_metadata: Any = None) -> list[Part]:
    """The parts of a file; one part (the whole file: bytes [0, size)) when it is small or gzip-compressed. A CSV
    file to be cut needs a read of it: :func:`plan_csv`."""
    from driftline.io.readers import FileFormat, detect_format

    file_format, gzipped = detect_format(name)
    if gzipped or size <= part_bytes:
        return [Part(0, 1, 0, size, False)]
    if file_format is FileFormat.PARQUET:
        if parquet_metadata is None:
            raise ValueError("parquet_metadata is needed to plan a Parquet file's parts")
        return plan_parquet(parquet_metadata, part_bytes=part_bytes)
    if file_format is FileFormat.CSV:  # a line break may be inside a quoted field: its records must be found
        raise ValueError("a CSV file's parts are planned by plan_csv, from its record boundaries")
    return plan_text(size, part_bytes=part_bytes)


def plan_csv(raw: Any, size: int, *, part_bytes: int = PART_BYTES) -> tuple[list[Part] | None, int | None]:
    """A CSV file's parts, cut at the first record boundary at or after each multiple of ``part_bytes``, from one
    streamed read of the file (``raw``, from its start). Returns (parts, None), or (None, offset of the first stray
    quote) when the file has a quote placed where counting quotes would not tell pyarrow's records apart: such a
    file cannot be cut, and is profiled whole."""
    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes}")
    cuts = CsvCuts(range(part_bytes, size, part_bytes))
    while True:
        data = raw.read(_SCAN_CHUNK)
        if not data or not cuts.feed(data):
            break
    if cuts.stray is not None:
        return None, cuts.stray
    bounds = [0, *(c for c in cuts.cuts if 0 < c < size), size]
    n = len(bounds) - 1
    return [Part(i, n, bounds[i], bounds[i + 1], False) for i in range(n)], None


def read_start(part: Part) -> int:
    """The byte from which a text part's stream must be read (one before its range, to find its first line)."""
    return max(part.start - 1, 0)


class LineRange(io.RawIOBase):
    """The lines of a text file that begin in [part.start, part.end), read from ``raw`` (positioned at
    ``read_start(part)``), after ``header`` (the CSV header line, for parts after the first)."""

    def __init__(self, raw: Any, part: Part, *, header: bytes = b"") -> None:
        super().__init__()
        self._chunks = _line_range(raw, part.start, part.end)
        self._buf = memoryview(bytes(header))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not len(self._buf):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def open_line_range(raw: Any, part: Part, *, header: bytes = b"") -> BinaryIO:
    return io.BufferedReader(LineRange(raw, part, header=header))  # type: ignore[return-value]


def first_line(raw: Any) -> bytes:
    """The first record of a CSV stream, its line break included: the header (a quoted name may hold a line break;
    in a file with a stray quote, the first line)."""
    out = bytearray()
    finder = CsvCuts(())
    while True:
        data = raw.read(64 << 10)
        if not data:
            return bytes(out)
        out += data
        if finder.stray is None:
            finder.feed(data)
            if finder.header_end is not None:
                return bytes(out[: finder.header_end])
        if finder.stray is not None:
            i = out.find(b"\n")
            if i >= 0:
                return bytes(out[: i + 1])


def _line_range(raw: Any, start: int, end: int) -> Iterator[bytes]:
    pos = read_start(Part(0, 1, start, end, False))  # the offset of data[0]
    data = b""
    if start > 0:  # skip the line that began before start (the byte at start-1 tells whether one did)
        while True:
            data = raw.read(_CHUNK)
            if not data:
                return
            i = data.find(b"\n")
            if i >= 0:
                pos, data = pos + i + 1, data[i + 1 :]
                break
            pos += len(data)
        if pos >= end:
            return  # no line begins in this range
    while True:
        if not data:
            data = raw.read(_CHUNK)
            if not data:
                return
        k = end - 1 - pos  # where the byte end-1 is in data: the line holding it is the part's last
        if k < len(data):
            j = data.find(b"\n", max(k, 0))
            if j >= 0:
                yield data[: j + 1]
                return
        yield data
        pos += len(data)
        data = b""
