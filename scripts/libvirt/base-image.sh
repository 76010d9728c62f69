#!/usr/bin/env bash
# The base (cloud) image the VMs' disks start from.
#
# create: BASE_SOURCE is a path on the KVM host, or an http(s) URL. A path must exist and is
#         only checked. A URL is downloaded once to BASE_PATH (marked as this stack's by the
#         file BASE_PATH.cloudlabs holding OWNER); an existing BASE_PATH is reused.
# delete: removes a downloaded BASE_PATH when this stack downloaded it; never a given path.
#
# Usage: base-image.sh create|delete
# Environment: BASE_SOURCE, BASE_PATH, OWNER
set -euo pipefail

ACTION="${1:-create}"
: "${BASE_SOURCE:?}" "${BASE_PATH:?}" "${OWNER:?}"
MARK="${BASE_PATH}.cloudlabs"

log() { printf '[base-image] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
ours() { [[ -f "${MARK}" ]] && [[ "$(head -n 1 "${MARK}")" == "${OWNER}" ]]; }
is_url() { [[ "${BASE_SOURCE}" =~ ^https?:// ]]; }

create() {
    if ! is_url; then
        [[ -r "${BASE_SOURCE}" ]] || die "base image ${BASE_SOURCE} not found on this host"
        qemu-img info "${BASE_SOURCE}" >/dev/null || die "${BASE_SOURCE} is not a disk image"
        echo "base image: ${BASE_SOURCE}"
        return 0
    fi
    if [[ -f "${BASE_PATH}" ]]; then
        echo "base image: ${BASE_PATH} (already downloaded)"
        return 0
    fi
    command -v curl >/dev/null 2>&1 || die "curl is needed to download ${BASE_SOURCE}"
    mkdir -p "$(dirname "${BASE_PATH}")"
    log "downloading ${BASE_SOURCE}"
    curl -fsSL --retry 3 -o "${BASE_PATH}.part" "${BASE_SOURCE}" || {
        rm -f "${BASE_PATH}.part"
        die "download of ${BASE_SOURCE} failed"
    }
    qemu-img info "${BASE_PATH}.part" >/dev/null || {
        rm -f "${BASE_PATH}.part"
        die "${BASE_SOURCE} is not a disk image"
    }
    printf '%s\n' "${OWNER}" >"${MARK}"
    mv "${BASE_PATH}.part" "${BASE_PATH}"
    echo "base image: ${BASE_PATH}"
}

delete() {
    if is_url && ours; then
        log "removing ${BASE_PATH}"
        rm -f "${BASE_PATH}" "${MARK}"
    fi
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
