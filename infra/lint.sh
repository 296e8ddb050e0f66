#!/usr/bin/env bash
# make lint-infra: cfn-lint and checkov on template.yaml and on its SAM-transformed form (offline).
# Fails on any finding that the template does not skip, with its reason, next to the resource.
#
# cfn-lint and the SAM translator come from the SAM CLI's venv (infra/.venv-sam, installed by sam.sh),
# checkov from its own (infra/.venv-checkov): both heavy, both kept out of the project's .venv.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$INFRA_DIR")"
SAM_VENV="${SAM_VENV:-$INFRA_DIR/.venv-sam}"
CHECKOV_VENV="${CHECKOV_VENV:-$INFRA_DIR/.venv-checkov}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
cd "$ROOT"

# shellcheck source=infra/_venv.sh
source "$INFRA_DIR/_venv.sh"
ensure_tool_venv "$SAM_VENV" "aws-sam-cli==$SAM_CLI_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"
ensure_tool_venv "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION" "checkov==$CHECKOV_VERSION"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
transformed="$work/template.transformed.json"
status=0

echo "==> cfn-lint template.yaml"
"$SAM_VENV/bin/cfn-lint" template.yaml || status=1

echo "==> SAM transform (offline)"
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
    "$SAM_VENV/bin/python" "$INFRA_DIR/transform_template.py" --template template.yaml --out "$transformed"

echo "==> cfn-lint (transformed)"
"$SAM_VENV/bin/cfn-lint" "$transformed" || status=1

# checkov: offline (--skip-download), its own config in .checkov.yaml. Run from the work dir so that
# nothing it writes lands in the repository.
for file in "$ROOT/template.yaml" "$transformed"; do
    echo "==> checkov $(basename "$file")"
    (cd "$work" && "$CHECKOV_VENV/bin/checkov" --config-file "$ROOT/.checkov.yaml" -f "$file") || status=1
done

if [[ $status -ne 0 ]]; then
    echo "lint-infra: findings above (justify a skip next to the resource, or fix the template)" >&2
fi
exit $status
