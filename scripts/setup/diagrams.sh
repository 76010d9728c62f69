#!/usr/bin/env bash
# What scripts/diagram.sh and the diagrams' tests use, from Debian's packages: Graphviz (`dot`,
# pinned by the release: bookworm's 2.42.2) and the DejaVu fonts the diagrams are set in, so
# that a diagram renders to the same SVG on every machine. Idempotent; prints how long it took.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=diagrams
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

start="$(date +%s)"
require_root
apt_install graphviz fonts-dejavu-core
command -v dot >/dev/null 2>&1 || die "dot missing after installing graphviz"
log "ready: $(dot -V 2>&1) ($(($(date +%s) - start)) s)"
