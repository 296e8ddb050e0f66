#!/usr/bin/env python3
"""Import each built function's handler with exactly its code and its layers, as Lambda would.

For every function in .aws-sam/build/template.yaml, a fresh interpreter gets sys.path = [code dir,
each layer's python/ dir, in the template's order] ahead of its own site-packages, which stand in for the
runtime's boto3/botocore. It imports the handler module, checks the handler is callable, imports what
the layer promises (pyarrow's readers where pyarrow ships), and checks that numpy, pyarrow, yaml,
Powertools, the X-Ray SDK and driftline came from the layers, boto3/botocore from the runtime, that
scipy, pandas and moto (not shipped) were not needed, and that every module imported from a layer had its
bytecode there (infra/prune_layers.py compiles it: Lambda's /opt is read-only, so a module without it is
compiled again on every cold start). Run it on a Python 3.12 (the runtime's ABI): the SAM CLI's own venv is
one.

    check_imports.py [--build-dir .aws-sam/build]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _built import Build, Function, read_build

FROM_LAYERS = ("numpy", "pyarrow", "yaml", "aws_lambda_powertools", "aws_xray_sdk", "driftline")
FROM_RUNTIME = ("boto3", "botocore")
NOT_SHIPPED = ("scipy", "pandas", "moto")
PYARROW_READERS = ("pyarrow.parquet", "pyarrow.csv", "pyarrow.json", "pyarrow.compute", "pyarrow.dataset", "pyarrow.fs")

_PROBE = r"""
import importlib, json, sys
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["paths"]
result = {"error": None, "origins": {}}
try:
    module = importlib.import_module(spec["module"])
    handler = getattr(module, spec["attr"])
    if not callable(handler):
        raise TypeError(f"{spec['module']}.{spec['attr']} is not callable")
    for name in spec["extra"]:
        importlib.import_module(name)
except BaseException as err:  # report any failure, SystemExit included
    import traceback
    result["error"] = "".join(traceback.format_exception(err))[-3000:]
for name in spec["watch"]:
    mod = sys.modules.get(name)
    if mod is not None:
        result["origins"][name] = getattr(mod, "__file__", None) or str(getattr(mod, "__path__", ""))
import importlib.util, os
result["no_bytecode"] = sorted(
    name for name, mod in list(sys.modules.items())
    if (getattr(mod, "__file__", None) or "").endswith(".py")
    and any(mod.__file__.startswith(p + os.sep) for p in spec["layers"])
    and not os.path.isfile(importlib.util.cache_from_source(mod.__file__))
)
print(json.dumps(result))
"""


def _fake_value(value: Any, build: Build) -> str:
    """An environment value as Lambda would see it: parameter defaults, fake names/ARNs for resources."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        ref = str(value["Ref"])
        param = (build.template.get("Parameters") or {}).get(ref)
        if param is not None:
            return str(param.get("Default", ""))
        rtype = (build.template["Resources"].get(ref) or {}).get("Type", "")
        if rtype == "AWS::SNS::Topic":
            return f"arn:aws:sns:us-east-1:123456789012:smoke-{ref}"
        return f"smoke-{ref.lower()}"
    return "smoke"


def probe(fn: Function, build: Build, python: str) -> list[str]:
    module, _, attr = fn.handler.rpartition(".")
    paths = [str(fn.code)] + [str(layer.path / "python") for layer in fn.layers]
    ships_pyarrow = any((layer.path / "python" / "pyarrow").is_dir() for layer in fn.layers)
    spec = {
        "paths": paths,
        "layers": paths[1:],
        "module": module,
        "attr": attr,
        "extra": ["aws_xray_sdk.core", *(PYARROW_READERS if ships_pyarrow else ())],
        "watch": [*FROM_LAYERS, *FROM_RUNTIME, *NOT_SHIPPED],
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(Path.home())),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
        "PYTHONDONTWRITEBYTECODE": "1",  # leave the build dir as sam build left it
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
    env.update({key: _fake_value(value, build) for key, value in fn.environment.items()})
    run = subprocess.run(
        [python, "-c", _PROBE, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=300,
        check=False,
    )
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return [f"probe crashed (exit {run.returncode}): {run.stderr[-2000:]}"]
    problems = []
    if result["error"]:
        problems.append(f"import failed:\n{result['error']}")
    origins: dict[str, str] = result["origins"]
    for name, origin in origins.items():
        inside = any(origin and origin.startswith(p + os.sep) for p in paths)
        if name in FROM_LAYERS and not inside:
            problems.append(f"{name} was imported from {origin}, not from the function's layers")
        if name in FROM_RUNTIME and inside:
            problems.append(f"{name} is packaged ({origin}); the runtime provides it")
        if name in NOT_SHIPPED:
            problems.append(f"{name} was imported ({origin}), but it is not shipped to Lambda")
    no_bytecode: list[str] = result.get("no_bytecode") or []
    if no_bytecode:
        shown = ", ".join(no_bytecode[:8]) + (", ..." if len(no_bytecode) > 8 else "")
        problems.append(
            f"{len(no_bytecode)} modules were imported from a layer without bytecode (compiled again on every cold "
            f"start; run infra/prune_layers.py without --no-compile): {shown}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--python", default=sys.executable, help="a Python 3.12 with boto3 (the runtime stand-in)")
    args = parser.parse_args(argv)

    build = read_build(args.build_dir)
    failed = False
    for fn in build.functions:
        problems = probe(fn, build, args.python)
        layers = ", ".join(layer.logical_id for layer in fn.layers)
        if problems:
            failed = True
            print(f"FAIL {fn.logical_id} ({fn.handler} with {layers})")
            for problem in problems:
                print("  " + problem.replace("\n", "\n  "))
        else:
            print(f"ok   {fn.logical_id} ({fn.handler} with {layers})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
