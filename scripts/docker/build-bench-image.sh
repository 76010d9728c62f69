#!/usr/bin/env bash
# Build the benchmark tools' image layer (docker/bench/Dockerfile) on top of a base image: the
# Debian packages of bench/packages.txt, from the base image's apt mirror or APT_MIRROR.
# Prints the image tag (only that) on stdout. Idempotent: Docker's layer cache makes a rebuild
# of unchanged inputs a no-op.
#
# Environment (all optional):
#   IMAGE        tag to build (cloudlabs/bench:bookworm)
#   BASE_IMAGE   image the layer goes on (cloudlabs/base:bookworm)
#   APT_MIRROR   Debian/Ubuntu mirror URL used inside the build (default: the image's own)
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${IMAGE:-cloudlabs/bench:bookworm}"
BASE_IMAGE="${BASE_IMAGE:-cloudlabs/base:bookworm}"
packages="$(grep -v '^[[:space:]]*#' bench/packages.txt | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')"
start="$(date +%s)"
DOCKER_BUILDKIT=0 docker build --quiet \
    --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
    --build-arg "APT_MIRROR=${APT_MIRROR:-}" \
    --build-arg "PACKAGES=${packages}" \
    --tag "${IMAGE}" docker/bench >&2
echo "built ${IMAGE} from ${BASE_IMAGE} ($(($(date +%s) - start)) s)" >&2
echo "${IMAGE}"
