#!/usr/bin/env bash
# A Debian package mirror for the guests: a real, signed apt repository built here and served
# over HTTP inside the network namespace of the libvirt tests, where guests cannot reach any
# other network. cloud-init's package installation runs against it for real.
#
# What it holds: every package a lab's guest installs (cloud-init user-data, Dockerfile
# recipes) with everything apt on an empty Debian bookworm system would install with it
# (dependencies and recommended packages, as apt resolves them), fetched on this machine with
# `apt-get download` from the host's Debian mirror, indexed with `apt-ftparchive` and signed
# with a key made here once (kept with the mirror).
#
# Interface (what guests and tests use):
#   URL       http://<gateway>:${PORT}/debian  inside the namespace: the server listens on all of
#             its addresses, so a guest on any libvirt network reaches it at its gateway
#             (e.g. http://10.0.0.1:8090/debian); in the namespace itself
#             http://127.0.0.1:8090/debian.
#             Also http://<docker0 address>:${PORT}/debian on this machine (e.g.
#             http://172.17.0.1:8090/debian), for Docker image builds on the default bridge.
#   suites    bookworm (component main, amd64 + all) with every package; bookworm-updates and
#             bookworm-security exist and are empty, so a complete Debian sources.list (or
#             cloud-init's `apt: primary` and `security`) can point at the mirror alone.
#   key       ${DIR}/cloudlabs-mirror.gpg (binary, for `signed-by=`) and .asc (armoured, for
#             cloud-init's `apt` key fields); also served at <URL>/../cloudlabs-mirror.asc.
#   facts     ${DIR}/mirror.env: MIRROR_PORT, MIRROR_PATH, MIRROR_SUITE, MIRROR_NETNS,
#             MIRROR_KEY, MIRROR_KEY_ASC, MIRROR_HOST_URL, MIRROR_PACKAGES, MIRROR_LOG (shell
#             syntax, for tests and scripts).
#   servers   python3 -m http.server; pid files /run/cloudlabs-guest-mirror.pid (namespace) and
#             /run/cloudlabs-guest-mirror-host.pid (docker0); requests logged to
#             /var/log/cloudlabs-guest-mirror.log. A server that is gone (reboot) is started
#             again by the next run; a running one is kept.
#
# Apt source line for a guest:
#   deb [signed-by=/etc/apt/keyrings/cloudlabs-mirror.gpg] http://10.0.0.1:8090/debian bookworm main
#
# Cached: the repository is rebuilt only when its package list (or this script) changes.
# Idempotent. Needs the namespace (made by libvirt.sh, which it runs). Prints the URLs, the
# suite and the key's path last on stdout.
#
# Environment (all optional):
#   CLOUDLABS_GUEST_MIRROR_DIR    where the mirror lives (/var/lib/cloudlabs/guest-mirror)
#   CLOUDLABS_GUEST_MIRROR_PORT   HTTP port (8090)
#   CLOUDLABS_GUEST_MIRROR_EXTRA  more packages to hold, separated by spaces
#   CLOUDLABS_LIBVIRT_NETNS       the namespace (cloudlabs-libvirt)
#   CLOUDLABS_DEBIAN_MIRROR       Debian mirror URL (default: from the host's apt sources)
#   CLOUDLABS_REBUILD=1           rebuild the repository even when it is current
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="${SCRIPT_DIR}/$(basename "${BASH_SOURCE[0]}")"
LOG_TAG=guest-mirror
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

