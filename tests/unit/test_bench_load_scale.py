"""bench.load_scale's pieces that need no local cloud: the big files written streaming, the step options."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from bench import load_bigfiles, load_scale

CHUNK = 20_000


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_big_file_is_written_chunk_by_chunk_with_exact_rows_and_fresh_ids(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"big.{fmt}"
    first = load_bigfiles.write_big(path, fmt, 1, seed=7, chunk_rows=CHUNK)  # one chunk holds one byte
    assert first == CHUNK
    target = path.stat().st_size + 1  # now two chunks are needed
    rows = load_bigfiles.write_big(path, fmt, target, seed=7, chunk_rows=CHUNK)
    assert rows == 2 * CHUNK
    assert path.stat().st_size >= target
    table = pq.read_table(path) if fmt == "parquet" else pacsv.read_csv(path)
    assert table.num_rows == rows
    assert pc.count_distinct(table["request_id"]).as_py() == rows  # the reused chunk has new ids
    if fmt == "parquet":
        assert pq.ParquetFile(path).metadata.num_row_groups == 2  # a row group per chunk: the parts' unit


def test_steps_run_alone_and_quick_sizes_are_small() -> None:
    args = load_scale.parse_args(["--only", "bigcsv", "--only", "window", "--quick"])
    assert args.only == ["bigcsv", "window"]
    assert args.csv_gb <= 0.15 and args.window_files == 200 and args.split_bytes == 32 << 20
    full = load_scale.parse_args([])
    assert full.only is None and full.parquet_gb == 5 and full.csv_gb == 2 and full.window_files == 20_000
    assert full.models == 1_000 and full.backfill_files == 5_000 and full.split_bytes == 256 << 20
