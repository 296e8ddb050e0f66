# shellcheck shell=bash
# Helpers shared by infra/sam.sh and infra/lint.sh: a tool in its own virtual environment, installed once.
#
# ensure_tool_venv VENV_DIR STAMP_TEXT PACKAGE...
#   Creates VENV_DIR with Python 3.12 (pyenv's 3.12.1 when present, else python3) and installs PACKAGE...
#   into it, quietly, unless VENV_DIR/.installed already holds STAMP_TEXT. A lock keeps two concurrent
#   callers from installing at once. The install log is printed only when the install fails.

_pick_python() {
    if PYENV_VERSION=3.12.1 python3.12 --version >/dev/null 2>&1; then
        echo "env PYENV_VERSION=3.12.1 python3.12"
    elif command -v python3.12 >/dev/null 2>&1; then
        echo "python3.12"
    else
        echo "python3"
    fi
}

ensure_tool_venv() {
    local venv="$1" stamp="$2"
    shift 2
    if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$stamp" ]]; then
        return 0
    fi
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$stamp" ]]; then
            exit 0
        fi
        local log="$venv.install.log"
        echo "infra: installing $* into $venv (once; log: $log)" >&2
        rm -rf "$venv"
        # shellcheck disable=SC2046
        if ! { $(_pick_python) -m venv "$venv" \
                && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
                && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; } >"$log" 2>&1; then
            echo "infra: installing $* failed:" >&2
            tail -n 40 "$log" >&2
            exit 1
        fi
        echo "$stamp" >"$venv/.installed"
    ) 9>"$venv.lock"
}
