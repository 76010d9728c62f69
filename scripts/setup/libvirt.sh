#!/usr/bin/env bash
# A libvirt daemon with QEMU for the libvirt-host tests, living in its own network namespace.
#
# Installs libvirt's daemon and client, QEMU (system x86, software emulation is enough),
# qemu-img, an ISO tool (genisoimage, which also gives isoinfo), xmllint and dnsmasq from
# Debian, then starts virtlogd and libvirtd INSIDE the network namespace
# ${CLOUDLABS_LIBVIRT_NETNS:-cloudlabs-libvirt}: every bridge, dnsmasq and firewall rule libvirt
# creates for its networks stays in that namespace, never on this machine's own network.
# Clients reach the daemon through its unix socket: virsh -c qemu:///system ...
#
# There is no init system to rely on: the daemons are started directly, each once (a running
# daemon in the namespace is kept; one running outside it is an error).
#
# Environment (optional):
#   CLOUDLABS_LIBVIRT_NETNS   the namespace (cloudlabs-libvirt)
#   CLOUDLABS_LIBVIRT_WAIT    seconds to wait for the daemon to answer (60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=libvirt
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${SCRIPT_DIR}/lib.sh"

NETNS="${CLOUDLABS_LIBVIRT_NETNS:-cloudlabs-libvirt}"
WAIT_SECONDS="${CLOUDLABS_LIBVIRT_WAIT:-60}"
URI=qemu:///system
LOCK_FILE=/run/lock/cloudlabs-libvirt.lock
LIBVIRTD_LOG=/var/log/cloudlabs-libvirtd.log

require_root

mkdir -p "$(dirname "${LOCK_FILE}")"
exec 9>"${LOCK_FILE}"
flock -w 900 9 || die "timed out waiting for ${LOCK_FILE}"

# virtinst (virt-install) is not needed: the stack renders the domain XML itself.
apt_install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
    qemu-system-x86 qemu-utils genisoimage libxml2-utils dnsmasq-base iptables iproute2
for tool in libvirtd virtlogd virsh virt-xml-validate qemu-img qemu-system-x86_64 \
    genisoimage isoinfo xmllint dnsmasq iptables ip; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} is missing after the install"
done

# /dev/kvm as udev would leave it (there is no udev here): group kvm, mode 0660. Without it
# QEMU (user libvirt-qemu, group kvm) cannot open it, and libvirtd re-probes QEMU's
# capabilities on every call ("KVM was enabled when probing ... but it is not available now"),
# which makes each `virsh define` take about a minute.
if [[ -c /dev/kvm ]] && getent group kvm >/dev/null; then
    if [[ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]]; then
        log "giving /dev/kvm to group kvm (mode 0660)"
        chgrp kvm /dev/kvm
        chmod 0660 /dev/kvm
    fi
fi

# The namespace, with its loopback up.
if ! ip netns list | awk '{print $1}' | grep -qx "${NETNS}"; then
    log "creating network namespace ${NETNS}"
    ip netns add "${NETNS}"
fi
ip netns exec "${NETNS}" ip link set lo up

# in_netns PID: the process runs in the namespace.
in_netns() {
    [[ "$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null)" == "$(stat -L -c %i "/run/netns/${NETNS}")" ]]
}

# start_daemon NAME PIDFILE COMMAND...: keep a daemon running in the namespace, or start one.
start_daemon() {
    local name="$1" pidfile="$2" pid
    shift 2
    pid="$(cat "${pidfile}" 2>/dev/null || true)"
    if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
        in_netns "${pid}" ||
            die "${name} (pid ${pid}) runs outside the namespace ${NETNS}; stop it first"
        return 0
    fi
    if pgrep -x "${name}" >/dev/null; then
        die "a ${name} without ${pidfile} is running; stop it first"
    fi
    log "starting ${name} in ${NETNS}"
    ip netns exec "${NETNS}" "$@"
}

start_daemon virtlogd /run/virtlogd.pid virtlogd -d
start_daemon libvirtd /run/libvirtd.pid sh -c "libvirtd -d >>'${LIBVIRTD_LOG}' 2>&1"

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if virsh -q -c "${URI}" version >/dev/null 2>&1; then
        log "libvirtd answers on ${URI} (network namespace ${NETNS})"
        exit 0
    fi
    sleep 1
done
die "libvirtd did not answer on ${URI} within ${WAIT_SECONDS}s; see ${LIBVIRTD_LOG}"
