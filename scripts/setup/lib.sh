# shellcheck shell=bash
# Shared helpers for the scripts in scripts/setup/. Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# (check with `shellcheck -x`). Provides: log, die, require_root,
# pkg_installed, apt_update, apt_install, apt_has_candidate, host_apt_sources,
# debian_mirror, debian_sources_list, start_detached, remove_build_dir, in_netns.
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

# package_list FILE: the package names of a list file, one a line (comments and blank
# lines skipped), as bench/packages.txt is written.
package_list() {
    grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$'
}

# Exit status 0 when Debian's package lists know PKG (has an install candidate).
apt_has_candidate() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
    [[ -n "${candidate}" && "${candidate}" != "(none)" ]]
}

# Prints "URI SUITE COMPONENTS..." for every enabled `deb` entry of the host's
# apt sources, in both the one-line and the deb822 formats.
host_apt_sources() {
    local f
    shopt -s nullglob
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "${f}" ]] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "${f}" |
            awk '$1 == "deb" && NF >= 4 { $1 = ""; sub(/^ +/, ""); print }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        awk '
            function flush(   i, j, nu, ns) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && suites != "") {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                        print u[i], s[j], comps
                }
                types = uris = suites = comps = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }
        ' "${f}"
    done
    shopt -u nullglob
}

# debian_mirror SUITE: the mirror serving SUITE in the host's apt sources
# (e.g. http://deb.debian.org/debian), or CLOUDLABS_DEBIAN_MIRROR when set.
debian_mirror() {
    if [[ -n "${CLOUDLABS_DEBIAN_MIRROR:-}" ]]; then
        echo "${CLOUDLABS_DEBIAN_MIRROR%/}"
        return 0
    fi
    local uri
    uri="$(host_apt_sources | awk -v s="$1" '$2 == s { print $1; exit }')"
    [[ -n "${uri}" ]] || die "no '$1' entry in the host's apt sources;" \
        "set CLOUDLABS_DEBIAN_MIRROR to a Debian mirror URL"
    echo "${uri%/}"
}

# debian_sources_list SUITE MIRROR: one-line apt sources for SUITE from MIRROR,
# plus the host's SUITE-updates and SUITE-security entries when it has them.
debian_sources_list() {
    local suite="$1" mirror="$2" sources uri s
    sources="$(host_apt_sources)"
    echo "deb ${mirror} ${suite} main"
    for s in "${suite}-updates" "${suite}-security"; do
        uri="$(awk -v s="${s}" '$2 == s { print $1; exit }' <<<"${sources}")"
        if [[ -n "${uri}" ]]; then
            echo "deb ${uri%/} ${s} main"
        fi
    done
}

# start_detached LOG COMMAND...: start COMMAND in the background in a new session, stdin from
# /dev/null, output appended to LOG, and every descriptor above 2 closed: a daemon must never
# keep a caller's lock (`flock FILE cmd`, `exec 9>FILE`) or output pipe open. Prints its pid
# (COMMAND's own when it execs, as setsid, ip netns exec and sh -c 'exec ...' do).
start_detached() {
    local log="$1" fd
    shift
    (
        for fd in /proc/self/fd/*; do
            fd="${fd##*/}"
            if [[ "${fd}" =~ ^[0-9]+$ ]] && ((fd > 2)); then
                eval "exec ${fd}>&-"
            fi
        done
        exec setsid "$@" </dev/null >>"${log}" 2>&1
    ) &
    echo "$!"
}

# remove_build_dir DIR: unmount whatever is mounted below DIR (a chroot's /proc, /sys, a loop
# device), deepest first, then delete DIR without ever crossing into another file system.
remove_build_dir() {
    local dir="$1" m
    [[ -n "${dir}" && -d "${dir}" ]] || return 0
    while read -r m; do
        umount -l "${m}" 2>/dev/null || true
    done < <(awk -v p="${dir}/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "${dir}"
}

# in_netns PID NETNS: the process PID runs in the network namespace NETNS (ip netns).
in_netns() {
    local ns
    ns="$(stat -L -c %i "/run/netns/$2" 2>/dev/null)" || return 1
    [[ "$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null)" == "${ns}" ]]
}
