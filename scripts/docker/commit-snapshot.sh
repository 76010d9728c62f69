#!/usr/bin/env bash
# Take a snapshot of a container as an image (`docker commit`), after running an optional
# preparation command inside the container. Prints the snapshot's image id (only that) on stdout.
#
# Idempotent: when IMAGE already is a snapshot of this very container, it is reused.
#
# Environment:
#   CONTAINER   name or id of the container to commit (required)
#   IMAGE       repository:tag given to the snapshot (required)
#   PREPARE     shell command run inside the container before the commit (optional)
set -euo pipefail

: "${CONTAINER:?set CONTAINER to the container to snapshot}"
: "${IMAGE:?set IMAGE to the repository:tag of the snapshot}"
LABEL_KEY=org.cloudlabs.snapshot-of

container_id="$(docker container inspect --format '{{.Id}}' "${CONTAINER}")"

taken_from="$(docker image inspect \
    --format "{{with .Config.Labels}}{{index . \"${LABEL_KEY}\"}}{{end}}" "${IMAGE}" \
    2>/dev/null || true)"
if [[ "${taken_from}" == "${container_id}" ]]; then
    echo "${IMAGE} already is a snapshot of ${CONTAINER}" >&2
    docker image inspect --format '{{.Id}}' "${IMAGE}"
    exit 0
fi

if [[ -n "${PREPARE:-}" ]]; then
    echo "running in ${CONTAINER} before the snapshot: ${PREPARE}" >&2
    docker exec "${CONTAINER}" /bin/sh -c "${PREPARE}" >&2
fi

echo "committing ${CONTAINER} as ${IMAGE}" >&2
docker container commit \
    --change "LABEL ${LABEL_KEY}=${container_id}" \
    --message "snapshot of ${CONTAINER}" \
    "${CONTAINER}" "${IMAGE}" >/dev/null
docker image inspect --format '{{.Id}}' "${IMAGE}"
