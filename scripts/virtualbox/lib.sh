# shellcheck shell=bash
# Shared helpers of the scripts in scripts/virtualbox/. Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Exactly that line: components/hostexec.py puts this file's text in its place when it sends a
# script to a host, so the script still travels as one text; from a clone it is sourced.
# Provides: die, vbm, act, expand, norm, same_path, listed_path. Messages start with the
# script's name (vm, disk...).

# The script's name, without its folder and .sh: the prefix of its messages.
tag="${0##*/}"
tag="${tag%.sh}"
# What VBoxManage says when a session holds a VM (the VM itself, or one a medium is attached
# to), e.g. for a few seconds after a power-off.
LOCKED='already locked for a session|already locked by a session|lock request pending'
LOCK_TRIES=5

die() { printf '%s: %s\n' "${tag}" "$*" >&2; exit 1; }
# VBoxManage in English (it translates its text to the user's locale; LC_ALL=C keeps what is
# parsed here as written), its output without the CR of Windows line ends, and a call refused
# because a VM is locked by a session tried again, LOCK_TRIES times in all, with a pause
# doubling from 1 s.
vbm() {
    local attempt=1 pause=1 status err
    err="$(mktemp)"
    while :; do
        status=0
        LC_ALL=C "${VBOXMANAGE:-VBoxManage}" "$@" 2>"${err}" | tr -d '\r' || status=$?
        if ((status == 0 || attempt >= LOCK_TRIES)) || ! grep -Eq -- "${LOCKED}" "${err}"; then
            tr -d '\r' <"${err}" >&2
            rm -f -- "${err}"
            return "${status}"
        fi
        printf '%s: VBoxManage %s: a VM is locked by a session, trying again in %ss\n' \
            "${tag}" "$1" "${pause}" >&2
        sleep "${pause}"
        attempt=$((attempt + 1))
        pause=$((pause * 2))
    done
}
# A change: what VBoxManage says goes to stderr (stdout is what the stack reads back).
act() { vbm "$@" >&2; }
# A path with a leading ~/ made absolute (the home directory of the host's user).
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }
# A path the way VirtualBox prints it back, to compare with: / as separator (C:\ as cygpath
# writes it where there is one), no doubled separators, no . or .. parts.
norm() {
    local path="${1//\\//}" part parts out=()
    if [[ "${path}" == [A-Za-z]:/* ]] && command -v cygpath >/dev/null; then
        path="$(cygpath -u -- "${path}")"
    fi
    IFS=/ read -ra parts <<<"${path}"
    for part in "${parts[@]}"; do
        case "${part}" in
        "" | .) ;;
        ..) ((${#out[@]} == 0)) || unset 'out[${#out[@]}-1]' ;;
        *) out+=("${part}") ;;
        esac
    done
    (IFS=/ && printf '/%s\n' "${out[*]}")
}
same_path() { [[ "$(norm "$1")" == "$(norm "$2")" ]]; }
# Whether `VBoxManage list $1` has a "Location:" line naming the path $2. A failing VBoxManage
# stops the script instead of reading as "not there".
listed_path() {
    local out line want
    out="$(vbm list "$1")" || exit 1
    want="$(norm "$2")"
    while IFS= read -r line; do
        [[ "${line}" == Location:* ]] || continue
        line="${line#Location:}"
        [[ "$(norm "${line#"${line%%[![:space:]]*}"}")" == "${want}" ]] && return 0
    done <<<"${out}"
    return 1
}
