#!/usr/bin/env bash
# A VM's system disk, made from the base image: a qcow2 overlay whose backing file is the
# base (DISK_MODE=backing) or a full copy (DISK_MODE=copy), of DISK_SIZE_GIB GiB.
#
# The disk is marked as this stack's by the file DISK_PATH.cloudlabs holding OWNER.
# create: makes a missing disk; grows a disk of this stack that is smaller than asked (its
#         internal snapshots keep their own size); a disk larger than asked is an error, since
#         a disk never shrinks (the guest's file system would be cut); a disk not created by
#         this stack is an error. The disk of a running domain (DOMAIN_NAME) is grown live
#         (`virsh blockresize`): QEMU holds its image; the guest sees the new size at once.
# delete: removes the disk and its mark, only when they are this stack's.
#
# Usage: disk.sh create|delete
# Environment: DISK_PATH, BASE_PATH, DISK_SIZE_GIB, DISK_MODE (backing|copy), OWNER,
#              DOMAIN_NAME (the VM using the disk), LIBVIRT_URI (qemu:///system)
set -euo pipefail

ACTION="${1:-create}"
: "${DISK_PATH:?}" "${OWNER:?}"
MARK="${DISK_PATH}.cloudlabs"

log() { printf '[disk %s] %s\n' "${DISK_PATH}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
# in_use: the disk's domain is running (QEMU holds the image).
in_use() {
    [[ -n "${DOMAIN_NAME:-}" ]] &&
        [[ "$(virsh -q -c "${LIBVIRT_URI}" domstate "${DOMAIN_NAME}" 2>/dev/null)" == "running" ]]
}
ours() { [[ -f "${MARK}" ]] && [[ "$(head -n 1 "${MARK}")" == "${OWNER}" ]]; }

# info_field FILE FIELD: a top-level field of `qemu-img info --output=json` (numbers and
# strings). Only the image's own fields, indented by exactly four spaces: QEMU 8 and later list
# the protocol node first ("children"), with its own "format": "file" and "virtual-size".
info_field() {
    qemu-img info -U --output=json "$1" |
        sed -n "s/^    \"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n 1
}

# virtual_size FILE: the image's size in bytes as the guest sees it.
virtual_size() {
    local size
    size="$(info_field "$1" virtual-size)"
    [[ "${size}" =~ ^[0-9]+$ ]] || die "cannot read the virtual size of $1"
    printf '%s\n' "${size}"
}

create() {
    : "${BASE_PATH:?}" "${DISK_SIZE_GIB:?}"
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${DISK_SIZE_GIB}" =~ ^[1-9][0-9]{0,5}$ ]] || die "DISK_SIZE_GIB must be a whole number of GiB"
    local want=$((DISK_SIZE_GIB * 1024 * 1024 * 1024)) size
    if [[ -e "${DISK_PATH}" ]]; then
        ours || die "exists and was not created by ${OWNER}; remove it or choose another storage directory"
        size="$(virtual_size "${DISK_PATH}")"
        if ((size > want)); then
            die "the disk holds $((size / 1024 / 1024 / 1024)) GiB, more than the ${DISK_SIZE_GIB} GiB asked: a disk cannot shrink; ask for $(((size + 1073741823) / 1073741824)) GiB or more"
        fi
        if ((size < want)); then
            if in_use; then
                log "growing to ${DISK_SIZE_GIB} GiB while ${DOMAIN_NAME} runs"
                virsh -q -c "${LIBVIRT_URI}" blockresize "${DOMAIN_NAME}" "${DISK_PATH}" \
                    "${DISK_SIZE_GIB}G" >/dev/null
            else
                log "growing to ${DISK_SIZE_GIB} GiB"
                qemu-img resize "${DISK_PATH}" "${DISK_SIZE_GIB}G" >/dev/null
            fi
        fi
        echo "disk ${DISK_PATH}: ready"
        return 0
    fi
    [[ -r "${BASE_PATH}" ]] || die "base image ${BASE_PATH} not found"
    local base_format base_size
    base_format="$(info_field "${BASE_PATH}" format)"
    base_size="$(virtual_size "${BASE_PATH}")"
    ((base_size <= want)) ||
        die "the base image is ${base_size} bytes, larger than the ${DISK_SIZE_GIB} GiB asked"
    mkdir -p "$(dirname "${DISK_PATH}")"
    case "${DISK_MODE:-backing}" in
    backing)
        log "creating a ${DISK_SIZE_GIB} GiB overlay of ${BASE_PATH}"
        qemu-img create -q -f qcow2 -F "${base_format}" -b "${BASE_PATH}" "${DISK_PATH}.part" \
            "${DISK_SIZE_GIB}G"
        ;;
    copy)
        log "copying ${BASE_PATH} (${DISK_SIZE_GIB} GiB)"
        qemu-img convert -O qcow2 "${BASE_PATH}" "${DISK_PATH}.part"
        qemu-img resize -q "${DISK_PATH}.part" "${DISK_SIZE_GIB}G"
        ;;
    *) die "DISK_MODE must be backing or copy" ;;
    esac
    printf '%s\n' "${OWNER}" >"${MARK}"
    mv "${DISK_PATH}.part" "${DISK_PATH}"
    echo "disk ${DISK_PATH}: created"
}

delete() {
    if ours; then
        log "removing"
        rm -f "${DISK_PATH}" "${DISK_PATH}.part" "${MARK}"
    elif [[ -e "${DISK_PATH}" ]]; then
        log "not created by ${OWNER}: kept"
    fi
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
