#!/usr/bin/env bash
# Create the project-local virtualenv (.venv) and install the pinned requirements into it.
# Usage: scripts/setup/python.sh [requirements file]   (default: requirements.txt)
# Environment: CLOUDLABS_VENV, the virtualenv's directory (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
venv=${CLOUDLABS_VENV:-.venv}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "cloud-labs needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi
stamp=$venv/.installed-$(cat requirements*.txt policy/requirements.txt calculator/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)-$(basename "$requirements")
if [ ! -e "$stamp" ]; then
    echo "installing $requirements into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi
