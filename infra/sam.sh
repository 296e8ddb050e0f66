#!/usr/bin/env bash
# Runs the AWS SAM CLI from its own virtual environment (infra/.venv-sam), installing it on first use.
# aws-sam-cli pins boto3 and click, so it never goes into the project's .venv.
#
#   infra/sam.sh validate --lint
#   infra/sam.sh build
#   infra/sam.sh deploy --guided
#
# AWS_DEFAULT_REGION defaults to us-east-1 (sam validate needs a region even offline), and
# PYENV_VERSION to 3.12.1 so that `sam build` finds a python3.12 for the python3.12 runtime.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
SAM_VENV="${SAM_VENV:-$INFRA_DIR/.venv-sam}"

# shellcheck source=infra/_venv.sh
source "$INFRA_DIR/_venv.sh"
ensure_tool_venv "$SAM_VENV" "aws-sam-cli==$SAM_CLI_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export PYENV_VERSION="${PYENV_VERSION:-3.12.1}"
export SAM_CLI_TELEMETRY=0
export SAM_CLI_DISABLE_UPDATE_CHECK=1  # no network beyond the package index
exec "$SAM_VENV/bin/sam" "$@"
