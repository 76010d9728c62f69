#!/usr/bin/env bash
# An internal snapshot of a libvirt domain (virsh snapshot-create-as), kept in its qcow2 disk.
#
# A running domain gets a full checkpoint (disk and memory: the guest is paused while its
# memory is saved); a shut-off one a disk snapshot. The snapshot lives inside the VM's own
# qcow2 file: with a backing-file disk (disk mode "backing") that is the overlay, so the shared
# base image is never written and every VM's snapshots stay its own.
# create: takes SNAPSHOT_NAME once. One already there with the same description is kept
#         (nothing is re-taken); one with another description is an error, since a snapshot's
#         definition never changes under its name. The domain must carry this stack's mark.
# delete: removes the snapshot (its data in the disk too) when the domain is this stack's;
#         nothing to do when the domain or the snapshot is gone.
#
# Usage: snapshot.sh create|delete
# Environment: LIBVIRT_URI (qemu:///system), DOMAIN_NAME, SNAPSHOT_NAME, OWNER,
#              DESCRIPTION (create, may be empty). DEFINITION and LIVE are not read: the
#              description is the one part of a definition that can differ here (the config
#              refuses live snapshots on libvirt: internal ones pause the guest).
set -euo pipefail

ACTION="${1:-create}"
LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
: "${DOMAIN_NAME:?}" "${SNAPSHOT_NAME:?}" "${OWNER:?}"

log() { printf '[snapshot %s/%s] %s\n' "${DOMAIN_NAME}" "${SNAPSHOT_NAME}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
virsh_() { virsh -q -c "${LIBVIRT_URI}" "$@"; }

exists() { virsh_ dominfo "${DOMAIN_NAME}" >/dev/null 2>&1; }
owner() {
    virsh_ dumpxml --inactive "${DOMAIN_NAME}" |
        xmllint --xpath "string(/domain/metadata/*[local-name()='owner'][namespace-uri()='http://cloudlabs.invalid/libvirt/1']/@stack)" - 2>/dev/null || true
}
taken() { virsh_ snapshot-info --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" >/dev/null 2>&1; }
description() {
    virsh_ snapshot-dumpxml --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" |
        xmllint --xpath 'string(/domainsnapshot/description)' - 2>/dev/null || true
}

create() {
    exists || die "no domain ${DOMAIN_NAME}"
    [[ "$(owner)" == "${OWNER}" ]] || die "the domain was not created by ${OWNER}"
    if taken; then
        [[ "$(description)" == "${DESCRIPTION:-}" ]] ||
            die "a snapshot of this name was taken with another description; a snapshot is never re-taken: give the changed snapshot a new name"
        log "already taken"
    else
        log "taking ($(virsh_ domstate "${DOMAIN_NAME}"))"
        local described=()
        # virsh refuses an empty option argument: no description is no --description.
        [[ -z "${DESCRIPTION:-}" ]] || described=(--description "${DESCRIPTION}")
        virsh_ snapshot-create-as --domain "${DOMAIN_NAME}" --name "${SNAPSHOT_NAME}" \
            "${described[@]}" --atomic >/dev/null
    fi
    echo "snapshot ${DOMAIN_NAME}/${SNAPSHOT_NAME}: $(virsh_ snapshot-info --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" | awk '$1 == "State:" {print $2}')"
}

delete() {
    if ! exists || ! taken; then
        log "already gone"
        return 0
    fi
    if [[ "$(owner)" != "${OWNER}" ]]; then
        log "the domain was not created by ${OWNER}: kept"
        return 0
    fi
    log "deleting"
    virsh_ snapshot-delete --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" >/dev/null
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
