#!/usr/bin/env bash
# A snapshot of a container as an image (`docker commit`).
#
# create: runs the optional preparation command inside the container, then commits it; prints
#         the snapshot's image id (only that) on stdout. When IMAGE already is a snapshot of
#         this very container, it is reused. A declared snapshot (DEFINITION set) is taken
#         once: an IMAGE carrying the same definition is reused whatever container it came
#         from, one carrying another definition is an error (a snapshot is never re-taken
#         under the same name).
# delete: removes the snapshot image: its tag, then the image itself. A tag that was moved to
#         another image in the meantime is left alone; only the snapshot that create took is
#         removed. Nothing to do when the image is already gone.
#
# Usage: snapshot.sh create|delete
# Environment:
#   IMAGE                   repository:tag of the snapshot (required)
#   CONTAINER               create: name or id of the container to commit (required)
#   PREPARE                 create, optional: shell command run inside the container first
#   DEFINITION              create, optional: the declared snapshot's definition (a digest)
#   DESCRIPTION             create, optional: the commit message
#   LIVE                    create, optional: 1 = commit without pausing the container
#   APT_MIRROR, APT_MIRROR_KEY, APT_MIRROR_TRUSTED
#                           create, optional: the package mirror, passed to PREPARE's
#                           environment (docker/apt-update.sh reads them)
#   PULUMI_COMMAND_STDOUT   delete, optional: the image id create printed (set by
#                           pulumi-command; without it, the image IMAGE points at is removed)
set -euo pipefail

ACTION="${1:-create}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${IMAGE:?set IMAGE to the repository:tag of the snapshot}"
LABEL_KEY=org.cloudlabs.snapshot-of
DEFINITION_KEY=org.cloudlabs.snapshot-definition

# label KEY: the label KEY of the image IMAGE, empty without one (or without the image).
label() {
    docker image inspect \
        --format "{{with .Config.Labels}}{{index . \"$1\"}}{{end}}" "${IMAGE}" \
        2>/dev/null || true
}

create() {
    local container_id taken_from defined pause=true
    : "${CONTAINER:?set CONTAINER to the container to snapshot}"
    container_id="$(docker container inspect --format '{{.Id}}' "${CONTAINER}")"

    if [[ -n "${DEFINITION:-}" ]]; then
        defined="$(label "${DEFINITION_KEY}")"
        if [[ "${defined}" == "${DEFINITION}" ]]; then
            echo "${IMAGE} already is this snapshot" >&2
            docker image inspect --format '{{.Id}}' "${IMAGE}"
            return 0
        fi
        if [[ -n "${defined}" ]]; then
            echo "ERROR: ${IMAGE} was taken with another definition (description, live);" \
                "a snapshot is never re-taken: give the changed snapshot a new name" >&2
            exit 1
        fi
    fi
    [[ "${LIVE:-0}" == 1 ]] && pause=false

    taken_from="$(label "${LABEL_KEY}")"
    if [[ -z "${DEFINITION:-}" && "${taken_from}" == "${container_id}" ]]; then
        echo "${IMAGE} already is a snapshot of ${CONTAINER}" >&2
        docker image inspect --format '{{.Id}}' "${IMAGE}"
        return 0
    fi

    if [[ -n "${PREPARE:-}" ]]; then
        local name env=()
        for name in APT_MIRROR APT_MIRROR_KEY APT_MIRROR_TRUSTED; do
            if [[ -n "${!name:-}" ]]; then
                env+=(--env "${name}=${!name}")
            fi
        done
        echo "running in ${CONTAINER} before the snapshot: ${PREPARE}" >&2
        docker exec "${env[@]}" "${CONTAINER}" /bin/sh -c "${PREPARE}" >&2
    fi

    echo "committing ${CONTAINER} as ${IMAGE}" >&2
    docker container commit \
        --pause="${pause}" \
        --change "LABEL ${LABEL_KEY}=${container_id}" \
        --change "LABEL ${DEFINITION_KEY}=${DEFINITION:-}" \
        --message "${DESCRIPTION:-snapshot of ${CONTAINER}}" \
        "${CONTAINER}" "${IMAGE}" >/dev/null
    docker image inspect --format '{{.Id}}' "${IMAGE}"
}

delete() {
    local snapshot_id tagged_id tags
    snapshot_id="${PULUMI_COMMAND_STDOUT:-}"
    snapshot_id="${snapshot_id//[[:space:]]/}"
    tagged_id="$(docker image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
    if [[ -z "${snapshot_id}" ]]; then
        snapshot_id="${tagged_id}"
    fi
    if [[ -z "${snapshot_id}" ]] || ! docker image inspect "${snapshot_id}" >/dev/null 2>&1; then
        echo "no snapshot image to remove for ${IMAGE}" >&2
        return 0
    fi

    if [[ "${tagged_id}" == "${snapshot_id}" ]]; then
        echo "removing ${IMAGE} (${snapshot_id})" >&2
        docker image rm "${IMAGE}" >/dev/null
    fi
    if docker image inspect "${snapshot_id}" >/dev/null 2>&1; then
        tags="$(docker image inspect --format '{{len .RepoTags}}' "${snapshot_id}")"
        if [[ "${tags}" == 0 ]]; then
            docker image rm "${snapshot_id}" >/dev/null
        else
            echo "${snapshot_id} has other tags; left in place" >&2
        fi
    fi
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) usage ;;
esac
