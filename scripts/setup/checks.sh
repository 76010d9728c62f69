#!/usr/bin/env bash
# What scripts/check.sh, scripts/diagram.sh and their tests use, from Debian's packages:
# Graphviz (`dot`, pinned by the release: bookworm's 2.42.2) and the DejaVu fonts the diagrams
# are set in, so that a diagram renders to the same SVG on every machine; curl and the OpenSSH
# client, which the checks run as the stacks' outputs write them (curl lines, ssh commands).
# Idempotent; prints how long it took.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=checks
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

start="$(date +%s)"
require_root
apt_install graphviz fonts-dejavu-core curl openssh-client
for tool in dot curl ssh; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} missing after installing its package"
done
log "ready: $(dot -V 2>&1) ($(($(date +%s) - start)) s)"
