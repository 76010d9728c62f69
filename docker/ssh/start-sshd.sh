#!/bin/sh
# Start sshd in the foreground: host keys first (when missing), then root's authorized key
# from SSH_AUTHORIZED_KEY (when set).
set -eu
mkdir -p /run/sshd
ssh-keygen -A >/dev/null
if [ -n "${SSH_AUTHORIZED_KEY:-}" ]; then
    mkdir -p /root/.ssh
    chmod 700 /root/.ssh
    printf '%s\n' "${SSH_AUTHORIZED_KEY}" >/root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi
exec /usr/sbin/sshd -D -e -o PasswordAuthentication=no -o PermitRootLogin=prohibit-password
