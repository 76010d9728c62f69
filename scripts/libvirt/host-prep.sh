#!/usr/bin/env bash
# Prepare a KVM host for the libvirt-host lab, or undo what the preparation persisted.
#
# create: net.ipv4.ip_forward=1; br_netfilter loaded with net.bridge.bridge-nf-call-*=1;
#         with PERSIST=1 the same settings go to a sysctl.d and a modules-load.d file so they
#         survive a reboot. Checks the tools the other scripts need, checks /dev/kvm when
#         DOMAIN_TYPE=kvm, and reports nested KVM on stdout ("nested-kvm: ..."). With
#         PERSIST=0, files an earlier run persisted are removed.
# delete: removes the two files written by create (and only if they carry this script's
#         header). Running kernel settings are left as they are until the next boot.
# Every step checks first and acts only when needed.
#
# Usage: host-prep.sh create|delete
# Environment:
#   DOMAIN_TYPE    kvm | qemu (kvm)
#   PERSIST        1 to persist the settings (1)
#   SYSCTL_FILE    (/etc/sysctl.d/60-cloudlabs-libvirt.conf)
#   MODULES_FILE   (/etc/modules-load.d/cloudlabs-libvirt.conf)
set -euo pipefail

ACTION="${1:-create}"
DOMAIN_TYPE="${DOMAIN_TYPE:-kvm}"
PERSIST="${PERSIST:-1}"
SYSCTL_FILE="${SYSCTL_FILE:-/etc/sysctl.d/60-cloudlabs-libvirt.conf}"
MODULES_FILE="${MODULES_FILE:-/etc/modules-load.d/cloudlabs-libvirt.conf}"
HEADER="# Written by cloud-labs (libvirt-host host preparation); removed by its destroy."
BRIDGE_KEYS=(net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
    net.bridge.bridge-nf-call-arptables)

log() { printf '[host-prep] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# set_sysctl KEY VALUE: write the kernel setting when it differs.
set_sysctl() {
    local file="/proc/sys/${1//.//}"
    [[ -e "${file}" ]] || die "kernel setting $1 does not exist on this host"
    if [[ "$(cat "${file}")" != "$2" ]]; then
        log "setting $1=$2"
        printf '%s\n' "$2" >"${file}" || die "cannot set $1"
    fi
}

# write_file PATH CONTENT: replace PATH only when its content differs.
write_file() {
    if [[ ! -f "$1" ]] || [[ "$(cat "$1")" != "$2" ]]; then
        log "writing $1"
        mkdir -p "$(dirname "$1")"
        printf '%s\n' "$2" >"$1"
    fi
}

remove_ours() {
    if [[ -f "$1" ]] && [[ "$(head -n 1 "$1")" == "${HEADER}" ]]; then
        log "removing $1"
        rm -f "$1"
    fi
}

nested_report() {
    local module param value
    for module in kvm_intel kvm_amd; do
        param="/sys/module/${module}/parameters/nested"
        if [[ -r "${param}" ]]; then
            value="$(cat "${param}")"
            case "${value}" in
            Y | y | 1) echo "nested-kvm: enabled (${module})" ;;
            *) echo "nested-kvm: disabled (${module}); enable it with 'options ${module} nested=1' in /etc/modprobe.d/kvm.conf and reload ${module}" ;;
            esac
            return 0
        fi
    done
    echo "nested-kvm: not available (no kvm_intel or kvm_amd module loaded)"
}

create() {
    local tool
    for tool in virsh qemu-img xmllint; do
        command -v "${tool}" >/dev/null 2>&1 || die "${tool} is missing on this host"
    done
    command -v genisoimage >/dev/null 2>&1 || command -v xorriso >/dev/null 2>&1 ||
        die "neither genisoimage nor xorriso is installed on this host"
    if [[ "${DOMAIN_TYPE}" == "kvm" && ! -c /dev/kvm ]]; then
        die "/dev/kvm is missing: this host cannot run KVM guests (set domainType: qemu for software emulation)"
    fi
    set_sysctl net.ipv4.ip_forward 1
    if [[ ! -d /proc/sys/net/bridge ]]; then
        log "loading br_netfilter"
        modprobe br_netfilter || die "cannot load the br_netfilter module"
    fi
    local key
    for key in "${BRIDGE_KEYS[@]}"; do
        set_sysctl "${key}" 1
    done
    if [[ "${PERSIST}" == "1" ]]; then
        write_file "${MODULES_FILE}" "${HEADER}"$'\n'"br_netfilter"
        local body="${HEADER}"$'\n'"net.ipv4.ip_forward = 1"
        for key in "${BRIDGE_KEYS[@]}"; do
            body+=$'\n'"${key} = 1"
        done
        write_file "${SYSCTL_FILE}" "${body}"
    else
        remove_ours "${SYSCTL_FILE}"
        remove_ours "${MODULES_FILE}"
    fi
    echo "ip-forward: $(cat /proc/sys/net/ipv4/ip_forward)"
    echo "bridge-nf-call-iptables: $(cat /proc/sys/net/bridge/bridge-nf-call-iptables)"
    nested_report
}

delete() {
    remove_ours "${SYSCTL_FILE}"
    remove_ours "${MODULES_FILE}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
