#!/usr/bin/env bash
# A cloud-init NoCloud seed ISO (volume id "cidata") holding meta-data, user-data and
# network-config, built with genisoimage (or xorriso when genisoimage is missing).
#
# The ISO is marked as this stack's by the file ISO_PATH.cloudlabs: OWNER, then a digest of
# the three documents.
# create: builds a missing ISO; rebuilds one of this stack whose documents changed; an ISO
#         not created by this stack is an error.
# delete: removes the ISO and its mark, only when they are this stack's.
#
# Usage: seed-iso.sh create|delete
# Environment: ISO_PATH, META_DATA, USER_DATA, NETWORK_CONFIG, OWNER
set -euo pipefail

ACTION="${1:-create}"
: "${ISO_PATH:?}" "${OWNER:?}"
MARK="${ISO_PATH}.cloudlabs"

log() { printf '[seed-iso %s] %s\n' "${ISO_PATH}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
ours() { [[ -f "${MARK}" ]] && [[ "$(head -n 1 "${MARK}")" == "${OWNER}" ]]; }

build() {
    dir="$(mktemp -d)"
    trap 'rm -rf "${dir}"' EXIT
    printf '%s' "${META_DATA}" >"${dir}/meta-data"
    printf '%s' "${USER_DATA}" >"${dir}/user-data"
    printf '%s' "${NETWORK_CONFIG}" >"${dir}/network-config"
    mkdir -p "$(dirname "${ISO_PATH}")"
    if command -v genisoimage >/dev/null 2>&1; then
        genisoimage -quiet -output "${ISO_PATH}.part" -volid cidata -joliet -rock \
            "${dir}/meta-data" "${dir}/user-data" "${dir}/network-config"
    else
        xorriso -as mkisofs -quiet -output "${ISO_PATH}.part" -volid cidata -joliet -rock \
            "${dir}/meta-data" "${dir}/user-data" "${dir}/network-config"
    fi
    printf '%s\n%s\n' "${OWNER}" "$1" >"${MARK}"
    mv "${ISO_PATH}.part" "${ISO_PATH}"
}

create() {
    : "${META_DATA:?}" "${USER_DATA:?}" "${NETWORK_CONFIG:?}"
    local digest
    digest="$(printf '%s\0%s\0%s' "${META_DATA}" "${USER_DATA}" "${NETWORK_CONFIG}" |
        sha256sum | cut -c1-16)"
    if [[ -e "${ISO_PATH}" ]]; then
        ours || die "exists and was not created by ${OWNER}; remove it or choose another storage directory"
        if [[ "$(sed -n 2p "${MARK}")" == "${digest}" ]]; then
            echo "seed ${ISO_PATH}: unchanged"
            return 0
        fi
        log "documents changed: rebuilding"
    else
        log "building"
    fi
    build "${digest}"
    echo "seed ${ISO_PATH}: built"
}

delete() {
    if ours; then
        log "removing"
        rm -f "${ISO_PATH}" "${ISO_PATH}.part" "${MARK}"
    elif [[ -e "${ISO_PATH}" ]]; then
        log "not created by ${OWNER}: kept"
    fi
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
