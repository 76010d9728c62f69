#!/usr/bin/env bash
# The image a container is restored from: a snapshot's image, tagged for the restore.
#
# The container itself is re-created by the stack from the image id this prints, carrying the
# generation as a label; this script decides whether a restore happens at all.
# create: (also the update, with the previous run's output in PULUMI_COMMAND_STDOUT)
#         a GENERATION smaller than the one restored last is an error, and nothing changes;
#         the same GENERATION prints the previous output again (no restore); a first or larger
#         GENERATION tags SNAPSHOT_IMAGE as RESTORE_IMAGE. Prints "SNAPSHOT GENERATION IMAGE_ID"
#         of the restore in force. The snapshot must have been taken by an earlier `up`: the
#         container it came from is the one being re-created.
# delete: removes the RESTORE_IMAGE tag (the image too, when no other tag holds it).
#
# Usage: restore.sh create|delete
# Environment:
#   CONTAINER               the container being restored (for messages)
#   SNAPSHOT                the snapshot's name
#   SNAPSHOT_IMAGE          its image (repository:tag)
#   RESTORE_IMAGE           the tag the restored container runs from (required)
#   GENERATION              the restore's generation, a whole number from 1
#   PULUMI_COMMAND_STDOUT   what the previous run printed (set by pulumi-command)
set -euo pipefail

ACTION="${1:-create}"
: "${RESTORE_IMAGE:?set RESTORE_IMAGE to the tag the restored container runs from}"

die() {
    echo "ERROR: $*" >&2
    exit 1
}

create() {
    : "${CONTAINER:?}" "${SNAPSHOT:?}" "${SNAPSHOT_IMAGE:?}" "${GENERATION:?}"
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${GENERATION}" =~ ^[1-9][0-9]{0,8}$ ]] || die "GENERATION must be a whole number from 1"
    local previous_snapshot="" previous_generation=0 previous_image="" image_id
    read -r previous_snapshot previous_generation previous_image \
        <<<"${PULUMI_COMMAND_STDOUT:-} 0" || true
    [[ "${previous_generation}" =~ ^[0-9]{1,9}$ ]] || previous_generation=0
    if ((GENERATION < previous_generation)); then
        die "restore.generation of ${CONTAINER} went down from ${previous_generation} to" \
            "${GENERATION}: a restore happens when it grows; give ${previous_generation} or more"
    fi
    if ((GENERATION == previous_generation)) && [[ -n "${previous_image}" ]]; then
        echo "${CONTAINER} stays restored to ${previous_snapshot} (generation ${GENERATION})" >&2
        printf '%s %s %s\n' "${previous_snapshot}" "${previous_generation}" "${previous_image}"
        return 0
    fi
    image_id="$(docker image inspect --format '{{.Id}}' "${SNAPSHOT_IMAGE}" 2>/dev/null)" ||
        die "snapshot ${SNAPSHOT} of ${CONTAINER} (${SNAPSHOT_IMAGE}) does not exist: a restore" \
            "needs a snapshot taken by an earlier up"
    echo "restoring ${CONTAINER} to ${SNAPSHOT} (generation ${GENERATION})" >&2
    docker image tag "${image_id}" "${RESTORE_IMAGE}"
    printf '%s %s %s\n' "${SNAPSHOT}" "${GENERATION}" "${image_id}"
}

delete() {
    if ! docker image inspect "${RESTORE_IMAGE}" >/dev/null 2>&1; then
        echo "no ${RESTORE_IMAGE} to remove" >&2
        return 0
    fi
    # The restored container is gone by now (it depends on this command), or runs its own
    # image again (a removed restore re-creates it first). The image itself goes with its
    # last tag: the snapshot's tag, if it is still declared, keeps it.
    echo "removing ${RESTORE_IMAGE}" >&2
    docker image rm "${RESTORE_IMAGE}" >/dev/null
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*)
    echo "usage: $0 create|delete" >&2
    exit 2
    ;;
esac
