"""A seeded generator of synthetic prediction logs for the benchmark, written as Parquet, CSV and gzip JSON Lines.

The columns match ``bench/config.yaml``: an id, an event time spread over 24 hours (2026-01-01, UTC, in time
order within each generated chunk), 15 numerical features (normal, log-normal, exponential, uniform, counts,
two with 1% missing values, and ``amount``), 5 categorical features of cardinality 5 to 1,000 with Zipf-like
frequencies (``region`` is also the segment column; ``device`` has 0.5% missing values), a score, a
prediction and a label. The same (rows, seed) always gives the same bytes, and files are cached under
``bench/data/`` by version, rows and seed.

Event times are ISO-8601 text (``2026-01-01T00:00:00Z``) in CSV and JSON Lines and ``timestamp[ms, UTC]`` in
Parquet. JSON Lines are written with vectorised Arrow string kernels (no Python loop over rows).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

#: Bump when the generated data change, so that cached files are not reused.
VERSION: Final = 1
BENCH_DIR: Final = Path(__file__).resolve().parent
DATA_DIR: Final = BENCH_DIR / "data"
CONFIG_PATH: Final = BENCH_DIR / "config.yaml"

FORMATS: Final = ("parquet", "csv", "jsonl.gz")
START_EPOCH_S: Final = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY_MS: Final = 86_400_000
NUMERICAL: Final = (*(f"num_{i:02d}" for i in range(14)), "amount")
CATEGORICAL: Final = {"region": 5, "device": 20, "city": 100, "merchant": 300, "product": 1000}
CHUNK_ROWS: Final = 500_000


def _zipf_choice(rng: np.random.Generator, n: int, cardinality: int, exponent: float = 1.1) -> np.ndarray:
    p = 1.0 / np.arange(1, cardinality + 1) ** exponent
    return rng.choice(cardinality, size=n, p=p / p.sum())


def _with_nulls(rng: np.random.Generator, values: np.ndarray, rate: float) -> pa.Array:
    return pa.array(values, mask=rng.random(values.size) < rate)


def generate_table(
    rows: int, seed: int, *, first_id: int = 0, time_range_ms: tuple[int, int] = (0, DAY_MS)
) -> pa.Table:
    """``rows`` rows of a prediction log, in time order within ``time_range_ms`` (milliseconds into the day);
    a pure function of its arguments."""
    if rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    rng = np.random.default_rng([seed, first_id])
    ms = np.sort(rng.integers(*time_range_ms, size=rows)) + START_EPOCH_S * 1000
    ids = pc.binary_join_element_wise(f"r{seed}-", pa.array(np.arange(first_id, first_id + rows)).cast(pa.string()), "")
    cols: dict[str, pa.Array] = {
        "request_id": ids,
        "event_time": pa.array(ms, pa.timestamp("ms", tz="UTC")),
    }
    numeric: dict[str, np.ndarray] = {}
    for i in range(14):
        kind = i // 2
        if kind in (0, 1, 6):
            x = rng.normal(10.0 * i, 1.0 + i, rows)
        elif kind == 2:
            x = rng.lognormal(1.0, 0.75, rows)
        elif kind == 3:
            x = rng.exponential(2.0 + i, rows)
        elif kind == 4:
            x = rng.uniform(-1.0, 1.0, rows)
        else:
            x = rng.poisson(1.5 + i, rows).astype(np.float64)
        numeric[f"num_{i:02d}"] = x
        if kind == 5:
            cols[f"num_{i:02d}"] = pa.array(x.astype(np.int64))  # counts: integers in every format
        elif kind == 6:
            cols[f"num_{i:02d}"] = _with_nulls(rng, np.round(x, 4), 0.01)
        else:
            cols[f"num_{i:02d}"] = pa.array(np.round(x, 4))
    amount = np.round(rng.lognormal(3.0, 1.0, rows), 2)
    cols["amount"] = pa.array(amount)
    codes: dict[str, np.ndarray] = {}
    for name, cardinality in CATEGORICAL.items():
        codes[name] = _zipf_choice(rng, rows, cardinality)
        width = len(str(cardinality - 1))
        labels = pa.array([f"{name[:3]}_{k:0{width}d}" for k in range(cardinality)])
        values = labels.take(pa.array(codes[name]))
        if name == "device":
            values = pc.if_else(pa.array(rng.random(rows) < 0.005), None, values)
        cols[name] = values
    z = (
        0.8 * (numeric["num_00"] - 0.0) / 1.0
        - 0.5 * (numeric["num_04"] - 2.2) / 2.0
        + 0.6 * numeric["num_08"]
        + 0.3 * (codes["region"] == 0)
        + 0.2 * np.log(amount)
        - 1.0
        + rng.normal(0.0, 0.5, rows)
    )
    score = 1.0 / (1.0 + np.exp(-z))
    cols["score"] = pa.array(np.round(score, 6))
    cols["prediction"] = pa.array((score >= 0.5).astype(np.int64))
    cols["label"] = pa.array((rng.random(rows) < score).astype(np.int64))
    return pa.table(cols)


def _iso_times(table: pa.Table) -> pa.Table:
    """The event time as ISO-8601 text with a Z, to the second."""
    idx = table.schema.get_field_index("event_time")
    ms = table.column(idx).cast(pa.int64()).to_numpy()
    # strftime is slow: format each distinct second once (at most 86,400 a day), then take.
    distinct, inverse = np.unique(ms // 1000, return_inverse=True)
    text = pc.strftime(pa.array(distinct, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    return table.set_column(idx, "event_time", text.take(pa.array(inverse.reshape(-1))))


def jsonl_bytes(table: pa.Table) -> bytes:
    """The table as JSON Lines (one object per row, keys in column order, null for missing values)."""
    table = _iso_times(table).combine_chunks()
    parts: list[pa.Array | str] = []
    for i, field in enumerate(table.schema):
        arr = table.column(i).chunk(0) if table.num_rows else pa.array([], pa.string())
        if pa.types.is_string(field.type):
            text = pc.binary_join_element_wise('"', arr, '"', "")  # the generated text needs no escaping
        else:
            text = arr.cast(pa.string())
        parts.append(("{" if i == 0 else ",") + f'"{field.name}":')
        parts.append(pc.fill_null(text, "null"))
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2].to_pybytes()[int(offsets[0]) : int(offsets[-1])]


def _chunks(rows: int, seed: int) -> Iterator[pa.Table]:
    """The rows in chunks, each covering its share of the day, so the whole file is in time order."""
    for first in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - first)
        span = (first * DAY_MS // rows, (first + n) * DAY_MS // rows)
        yield generate_table(n, seed, first_id=first, time_range_ms=span)


def data_path(rows: int, seed: int, fmt: str, *, data_dir: Path = DATA_DIR, stem: str = "events") -> Path:
    return data_dir / f"{stem}-v{VERSION}-n{rows}-s{seed}.{fmt}"


def write(rows: int, seed: int, fmt: str, path: Path) -> Path:
    """Write ``rows`` generated rows to ``path`` in ``fmt`` (atomically: a temporary file, then a rename)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        if fmt == "parquet":
            writer: pq.ParquetWriter | None = None
            for chunk in _chunks(rows, seed):
                if writer is None:
                    writer = pq.ParquetWriter(tmp, chunk.schema)
                writer.write_table(chunk)
            assert writer is not None
            writer.close()
        elif fmt == "csv":
            with pa.OSFile(str(tmp), "wb") as sink:
                csv_writer: pacsv.CSVWriter | None = None
                for chunk in _chunks(rows, seed):
                    text = _iso_times(chunk)
                    if csv_writer is None:
                        csv_writer = pacsv.CSVWriter(sink, text.schema)
                    csv_writer.write_table(text)
                assert csv_writer is not None
                csv_writer.close()
        else:
            with gzip.open(tmp, "wb", compresslevel=6) as out:
                for chunk in _chunks(rows, seed):
                    out.write(jsonl_bytes(chunk))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def ensure(rows: int, seed: int, fmt: str, *, data_dir: Path = DATA_DIR, stem: str = "events") -> Path:
    """The cached file for (rows, seed, fmt), generated when absent."""
    path = data_path(rows, seed, fmt, data_dir=data_dir, stem=stem)
    return path if path.exists() else write(rows, seed, fmt, path)


def ensure_big_jsonl(gigabytes: float, seed: int, *, data_dir: Path = DATA_DIR) -> tuple[Path, int]:
    """A gzip JSON Lines file of at least ``gigabytes`` GiB compressed (gzip level 1), and its row count.

    Chunks of generated rows are appended until the compressed size is reached; the row count is cached in
    a ``.rows`` file beside it."""
    path = data_dir / f"big-v{VERSION}-{gigabytes:g}gib-s{seed}.jsonl.gz"
    count = path.with_name(path.name + ".rows")
    if path.exists() and count.exists():
        return path, int(count.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    target = int(gigabytes * (1 << 30))
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    rows = 0
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            while raw.tell() < target:
                chunk = generate_table(CHUNK_ROWS, seed, first_id=rows)
                out.write(jsonl_bytes(chunk))
                rows += chunk.num_rows
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    count.write_text(str(rows))
    return path, rows
