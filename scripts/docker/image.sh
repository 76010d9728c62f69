#!/usr/bin/env bash
# The clean-up of an image the engine built for the stack (the Docker provider keeps built
# images on `destroy`).
#
# create: prints the image's id (the image exists: the provider built it).
# delete: removes the tag (the engine forgets the image when no other tag uses it); nothing to
#         do when the tag is already gone.
#
# Usage: image.sh create|delete
# Environment:
#   IMAGE   repository:tag of the image (required)
set -euo pipefail

ACTION="${1:-create}"
: "${IMAGE:?set IMAGE to the repository:tag of the image}"

create() {
    docker image inspect --format '{{.Id}}' "${IMAGE}"
}

delete() {
    if ! docker image inspect "${IMAGE}" >/dev/null 2>&1; then
        echo "${IMAGE} is already gone" >&2
        return 0
    fi
    echo "removing ${IMAGE}" >&2
    docker image rm "${IMAGE}" >/dev/null
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*)
    echo "usage: $0 create|delete" >&2
    exit 2
    ;;
esac
