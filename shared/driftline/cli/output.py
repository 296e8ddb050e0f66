"""How the CLI prints rows: a table for people, JSON or CSV for scripts (one home for every command)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

POINT_TABLE_COLUMNS = ("window_start", "metric", "column", "segment", "value", "rows", "partial")


def emit_points(points: Sequence[Any], fmt: str) -> None:
    """Metric points as SPEC §5's JSON objects (or a table / CSV of the same)."""
    emit([p.to_json_dict() for p in points], fmt, POINT_TABLE_COLUMNS)


def emit(rows: list[dict[str, Any]], fmt: str, table_cols: Sequence[str], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        cols = list(rows[0]) if rows else list(table_cols)
        w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, dict | list | bool) else v) for k, v in r.items()})
    else:
        out.write(format_table(rows, table_cols))


def format_table(rows: list[dict[str, Any]], cols: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    buf = io.StringIO()
    buf.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        buf.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not rows:
        buf.write("(none)\n")
    return buf.getvalue()
