#!/usr/bin/env bash
# Define, start and autostart a libvirt network; or delete it if this stack created it.
#
# The definition (NETWORK_XML) carries an ownership mark in its <metadata>: stack="OWNER"
# and digest="..." (see components/libvirt/xml_render.py).
# create: a missing network is defined; one marked by this stack is redefined (and restarted
#         when running) only if its digest differs; one not created by this stack is an error,
#         unless ADOPT_EXISTING=1 (the host's usual `default` network): then it is used as it
#         is and only started if stopped. Then: started if stopped, autostart if AUTOSTART=1.
# delete: stops and undefines the network only when it carries this stack's mark.
#
# Usage: network.sh create|delete
# Environment: LIBVIRT_URI (qemu:///system), NETWORK_NAME, NETWORK_XML, OWNER, DIGEST,
#              ADOPT_EXISTING (0), AUTOSTART (1)
set -euo pipefail

ACTION="${1:-create}"
LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
: "${NETWORK_NAME:?}" "${OWNER:?}"
ADOPT_EXISTING="${ADOPT_EXISTING:-0}"
AUTOSTART="${AUTOSTART:-1}"

log() { printf '[network %s] %s\n' "${NETWORK_NAME}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
virsh_() { virsh -q -c "${LIBVIRT_URI}" "$@"; }

exists() { virsh_ net-info "${NETWORK_NAME}" >/dev/null 2>&1; }
active() { [[ "$(virsh_ net-info "${NETWORK_NAME}" | awk '$1 == "Active:" {print $2}')" == "yes" ]]; }
autostarted() { [[ "$(virsh_ net-info "${NETWORK_NAME}" | awk '$1 == "Autostart:" {print $2}')" == "yes" ]]; }

# mark ATTRIBUTE: the attribute of the ownership mark in the current definition ("" if none).
mark() {
    virsh_ net-dumpxml --inactive "${NETWORK_NAME}" |
        xmllint --xpath "string(/network/metadata/*[local-name()='owner'][namespace-uri()='http://cloudlabs.invalid/libvirt/1']/@$1)" - 2>/dev/null || true
}

# define: (re)define from NETWORK_XML, keeping the UUID of an existing network.
define() {
    local file uuid
    file="$(mktemp)"
    printf '%s\n' "${NETWORK_XML}" >"${file}"
    if uuid="$(virsh_ net-uuid "${NETWORK_NAME}" 2>/dev/null)" && [[ -n "${uuid}" ]]; then
        sed -i "0,/<\/name>/s||</name><uuid>${uuid}</uuid>|" "${file}"
    fi
    virsh_ net-define "${file}" >/dev/null || {
        rm -f "${file}"
        die "virsh net-define failed"
    }
    rm -f "${file}"
}

create() {
    : "${NETWORK_XML:?}" "${DIGEST:?}"
    if exists; then
        if [[ "$(mark stack)" != "${OWNER}" ]]; then
            [[ "${ADOPT_EXISTING}" == "1" ]] ||
                die "a network named ${NETWORK_NAME} exists and was not created by ${OWNER}; rename it in the config or remove it"
            log "exists (not created by ${OWNER}): used as it is"
            active || {
                log "starting"
                virsh_ net-start "${NETWORK_NAME}" >/dev/null
            }
            echo "network ${NETWORK_NAME}: existing"
            return 0
        fi
        if [[ "$(mark digest)" != "${DIGEST}" ]]; then
            log "definition changed: redefining"
            define
            if active; then
                log "restarting to apply the new definition"
                virsh_ net-destroy "${NETWORK_NAME}" >/dev/null
            fi
        fi
    else
        log "defining"
        define
    fi
    if ! active; then
        log "starting"
        virsh_ net-start "${NETWORK_NAME}" >/dev/null
    fi
    if [[ "${AUTOSTART}" == "1" ]] && ! autostarted; then
        virsh_ net-autostart "${NETWORK_NAME}" >/dev/null
    fi
    echo "network ${NETWORK_NAME}: created by ${OWNER}"
}

delete() {
    if ! exists; then
        log "already gone"
        return 0
    fi
    if [[ "$(mark stack)" != "${OWNER}" ]]; then
        log "not created by ${OWNER}: kept"
        return 0
    fi
    if active; then
        log "stopping"
        virsh_ net-destroy "${NETWORK_NAME}" >/dev/null
    fi
    log "undefining"
    virsh_ net-undefine "${NETWORK_NAME}" >/dev/null
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
