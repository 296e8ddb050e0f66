#!/usr/bin/env python3
"""Unzipped size of every built function: its code plus each layer it uses, against Lambda's limit.

Lambda refuses a function whose code and layers, unzipped, reach 262,144,000 bytes (250 MiB). This reads
the template `sam build` wrote, sums the files of each function's code dir and of every layer it names,
prints a table (MB = 10^6 bytes) and the largest entries of each layer, and exits 1 when a function is at
or over the limit.

    measure_sizes.py [--build-dir .aws-sam/build] [--save FILE] [--compare FILE] [--top N] [--quiet]

--save writes the measured sizes as JSON; --compare reads such a file (taken before pruning) and prints
both columns. --quiet prints nothing and never fails (for the "before" measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _built import LAMBDA_UNZIPPED_LIMIT, Build, mb, read_build, tree_size


def measure(build: Build) -> dict[str, dict[str, int]]:
    layer_sizes = {lid: tree_size(layer.path) for lid, layer in build.layers.items()}
    functions: dict[str, int] = {}
    code_sizes: dict[str, int] = {}
    for fn in build.functions:
        code_sizes[fn.logical_id] = tree_size(fn.code)
        functions[fn.logical_id] = code_sizes[fn.logical_id] + sum(layer_sizes[lay.logical_id] for lay in fn.layers)
    return {"layers": layer_sizes, "code": code_sizes, "functions": functions}


def largest_entries(root: Path, top: int) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """The top-level entries of a layer's python/ dir by size, each with its largest children."""
    base = root / "python" if (root / "python").is_dir() else root
    rows = []
    for entry in os.scandir(base):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            size = tree_size(path)
            children = []
            for child in os.scandir(path):
                child_path = Path(child.path)
                child_size = tree_size(child_path) if child.is_dir(follow_symlinks=False) else child.stat().st_size
                children.append((child_size, child.name + ("/" if child.is_dir() else "")))
            children.sort(reverse=True)
            rows.append((size, entry.name + "/", children[:4]))
        else:
            rows.append((entry.stat().st_size, entry.name, []))
    rows.sort(reverse=True)
    return rows[:top]


def print_report(build: Build, sizes: dict[str, dict[str, int]], before: dict | None, top: int) -> None:
    limit = LAMBDA_UNZIPPED_LIMIT
    print(f"\nUnzipped size per function (Lambda limit {limit:,} bytes = {mb(limit)} MB; MB = 10^6 bytes)")
    header = f"{'function':<18} {'code':>7}  {'layers':<46}"
    header += f" {'before':>8}" if before else ""
    header += f" {'total':>8} {'of limit':>9}"
    print(header)
    print("-" * len(header))
    for fn in build.functions:
        layers = " + ".join(f"{lay.logical_id} {mb(sizes['layers'][lay.logical_id])}" for lay in fn.layers)
        total = sizes["functions"][fn.logical_id]
        row = f"{fn.logical_id:<18} {mb(sizes['code'][fn.logical_id]):>7}  {layers:<46}"
        if before:
            prior = before.get("functions", {}).get(fn.logical_id)
            row += f" {mb(prior) if prior is not None else '-':>8}"
        flag = "  OVER THE LIMIT" if total >= limit else ""
        row += f" {mb(total):>8} {100 * total / limit:>8.0f}%{flag}"
        print(row)

    print("\nLayers" + (" (before -> after prune_layers.py: pruned, byte-compiled)" if before else ""))
    for lid, size in sizes["layers"].items():
        prior = (before or {}).get("layers", {}).get(lid)
        change = f"{mb(prior)} -> " if prior is not None and prior != size else ""
        print(f"  {lid:<18} {change}{mb(size)} MB")

    print("\nLargest entries per layer (MB), to see what pruning could still take (infra/prune_layers.py):")
    for lid, layer in build.layers.items():
        print(f"  {lid}")
        for size, name, children in largest_entries(layer.path, top):
            detail = ", ".join(f"{child} {mb(csize)}" for csize, child in children)
            print(f"    {mb(size):>7}  {name:<34} {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--save", type=Path, help="write the sizes as JSON")
    parser.add_argument("--compare", type=Path, help="JSON from an earlier --save: print before/after")
    parser.add_argument("--top", type=int, default=8, help="entries listed per layer")
    parser.add_argument("--quiet", action="store_true", help="print nothing, never fail")
    args = parser.parse_args(argv)

    build = read_build(args.build_dir)
    if not build.functions:
        print(f"no locally built function in {args.build_dir}/template.yaml", file=sys.stderr)
        return 1
    sizes = measure(build)
    if args.save:
        args.save.write_text(json.dumps(sizes, indent=2), encoding="utf-8")
    if args.quiet:
        return 0
    before = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    print_report(build, sizes, before, args.top)

    over = [fid for fid, size in sizes["functions"].items() if size >= LAMBDA_UNZIPPED_LIMIT]
    if over:
        print(f"\nERROR: over Lambda's unzipped limit: {', '.join(over)}", file=sys.stderr)
        return 1
    print(f"\nOK: every function is under {mb(LAMBDA_UNZIPPED_LIMIT)} MB unzipped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
