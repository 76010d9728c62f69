#!/usr/bin/env bash
# What the calculator labs' bootstrap tests use: systemd-analyze (checks the rendered units),
# cloud-init (schema of the rendered user-data), the Docker engine and the local base image
# cloudlabs/base:bookworm (the rendered user-data is carried out in containers from it).
# Idempotent: each step checks before it acts.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=calculator-bootstrap
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

require_root
apt_install systemd cloud-init
command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze missing after installing systemd"
bash "${SCRIPT_DIR}/docker.sh"
image="$(bash "${SCRIPT_DIR}/base-image.sh")"
log "ready: systemd-analyze, cloud-init, Docker engine, ${image}"