SUITE=bookworm
EMPTY_SUITES=("${SUITE}-updates" "${SUITE}-security")
ARCH=amd64
DIR="${CLOUDLABS_GUEST_MIRROR_DIR:-/var/lib/cloudlabs/guest-mirror}"
PORT="${CLOUDLABS_GUEST_MIRROR_PORT:-8090}"
NETNS="${CLOUDLABS_LIBVIRT_NETNS:-cloudlabs-libvirt}"
WWW="${DIR}/www"
REPO="${WWW}/debian"
KEY="${DIR}/cloudlabs-mirror.gpg"
KEY_ASC="${DIR}/cloudlabs-mirror.asc"
GNUPG_HOME="${DIR}/gnupg"
FACTS="${DIR}/mirror.env"
NETNS_PID=/run/cloudlabs-guest-mirror.pid
HOST_PID=/run/cloudlabs-guest-mirror-host.pid
SERVER_LOG=/var/log/cloudlabs-guest-mirror.log
LOCK_FILE=/run/lock/cloudlabs-guest-mirror.lock
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# What the labs' guests install (user-data renderers under stacks/ and components/, the
# recipes under docker/), and the benchmark tools of the guest benchmarks.
PACKAGES=(
    # vbox-cluster: master, nodes, Redis node
    nginx dnsmasq nfs-kernel-server nfs-common autofs redis-server bind9-host
    # calculator labs (bootstrap.packages)
    python3
    # openstack-k8s bootstrap (the Kubernetes packages come from their own repositories)
    apt-transport-https ca-certificates curl gpg
    # docker-basics recipes and snapshot
    openssh-server nano
)
# benchmarks in guests: the suite's packages (HPL and STREAM with hpcc, Open MPI and OpenBLAS;
# fio; sysbench), as scripts/setup/bench.sh installs them on the host
mapfile -t BENCH_PACKAGES < <(package_list "${SCRIPT_DIR}/../../bench/packages.txt")
PACKAGES+=("${BENCH_PACKAGES[@]}")
read -r -a EXTRA <<<"${CLOUDLABS_GUEST_MIRROR_EXTRA:-}"
PACKAGES+=("${EXTRA[@]}")
RECIPE="$(
    {
        sha256sum "${SELF}"
        printf '%s\n' "${PACKAGES[@]}"
    } | sha256sum | cut -c1-12
)"

# --- the repository ------------------------------------------------------------------------

# A private apt configuration: only Debian's bookworm suites, an empty dpkg status (so the
# closure is what an empty system needs), nothing of the host's own apt state touched.
APT_DIR="${DIR}/apt"
apt_private() {
    APT_CONFIG="${APT_DIR}/apt.conf" "$@"
}

prepare_apt() {
    local mirror
    mirror="$(debian_mirror "${SUITE}")"
    mkdir -p "${APT_DIR}"/{lists/partial,cache/archives/partial} \
        "${APT_DIR}"/{apt.conf.d,preferences.d,sources.list.d}
    : >"${APT_DIR}/status"
    debian_sources_list "${SUITE}" "${mirror}" |
        sed "s|^deb |deb [signed-by=${DEBIAN_KEYRING}] |" >"${APT_DIR}/sources.list"
    cat >"${APT_DIR}/apt.conf" <<EOF
Dir::Etc::SourceList "${APT_DIR}/sources.list";
Dir::Etc::SourceParts "${APT_DIR}/sources.list.d";
Dir::Etc::Parts "${APT_DIR}/apt.conf.d";
Dir::Etc::Preferences "${APT_DIR}/preferences";
Dir::Etc::PreferencesParts "${APT_DIR}/preferences.d";
Dir::State "${APT_DIR}";
Dir::State::Lists "${APT_DIR}/lists";
Dir::State::status "${APT_DIR}/status";
Dir::Cache "${APT_DIR}/cache";
APT::Architecture "${ARCH}";
APT::Architectures { "${ARCH}"; };
APT::Install-Recommends "true";
Acquire::Languages "none";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF
    log "package lists of ${SUITE} from ${mirror}"
    apt_private apt-get -q update >"${APT_DIR}/update.log" 2>&1 || {
        tail -n 20 "${APT_DIR}/update.log" >&2
        die "apt-get update (private lists) failed"
    }
}

# The packages (name=version) apt would install on an empty system for PACKAGES.
closure() {
    apt_private apt-get -s -q install "${PACKAGES[@]}" 2>&1 |
        awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2 "=" v }'
}

signing_key() {
    if [[ -s "${KEY}" && -s "${KEY_ASC}" ]] &&
        [[ -n "$(gpg_ --list-secret-keys --with-colons 2>/dev/null)" ]]; then
        return 0
    fi
    log "making the mirror's signing key"
    rm -rf "${GNUPG_HOME}"
    mkdir -p "${GNUPG_HOME}"
    chmod 0700 "${GNUPG_HOME}"
    gpg_ --passphrase '' --quick-generate-key \
        "cloud-labs guest mirror <guest-mirror@cloudlabs.invalid>" ed25519 sign never
    gpg_ --export >"${KEY}.part"
    gpg_ --armor --export >"${KEY_ASC}.part"
    mv "${KEY}.part" "${KEY}"
    mv "${KEY_ASC}.part" "${KEY_ASC}"
    chmod 0644 "${KEY}" "${KEY_ASC}"
}

