"""What finding a CSV file's record boundaries costs the splitter (``driftline.io.parts.plan_csv``): one streamed pass
of quote parity over the file, in 8 MiB chunks, against a plain read of the same stream (the floor: the bytes must
come in anyway).

    python -m bench.csvcuts [--mb 512] [--part-mb 64]

Two files of ``--mb`` MiB, in memory: the benchmark's generated CSV (``bench/generate.py``: pyarrow quotes every
text field) and the same rows with a free-text column whose values hold quoted line breaks, commas and quotes
(one row in 4). Prints one JSON line per file: MB/s of the scan (CPU), of a plain read, and the parts found.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from bench import generate as gen
from driftline.io.parts import plan_csv


def _bodies(mb: int) -> dict[str, bytes]:
    table = gen.generate_table(100_000, 42)
    notes = pa.array([f'call {i},\n"angry"\r\nrefund' if i % 4 == 0 else "" for i in range(table.num_rows)])
    out = {}
    for name, t in (("generated", table), ("quoted line breaks", table.append_column("note", notes))):
        buf = io.BytesIO()
        pacsv.write_csv(t, buf)
        one = buf.getvalue()
        head = one.index(b"\n") + 1
        reps = max(1, (mb << 20) // len(one))
        out[name] = one + one[head:] * (reps - 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=512, help="size of each file in MiB (default 512)")
    p.add_argument("--part-mb", type=int, default=64, help="part size in MiB (default 64)")
    p.add_argument("--out", type=Path, default=None, help="append the JSON lines to this file")
    args = p.parse_args(argv)
    for name, body in _bodies(args.mb).items():
        stream = io.BytesIO(body)
        t0 = time.process_time()
        while stream.read(8 << 20):
            pass
        floor = time.process_time() - t0
        t0, w0 = time.process_time(), time.perf_counter()
        parts, stray = plan_csv(io.BytesIO(body), len(body), part_bytes=args.part_mb << 20)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        assert parts is not None and stray is None
        row = {
            "file": name,
            "mib": round(len(body) / 2**20),
            "scan_cpu_s": round(cpu, 3),
            "scan_mb_per_s": round(len(body) / 1e6 / max(cpu, 1e-9)),
            "wall_s": round(wall, 3),
            "plain_read_cpu_s": round(floor, 3),
            "parts": len(parts),
        }
        line = json.dumps(row)
        print(line)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
