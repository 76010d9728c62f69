#!/usr/bin/env bash
# A VirtualBox disk (VDI), cloned from a cloud image or from another disk of the stack.
#
# create: clones DISK_SOURCE (downloaded from DISK_SOURCE_URL first when it is missing) to
#         DISK_PATH, then grows it to DISK_SIZE_MB. A disk already registered at DISK_PATH is
#         kept (and grown if too small); a disk never shrinks.
# delete: unregisters the disk and removes its file.
#
# Usage: disk.sh create|delete
# Environment:
#   DISK_PATH        the disk (a leading ~/ means the home directory)
#   DISK_SOURCE      create: the disk or cloud image (VMDK/VDI/VHD) to clone
#   DISK_SOURCE_URL  create, optional: where to download DISK_SOURCE from when it is missing
#   DISK_SOURCE_KIND create: "image" (an outside file: left unregistered after the clone) or "disk"
#   DISK_SIZE_MB     create: the disk's size in MB; 0 keeps the source's size
#   VBOXMANAGE       the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"

# What VBoxManage says when a session holds a VM the disk is attached to.
LOCKED='already locked for a session|already locked by a session|lock request pending'
LOCK_TRIES=5

die() { printf 'disk: %s\n' "$*" >&2; exit 1; }
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
        printf 'disk: VBoxManage %s: locked by a session, trying again in %ss\n' "$1" "${pause}" >&2
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
registered() { listed_path hdds "$1"; }

disk="$(expand "${DISK_PATH:?DISK_PATH is required}")"

create() {
    local source size was_registered current
    source="$(expand "${DISK_SOURCE:?DISK_SOURCE is required}")"
    size="${DISK_SIZE_MB:-0}"
    [[ "${size}" =~ ^[0-9]+$ ]] || die "DISK_SIZE_MB must be a number of MB (got '${size}')"

    if ! registered "${disk}"; then
        [[ ! -e "${disk}" ]] || die "${disk} exists but VirtualBox does not know it; move it away"
        if [[ ! -f "${source}" ]]; then
            [[ -n "${DISK_SOURCE_URL:-}" ]] || die "source image ${source} not found (set its URL to download it)"
            mkdir -p "$(dirname -- "${source}")"
            curl -fL --retry 3 -o "${source}.part" -- "${DISK_SOURCE_URL}"
            mv -- "${source}.part" "${source}"
        fi
        was_registered=no
        if registered "${source}"; then was_registered=yes; fi
        mkdir -p "$(dirname -- "${disk}")"
        act clonemedium disk "${source}" "${disk}" --format VDI
        if [[ "${DISK_SOURCE_KIND:-image}" == image && "${was_registered}" == no ]]; then
            act closemedium disk "${source}"
        fi
    fi

    if ((size > 0)); then
        current="$(vbm showmediuminfo disk "${disk}" | sed -n 's/^Capacity:[[:space:]]*\([0-9]*\) MBytes.*/\1/p')"
        [[ -n "${current}" ]] || die "could not read the capacity of ${disk}"
        if ((current < size)); then
            act modifymedium disk "${disk}" --resize "${size}"
        elif ((current > size)); then
            die "${disk} holds ${current} MB (at least its source's virtual size), more than the ${size} MB asked: a disk cannot shrink; ask for ${current} MB or more"
        fi
    fi
    printf '%s\n' "${disk}"
}

delete() {
    if registered "${disk}"; then
        act closemedium disk "${disk}" --delete
    fi
    rm -f -- "${disk}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
