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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${IMAGE:?set IMAGE to the repository:tag of the image}"

create() {
    docker image inspect --format '{{.Id}}' "${IMAGE}"
}

delete() {
    remove_tag "${IMAGE}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) usage ;;
esac
