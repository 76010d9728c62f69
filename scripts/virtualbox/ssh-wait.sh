#!/usr/bin/env bash
# Wait until a guest is ready: its SSH server answers, then `cloud-init status --wait --long`,
# run over SSH, says cloud-init has finished. A guest whose cloud-init failed is not ready: the
# script fails with that status and the end of the guest's boot log (its serial console).
#
# create: waits, at most WAIT_TIMEOUT seconds in all. There is nothing to delete.
#         cloud-init's "done" is ready; a recoverable error (cloud-init 23.4 and later: exit
#         status 2) is ready with a warning; an error is a failure. Until cloud-init has
#         installed the key, the login is refused: that is tried again.
#
# Usage: ssh-wait.sh create
# Environment:
#   SSH_HOST      the address to try (default 127.0.0.1: a NAT port forward)
#   SSH_PORT      the port
#   SSH_USER      the login user (without it, only the SSH server's banner is waited for)
#   SSH_KEY       the private key to log in with (a leading ~/ means the home directory)
#   CONSOLE_LOG   optional: the guest's boot log, shown when it is not ready
#   WAIT_TIMEOUT  seconds before giving up (default 600)
set -euo pipefail

if [[ "${1:-create}" != create ]]; then
    printf 'usage: %s create\n' "$0" >&2
    exit 2
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
host="${SSH_HOST:-127.0.0.1}"
port="${SSH_PORT:?SSH_PORT is required}"
limit="${WAIT_TIMEOUT:-600}"
deadline=$((SECONDS + limit))
out="$(mktemp)"
trap 'rm -f -- "${out}"' EXIT

# The end of the guest's boot log, after a failure message.
fail() {
    printf 'ssh-wait: %s\n' "$1" >&2
    if [[ -n "${CONSOLE_LOG:-}" ]]; then
        local log
        log="$(expand "${CONSOLE_LOG}")"
        if [[ -s "${log}" ]]; then
            printf -- '--- last lines of the boot log %s:\n' "${log}" >&2
            tail -n 40 -- "${log}" >&2
        fi
    fi
    exit 1
}

banner=""
while ((SECONDS < deadline)); do
    # The braces keep 2>/dev/null to the connection attempt: on a bare `exec` it would stay on
    # for the rest of the script.
    if { exec 3<>"/dev/tcp/${host}/${port}"; } 2>/dev/null; then
        IFS= read -r -t 10 banner <&3 || true
        exec 3<&- 3>&-
        [[ "${banner}" == SSH-* ]] && break
    fi
    banner=""
    sleep 2
done
[[ -n "${banner}" ]] || fail "no SSH server answered on ${host}:${port} within ${limit}s"
banner="${banner%$'\r'}"
if [[ -z "${SSH_USER:-}" ]]; then
    printf 'ssh on %s:%s: %s\n' "${host}" "${port}" "${banner}"
    exit 0
fi

key="$(expand "${SSH_KEY:?SSH_KEY is required with SSH_USER}")"
# A new guest has a new host key and the forward is on this host's loopback: host keys are
# neither checked nor kept.
ssh_opts=(-o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
    -o ServerAliveInterval=15 -i "${key}" -p "${port}")
# `cloud-init status --wait --long` over ssh, with the deadline: its status, 124 when the
# deadline passed first; the output in ${out}.
cloud_init_status() {
    ssh "${ssh_opts[@]}" "${SSH_USER}@${host}" cloud-init status --wait --long >"${out}" 2>&1 </dev/null &
    local pid=$!
    while kill -0 "${pid}" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill "${pid}" 2>/dev/null || true
            wait "${pid}" 2>/dev/null || true
            return 124
        fi
        sleep 1
    done
    wait "${pid}"
}

while :; do
    status=0
    cloud_init_status || status=$?
    case "${status}" in
    0)
        printf 'ssh on %s:%s: %s; cloud-init: %s\n' "${host}" "${port}" "${banner}" \
            "$(sed -n 's/^status: *//p' "${out}" | head -n 1)"
        exit 0
        ;;
    2)
        printf 'ssh-wait: cloud-init finished with recoverable errors on %s:%s:\n' "${host}" "${port}" >&2
        cat -- "${out}" >&2
        printf 'ssh on %s:%s: %s; cloud-init: done with recoverable errors\n' "${host}" "${port}" "${banner}"
        exit 0
        ;;
    124) fail "cloud-init on ${host}:${port} had not finished within ${limit}s" ;;
    255)
        # No login yet (cloud-init has not installed the key) or the connection dropped.
        if ((SECONDS >= deadline)); then
            fail "the SSH server on ${host}:${port} did not let ${SSH_USER} log in with ${key} within ${limit}s: $(tail -n 1 -- "${out}")"
        fi
        sleep 3
        ;;
    *)
        cat -- "${out}" >&2
        fail "cloud-init on ${host}:${port} failed (cloud-init status exit status ${status})"
        ;;
    esac
done
