#!/usr/bin/env bash
# What the VirtualBox labs' tests run for real: nginx (nginx -t, the load-balancer experiment),
# dnsmasq (dnsmasq --test), redis-server (the shared counter), netplan (its parser),
# genisoimage (the NoCloud seed ISO), openssh-server (the SSH server the readiness wait logs in
# to) and openssh-client. The tests start their own processes on loopback with their own config
# files; the packages' system services are not started here.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/lib.sh
. scripts/setup/lib.sh
require_root

# dnsmasq-base is the binary without the system service.
packages=(nginx dnsmasq-base redis-server netplan.io genisoimage openssh-server openssh-client)
services=(nginx.service redis-server.service ssh.service ssh.socket)

missing=()
for pkg in "${packages[@]}"; do
    pkg_installed "${pkg}" || missing+=("${pkg}")
done
((${#missing[@]} > 0)) || exit 0

# Under systemd, a runtime mask (gone at reboot) keeps the packages' scripts from starting
# their services during the install; elsewhere policy-rc.d or the missing init does it.
masked=()
if [[ -d /run/systemd/system ]]; then
    for unit in "${services[@]}"; do
        if ! systemctl is-active --quiet "${unit}" 2>/dev/null &&
            systemctl mask --runtime --quiet "${unit}" 2>/dev/null; then
            masked+=("${unit}")
        fi
    done
fi
unmask() {
    ((${#masked[@]} == 0)) || systemctl unmask --runtime --quiet "${masked[@]}" || true
}
trap unmask EXIT
apt_install "${missing[@]}"