gpg_() {
    gpg --homedir "${GNUPG_HOME}" --batch --quiet --yes --pinentry-mode loopback "$@"
}

# index DIST ROOT: Packages, Release, InRelease and Release.gpg of one suite under ROOT.
index() {
    local dist="$1" root="$2" bin
    bin="dists/${dist}/main/binary-${ARCH}"
    mkdir -p "${root}/${bin}"
    if [[ "${dist}" == "${SUITE}" ]]; then
        (cd "${root}" && apt-ftparchive packages pool >"${bin}/Packages")
    else
        : >"${root}/${bin}/Packages"
    fi
    gzip -9nc "${root}/${bin}/Packages" >"${root}/${bin}/Packages.gz"
    (cd "${root}/dists/${dist}" && apt-ftparchive \
        -o APT::FTPArchive::Release::Origin=cloud-labs \
        -o APT::FTPArchive::Release::Label="cloud-labs guest mirror" \
        -o APT::FTPArchive::Release::Suite="${dist}" \
        -o APT::FTPArchive::Release::Codename="${dist}" \
        -o APT::FTPArchive::Release::Architectures="${ARCH}" \
        -o APT::FTPArchive::Release::Components=main \
        -o APT::FTPArchive::Release::Description="Debian ${SUITE} packages for cloud-labs guests" \
        release . >"${root}/Release.tmp")
    mv "${root}/Release.tmp" "${root}/dists/${dist}/Release"
    local release="${root}/dists/${dist}/Release"
    gpg_ --armor --detach-sign -o "${release}.gpg" "${release}"
    gpg_ --clearsign -o "${root}/dists/${dist}/InRelease" "${release}"
}

