#!/usr/bin/env bash
# Remove a locally built image tag (the engine forgets the image when no other tag uses it).
# The Docker provider leaves built images in place on `destroy`; this is their delete.
#
# Idempotent: nothing to do when the tag is already gone.
#
# Environment:
#   IMAGE   repository:tag of the image (required)
set -euo pipefail

: "${IMAGE:?set IMAGE to the repository:tag to remove}"

if ! docker image inspect "${IMAGE}" >/dev/null 2>&1; then
    echo "${IMAGE} is already gone" >&2
    exit 0
fi
echo "removing ${IMAGE}" >&2
docker image rm "${IMAGE}" >/dev/null
