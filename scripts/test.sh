#!/usr/bin/env bash
# Prepare everything the test suite uses (Python packages, system tools, services, local
# images) on this machine, then run the whole suite: lint, types, unit and integration tests.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Python virtualenv and pinned packages"
bash scripts/setup/python.sh requirements-dev.txt

step "system tools and services"
# --- setup steps (one line each) ---
bash scripts/setup/tools.sh
bash scripts/setup/actionlint.sh
bash scripts/setup/docker.sh
bash scripts/setup/base-image.sh
bash scripts/setup/docker-labs.sh
bash scripts/setup/calculator-bootstrap.sh
bash scripts/setup/k8s-tests.sh
bash scripts/setup/virtualbox-tests.sh
bash scripts/setup/libvirt.sh
bash scripts/setup/guest-image.sh
bash scripts/setup/guest-mirror.sh
bash scripts/setup/bench.sh
bash scripts/setup/checks.sh
# --- end of setup steps ---

step "lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

step "tests"
exec .venv/bin/python -m pytest "$@"
