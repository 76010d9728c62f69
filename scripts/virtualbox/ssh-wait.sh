#!/usr/bin/env bash
# Wait until an SSH server answers with its banner (the guest has booted and sshd runs).
#
# create: waits, at most WAIT_TIMEOUT seconds. There is nothing to delete.
#
# Usage: ssh-wait.sh create
# Environment:
#   SSH_HOST      the address to try (default 127.0.0.1: a NAT port forward)
#   SSH_PORT      the port
#   WAIT_TIMEOUT  seconds before giving up (default 600)
set -euo pipefail

if [[ "${1:-create}" != create ]]; then
    printf 'usage: %s create\n' "$0" >&2
    exit 2
fi
host="${SSH_HOST:-127.0.0.1}"
port="${SSH_PORT:?SSH_PORT is required}"
deadline=$((SECONDS + ${WAIT_TIMEOUT:-600}))
while ((SECONDS < deadline)); do
    # The braces keep 2>/dev/null to the connection attempt: on a bare `exec` it would stay on
    # for the rest of the script.
    if { exec 3<>"/dev/tcp/${host}/${port}"; } 2>/dev/null; then
        banner=""
        IFS= read -r -t 10 banner <&3 || true
        exec 3<&- 3>&-
        if [[ "${banner}" == SSH-* ]]; then
            printf 'ssh on %s:%s: %s\n' "${host}" "${port}" "${banner%$'\r'}"
            exit 0
        fi
    fi
    sleep 2
done
printf 'ssh-wait: no SSH server answered on %s:%s within %ss\n' "${host}" "${port}" "${WAIT_TIMEOUT:-600}" >&2
exit 1
