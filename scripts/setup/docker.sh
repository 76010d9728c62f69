#!/usr/bin/env bash
# Make a local Docker engine available on this machine: install Debian's
# docker.io when dockerd is missing, and start dockerd in the background when
# the engine does not answer. There is no init system to rely on, so dockerd
# is started directly, logging to /var/log/cloudlabs-dockerd.log.
#
# Idempotent: when `docker info` already answers it only checks and returns.
# Exits 0 once the engine answers on unix:///var/run/docker.sock.
#
# Environment (all optional):
#   CLOUDLABS_DOCKERD_LOG             dockerd log file
#   CLOUDLABS_DOCKER_WAIT             seconds to wait for the engine (60)
#   CLOUDLABS_DOCKER_STORAGE_DRIVER   force a storage driver (default: overlay2
#                                     when the filesystem supports it, else vfs)
#   CLOUDLABS_IPTABLES                force the iptables backend: nft | legacy
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=docker
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

DOCKERD_LOG="${CLOUDLABS_DOCKERD_LOG:-/var/log/cloudlabs-dockerd.log}"
WAIT_SECONDS="${CLOUDLABS_DOCKER_WAIT:-60}"
DOCKER_SOCKET=/var/run/docker.sock
DOCKER_ROOT=/var/lib/docker
DAEMON_JSON=/etc/docker/daemon.json
LOCK_FILE=/run/lock/cloudlabs-docker.lock

require_root

# The engine started here listens on the default socket: make the CLI used by
# this script (and by whoever runs it afterwards with a clean environment)
# talk to that socket rather than to some other configured endpoint.
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix://${DOCKER_SOCKET}" ]]; then
    log "ignoring DOCKER_HOST=${DOCKER_HOST}; the local engine is unix://${DOCKER_SOCKET}"
fi
unset DOCKER_HOST DOCKER_CONTEXT

engine_ready() {
    docker info >/dev/null 2>&1
}

# Serialise concurrent runs: two of them must not both start a dockerd.
mkdir -p "$(dirname "${LOCK_FILE}")"
exec 9>"${LOCK_FILE}"
flock -w 600 9 || die "timed out waiting for ${LOCK_FILE}"

install_engine() {
    if ! command -v dockerd >/dev/null 2>&1; then
        # A docker CLI alone (e.g. /usr/local/bin/docker) is not an engine.
        apt_install docker.io
    fi
    # docker.io depends on iptables; name it anyway since dockerd needs it.
    apt_install iptables
    command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
    command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH"

    if ! docker buildx version >/dev/null 2>&1; then
        if apt_has_candidate docker-buildx; then
            apt_install docker-buildx
        else
            log "docker-buildx is not packaged for this release;" \
                "'docker build' uses the classic builder (the engine's BuildKit API still works)"
        fi
    fi
}

# Keep iptables on a backend that works with this kernel. Debian's default
# is the nf_tables backend (iptables-nft); fall back to iptables-legacy.
choose_iptables() {
    local want="${CLOUDLABS_IPTABLES:-}" mode
    if [[ -z "${want}" ]]; then
        if iptables -t nat -S >/dev/null 2>&1 && iptables -t filter -S >/dev/null 2>&1; then
            mode="$(iptables --version 2>/dev/null)"
            log "iptables works as is: ${mode}"
            return 0
        fi
        want=legacy
        log "iptables (nf_tables backend) does not work here; switching to iptables-legacy"
    fi
    case "${want}" in
        nft | legacy) ;;
        *) die "CLOUDLABS_IPTABLES must be nft or legacy, not '${want}'" ;;
    esac
    update-alternatives --set iptables "/usr/sbin/iptables-${want}" >/dev/null
    update-alternatives --set ip6tables "/usr/sbin/ip6tables-${want}" >/dev/null
    iptables -t nat -S >/dev/null 2>&1 ||
        die "iptables (${want}) cannot list the nat table; dockerd cannot set up networking"
    log "iptables: $(iptables --version 2>/dev/null)"
}

