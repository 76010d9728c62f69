#!/usr/bin/env bash
# Prepare everything the test suite uses (Python packages, system tools, services, local
# images) on this machine, then run the whole suite: lint, types, unit and integration tests.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

# Run one step and say how long it took (also when it fails).
timed() {
    local started=${SECONDS} status=0
    "$@" || status=$?
    printf '[time] %s: %d s\n' "$*" "$((SECONDS - started))" >&2
    return "${status}"
}

step "Python virtualenv and pinned packages"
timed bash scripts/setup/python.sh requirements-dev.txt

step "system tools and services"
# --- setup steps (one line each) ---
timed bash scripts/setup/tools.sh
timed bash scripts/setup/actionlint.sh
timed bash scripts/setup/docker.sh
timed bash scripts/setup/base-image.sh
timed bash scripts/setup/docker-labs.sh
timed bash scripts/setup/k8s-tests.sh
timed bash scripts/setup/virtualbox-tests.sh
timed bash scripts/setup/libvirt.sh
timed bash scripts/setup/guest-image.sh
timed bash scripts/setup/guest-mirror.sh
timed bash scripts/setup/bench.sh
timed bash scripts/setup/checks.sh
# --- end of setup steps ---

step "lint and types"
timed .venv/bin/ruff check .
timed .venv/bin/ruff format --check .
timed .venv/bin/mypy

step "tests"
exec .venv/bin/python -m pytest "$@"
