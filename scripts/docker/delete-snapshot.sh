#!/usr/bin/env bash
# Remove a snapshot image made by commit-snapshot.sh: its tag, then the image itself.
#
# Idempotent: nothing to do when the image is already gone. A tag that was moved to another
# image in the meantime is left alone; only the snapshot taken by commit-snapshot.sh is removed.
#
# Environment:
#   IMAGE                   repository:tag of the snapshot (required)
#   PULUMI_COMMAND_STDOUT   the image id commit-snapshot.sh printed (optional: set by
#                           pulumi-command; without it, the image IMAGE points at is removed)
set -euo pipefail

: "${IMAGE:?set IMAGE to the repository:tag of the snapshot}"

snapshot_id="${PULUMI_COMMAND_STDOUT:-}"
snapshot_id="${snapshot_id//[[:space:]]/}"
tagged_id="$(docker image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
if [[ -z "${snapshot_id}" ]]; then
    snapshot_id="${tagged_id}"
fi
if [[ -z "${snapshot_id}" ]] || ! docker image inspect "${snapshot_id}" >/dev/null 2>&1; then
    echo "no snapshot image to remove for ${IMAGE}" >&2
    exit 0
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
