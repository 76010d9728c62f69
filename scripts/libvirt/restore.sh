#!/usr/bin/env bash
# Revert a libvirt domain to one of its snapshots (virsh snapshot-revert), once per generation.
#
# create: (also the update, with the previous run's output in PULUMI_COMMAND_STDOUT)
#         a GENERATION smaller than the one restored last is an error, and nothing changes;
#         the same GENERATION prints the previous output again (no revert; another
#         snapshot at the same generation is an error); a first or larger
#         one reverts the domain to SNAPSHOT_NAME, started again when it was running (a
#         snapshot of a running domain comes back running anyway, with its memory). Prints
#         "SNAPSHOT_NAME GENERATION", the restore in force. The domain must carry this stack's
#         mark. There is nothing to delete: the snapshot's own delete removes it.
#
# Usage: restore.sh create
# Environment: LIBVIRT_URI (qemu:///system), DOMAIN_NAME, SNAPSHOT_NAME, GENERATION, OWNER,
#              PULUMI_COMMAND_STDOUT (set by pulumi-command)
set -euo pipefail

ACTION="${1:-create}"
LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
: "${DOMAIN_NAME:?}" "${SNAPSHOT_NAME:?}" "${GENERATION:?}" "${OWNER:?}"

log() { printf '[restore %s] %s\n' "${DOMAIN_NAME}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
virsh_() { virsh -q -c "${LIBVIRT_URI}" "$@"; }
owner() {
    virsh_ dumpxml --inactive "${DOMAIN_NAME}" |
        xmllint --xpath "string(/domain/metadata/*[local-name()='owner'][namespace-uri()='http://cloudlabs.invalid/libvirt/1']/@stack)" - 2>/dev/null || true
}

create() {
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${GENERATION}" =~ ^[1-9][0-9]{0,8}$ ]] || die "GENERATION must be a whole number from 1"
    local previous=() previous_snapshot="" previous_generation=0 state
    read -ra previous <<<"${PULUMI_COMMAND_STDOUT:-}" || true
    previous_snapshot="${previous[0]:-}"
    previous_generation="${previous[1]:-0}"
    [[ "${previous_generation}" =~ ^[0-9]{1,9}$ ]] || previous_generation=0
    if ((GENERATION < previous_generation)); then
        die "restore.generation went down from ${previous_generation} to ${GENERATION}: a restore happens when it grows; give ${previous_generation} or more"
    fi
    if ((GENERATION == previous_generation)); then
        [[ "${previous_snapshot}" == "${SNAPSHOT_NAME}" ]] ||
            die "restore.snapshot changed from ${previous_snapshot} to ${SNAPSHOT_NAME} at the same generation: raise restore.generation to restore it"
        log "stays restored to ${previous_snapshot} (generation ${GENERATION})"
        printf '%s %s\n' "${previous_snapshot}" "${GENERATION}"
        return 0
    fi
    [[ "$(owner)" == "${OWNER}" ]] || die "the domain was not created by ${OWNER}"
    state="$(virsh_ domstate "${DOMAIN_NAME}")"
    log "reverting to ${SNAPSHOT_NAME} (generation ${GENERATION}; the domain is ${state})"
    if [[ "${state}" == "running" ]]; then
        virsh_ snapshot-revert --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" --running >/dev/null
    else
        virsh_ snapshot-revert --domain "${DOMAIN_NAME}" --snapshotname "${SNAPSHOT_NAME}" >/dev/null
    fi
    printf '%s %s\n' "${SNAPSHOT_NAME}" "${GENERATION}"
}

case "${ACTION}" in
create) create ;;
*) die "usage: $0 create (a restore has nothing to delete)" ;;
esac