build_repository() {
    local started=${SECONDS} build wanted=() line
    prepare_apt
    while read -r line; do
        wanted+=("${line}")
    done < <(closure)
    ((${#wanted[@]} > 0)) || die "apt resolved no packages for: ${PACKAGES[*]}"
    # Under the lock, a build directory is what an interrupted build left.
    rm -rf "${DIR}"/.build.*
    build="$(mktemp -d "${DIR}/.build.XXXXXX")"
    mkdir -p "${build}/debian/pool/main"
    log "downloading ${#wanted[@]} packages"
    if ! (cd "${build}/debian/pool/main" &&
        apt_private apt-get -q download "${wanted[@]}" >"${build}/download.log" 2>&1); then
        tail -n 20 "${build}/download.log" >&2
        rm -rf "${build}"
        die "apt-get download failed"
    fi
    index "${SUITE}" "${build}/debian"
    local dist
    for dist in "${EMPTY_SUITES[@]}"; do
        index "${dist}" "${build}/debian"
    done
    rm -f "${build}/download.log"
    printf '%s\n' "${wanted[@]}" >"${build}/debian/packages.txt"
    echo "${RECIPE}" >"${build}/debian/recipe"
    mkdir -p "${WWW}"
    cp "${KEY_ASC}" "${WWW}/cloudlabs-mirror.asc"
    # Swap the new repository in; the servers keep serving the directory by its name.
    if [[ -d "${REPO}" ]]; then
        mv "${REPO}" "${build}/old"
    fi
    mv "${build}/debian" "${REPO}"
    rm -rf "${build}"
    log "repository built: ${#wanted[@]} packages, $(du -sm "${REPO}" | cut -f1) MiB, in" \
        "$((SECONDS - started))s"
}

repository_current() {
    [[ -f "${REPO}/recipe" && "$(cat "${REPO}/recipe")" == "${RECIPE}" ]] &&
        [[ -s "${REPO}/dists/${SUITE}/InRelease" ]] &&
        gpgv --keyring "${KEY}" "${REPO}/dists/${SUITE}/InRelease" >/dev/null 2>&1
}

# --- the servers ---------------------------------------------------------------------------

# serving PIDFILE: the server named by PIDFILE is running (a pid file from before a reboot may
# name another process: only an http.server serving WWW counts).
serving() {
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/${pid}/cmdline" | grep -q -- "http.server.*--directory ${WWW} "
}

# start_server PIDFILE BIND [ip netns exec NS]: python3 -m http.server on BIND:PORT.
start_server() {
    local pidfile="$1" bind="$2"
    shift 2
    log "starting the HTTP server on ${bind}:${PORT}${1:+ in ${NETNS}}"
    start_detached "${SERVER_LOG}" "$@" /usr/bin/python3 -m http.server --bind "${bind}" \
        --directory "${WWW}" "${PORT}" >"${pidfile}"
}

# answers URL: the repository's InRelease is served at URL (run in the namespace with
# ip netns exec for a namespace address).
answers() {
    local url="$1" i
    shift
    for ((i = 0; i < 50; i++)); do
        if "$@" curl -fsS --max-time 2 -o /dev/null "${url}/dists/${SUITE}/InRelease" \
            2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

ensure_servers() {
    local pid
    # In the namespace, on all of its addresses.
    if serving "${NETNS_PID}"; then
        pid="$(cat "${NETNS_PID}")"
        if ! in_netns "${pid}" "${NETNS}"; then
            log "the server (pid ${pid}) is not in the current ${NETNS}: restarting it"
            kill "${pid}"
            start_server "${NETNS_PID}" 0.0.0.0 ip netns exec "${NETNS}"
        fi
    else
        start_server "${NETNS_PID}" 0.0.0.0 ip netns exec "${NETNS}"
    fi
    answers "http://127.0.0.1:${PORT}/debian" ip netns exec "${NETNS}" ||
        die "the mirror does not answer in ${NETNS} on port ${PORT}; see ${SERVER_LOG}"

    # On this machine, on the Docker bridge's address (for image builds), when there is one.
    HOST_URL=""
    local bridge
    bridge="$(ip -4 -o addr show dev docker0 2>/dev/null |
        awk '{ sub(/\/.*/, "", $4); print $4; exit }')"
    if [[ -z "${bridge}" ]]; then
        log "no docker0 bridge: the mirror is served in ${NETNS} only" \
            "(run docker.sh, then this script)"
        return 0
    fi
    if serving "${HOST_PID}" &&
        tr '\0' ' ' <"/proc/$(cat "${HOST_PID}")/cmdline" | grep -q -- "--bind ${bridge} "; then
        :
    else
        if serving "${HOST_PID}"; then
            kill "$(cat "${HOST_PID}")"
        fi
        start_server "${HOST_PID}" "${bridge}"
    fi
    HOST_URL="http://${bridge}:${PORT}/debian"
    answers "${HOST_URL}" || die "the mirror does not answer on ${HOST_URL}; see ${SERVER_LOG}"
}

write_facts() {
    cat >"${FACTS}.part" <<EOF
# The guest mirror (written by scripts/setup/guest-mirror.sh).
MIRROR_PORT=${PORT}
MIRROR_PATH=/debian
MIRROR_SUITE=${SUITE}
MIRROR_NETNS=${NETNS}
MIRROR_KEY=${KEY}
MIRROR_KEY_ASC=${KEY_ASC}
MIRROR_HOST_URL=${HOST_URL}
MIRROR_PACKAGES=${REPO}/packages.txt
MIRROR_LOG=${SERVER_LOG}
EOF
    mv "${FACTS}.part" "${FACTS}"
}

main() {
    local started=${SECONDS}
    require_root
    [[ "${PORT}" =~ ^[1-9][0-9]{0,4}$ ]] || die "CLOUDLABS_GUEST_MIRROR_PORT must be a port number"
    bash "${SCRIPT_DIR}/libvirt.sh"
    mkdir -p "$(dirname "${LOCK_FILE}")" "${DIR}"
    exec 9>"${LOCK_FILE}"
    flock -w 900 9 || die "timed out waiting for ${LOCK_FILE}"
    apt_install apt-utils gpg gpgv curl python3 debian-archive-keyring
    signing_key
    if [[ "${CLOUDLABS_REBUILD:-0}" != 1 ]] && repository_current; then
        log "repository current (recipe ${RECIPE}): $(wc -l <"${REPO}/packages.txt") packages"
    else
        build_repository
    fi
    gpgconf --homedir "${GNUPG_HOME}" --kill gpg-agent 2>/dev/null || true
    ensure_servers
    write_facts
    log "ready in $((SECONDS - started))s"
    echo "url (guests, at their gateway): http://<gateway>:${PORT}/debian"
    echo "url (in ${NETNS}): http://127.0.0.1:${PORT}/debian"
    if [[ -n "${HOST_URL}" ]]; then
        echo "url (Docker builds): ${HOST_URL}"
    fi
    echo "suite: ${SUITE} main (also ${EMPTY_SUITES[*]}, empty)"
    echo "key: ${KEY} (armoured: ${KEY_ASC})"
}

main "$@"
