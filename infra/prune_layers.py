#!/usr/bin/env python3
"""Prune the built layers (.aws-sam/build/<Layer>/python) of what Driftline never loads, then byte-compile them.

`sam build` (BuildMethod python3.12) pip-installs each layer's requirements.txt as is. That leaves:
- packages the Lambda python3.12 runtime already has: boto3 and what only it needs (botocore, s3transfer,
  urllib3, python-dateutil, six). aws-xray-sdk pulls botocore in; a layer copy would shadow the runtime's
  (/opt/python comes before it on sys.path) and mismatch the runtime's boto3;
- parts of pyarrow and numpy that no Driftline code imports: Arrow Flight, pyarrow's own S3 filesystem
  (objects are read through boto3, see STYLE "Known traps"), test suites, C/C++ headers, Cython sources,
  f2py, type stubs, and the copies of shared libraries that the dynamic loader never opens (a wheel ships
  libX.so, libX.so.N and libX.so.N.M.P as three files; only the SONAME libX.so.N is loaded).

Before deleting anything it checks, by reading the ELF dynamic sections, that every shared library the
remaining files need and that the layer bundled is still there.

Then it byte-compiles what is left (``__pycache__/*.cpython-312.pyc``, unchecked-hash): `sam build` ships
sources only, and Lambda's /opt is read-only, so without bytecode every cold start compiles every module it
imports (numpy, Powertools, driftline...) and throws the result away: about 0.8 s of CPU per cold start, for
~8 MB per layer. Unchecked-hash .pyc files are used without looking at the source's mtime, which the deployment
zip does not keep exactly; they are rewritten on every run (the layer is never edited after this step). Only
on the runtime's Python (the layers' CompatibleRuntimes): bytecode of another version would be ignored.
infra/check_imports.py then imports each function's handler with exactly its layers.

    prune_layers.py [--build-dir .aws-sam/build] [--dry-run] [--no-compile]
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import importlib.util
import mmap
import py_compile
import re
import shutil
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _built import mb, read_build

# Distributions the python3.12 Lambda runtime ships (boto3 and its dependency closure), never packaged.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six")


@dataclasses.dataclass(frozen=True)
class Rule:
    reason: str
    patterns: tuple[str, ...]  # globs relative to python/; a trailing "/" matches directories only


RULES = (
    Rule(
        "pyarrow: Arrow Flight RPC (never imported)",
        (
            "pyarrow/_flight.*.so",
            "pyarrow/flight.py",
            "pyarrow/libarrow_flight.so*",
            "pyarrow/libarrow_python_flight.so*",
        ),
    ),
    Rule(
        "pyarrow: S3 filesystem (S3 objects are read through boto3)",
        ("pyarrow/_s3fs.*.so", "pyarrow/libarrow_s3.so*"),
    ),
    Rule("pyarrow: test suites", ("pyarrow/tests/", "pyarrow/_pyarrow_cpp_tests.*.so")),
    Rule(
        "headers and Cython sources (compile-time only)",
        (
            "pyarrow/include/",
            "pyarrow/includes/",
            "pyarrow/src/",
            "pyarrow/**/*.pyx",
            "pyarrow/**/*.pxd",
            "pyarrow/**/*.pxi",
            "numpy/_core/include/",
            "numpy/**/*.pxd",
        ),
    ),
    Rule("numpy: test suites, f2py, PyInstaller hooks", ("numpy/**/tests/", "numpy/f2py/", "numpy/_pyinstaller/")),
    Rule("type stubs (*.pyi, *-stubs)", ("**/*.pyi", "*-stubs/")),
)

# --------------------------------------------------------------------------------------------------------
# ELF: DT_NEEDED and DT_SONAME of a shared object, read from its dynamic section (64-bit little-endian,
# which is what manylinux x86_64 wheels hold). Pure standard library, no binutils needed.
# --------------------------------------------------------------------------------------------------------
_SHT_DYNAMIC = 6
_DT_NEEDED = 1
_DT_SONAME = 14


def elf_dynamic(path: Path) -> tuple[str | None, list[str]] | None:
    """(SONAME, NEEDED) of an ELF file, or None when the file is not a 64-bit little-endian ELF."""
    try:
        with path.open("rb") as handle:
            if handle.read(6) != b"\x7fELF\x02\x01":
                return None
            handle.seek(0)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                shoff = struct.unpack_from("<Q", data, 0x28)[0]
                shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
                sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
                soname, needed = None, []
                for section in sections:
                    if section[1] != _SHT_DYNAMIC:
                        continue
                    offset, size, link = section[4], section[5], section[6]
                    strtab = sections[link][4]
                    for pos in range(offset, offset + size, 16):
                        tag, value = struct.unpack_from("<qQ", data, pos)
                        if tag == 0:
                            break
                        if tag in (_DT_NEEDED, _DT_SONAME):
                            end = data.find(b"\0", strtab + value)
                            name = data[strtab + value : end].decode()
                            if tag == _DT_NEEDED:
                                needed.append(name)
                            else:
                                soname = name
                return soname, needed
    except (OSError, struct.error, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------------------------------------


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_files(site: Path, names: Iterable[str]) -> dict[str, set[Path]]:
    """Files of the installed distributions `names`, from their dist-info RECORD, plus the dist-info."""
    wanted = {_normalize(n) for n in names}
    found: dict[str, set[Path]] = {}
    for info in site.glob("*.dist-info"):
        dist = _normalize(info.name[: -len(".dist-info")].rsplit("-", 1)[0])
        if dist not in wanted:
            continue
        files: set[Path] = set()
        record = info / "RECORD"
        if record.is_file():
            for line in record.read_text(encoding="utf-8").splitlines():
                rel = line.split(",", 1)[0]
                if not rel:
                    continue
                path = (site / rel).resolve()
                if path.is_relative_to(site) and path.exists():
                    files.add(path)
        files.update(p.resolve() for p in info.rglob("*") if p.is_file())
        found[dist] = files
    return found


def _glob_files(site: Path, pattern: str) -> set[Path]:
    dirs_only = pattern.endswith("/")
    files: set[Path] = set()
    for match in site.glob(pattern.rstrip("/")):
        if match.is_dir() and not match.is_symlink():
            files.update(p.resolve() for p in match.rglob("*") if p.is_file() or p.is_symlink())
        elif not dirs_only and (match.is_file() or match.is_symlink()):
            files.add(match.resolve() if not match.is_symlink() else match)
    return files


def _unloaded_library_copies(site: Path) -> set[Path]:
    """libX.so / libX.so.N.M.P files whose SONAME libX.so.N sits beside them: the loader opens only that one."""
    copies: set[Path] = set()
    for path in site.rglob("*.so*"):
        if not path.is_file() or path.is_symlink() or not path.name.startswith("lib"):
            continue
        info = elf_dynamic(path)
        if info is None or info[0] is None or info[0] == path.name:
            continue
        if (path.parent / info[0]).is_file():
            copies.add(path.resolve())
    return copies


def plan(site: Path) -> list[tuple[str, set[Path]]]:
    """What to delete from one layer's python/ dir, as (reason, files), each file in one group only."""
    groups: list[tuple[str, set[Path]]] = []
    runtime = _dist_files(site, RUNTIME_PROVIDED)
    if runtime:
        groups.append((f"provided by the Lambda runtime: {', '.join(sorted(runtime))}", set().union(*runtime.values())))
    for rule in RULES:
        files: set[Path] = set()
        for pattern in rule.patterns:
            files |= _glob_files(site, pattern)
        groups.append((rule.reason, files))
    groups.append(("shared-library copies never loaded (not the SONAME)", _unloaded_library_copies(site)))
    seen: set[Path] = set()
    unique: list[tuple[str, set[Path]]] = []
    for reason, files in groups:
        files = files - seen
        seen |= files
        if files:
            unique.append((reason, files))
    return unique


