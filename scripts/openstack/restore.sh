#!/usr/bin/env bash
# Restore an OpenStack server from one of its snapshot images, once per generation.
#
# MODE=rebuild: the server is rebuilt from the image (openstack server rebuild --wait): the
#   same server, port, fixed IP and floating IP. MODE=replace: only the image is looked up;
#   the stack boots a replacement server from the id printed, on the same port (so the fixed
#   and floating IPs stay).
# create: (also the update, with the previous run's output in PULUMI_COMMAND_STDOUT)
#         a GENERATION smaller than the one restored last is an error, and nothing changes;
#         the same one prints the previous output again (another snapshot at the same
#         generation is an error); a first or larger one restores. Prints
#         "SNAPSHOT GENERATION IMAGE_ID". There is nothing to delete.
# The credentials are the standard OS_* variables; nothing here prints them.
#
# Usage: restore.sh create
# Environment:
#   SNAPSHOT                the snapshot's name
#   IMAGE_NAME              its image's name
#   GENERATION              the restore's generation, a whole number from 1
#   MODE                    rebuild or replace
#   SERVER_ID               MODE=rebuild: the server to rebuild
#   PULUMI_COMMAND_STDOUT   what the previous run printed (set by pulumi-command)
#   OS_*                    the OpenStack credentials
set -euo pipefail

ACTION="${1:-create}"
: "${SNAPSHOT:?}" "${IMAGE_NAME:?}" "${GENERATION:?}" "${MODE:?}"

die() {
    echo "ERROR: $*" >&2
    exit 1
}

create() {
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${GENERATION}" =~ ^[1-9][0-9]{0,8}$ ]] || die "GENERATION must be a whole number from 1"
    local previous=() previous_generation image
    read -ra previous <<<"${PULUMI_COMMAND_STDOUT:-}" || true
    previous_generation="${previous[1]:-0}"
    [[ "${previous_generation}" =~ ^[0-9]{1,9}$ ]] || previous_generation=0
    if ((GENERATION < previous_generation)); then
        die "restore.generation went down from ${previous_generation} to ${GENERATION}: a restore happens when it grows; give ${previous_generation} or more"
    fi
    if ((GENERATION == previous_generation)); then
        [[ "${previous[0]}" == "${SNAPSHOT}" ]] ||
            die "restore.snapshot changed from ${previous[0]} to ${SNAPSHOT} at the same generation: raise restore.generation to restore it"
        echo "stays restored to ${SNAPSHOT} (generation ${GENERATION})" >&2
        printf '%s\n' "${PULUMI_COMMAND_STDOUT}"
        return 0
    fi
    image="$(openstack image show "${IMAGE_NAME}" -f value -c id)" ||
        die "no image ${IMAGE_NAME}: a restore needs its snapshot taken first"
    case "${MODE}" in
    rebuild)
        : "${SERVER_ID:?}"
        echo "rebuilding server ${SERVER_ID} from ${IMAGE_NAME} (generation ${GENERATION})" >&2
        openstack server rebuild --image "${image}" --wait "${SERVER_ID}" >&2
        ;;
    replace) echo "a replacement server boots from ${IMAGE_NAME} (generation ${GENERATION})" >&2 ;;
    *) die "MODE must be rebuild or replace" ;;
    esac
    printf '%s %s %s\n' "${SNAPSHOT}" "${GENERATION}" "${image}"
}

case "${ACTION}" in
create) create ;;
*) die "usage: $0 create (a restore has nothing to delete)" ;;
esac