# overlay2 needs the backing filesystem of ${DOCKER_ROOT} to accept an overlay
# mount (ext4/xfs do; overlayfs itself, as inside a container, does not).
overlay_works() {
    local probe rc=0
    mkdir -p "${DOCKER_ROOT}"
    probe="$(mktemp -d "${DOCKER_ROOT}/.cloudlabs-overlay-probe.XXXXXX")"
    mkdir -p "${probe}/lower" "${probe}/upper" "${probe}/work" "${probe}/merged"
    echo probe >"${probe}/lower/file"
    if mount -t overlay overlay \
        -o "lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work" \
        "${probe}/merged" 2>/dev/null; then
        echo changed >"${probe}/merged/file" 2>/dev/null || rc=1
        umount "${probe}/merged" || rc=1
    else
        rc=1
    fi
    rm -rf --one-file-system "${probe}"
    return "${rc}"
}

# Prints the storage driver to pass to dockerd, or nothing when the
# configuration file already chooses one.
choose_storage_driver() {
    if [[ -f "${DAEMON_JSON}" ]] && grep -q '"storage-driver"' "${DAEMON_JSON}"; then
        log "storage driver set in ${DAEMON_JSON}"
        return 0
    fi
    if [[ -n "${CLOUDLABS_DOCKER_STORAGE_DRIVER:-}" ]]; then
        echo "${CLOUDLABS_DOCKER_STORAGE_DRIVER}"
    elif overlay_works; then
        echo overlay2
    else
        log "overlay mounts do not work under ${DOCKER_ROOT}; using the (slow, large) vfs driver"
        echo vfs
    fi
}

ensure_cgroups() {
    if ! mountpoint -q /sys/fs/cgroup; then
        log "mounting the cgroup2 hierarchy on /sys/fs/cgroup"
        mount -t cgroup2 cgroup2 /sys/fs/cgroup ||
            log "warning: could not mount cgroups; containers may fail to start"
    fi
}

dockerd_pids() {
    pgrep -x dockerd || true
}

start_dockerd() {
    local driver pid
    local args=(--host "unix://${DOCKER_SOCKET}")

    choose_iptables
    ensure_cgroups
    driver="$(choose_storage_driver)"
    if [[ -n "${driver}" ]]; then
        args+=(--storage-driver "${driver}")
    fi

    mkdir -p "$(dirname "${DOCKERD_LOG}")"
    printf '\n==== %s: starting dockerd %s\n' "$(date -Is)" "${args[*]}" >>"${DOCKERD_LOG}"
    log "starting dockerd ${args[*]} (log: ${DOCKERD_LOG})"
    # New session, no terminal, every descriptor but the standard three closed:
    # dockerd must outlive this script and must keep neither a caller's output
    # pipe nor a lock open (this script's on fd 9, or the one a caller took with
    # `flock FILE scripts/setup/docker.sh`, which would then never be released).
    (
        for fd in "/proc/${BASHPID}/fd/"*; do
            fd="${fd##*/}"
            if [[ "${fd}" =~ ^[0-9]+$ ]] && ((fd > 2)); then
                exec {fd}>&-
            fi
        done
        exec setsid dockerd "${args[@]}" </dev/null >>"${DOCKERD_LOG}" 2>&1
    ) &
    pid=$!
    echo "${pid}"
}

wait_for_engine() {
    local pid="$1" deadline
    deadline=$((SECONDS + WAIT_SECONDS))
    while ((SECONDS < deadline)); do
        if engine_ready; then
            return 0
        fi
        if [[ -n "${pid}" ]] && ! kill -0 "${pid}" 2>/dev/null; then
            log "dockerd exited during start-up; last lines of ${DOCKERD_LOG}:"
            tail -n 25 "${DOCKERD_LOG}" >&2 || true
            die "dockerd failed to start"
        fi
        sleep 1
    done
    log "last lines of ${DOCKERD_LOG}:"
    tail -n 25 "${DOCKERD_LOG}" >&2 || true
    die "the Docker engine did not answer 'docker info' within ${WAIT_SECONDS}s"
}

main() {
    install_engine

    if engine_ready; then
        log "engine already answering"
    else
        local running pid=""
        running="$(dockerd_pids)"
        if [[ -n "${running}" ]]; then
            log "dockerd is running (pid ${running//$'\n'/ }) but not answering yet; waiting"
        else
            pid="$(start_dockerd)"
        fi
        wait_for_engine "${pid}"
    fi

    local info
    info="$(docker info --format 'server {{.ServerVersion}}, storage driver {{.Driver}}, cgroup {{.CgroupVersion}}')" ||
        die "'docker info' failed after the engine answered"
    log "engine ready: ${info}; CLI $(command -v docker) $(docker version --format '{{.Client.Version}}' 2>/dev/null || echo '?')"
}

main "$@"
