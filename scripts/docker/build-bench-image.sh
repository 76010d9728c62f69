#!/usr/bin/env bash
# Build the standalone benchmark image (docker/bench/Dockerfile's last stage, context docker/):
# the tools' layer on top of a base image — the Debian packages of bench/packages.txt, from the
# base image's apt sources or the package mirror APT_MIRROR (docker/apt-update.sh) — running
# `sleep infinity`. (The Docker labs build the stage `layer` alone, on their own images.)
# Prints the image tag (only that) on stdout. Idempotent: Docker's layer cache makes a rebuild
# of unchanged inputs a no-op.
#
# Environment (all optional):
#   IMAGE        tag to build (cloudlabs/bench:bookworm)
#   BASE_IMAGE   image the layer goes on (cloudlabs/base:bookworm)
#   APT_MIRROR   Debian/Ubuntu mirror URL used inside the build (default: the image's own)
#   APT_MIRROR_KEY, APT_MIRROR_TRUSTED
#                its armoured signing key, or true to take it unchecked (docker/apt-update.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${IMAGE:-cloudlabs/bench:bookworm}"
BASE_IMAGE="${BASE_IMAGE:-cloudlabs/base:bookworm}"
packages="$(grep -v '^[[:space:]]*#' bench/packages.txt | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')"
start="$(date +%s)"
DOCKER_BUILDKIT=0 docker build --quiet \
    --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
    --build-arg "APT_MIRROR=${APT_MIRROR:-}" \
    --build-arg "APT_MIRROR_KEY=${APT_MIRROR_KEY:-}" \
    --build-arg "APT_MIRROR_TRUSTED=${APT_MIRROR_TRUSTED:-false}" \
    --build-arg "PACKAGES=${packages}" \
    --file docker/bench/Dockerfile --tag "${IMAGE}" docker >&2
echo "built ${IMAGE} from ${BASE_IMAGE} ($(($(date +%s) - start)) s)" >&2
echo "${IMAGE}"
