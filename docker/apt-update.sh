#!/bin/sh
# Refresh apt's package index, from the package mirror when one is set; any failure is an error
# (apt-get update itself only warns, and exits 0, when a source cannot be reached).
#
# Runs in the docker-basics recipes' builds and, installed in their images as
# /usr/local/sbin/cloudlabs-apt-update, in a running container (the snapshot's preparation).
#
# With APT_MIRROR set, the mirror replaces every package source of the system: the suites
# <codename> and <codename>-updates (VERSION_CODENAME of /etc/os-release), component main. Its
# Release files are checked with APT_MIRROR_KEY when given (written to
# /etc/apt/keyrings/cloudlabs-mirror.asc), not checked at all with APT_MIRROR_TRUSTED=true,
# else with the distribution's own keys. Without APT_MIRROR, the system's own sources.
# Idempotent.
#
# Environment:
#   APT_MIRROR          the mirror's URL (http:// or https://), optional
#   APT_MIRROR_KEY      the armoured OpenPGP public key the mirror is signed with, optional
#   APT_MIRROR_TRUSTED  true: take the mirror's packages without checking signatures
set -eu

KEYRING=/etc/apt/keyrings/cloudlabs-mirror.asc
LIST=/etc/apt/sources.list.d/cloudlabs-mirror.list

fail() {
    echo "cloudlabs-apt-update: $*" >&2
    exit 1
}

use_mirror() {
    # shellcheck source=/dev/null
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [ -n "${codename}" ] || fail "no VERSION_CODENAME in /etc/os-release: not Debian or Ubuntu?"
    options=""
    if [ -n "${APT_MIRROR_KEY:-}" ]; then
        mkdir -p /etc/apt/keyrings
        printf '%s\n' "${APT_MIRROR_KEY}" >"${KEYRING}"
        chmod 0644 "${KEYRING}"
        options="[signed-by=${KEYRING}] "
    elif [ "${APT_MIRROR_TRUSTED:-false}" = true ]; then
        options="[trusted=yes] "
    fi
    # The system's own sources go, in both formats; the mirror alone remains.
    find /etc/apt/sources.list.d -mindepth 1 -maxdepth 1 \
        \( -name '*.list' -o -name '*.sources' \) ! -path "${LIST}" -delete
    : >/etc/apt/sources.list
    {
        echo "# The package mirror (cloudlabs-apt-update)."
        echo "deb ${options}${APT_MIRROR} ${codename} main"
        echo "deb ${options}${APT_MIRROR} ${codename}-updates main"
    } >"${LIST}"
    echo "cloudlabs-apt-update: packages from ${APT_MIRROR} (${codename})" >&2
}

apt_version_at_least() {
    dpkg --compare-versions "$(dpkg-query -W -f '${Version}' apt)" ge "$1"
}

update() {
    log="$(mktemp)"
    status=0
    if apt_version_at_least 2.1.16; then
        # --error-on=any: a source that cannot be fetched is an error, not a warning.
        apt-get update --error-on=any >"${log}" 2>&1 || status=$?
    else
        apt-get update >"${log}" 2>&1 || status=$?
        if grep -Eq '^(W: Failed to fetch|W: Some index files failed|E: )' "${log}"; then
            status=1
        fi
    fi
    cat "${log}" >&2
    rm -f "${log}"
    [ "${status}" = 0 ] || fail "apt-get update failed (exit ${status}); see apt's messages above"
}

if [ -n "${APT_MIRROR:-}" ]; then
    use_mirror
fi
update
