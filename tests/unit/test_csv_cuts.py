"""CSV files cut at record boundaries (``driftline.io.csvcuts``): a quoted field may hold line breaks (RFC 4180), so a
file is cut only where the count of quotes before a line break is even. Any CSV written by pandas, pyarrow or the
``csv`` module — quoted line breaks, commas, quotes, CRLF — cut at any part size gives the profiles of the whole
file; a file with a stray quote is not cut (profiled whole, or refused when too large); JSON Lines cannot hold a
raw line break, so any cut at a line break is safe."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.core.errors import InputError
from driftline.io.csvcuts import CsvCuts, header_end
from driftline.io.parts import Part, first_line, open_line_range, plan_csv, plan_text, read_start
from driftline.io.readers import iter_batches
from driftline.services.profiling import profile_file

from .test_parts import _assert_same_profiles, _merged, _model, _table

NASTY = st.text(alphabet='ab,"\n\r é', max_size=8)


def _rows(body: bytes, name: str = "f.csv") -> list[dict[str, Any]]:
    return [r for b in iter_batches(io.BytesIO(body), name=name) for r in pa.Table.from_batches([b]).to_pylist()]


def _csv_module(records: list[list[str]], quoting: int, terminator: str) -> tuple[bytes, list[int]]:
    """The file, and the offset where each record ends (the writer's own account: the oracle)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=quoting, lineterminator=terminator)
    ends = []
    for rec in records:
        writer.writerow(rec)
        ends.append(len(buf.getvalue().encode()))
    return buf.getvalue().encode(), ends


def _feed(finder: CsvCuts, body: bytes, sizes: list[int]) -> None:
    pos, i = 0, 0
    while pos < len(body):
        n = sizes[i % len(sizes)] if sizes else len(body)
        finder.feed(body[pos : pos + n])
        pos, i = pos + n, i + 1


@given(
    records=st.lists(st.lists(NASTY, min_size=3, max_size=3), min_size=1, max_size=12),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    chunks=st.lists(st.integers(min_value=1, max_value=17), max_size=4),
)
def test_the_boundaries_found_are_the_records_ends_whatever_the_chunks(
    records: list[list[str]], quoting: int, terminator: str, chunks: list[int]
) -> None:
    body, ends = _csv_module([["h1", "h2", "h3"], *records], quoting, terminator)
    finder = CsvCuts(range(1, len(body) + 1))  # a target at every byte: every boundary
    _feed(finder, body, chunks)
    assert finder.stray is None
    # a record ends with a line break outside quotes; the writer quotes any field holding one (or a lone \r with
    # CRLF): the boundaries found are exactly the records' ends
    assert finder.header_end == ends[0]
    assert finder.cuts == [e for e in ends[1:] if body[e - 1 : e] == b"\n"]
    assert finder.quotes == body.count(b'"')


@pytest.mark.parametrize(
    "body",
    [
        b"a,b\n5'11\",x\n1,2\n",  # a quote inside an unquoted field: pyarrow reads it as a character
        b'a,b\n "x\ny",1\n',  # a space before an opening quote
        b'a,b\n"x"y,1\n',  # text after a closing quote
        b'a,b"\n1,2\n',  # in the header
    ],
)
def test_a_stray_quote_is_found_and_no_cut_is_offered(body: bytes) -> None:
    parts, stray = plan_csv(io.BytesIO(body), len(body), part_bytes=4)
    assert parts is None and stray is not None and body[stray : stray + 1] == b'"'


def test_a_csv_file_is_never_planned_by_byte_ranges_alone() -> None:
    from driftline.io.parts import plan_parts

    with pytest.raises(ValueError, match="plan_csv"):
        plan_parts("big.csv", 1000, part_bytes=10)
    assert (
        len(plan_parts("big.csv", 10, part_bytes=10)) == 1 and len(plan_parts("big.jsonl", 1000, part_bytes=10)) == 100
    )


def test_the_header_may_hold_a_quoted_line_break() -> None:
    body = b'"a\nb",c\n1,2\n3,4\n'
    assert header_end(body) == 8 and first_line(io.BytesIO(body)) == b'"a\nb",c\n'
    assert _rows(body) == [{"a\nb": "1", "c": "2"}, {"a\nb": "3", "c": "4"}]
    parts, _ = plan_csv(io.BytesIO(body), len(body), part_bytes=9)
    assert parts is not None and [(p.start, p.end) for p in parts] == [(0, 12), (12, 16)]
    second = open_line_range(io.BytesIO(body[read_start(parts[1]) :]), parts[1], header=first_line(io.BytesIO(body)))
    assert _rows(second.read()) == [{"a\nb": "3", "c": "4"}]


def _nasty_table(draw: Any) -> pa.Table:
    table = _table().drop_columns(["churned"])
    n = table.num_rows
    texts = draw(st.lists(NASTY, min_size=8, max_size=8))
    idx = draw(st.lists(st.integers(0, n - 1), min_size=8, max_size=8))
    pay = table.column("payment_method").to_pylist()
    note = [""] * n
    for k, (i, t) in enumerate(zip(idx, texts, strict=True)):
        note[i] = t + "\n" + t if k % 2 else t
        if k % 3 == 0:
            pay[i] = t  # an unseen category with quotes, commas and line breaks: counted the same split or not
    table = table.set_column(table.schema.get_field_index("payment_method"), "payment_method", pa.array(pay))
    return table.append_column("note", pa.array(note))


def _write(table: pa.Table, writer: str) -> bytes:
    if writer == "pyarrow":
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        return buf.getvalue()
    if writer.startswith("pandas"):
        return (
            table.to_pandas().to_csv(index=False, lineterminator="\r\n" if writer.endswith("crlf") else "\n").encode()
        )
    body, _ = _csv_module([table.column_names, *([str(v) for v in r.values()] for r in table.to_pylist())],
                          csv.QUOTE_MINIMAL, "\r\n")  # fmt: skip
    return body


@given(data=st.data())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.parametrize("writer", ["pyarrow", "pandas", "pandas-crlf", "csv-module"])
def test_a_csv_with_quoted_line_breaks_cut_at_any_size_gives_the_whole_files_profiles(
    writer: str, data: st.DataObject
) -> None:
    config, baseline = _model()
    body = _write(_nasty_table(data.draw), writer)
    assert b'"' in body
    try:
        whole: dict[Any, Any] | None = profile_file(
            io.BytesIO(body), name="log.csv", config=config, baseline=baseline
        ).profiles
    except InputError:  # pandas leaves a lone \r unquoted with \n line ends: pyarrow ends a record there
        whole = None
    size = data.draw(st.integers(min_value=len(body) // 12, max_value=len(body)))  # up to ~12 parts
    parts, stray = plan_csv(io.BytesIO(body), len(body), part_bytes=size)
    assert stray is None and parts is not None
    assert parts[0].start == 0 and parts[-1].end == len(body)
    assert all(a.end == b.start and body[a.end - 1 : a.end] == b"\n" for a, b in itertools.pairwise(parts))
    assert len(parts) == 1 or size < len(body)
    header = first_line(io.BytesIO(body))
    results, failed = [], 0
    for part in parts:
        stream = open_line_range(io.BytesIO(body[read_start(part) :]), part, header=header if part.index else b"")
        try:
            results.append(
                profile_file(stream, name="log.csv", config=config, baseline=baseline, allow_empty=True).profiles
            )
        except InputError:
            failed += 1
    if whole is None:  # a file that cannot be read whole fails in a part too (an error record), never counts wrong
        assert failed
    else:
        assert not failed
        _assert_same_profiles(_merged(results), whole)


@given(data=st.data())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_json_lines_with_line_breaks_in_strings_cut_anywhere_give_the_whole_files_profiles(data: st.DataObject) -> None:
    config, baseline = _model()
    table = _nasty_table(data.draw)
    body = b"".join(json.dumps(r).encode() + b"\n" for r in table.to_pylist())
    assert body.count(b"\n") == table.num_rows  # json escapes line breaks in strings: one record, one line
    whole = profile_file(io.BytesIO(body), name="log.jsonl", config=config, baseline=baseline).profiles
    size = data.draw(st.integers(min_value=len(body) // 12, max_value=len(body)))  # up to ~12 parts
    results = []
    for part in plan_text(len(body), part_bytes=size):
        stream = open_line_range(io.BytesIO(body[read_start(part) :]), part)
        results.append(
            profile_file(stream, name="log.jsonl", config=config, baseline=baseline, allow_empty=True).profiles
        )
    _assert_same_profiles(_merged(results), whole)


def test_a_raw_line_break_in_a_json_string_fails_the_file_never_counts_it() -> None:
    config, baseline = _model()
    row = json.dumps(_table().to_pylist()[0]).encode()
    body = row + b"\n" + row.replace(b'"country": "', b'"country": "x\n') + b"\n" + row
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        profile_file(io.BytesIO(body), name="log.jsonl", config=config, baseline=baseline)
    for cut in range(1, len(body), 7):  # split anywhere: a part holding half of the broken record fails (an error)
        failed = 0
        for part in [Part(0, 2, 0, cut, False), Part(1, 2, cut, len(body), False)]:
            stream = open_line_range(io.BytesIO(body[read_start(part) :]), part)
            try:
                profile_file(stream, name="log.jsonl", config=config, baseline=baseline, allow_empty=True)
            except InputError:
                failed += 1
        assert failed


def test_the_splitter_profiles_a_file_with_a_stray_quote_whole_and_refuses_one_too_large() -> None:
    from driftline.adapters.memory import MemoryObjectStore, MemoryQueue, MemoryTable
    from driftline.services.models import parse_key
    from driftline.services.split import CSV_WHOLE_MAX_BYTES, FileSplitter, parse_part_message
    from driftline.services.store import Store

    good = pd.DataFrame({"a": ["x\ny", 'q"q', "z"] * 200, "b": range(600)}).to_csv(index=False).encode()
    stray = good.replace(b"z,", b"5'11\",", 1)
    objects, queue = MemoryObjectStore(), MemoryQueue()
    store = Store(MemoryTable())
    splitter = FileSplitter(store, objects, queue, split_bytes=1024)
    for name, body in [("good.csv", good), ("stray.csv", stray)]:
        key = f"predictions/m/{name}"
        objects.put_bytes(key, body)
        ref = parse_key("b", key, _md5(body), len(body), encoded=False)
        store.claim_file(f"f-{name}", model_id="m", key=key, kind="predictions")
        parts = splitter.split(ref, f"f-{name}")
        sent = [parse_part_message(m) for m in queue.take()]
        assert [p for _, p in sent] == parts  # type: ignore[misc]
        if name == "good.csv":
            assert len(parts) >= 5 and all(good[p.end - 1 : p.end] == b"\n" for p in parts)
            # every part parses to whole records: their rows, in order, are the file's
            rows = []
            for p in parts:
                part_stream = splitter.open_part(ref, p)
                rows += _rows(part_stream.read())
            assert rows == _rows(good)
        else:
            assert parts == [Part(0, 1, 0, len(body), False)]
            record = store.get_file(f"f-{name}")
            assert record is not None and record.status == "split" and "profiled whole" in str(record.reason)
    huge = parse_key("b", "predictions/m/stray.csv", _md5(stray),
                     CSV_WHOLE_MAX_BYTES + 1, encoded=False)  # fmt: skip
    with pytest.raises(InputError, match=r"stray\.csv.*cannot be cut into parts: a quote at byte"):
        splitter.split(huge, "f-huge")


def test_the_scan_benchmark_runs_and_finds_the_parts(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import csvcuts

    assert csvcuts.main(["--mb", "2", "--part-mb", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == ["generated", "quoted line breaks"] and all(r["parts"] >= 2 for r in rows)


def _md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()  # the in-memory store's ETag, as S3's for one part


def test_a_byte_order_mark_is_skipped_as_pyarrow_skips_it() -> None:
    frame = pd.DataFrame({"a b": ["x\ny", 'q"q', "z"] * 20, "c": range(60)})
    body = frame.to_csv(index=False, encoding="utf-8-sig", quoting=csv.QUOTE_ALL).encode("utf-8-sig")
    assert body.startswith(b'\xef\xbb\xbf"a b"')
    parts, stray = plan_csv(io.BytesIO(body), len(body), part_bytes=100)
    assert stray is None and parts is not None and len(parts) > 3
    header = first_line(io.BytesIO(body))
    rows = []
    for p in parts:
        rows += _rows(open_line_range(io.BytesIO(body[read_start(p) :]), p, header=header if p.index else b"").read())
    assert rows == _rows(body) and len(rows) == 60 and rows[0] == {"a b": "x\ny", "c": "0"}
