#!/usr/bin/env bash
# What the Docker labs' integration tests use besides the engine and the base image
# (scripts/setup/docker.sh, scripts/setup/base-image.sh): the OpenSSH client, to log in to
# docker-basics' ct2 with a throw-away key.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/lib.sh
. scripts/setup/lib.sh
apt_install openssh-client
