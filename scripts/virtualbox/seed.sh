#!/usr/bin/env bash
# A cloud-init NoCloud seed ISO (volume label "cidata": user-data, meta-data and network-config).
#
# create: builds the ISO with whichever of genisoimage, mkisofs, xorriso or cloud-localds is
#         present. The file name carries a hash of the content, so an existing ISO is kept.
# delete: forgets the ISO in VirtualBox and removes the file.
#
# Usage: seed.sh create|delete
# Environment:
#   SEED_PATH            the ISO (a leading ~/ means the home directory)
#   SEED_USER_DATA       create: the user-data document (#cloud-config)
#   SEED_META_DATA       create: the meta-data document (instance-id, local-hostname)
#   SEED_NETWORK_CONFIG  create, optional: the network-config document (netplan version 2)
#   VBOXMANAGE           delete: the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iso="$(expand "${SEED_PATH:?SEED_PATH is required}")"

create() {
    local out files
    if [[ -s "${iso}" ]]; then
        printf '%s\n' "${iso}"
        return 0
    fi
    : "${SEED_USER_DATA:?SEED_USER_DATA is required}" "${SEED_META_DATA:?SEED_META_DATA is required}"

    work="$(mktemp -d)" # global: the EXIT trap removes it
    trap 'rm -rf -- "${work}"' EXIT
    printf '%s' "${SEED_USER_DATA}" >"${work}/user-data"
    printf '%s' "${SEED_META_DATA}" >"${work}/meta-data"
    files=("${work}/user-data" "${work}/meta-data")
    if [[ -n "${SEED_NETWORK_CONFIG:-}" ]]; then
        printf '%s' "${SEED_NETWORK_CONFIG}" >"${work}/network-config"
        files+=("${work}/network-config")
    fi

    mkdir -p "$(dirname -- "${iso}")"
    out="${iso}.part"
    if command -v genisoimage >/dev/null; then
        genisoimage -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
    elif command -v mkisofs >/dev/null; then
        mkisofs -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
    elif command -v xorriso >/dev/null; then
        xorriso -as mkisofs -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
    elif command -v cloud-localds >/dev/null; then
        if [[ -n "${SEED_NETWORK_CONFIG:-}" ]]; then
            cloud-localds --network-config="${work}/network-config" "${out}" "${work}/user-data" "${work}/meta-data"
        else
            cloud-localds "${out}" "${work}/user-data" "${work}/meta-data"
        fi
    else
        die "no ISO tool found: install genisoimage, xorriso or cloud-image-utils (cloud-localds) on the VirtualBox host"
    fi
    mv -- "${out}" "${iso}"
    printf '%s\n' "${iso}"
}

delete() {
    if listed_path dvds "${iso}"; then
        act closemedium dvd "${iso}"
    fi
    rm -f -- "${iso}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
