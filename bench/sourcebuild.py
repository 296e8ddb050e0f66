"""What `sam build` lays out, assembled from the source tree and this venv's installed packages, in seconds and
offline: each function's code dir, and its layers' ``python/`` dirs holding exactly what the layer ships —
``shared/driftline`` for DriftlineLayer, and for a dependency layer the distributions its requirements.txt pins
with their dependency closure (boto3's closure left out: the runtime ships it). Entries are symbolic links into the
venv (bytecode caches included), so the build costs nothing; bench/coldstart.py's fresh clean interpreter then
runs a handler with only those on ``sys.path``, as Lambda (and ``sam local invoke``) would.

Unlike `sam build`, nothing is pruned and the packages are this venv's (same pins). For the real artifacts, run
``make build`` and bench/coldstart.py on ``.aws-sam/build``.

    build = source_build(tmp_dir)       # -> infra/_built.Build: .functions[i].code / .layers / .handler
    runtime = runtime_links(tmp_dir / "runtime")   # boto3's closure: the runtime's stand-in
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

from bench.coldstart import ROOT, RUNTIME_DISTS, _load_built

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: list[str], *, exclude: set[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` need (their ``Requires-Dist`` without extras, recursively)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = _canonical(todo.pop())
        if name in seen or name in exclude:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform or Python
        seen[name] = dist
        for req in dist.requires or ():
            if "extra ==" in req or "extra==" in req:
                continue
            m = _REQ_NAME.match(req)
            if m:
                todo.append(m.group(1))
    return list(seen.values())


def _link_dists(dists: list[importlib.metadata.Distribution], dest: Path) -> None:
    """Link each distribution's top-level entries (packages, modules, .dist-info, .libs) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in sorted(tops):
            src = Path(str(dist.locate_file(top)))
            link = dest / top
            if src.exists() and not link.exists() and top != "__pycache__" and not top.endswith(".pth"):
                link.symlink_to(src, target_is_directory=src.is_dir())


def requirements(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        m = _REQ_NAME.match(line.split("#", 1)[0])
        if m:
            names.append(m.group(1))
    return names


def runtime_links(dest: Path) -> Path:
    """boto3's closure (what the python3.12 runtime ships), linked from this venv."""
    _link_dists(_closure(list(RUNTIME_DISTS), exclude=set()), dest)
    return dest


def source_build(dest: Path, *, template: Path | None = None) -> Any:
    """The functions and layers of ``template`` (default: the repository's), laid out under ``dest``."""
    from driftline.cli.local.template import Stack, load_template

    built = _load_built()
    stack = Stack(load_template(template or ROOT / "template.yaml"), name="sourcebuild", region="us-east-1")
    runtime = {_canonical(n) for n in RUNTIME_DISTS}
    layers: dict[str, Any] = {}
    for logical in stack.of_type("AWS::Serverless::LayerVersion"):
        content = ROOT / str(stack.properties(logical)["ContentUri"])
        python = dest / logical / "python"
        if (content / "requirements.txt").is_file():
            _link_dists(_closure(requirements(content / "requirements.txt"), exclude=runtime), python)
        else:  # the project's own package: SAM copies the ContentUri's packages into python/
            python.mkdir(parents=True, exist_ok=True)
            for pkg in content.iterdir():
                if pkg.is_dir() and (pkg / "__init__.py").is_file():
                    (python / pkg.name).symlink_to(pkg.resolve(), target_is_directory=True)
        layers[logical] = built.Layer(logical, dest / logical)
    functions = []
    for logical in stack.of_type("AWS::Serverless::Function"):
        props = stack.properties(logical)
        code = dest / logical
        code.mkdir(parents=True, exist_ok=True)
        for src in (ROOT / str(props["CodeUri"])).iterdir():
            if src.suffix == ".py":
                (code / src.name).symlink_to(src.resolve())
        raw = stack.resources[logical].get("Properties") or {}
        refs = [str(ref["Ref"]) for ref in raw.get("Layers", []) if isinstance(ref, dict) and "Ref" in ref]
        functions.append(
            built.Function(
                logical_id=logical,
                code=code,
                handler=str(props.get("Handler", "app.handler")),
                layers=tuple(layers[r] for r in refs if r in layers),
                environment=dict(props["Environment"]["Variables"]),
            )
        )
    return built.Build(dest, stack.template, layers, tuple(functions))
