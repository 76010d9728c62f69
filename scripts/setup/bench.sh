#!/usr/bin/env bash
# The benchmark suite's tools (bench/, scripts/bench.sh and its tests), from Debian's packages:
# on this host the packages of bench/packages.txt — hpcc (HPL, STREAM, DGEMM, RandomAccess,
# FFT, PTRANS) with Open MPI and OpenBLAS, fio, sysbench, lscpu and systemd-detect-virt — and
# the image cloudlabs/bench:bookworm (the same packages as a layer on the local base image,
# docker/bench/Dockerfile) that the container benchmarks run in.
# Idempotent; prints how long it took. Set CLOUDLABS_BENCH_IMAGE=0 to skip the image.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

start="$(date +%s)"
require_root
mapfile -t packages < <(package_list "${SCRIPT_DIR}/../../bench/packages.txt")
apt_install "${packages[@]}"
for tool in hpcc mpirun fio sysbench lscpu systemd-detect-virt; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} missing after installing ${packages[*]}"
done
log "host tools ready: ${packages[*]} ($(($(date +%s) - start)) s)"

if [[ "${CLOUDLABS_BENCH_IMAGE:-1}" != 0 ]]; then
    base="$(bash "${SCRIPT_DIR}/base-image.sh")"
    image="$(BASE_IMAGE="${base}" bash "${SCRIPT_DIR}/../docker/build-bench-image.sh")"
    log "image ready: ${image}"
fi
log "ready ($(($(date +%s) - start)) s)"
