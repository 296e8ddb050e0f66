"""A file cut into parts gives, merged, the profiles of the whole file (property over the cut points): CSV and
JSON Lines by byte ranges cut at line boundaries, Parquet by row groups; every line is read by exactly one part."""

from __future__ import annotations

import functools
import io
import itertools
import math
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.cli.demo import CONFIG_YAML, encode, generate
from driftline.core.baseline import Baseline
from driftline.core.config import load_config
from driftline.core.profile import Profile
from driftline.io.parts import (
    Part,
    first_line,
    open_line_range,
    plan_parquet,
    plan_parts,
    plan_text,
    read_start,
    splittable,
)
from driftline.services.profiling import build_baseline, profile_file

T0 = 1_767_225_600
HOUR = 3600


@functools.cache
def _model() -> tuple[Any, Baseline]:
    config = load_config(CONFIG_YAML)
    ref = encode(generate(3_000, seed=11, start=T0 - 86_400, span=86_400, id_prefix="ref"), "parquet")
    return config, build_baseline(config, [("ref.parquet", lambda: io.BytesIO(ref))], created_at="2026-01-01")


@functools.cache
def _table() -> pa.Table:
    # 3 hours (3 windows), a broken country: segments, performance and estimation all have something to count
    return generate(600, seed=5, start=T0, span=3 * HOUR - 1, drift=0.5, broken_country="BR", id_prefix="p")


def _cuts(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=1, max_value=size - 1), max_size=6, unique=True).map(sorted)


def _ranges(size: int, cuts: list[int]) -> list[Part]:
    bounds = [0, *cuts, size]
    n = len(bounds) - 1
    return [Part(i, n, bounds[i], bounds[i + 1], False) for i in range(n)]


def _merged(results: list[dict[Any, Profile]]) -> dict[Any, Profile]:
    out: dict[Any, Profile] = {}
    for profiles in results:
        for k, p in profiles.items():
            out[k] = out[k].merge(p) if k in out else p
    return out


def _same(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats to 1e-12 relative (sums in another order), ``files`` aside (each part counts one)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            if k != "files":
                _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not (math.isnan(a) and math.isnan(b)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), path
    else:
        assert a == b, path


def _assert_same_profiles(parts: dict[Any, Profile], whole: dict[Any, Profile]) -> None:
    assert set(parts) == set(whole)
    for k in whole:
        _same(parts[k].to_dict(), whole[k].to_dict(), str(k))


@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_text_file_cut_anywhere_gives_the_whole_files_profiles(fmt: str, data: st.DataObject) -> None:
    config, baseline = _model()
    body = encode(_table().drop_columns(["churned"]), fmt)
    name = f"log.{fmt}"
    whole = profile_file(io.BytesIO(body), name=name, config=config, baseline=baseline).profiles
    parts = _ranges(len(body), data.draw(_cuts(len(body))))
    header = first_line(io.BytesIO(body)) if fmt == "csv" else b""
    results = []
    for part in parts:
        stream = open_line_range(io.BytesIO(body[read_start(part) :]), part, header=header if part.index else b"")
        results.append(profile_file(stream, name=name, config=config, baseline=baseline, allow_empty=True).profiles)
    _assert_same_profiles(_merged(results), whole)


@given(cuts=st.lists(st.integers(min_value=1, max_value=11), max_size=5, unique=True).map(sorted))
@settings(max_examples=20, deadline=None)
def test_a_parquet_file_cut_between_any_row_groups_gives_the_whole_files_profiles(cuts: list[int]) -> None:
    config, baseline = _model()
    buf = io.BytesIO()
    pq.write_table(_table().drop_columns(["churned"]), buf, row_group_size=50)  # 12 row groups
    body = buf.getvalue()
    whole = profile_file(io.BytesIO(body), name="log.parquet", config=config, baseline=baseline).profiles
    bounds = [0, *cuts, 12]
    results = [
        profile_file(
            io.BytesIO(body), name="log.parquet", config=config, baseline=baseline,
            row_groups=list(range(bounds[i], bounds[i + 1])), allow_empty=True,
        ).profiles
        for i in range(len(bounds) - 1)
    ]  # fmt: skip
    _assert_same_profiles(_merged(results), whole)


@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=30),
    trailing=st.booleans(),
    data=st.data(),
)
def test_every_line_is_read_by_exactly_one_part(lines: list[bytes], trailing: bool, data: st.DataObject) -> None:
    body = b"\n".join(lines) + (b"\n" if trailing else b"")
    if len(body) < 2:
        return
    parts = _ranges(len(body), data.draw(_cuts(len(body))))
    out = [open_line_range(io.BytesIO(body[read_start(p) :]), p).read() for p in parts]
    assert b"".join(out) == body
    begin = 0
    for p, chunk in zip(parts, out, strict=True):  # each part's first line begins inside its range, at a line start
        if chunk:
            assert p.start <= begin < p.end and (begin == 0 or body[begin - 1 : begin] == b"\n")
        begin += len(chunk)


def test_plans() -> None:
    assert [(p.start, p.end) for p in plan_text(10, part_bytes=4)] == [(0, 4), (4, 8), (8, 10)]
    assert plan_parts("big.jsonl.gz", 10**12, part_bytes=10) == [Part(0, 1, 0, 10**12, False)]
    assert not splittable("x.csv.gz") and splittable("x.parquet")
    buf = io.BytesIO()
    pq.write_table(_table(), buf, row_group_size=100)  # 6 row groups
    meta = pq.ParquetFile(io.BytesIO(buf.getvalue())).metadata
    sizes = [sum(meta.row_group(g).column(c).total_compressed_size for c in range(meta.num_columns)) for g in range(6)]
    parts = plan_parquet(meta, part_bytes=2 * sizes[0])
    assert parts[0].start == 0 and parts[-1].end == 6 and len(parts) >= 2
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(sum(sizes[g] for g in p.groups()) >= 2 * sizes[0] for p in parts[:-1])
    size = len(buf.getvalue())
    assert len(plan_parts("x.parquet", size, part_bytes=size // 3, parquet_metadata=meta)) >= 2


def test_a_gzip_file_too_large_for_one_function_is_refused_with_the_reason() -> None:
    from driftline.adapters.memory import MemoryObjectStore, MemoryQueue, MemoryTable
    from driftline.services.models import parse_key
    from driftline.services.split import GZIP_MAX_BYTES, FileSplitter, parse_part_message, part_message
    from driftline.services.store import Store

    splitter = FileSplitter(Store(MemoryTable()), MemoryObjectStore(), MemoryQueue(), split_bytes=1 << 20)
    small_gz = parse_key("b", "predictions/m/a.jsonl.gz", "e", 100 << 20, encoded=False)
    huge_gz = parse_key("b", "predictions/m/a.jsonl.gz", "e", GZIP_MAX_BYTES + 1, encoded=False)
    assert not splitter.should_split(small_gz) and splitter.should_split(huge_gz)
    with pytest.raises(Exception, match="gzip file cannot be split"):
        splitter.split(huge_gz, "fid")
    ref = parse_key("b", "predictions/m/big.csv", "e", 10 << 20, encoded=False)
    part = Part(2, 5, 100, 200, False)
    assert parse_part_message(part_message(ref, part)) == (ref, part)
    assert parse_part_message('{"Records": []}') is None
