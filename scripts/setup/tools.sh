#!/usr/bin/env bash
# Validators the tests run on generated files, from Debian's packages (shellcheck,
# cloud-init schema, systemd-analyze).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/lib.sh
. scripts/setup/lib.sh
apt_install shellcheck cloud-init systemd