def check_libraries(site: Path, removed: set[Path]) -> list[str]:
    """Problems: a remaining ELF file needs a bundled library that pruning would remove."""
    bundled: dict[str, set[Path]] = {}
    for path in site.rglob("*"):
        if path.is_file():
            bundled.setdefault(path.name, set()).add(path.resolve())
    problems = []
    for path in site.rglob("*.so*"):
        resolved = path.resolve()
        if not path.is_file() or resolved in removed:
            continue
        info = elf_dynamic(path)
        if info is None:
            continue
        for name in info[1]:
            copies = bundled.get(name)
            if copies and not copies - removed:
                problems.append(f"{path.relative_to(site)} needs {name}, which would be removed")
    return problems


def _delete(site: Path, files: set[Path]) -> None:
    dirs: set[Path] = set()
    for path in files:
        dirs.add(path.parent)
        path.unlink(missing_ok=True)
    # Remove the directories left empty, deepest first, never site itself.
    for directory in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
        current = directory
        while current != site and current.is_relative_to(site) and current.exists() and not any(current.iterdir()):
            current.rmdir()
            current = current.parent
    for info in site.glob("*.dist-info"):  # a dist-info whose RECORD files are gone
        if not (info / "METADATA").exists():
            shutil.rmtree(info, ignore_errors=True)


