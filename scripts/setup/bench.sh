#!/usr/bin/env bash
# The benchmark suite's tools on this machine (the host side of `scripts/bench.sh` and the
# benchmark tests), from Debian's packages: hpcc (HPL, STREAM, DGEMM, RandomAccess, ...) with
# Open MPI and OpenBLAS, fio (disk I/O), sysbench (CPU and memory), and the commands the runner
# reads machine facts with (lscpu, systemd-detect-virt). Idempotent; prints how long it took.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

start="$(date +%s)"
require_root
# The same list is what a guest installs (bench/packages.txt): keep them one.
mapfile -t packages < <(grep -v '^\s*#' "${SCRIPT_DIR}/../../bench/packages.txt" | grep -v '^\s*$')
apt_install "${packages[@]}"
for tool in hpcc mpirun fio sysbench lscpu systemd-detect-virt; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} missing after installing ${packages[*]}"
done
log "ready: hpcc, fio, sysbench ($(($(date +%s) - start)) s)"
