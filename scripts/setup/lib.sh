# shellcheck shell=bash
# Shared helpers for the scripts in scripts/setup/. Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# (check with `shellcheck -x`). Provides: log, die, require_root,
# pkg_installed, apt_update, apt_install, apt_has_candidate.
#
# Everything here writes progress to stderr so that callers can keep stdout
# for machine-readable results.

if [[ -n "${CLOUDLABS_SETUP_LIB_LOADED:-}" ]]; then
    return 0
fi
CLOUDLABS_SETUP_LIB_LOADED=1

# Prefix used for every log line; scripts may override it before logging.
: "${LOG_TAG:=$(basename -- "${0:-setup}" .sh)}"

# Stamp written after a successful `apt-get update` made by apt_update.
CLOUDLABS_APT_STAMP="${CLOUDLABS_APT_STAMP:-/var/lib/cloudlabs/apt-update.stamp}"

log() {
    printf '[%s] %s\n' "${LOG_TAG}" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

require_root() {
    if [[ "$(id -u)" -ne 0 ]]; then
        die "must run as root (apt-get, dockerd and mounts need it)"
    fi
}

# Exit status 0 when every named Debian package is installed.
pkg_installed() {
    local pkg status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)"
        [[ "${status}" == "installed" ]] || return 1
    done
    return 0
}

# Exit status 0 when the package lists exist and were refreshed within a day.
_apt_lists_fresh() {
    local lists=/var/lib/apt/lists
    if ! compgen -G "${lists}/*_Packages*" >/dev/null; then
        return 1
    fi
    if [[ -f "${CLOUDLABS_APT_STAMP}" ]] &&
        [[ -z "$(find "${CLOUDLABS_APT_STAMP}" -mmin +1440 2>/dev/null)" ]]; then
        return 0
    fi
    # Release files are rewritten by every `apt-get update` that saw a change;
    # their change time therefore tells when the lists were last fetched.
    local f now changed
    now="$(date +%s)"
    for f in "${lists}"/*Release; do
        [[ -e "${f}" ]] || continue
        changed="$(stat -c %Z "${f}" 2>/dev/null || echo 0)"
        if ((now - changed < 86400)); then
            return 0
        fi
    done
    return 1
}

# Run one apt-get command quietly; its output is shown only when it fails.
_apt_get() {
    local out rc=0
    out="$(mktemp)"
    DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        -o DPkg::Lock::Timeout=300 "$@" >"${out}" 2>&1 || rc=$?
    if ((rc != 0)); then
        log "apt-get $* failed (exit ${rc}):"
        tail -n 40 "${out}" >&2
    fi
    rm -f "${out}"
    return "${rc}"
}

apt_update() {
    log "apt-get update"
    _apt_get update || return 1
    mkdir -p "$(dirname "${CLOUDLABS_APT_STAMP}")"
    touch "${CLOUDLABS_APT_STAMP}"
}

# apt_install PKG...: install the packages that are not installed yet.
# Installs without Recommends. Refreshes the package lists first when they
# are missing or older than a day, and once more if the install fails on
# stale lists.
apt_install() {
    local pkg missing=()
    for pkg in "$@"; do
        pkg_installed "${pkg}" || missing+=("${pkg}")
    done
    ((${#missing[@]} > 0)) || return 0

    local updated=0
    if ! _apt_lists_fresh; then
        apt_update || die "apt-get update failed"
        updated=1
    fi
    log "installing ${missing[*]}"
    if ! _apt_get install --no-install-recommends "${missing[@]}"; then
        ((updated == 0)) || die "could not install ${missing[*]}"
        log "retrying after refreshing the package lists"
        apt_update || die "apt-get update failed"
        _apt_get install --no-install-recommends "${missing[@]}" ||
            die "could not install ${missing[*]}"
    fi
}

# Exit status 0 when Debian's package lists know PKG (has an install candidate).
apt_has_candidate() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
    [[ -n "${candidate}" && "${candidate}" != "(none)" ]]
}
