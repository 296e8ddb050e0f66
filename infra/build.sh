#!/usr/bin/env bash
# make build: validate the template, `sam build`, prune the layers, import every handler with exactly its
# layers, and measure each function's unzipped size against Lambda's 250 MB limit (before/after pruning).
#
#   infra/build.sh [extra `sam build` options]
#
# Deploy what this leaves in .aws-sam/build (infra/sam.sh deploy). A bare `sam build` is not pruned: its
# layers carry botocore (which would shadow the runtime's boto3 stack) and the pyarrow functions sit at
# 97% of the limit.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$INFRA_DIR")"
export SAM_VENV="${SAM_VENV:-$INFRA_DIR/.venv-sam}"
BUILD_DIR="${BUILD_DIR:-.aws-sam/build}"
cd "$ROOT"

echo "==> sam validate --lint"
"$INFRA_DIR/sam.sh" validate --lint --template template.yaml

echo "==> sam build"
"$INFRA_DIR/sam.sh" build --template template.yaml --build-dir "$BUILD_DIR" --cached "$@"

PY="$SAM_VENV/bin/python"  # Python 3.12 with PyYAML and boto3: the runtime's stand-in
before="$(mktemp)"
trap 'rm -f "$before"' EXIT
"$PY" "$INFRA_DIR/measure_sizes.py" --build-dir "$BUILD_DIR" --save "$before" --quiet

echo "==> prune layers"
"$PY" "$INFRA_DIR/prune_layers.py" --build-dir "$BUILD_DIR"

echo "==> import each handler with its layers"
"$PY" "$INFRA_DIR/check_imports.py" --build-dir "$BUILD_DIR"

echo "==> sizes"
"$PY" "$INFRA_DIR/measure_sizes.py" --build-dir "$BUILD_DIR" --compare "$before"
