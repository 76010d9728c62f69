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

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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
