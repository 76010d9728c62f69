#!/usr/bin/env bash
# Build, once, the local base image cloudlabs/base:bookworm: a minimal Debian
# bookworm root filesystem made by debootstrap (variant minbase, with python3
# and ca-certificates), imported into the local Docker engine. No registry is
# involved; the packages come from the same Debian mirror the host's apt uses,
# and the image's own apt sources point there too, so Dockerfiles built FROM it
# can `apt-get install` more packages.
#
# Idempotent: an existing image carrying this script's label is reused.
# Prints the image tag on stdout (only that); progress goes to stderr.
#
# Environment (all optional):
#   CLOUDLABS_BASE_IMAGE      tag to build (cloudlabs/base:bookworm)
#   CLOUDLABS_DEBIAN_MIRROR   Debian mirror URL (default: from the host's apt sources)
#   CLOUDLABS_REBUILD=1       rebuild even when the image exists
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=base-image
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

SUITE=bookworm
IMAGE="${CLOUDLABS_BASE_IMAGE:-cloudlabs/base:${SUITE}}"
INCLUDE=python3,ca-certificates,netbase
# Bump when the recipe below changes so that old images are rebuilt.
RECIPE_VERSION=1
LABEL_KEY=org.cloudlabs.base-image
LOCK_FILE=/run/lock/cloudlabs-base-image.lock

require_root

# Start (or install) the engine if it is not answering yet.
if ! docker info >/dev/null 2>&1; then
    bash "${SCRIPT_DIR}/docker.sh" >&2
fi

mkdir -p "$(dirname "${LOCK_FILE}")"
exec 9>"${LOCK_FILE}"
flock -w 900 9 || die "timed out waiting for ${LOCK_FILE}"

image_is_current() {
    local have
    have="$(docker image inspect --format "{{index .Config.Labels \"${LABEL_KEY}\"}}" \
        "${IMAGE}" 2>/dev/null)" || return 1
    [[ "${have}" == "${SUITE}-${RECIPE_VERSION}" ]]
}

ROOTFS_PARENT=""
cleanup() {
    # debootstrap mounts proc/sys inside the target; never delete through them.
    remove_build_dir "${ROOTFS_PARENT}"
}
trap cleanup EXIT

build_image() {
    local mirror arch rootfs started
    started=${SECONDS}
    mirror="$(debian_mirror "${SUITE}")"
    arch="$(dpkg --print-architecture)"
    apt_install debootstrap
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing after install"

    ROOTFS_PARENT="$(mktemp -d /var/tmp/cloudlabs-base.XXXXXX)"
    rootfs="${ROOTFS_PARENT}/rootfs"
    log "debootstrap --variant=minbase --include=${INCLUDE} ${SUITE} (${arch}) from ${mirror}"
    if ! debootstrap --variant=minbase --arch="${arch}" --components=main \
        --include="${INCLUDE}" "${SUITE}" "${rootfs}" "${mirror}" \
        >"${ROOTFS_PARENT}/debootstrap.log" 2>&1; then
        log "debootstrap failed; last lines of its log:"
        tail -n 30 "${ROOTFS_PARENT}/debootstrap.log" >&2
        tail -n 30 "${rootfs}/debootstrap/debootstrap.log" >&2 2>/dev/null || true
        die "could not build the ${SUITE} root filesystem from ${mirror}"
    fi

    log "trimming the root filesystem"
    debian_sources_list "${SUITE}" "${mirror}" >"${rootfs}/etc/apt/sources.list"
    rm -rf "${rootfs}/var/cache/apt/archives/"*.deb \
        "${rootfs}/var/cache/apt/"*.bin \
        "${rootfs}/var/lib/apt/lists/"* \
        "${rootfs}/var/log/"*.log "${rootfs}/var/log/apt/"* \
        "${rootfs}/debootstrap"
    mkdir -p "${rootfs}/var/lib/apt/lists/partial"
    # The engine provides these at run time; do not leak the host's copies.
    : >"${rootfs}/etc/resolv.conf"
    : >"${rootfs}/etc/hostname"
    # Like Debian's official images: packages installed in a container never
    # try to start their services, apt does not keep downloaded packages
    # around and does not fetch translations.
    printf '#!/bin/sh\nexit 101\n' >"${rootfs}/usr/sbin/policy-rc.d"
    chmod 0755 "${rootfs}/usr/sbin/policy-rc.d"
    cat >"${rootfs}/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"${rootfs}/etc/apt/apt.conf.d/docker-no-languages"
    echo 'APT::AutoRemove::SuggestsImportant "false";' \
        >"${rootfs}/etc/apt/apt.conf.d/docker-autoremove-suggests"

    log "importing into the engine as ${IMAGE}"
    tar --numeric-owner --xattrs -C "${rootfs}" -c . |
        docker import \
            --change "LABEL ${LABEL_KEY}=${SUITE}-${RECIPE_VERSION}" \
            --change "LABEL org.opencontainers.image.title=cloudlabs-base" \
            --change "LABEL org.opencontainers.image.description=\"Debian ${SUITE} minbase with python3, built locally by debootstrap\"" \
            --change "LABEL org.opencontainers.image.source=${mirror}" \
            --change "LABEL org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            --change "ENV LANG=C.UTF-8" \
            --change 'CMD ["/bin/bash"]' \
            --message "debootstrap --variant=minbase --include=${INCLUDE} ${SUITE} ${mirror}" \
            - "${IMAGE}" >/dev/null
    cleanup
    ROOTFS_PARENT=""
    log "built ${IMAGE} in $((SECONDS - started))s"
}

main() {
    if [[ "${CLOUDLABS_REBUILD:-0}" != 1 ]] && image_is_current; then
        log "${IMAGE} already present"
    else
        local old new
        old="$(docker image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
        build_image
        new="$(docker image inspect --format '{{.Id}}' "${IMAGE}")"
        if [[ -n "${old}" && "${old}" != "${new}" ]]; then
            # The previous build lost its tag; drop it unless containers use it.
            docker image rm "${old}" >/dev/null 2>&1 || true
        fi
    fi
    local out
    out="$(docker run --rm --network none "${IMAGE}" python3 -c 'print("ok")' 2>&1)" ||
        die "${IMAGE} does not run python3: ${out}"
    [[ "${out}" == ok ]] || die "${IMAGE} printed '${out}' instead of 'ok'"
    echo "${IMAGE}"
}

main "$@"
