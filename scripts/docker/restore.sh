#!/usr/bin/env bash
# The image a container is restored from: a snapshot's image, tagged for the restore.
#
# The container itself is re-created by the stack from the image id this prints, carrying the
# generation as a label; this script decides whether a restore happens at all.
# create: (also the update) the generation restored last is the label GENERATION_LABEL of the
#         container as the previous `up` left it: a smaller GENERATION is an error, and nothing
#         changes; the same one changes nothing (another snapshot at the same generation is an
#         error); a first or larger one tags SNAPSHOT_IMAGE as RESTORE_IMAGE. Prints the image
#         id the container is to run (only that). The snapshot must have been taken by an
#         earlier `up`: the container it came from is the one being re-created.
# delete: removes the RESTORE_IMAGE tag (the image too, when no other tag holds it).
#
# Usage: restore.sh create|delete
# Environment:
#   CONTAINER               the container being restored (for messages)
#   SNAPSHOT                the snapshot's name
#   SNAPSHOT_IMAGE          its image (repository:tag)
#   RESTORE_IMAGE           the tag the restored container runs from (required)
#   GENERATION              the restore's generation, a whole number from 1
set -euo pipefail

ACTION="${1:-create}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GENERATION_LABEL=org.cloudlabs.restore-generation
: "${RESTORE_IMAGE:?set RESTORE_IMAGE to the tag the restored container runs from}"

die() {
    echo "ERROR: $*" >&2
    exit 1
}

create() {
    : "${CONTAINER:?}" "${SNAPSHOT:?}" "${SNAPSHOT_IMAGE:?}" "${GENERATION:?}"
    # Checked before any arithmetic: bash would evaluate an expression hidden in the value.
    [[ "${GENERATION}" =~ ^[1-9][0-9]{0,8}$ ]] || die "GENERATION must be a whole number from 1"
    local previous image_id restored_id
    previous="$(docker container inspect --format \
        "{{with .Config.Labels}}{{index . \"${GENERATION_LABEL}\"}}{{end}}" "${CONTAINER}" \
        2>/dev/null || true)"
    [[ "${previous}" =~ ^[0-9]{1,9}$ ]] || previous=0
    if ((GENERATION < previous)); then
        die "restore.generation of ${CONTAINER} went down from ${previous} to ${GENERATION}:" \
            "a restore happens when it grows; give ${previous} or more"
    fi
    image_id="$(docker image inspect --format '{{.Id}}' "${SNAPSHOT_IMAGE}" 2>/dev/null)" ||
        die "snapshot ${SNAPSHOT} of ${CONTAINER} (${SNAPSHOT_IMAGE}) does not exist: a restore" \
            "needs a snapshot taken by an earlier up"
    if ((GENERATION == previous)); then
        restored_id="$(docker image inspect --format '{{.Id}}' "${RESTORE_IMAGE}" 2>/dev/null || true)"
        [[ "${restored_id}" == "${image_id}" ]] ||
            die "restore.snapshot of ${CONTAINER} changed to ${SNAPSHOT} at the same generation" \
                "${GENERATION}: raise restore.generation to restore it"
        echo "${CONTAINER} stays restored to ${SNAPSHOT} (generation ${GENERATION})" >&2
        printf '%s\n' "${image_id}"
        return 0
    fi
    echo "restoring ${CONTAINER} to ${SNAPSHOT} (generation ${GENERATION})" >&2
    docker image tag "${image_id}" "${RESTORE_IMAGE}"
    printf '%s\n' "${image_id}"
}

delete() {
    # The restored container is gone by now (it depends on this command), or runs its own
    # image again (a removed restore re-creates it first). The image itself goes with its
    # last tag: the snapshot's tag, if it is still declared, keeps it.
    remove_tag "${RESTORE_IMAGE}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) usage ;;
esac
