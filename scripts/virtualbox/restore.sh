#!/usr/bin/env bash
# Restore a VirtualBox VM to one of its snapshots (VBoxManage snapshot restore), once per
# generation.
#
# create: (also the update, with the previous run's output in PULUMI_COMMAND_STDOUT)
#         a GENERATION smaller than the one restored last is an error, and nothing changes;
#         the same GENERATION prints the previous output again (nothing is restored;
#         another snapshot at the same generation is an error); a first
#         or larger one restores SNAPSHOT_NAME: VirtualBox restores only a VM that is not
#         running, so a running (or paused) VM is powered off first (its current state is
#         discarded anyway) and started again afterwards, headless. Prints
#         "SNAPSHOT_NAME GENERATION", the restore in force. There is nothing to delete.
#
# Usage: restore.sh create
# Environment:
#   VM_NAME                 the VM's name in VirtualBox
#   SNAPSHOT_NAME           the snapshot to restore
#   GENERATION              the restore's generation, a whole number from 1
#   PULUMI_COMMAND_STDOUT   what the previous run printed (set by pulumi-command)
#   VM_SETTLE_TIMEOUT       seconds to wait for a VM in a passing state (default 60)
#   VBOXMANAGE              the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${VM_NAME:?VM_NAME is required}"
snapshot="${SNAPSHOT_NAME:?SNAPSHOT_NAME is required}"
generation="${GENERATION:?GENERATION is required}"

state() {
    vbm showvminfo "${name}" --machinereadable | sed -n 's/^VMState="\(.*\)"$/\1/p'
}
# The VM's state once it is one VirtualBox stays in, waiting at most VM_SETTLE_TIMEOUT seconds.
settled() {
    local now waited=0 limit="${VM_SETTLE_TIMEOUT:-60}"
    now="$(state)"
    while ! [[ "${now}" =~ ^(running|paused|gurumeditation|poweroff|aborted|saved|aborted-saved)$ ]] &&
        ((waited < limit)); do
        sleep 1
        waited=$((waited + 1))
        now="$(state)"
    done
    printf '%s\n' "${now}"
}

create() {
    local previous=() previous_snapshot="" previous_generation=0 was
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${generation}" =~ ^[1-9][0-9]{0,8}$ ]] || die "GENERATION must be a whole number from 1"
    read -ra previous <<<"${PULUMI_COMMAND_STDOUT:-}" || true
    previous_snapshot="${previous[0]:-}"
    previous_generation="${previous[1]:-0}"
    [[ "${previous_generation}" =~ ^[0-9]{1,9}$ ]] || previous_generation=0
    if ((generation < previous_generation)); then
        die "restore.generation of ${name} went down from ${previous_generation} to ${generation}: a restore happens when it grows; give ${previous_generation} or more"
    fi
    if ((generation == previous_generation)); then
        [[ "${previous_snapshot}" == "${snapshot}" ]] ||
            die "restore.snapshot changed from ${previous_snapshot} to ${snapshot} at the same generation: raise restore.generation to restore it"
        printf 'restore: %s stays restored to %s (generation %s)\n' "${name}" "${previous_snapshot}" "${generation}" >&2
        printf '%s %s\n' "${previous_snapshot}" "${generation}"
        return 0
    fi
    was="$(settled)"
    if [[ "${was}" =~ ^(running|paused|gurumeditation)$ ]]; then
        act controlvm "${name}" poweroff || true
        [[ "$(settled)" =~ ^(poweroff|aborted)$ ]] || die "${name} did not power off"
    fi
    # The lock of the powered-off VM's session may still be held a moment: vbm tries again.
    act snapshot "${name}" restore "${snapshot}"
    if [[ "${was}" =~ ^(running|paused|gurumeditation)$ ]]; then
        act startvm "${name}" --type headless
    fi
    printf '%s %s\n' "${snapshot}" "${generation}"
}

case "${ACTION}" in
create) create ;;
*) die "usage: $0 create (a restore has nothing to delete)" ;;
esac