def _size(files: Iterable[Path]) -> int:
    return sum(p.stat().st_size for p in files if p.is_file() and not p.is_symlink())


def runtime_python(compatible: Iterable[str]) -> str | None:
    """This interpreter as a Lambda runtime name (``python3.12``) when it is one of ``compatible``, else None."""
    mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return mine if mine in set(compatible) else None


def byte_compile(site: Path) -> tuple[int, int, int]:
    """Compile every .py under site for this interpreter, unchecked-hash, overwriting any bytecode there.
    Returns (modules, failures, bytes of bytecode)."""
    sources = [p for p in site.rglob("*.py") if p.is_file()]
    ok = compileall.compile_dir(
        site,
        quiet=2,
        force=True,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    pycs = [p for p in site.rglob(f"__pycache__/*.{sys.implementation.cache_tag}.pyc") if p.is_file()]
    failures = 0 if ok else sum(1 for src in sources if not Path(importlib.util.cache_from_source(str(src))).is_file())
    return len(sources), failures, _size(pycs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--dry-run", action="store_true", help="print what would go, delete or compile nothing")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="do not byte-compile the layers")
    args = parser.parse_args(argv)

    build = read_build(args.build_dir)
    failed = False
    for layer in build.layers.values():
        site = layer.path / "python"
        if not site.is_dir():
            continue
        groups = plan(site)
        removed = set().union(*(files for _reason, files in groups)) if groups else set()
        problems = check_libraries(site, removed)
        if problems:
            failed = True
            print(f"{layer.logical_id}: NOT pruned, a kept library would lose a dependency:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        total = _size(removed)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{layer.logical_id}: {verb} {mb(total)} MB")
        for reason, files in groups:
            print(f"  {mb(_size(files)):>7} MB  {len(files):>5} files  {reason}")
        if not args.dry_run:
            _delete(site.resolve(), removed)
        if args.compile and not args.dry_run:
            props = build.template["Resources"][layer.logical_id].get("Properties") or {}
            compatible = props.get("CompatibleRuntimes") or []
            if runtime_python(compatible) is None:
                print(
                    f"  WARNING: not byte-compiled: this is Python {sys.version.split()[0]}, the layer is for "
                    f"{', '.join(compatible) or 'an unnamed runtime'} (every cold start will compile its modules)",
                    file=sys.stderr,
                )
                continue
            modules, failures, size = byte_compile(site)
            note = f", {failures} could not be compiled (imported from source)" if failures else ""
            print(f"  {mb(size):>7} MB  {modules:>5} files  added: their bytecode (unchecked-hash .pyc){note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
