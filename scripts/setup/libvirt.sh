#!/usr/bin/env bash
# A libvirt daemon with QEMU for the libvirt-host tests, living in its own network namespace.
#
# Installs libvirt's daemon and client, QEMU (system x86, software emulation is enough),
# qemu-img, an ISO tool (genisoimage, which also gives isoinfo), xmllint and dnsmasq from
# Debian, and what the tests use to reach the guests (ssh, curl, ansible; socat for the port
# forwards a VirtualBox NAT adapter would make on the host), then starts virtlogd
# and libvirtd INSIDE the network namespace ${CLOUDLABS_LIBVIRT_NETNS:-cloudlabs-libvirt}: every
# bridge, dnsmasq and firewall rule libvirt creates for its networks stays in that namespace,
# never on this machine's own network.
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
# Held while this script runs, never by the daemons it starts (start_detached). Daemons
# started by earlier versions of this script kept /run/lock/cloudlabs-libvirt.lock locked for
# as long as they ran, hence another name.
LOCK_FILE=/run/lock/cloudlabs-libvirt-setup.lock
LIBVIRTD_LOG=/var/log/cloudlabs-libvirtd.log

require_root

mkdir -p "$(dirname "${LOCK_FILE}")"
exec 9>"${LOCK_FILE}"
flock -w 900 9 || die "timed out waiting for ${LOCK_FILE}"

# virtinst (virt-install) is not needed: the stack renders the domain XML itself.
apt_install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
    qemu-system-x86 qemu-utils genisoimage libxml2-utils dnsmasq-base iptables iproute2 \
    openssh-client curl ansible socat
for tool in libvirtd virtlogd virsh virt-xml-validate qemu-img qemu-system-x86_64 \
    genisoimage isoinfo xmllint dnsmasq iptables ip ssh ssh-keygen curl ansible socat; do
    command -v "${tool}" >/dev/null 2>&1 || die "${tool} is missing after the install"
done

# /dev/kvm readable and writable by group kvm, as udev would leave it (there is no udev here).
# Without it QEMU (user libvirt-qemu, group kvm) cannot open it, and libvirtd re-probes QEMU's
# capabilities on every call ("KVM was enabled when probing ... but it is not available now"),
# which makes each `virsh define` take about a minute. Only the group and its rw bits change;
# a node that is already open to group kvm (or to everyone) is left as it is.
if [[ -c /dev/kvm ]] && getent group kvm >/dev/null; then
    kvm_mode="$(stat -c %A /dev/kvm)"
    if [[ "${kvm_mode:7:2}" != rw ]] &&
        [[ "$(stat -c %G /dev/kvm)" != kvm || "${kvm_mode:4:2}" != rw ]]; then
        log "giving /dev/kvm to group kvm (read and write)"
        chgrp kvm /dev/kvm
        chmod g+rw /dev/kvm
    fi
fi

# The namespace, with its loopback up. A name left from before a reboot (/run kept on disk)
# no longer holds a namespace: it is removed and made again.
if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "${NETNS}" &&
    ! ip netns exec "${NETNS}" true 2>/dev/null; then
    log "network namespace ${NETNS} is stale: recreating it"
    ip netns delete "${NETNS}"
fi
if ! ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "${NETNS}"; then
    log "creating network namespace ${NETNS}"
    ip netns add "${NETNS}"
fi
ip netns exec "${NETNS}" ip link set lo up

# start_daemon NAME PIDFILE COMMAND...: keep a daemon running in the namespace, or start one.
start_daemon() {
    local name="$1" pidfile="$2" pid
    shift 2
    pid="$(cat "${pidfile}" 2>/dev/null || true)"
    # A pid file left from before a reboot may name some other process now.
    if [[ "${pid}" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/${pid}/comm" 2>/dev/null)" == "${name}" ]]; then
        in_netns "${pid}" "${NETNS}" ||
            die "${name} (pid ${pid}) runs outside the namespace ${NETNS}; stop it first"
        return 0
    fi
    if pgrep -x "${name}" >/dev/null; then
        die "a ${name} without ${pidfile} is running; stop it first"
    fi
    log "starting ${name} in ${NETNS}"
    # The command daemonizes itself (-d): wait for it to do so.
    start_detached /dev/null ip netns exec "${NETNS}" "$@" >/dev/null
    wait "$!"
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
