#!/usr/bin/env bash
# A VirtualBox snapshot of a VM (VBoxManage snapshot take), taken once.
#
# The VM is the stack's own: this runs after vm.sh, which refuses a VM it did not make. The
# snapshot's mark is the VM's extra data key cloudlabs/snapshot/<name>, holding its definition.
# create: takes SNAPSHOT_NAME (with --live when LIVE=1: the VM keeps running; otherwise a
#         running VM is paused while its state is saved) and marks it. A snapshot already
#         there with the same definition is kept (nothing is re-taken); one with another
#         definition, or without the mark, is an error: a definition never changes under its
#         name.
# delete: deletes the snapshot (VirtualBox merges its differencing disks, also while the VM
#         runs) and its mark; nothing to do when the VM or the snapshot is gone, and a snapshot
#         without the mark is left alone.
#
# Usage: snapshot.sh create|delete
# Environment:
#   VM_NAME        the VM's name in VirtualBox
#   SNAPSHOT_NAME  the snapshot's name
#   DEFINITION     the snapshot's definition (a digest of name, description and live)
#   DESCRIPTION    create: the snapshot's description (may be empty)
#   LIVE           create: 1 to take it without pausing the VM
#   VBOXMANAGE     the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${VM_NAME:?VM_NAME is required}"
snapshot="${SNAPSHOT_NAME:?SNAPSHOT_NAME is required}"
key="cloudlabs/snapshot/${snapshot}"

# Whether the VM has a snapshot of that name (`snapshot list` fails on a VM without any).
taken() {
    local out
    out="$(vbm snapshot "${name}" list --machinereadable 2>/dev/null)" || return 1
    awk -v want="\"${snapshot}\"" -F= '$1 ~ /^SnapshotName(-[0-9]+)*$/ && $2 == want { found = 1 }
        END { exit !found }' <<<"${out}"
}
# The snapshot's mark: its definition, empty without one.
mark() { vbm getextradata "${name}" "${key}" | sed -n 's/^Value: //p'; }

create() {
    local options=()
    : "${DEFINITION:?DEFINITION is required}"
    vbm showvminfo "${name}" --machinereadable >/dev/null || die "no VM named ${name}"
    if taken; then
        [[ "$(mark)" == "${DEFINITION}" ]] ||
            die "${name} has a snapshot ${snapshot} taken with another definition (or not by this stack); a snapshot is never re-taken: give the changed snapshot a new name"
        printf 'snapshot: %s of %s already taken\n' "${snapshot}" "${name}" >&2
    else
        [[ -n "${DESCRIPTION:-}" ]] && options+=(--description "${DESCRIPTION}")
        [[ "${LIVE:-0}" == 1 ]] && options+=(--live)
        act snapshot "${name}" take "${snapshot}" "${options[@]}"
        act setextradata "${name}" "${key}" "${DEFINITION}"
    fi
    printf 'snapshot %s/%s\n' "${name}" "${snapshot}"
}

delete() {
    if ! vbm showvminfo "${name}" --machinereadable >/dev/null 2>&1 || ! taken; then
        printf 'snapshot: %s of %s already gone\n' "${snapshot}" "${name}" >&2
        return 0
    fi
    if [[ -z "$(mark)" ]]; then
        printf 'snapshot: %s of %s was not taken by this stack: kept\n' "${snapshot}" "${name}" >&2
        return 0
    fi
    act snapshot "${name}" delete "${snapshot}"
    act setextradata "${name}" "${key}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
