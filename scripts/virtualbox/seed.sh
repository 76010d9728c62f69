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

# What VBoxManage says when a session holds a VM the ISO is attached to.
LOCKED='already locked for a session|already locked by a session|lock request pending'
LOCK_TRIES=5

die() { printf 'seed: %s\n' "$*" >&2; exit 1; }
# VBoxManage in English (it translates its text to the user's locale; LC_ALL=C keeps what is
# parsed here as written), its output without the CR of Windows line ends, and a call refused
# because a VM is locked by a session tried again, LOCK_TRIES times in all, with a pause
# doubling from 1 s.
vbm() {
    local attempt=1 pause=1 status err
    err="$(mktemp)"
    while :; do
        status=0
        LC_ALL=C "${VBOXMANAGE:-VBoxManage}" "$@" 2>"${err}" | tr -d '\r' || status=$?
        if ((status == 0 || attempt >= LOCK_TRIES)) || ! grep -Eq -- "${LOCKED}" "${err}"; then
            tr -d '\r' <"${err}" >&2
            rm -f -- "${err}"
            return "${status}"
        fi
        printf 'seed: VBoxManage %s: locked by a session, trying again in %ss\n' "$1" "${pause}" >&2
        sleep "${pause}"
        attempt=$((attempt + 1))
        pause=$((pause * 2))
    done
}
# A change: what VBoxManage says goes to stderr (stdout is what the stack reads back).
act() { vbm "$@" >&2; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }
# A path the way VirtualBox prints it back, to compare with: / as separator (C:\ as cygpath
# writes it where there is one), no doubled separators, no . or .. parts.
norm() {
    local path="${1//\\//}" part parts out=()
    if [[ "${path}" == [A-Za-z]:/* ]] && command -v cygpath >/dev/null; then
        path="$(cygpath -u -- "${path}")"
    fi
    IFS=/ read -ra parts <<<"${path}"
    for part in "${parts[@]}"; do
        case "${part}" in
        "" | .) ;;
        ..) ((${#out[@]} == 0)) || unset 'out[${#out[@]}-1]' ;;
        *) out+=("${part}") ;;
        esac
    done
    (IFS=/ && printf '/%s\n' "${out[*]}")
}
# Whether `VBoxManage list $1` has a "Location:" line naming the path $2. A failing VBoxManage
# stops the script instead of reading as "not there".
listed_path() {
    local out line want
    out="$(vbm list "$1")" || exit 1
    want="$(norm "$2")"
    while IFS= read -r line; do
        [[ "${line}" == Location:* ]] || continue
        line="${line#Location:}"
        [[ "$(norm "${line#"${line%%[![:space:]]*}"}")" == "${want}" ]] && return 0
    done <<<"${out}"
    return 1
}
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
