#!/usr/bin/env bash
# Define, start and autostart a libvirt domain; or delete it if this stack created it.
#
# The definition (DOMAIN_XML) carries an ownership mark in its <metadata>: stack="OWNER" and
# digest="..." (see components/libvirt/xml_render.py).
# create: a missing domain is defined; one marked by this stack is redefined only if its
#         digest differs; a domain not created by this stack is an error. A running domain
#         whose vCPUs or memory changed is restarted to take them: shut down (ACPI), forced
#         off after SHUTDOWN_TIMEOUT seconds if the guest does not stop, then started; other
#         changes apply from its next start. Then: started if not running, autostart if
#         AUTOSTART=1.
# delete: stops (forcefully) and undefines the domain only when it carries this stack's mark.
#         Its disk and seed ISO are removed by their own delete.
#
# Usage: domain.sh create|delete
# Environment: LIBVIRT_URI (qemu:///system), DOMAIN_NAME, DOMAIN_XML, OWNER, DIGEST,
#              AUTOSTART (1), SHUTDOWN_TIMEOUT (120)
set -euo pipefail

ACTION="${1:-create}"
LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
: "${DOMAIN_NAME:?}" "${OWNER:?}"
AUTOSTART="${AUTOSTART:-1}"
SHUTDOWN_TIMEOUT="${SHUTDOWN_TIMEOUT:-120}"
[[ "${SHUTDOWN_TIMEOUT}" =~ ^[0-9]{1,5}$ ]] || { printf 'SHUTDOWN_TIMEOUT must be a number of seconds\n' >&2; exit 1; }

log() { printf '[domain %s] %s\n' "${DOMAIN_NAME}" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
virsh_() { virsh -q -c "${LIBVIRT_URI}" "$@"; }

exists() { virsh_ dominfo "${DOMAIN_NAME}" >/dev/null 2>&1; }
running() { [[ "$(virsh_ domstate "${DOMAIN_NAME}")" == "running" ]]; }
autostarted() { [[ "$(virsh_ dominfo "${DOMAIN_NAME}" | awk '$1 == "Autostart:" {print $2}')" == "enable" ]]; }

# mark ATTRIBUTE: the attribute of the ownership mark in the persistent definition.
mark() {
    virsh_ dumpxml --inactive "${DOMAIN_NAME}" |
        xmllint --xpath "string(/domain/metadata/*[local-name()='owner'][namespace-uri()='http://cloudlabs.invalid/libvirt/1']/@$1)" - 2>/dev/null || true
}

# size [--inactive]: the domain's vCPUs and memory (KiB), live or as defined.
size() {
    virsh_ dumpxml "$@" "${DOMAIN_NAME}" |
        xmllint --xpath 'concat(string(/domain/vcpu), " ", string(/domain/memory))' - 2>/dev/null || true
}

# stop: shut the guest down, forced off when it has not stopped after SHUTDOWN_TIMEOUT s.
stop() {
    log "shutting down to take its new size (forced off after ${SHUTDOWN_TIMEOUT} s)"
    virsh_ shutdown "${DOMAIN_NAME}" >/dev/null 2>&1 || true
    local waited=0
    while running && ((waited < SHUTDOWN_TIMEOUT)); do
        sleep 1
        waited=$((waited + 1))
    done
    if running; then
        log "still running after ${SHUTDOWN_TIMEOUT} s: forcing it off"
        virsh_ destroy "${DOMAIN_NAME}" >/dev/null
    fi
}

# define: (re)define from DOMAIN_XML, keeping the UUID of an existing domain.
define() {
    local file uuid
    file="$(mktemp)"
    printf '%s\n' "${DOMAIN_XML}" >"${file}"
    if uuid="$(virsh_ domuuid "${DOMAIN_NAME}" 2>/dev/null)" && [[ -n "${uuid}" ]]; then
        sed -i "0,/<\/name>/s||</name><uuid>${uuid}</uuid>|" "${file}"
    fi
    virsh_ define "${file}" >/dev/null || {
        rm -f "${file}"
        die "virsh define failed"
    }
    rm -f "${file}"
}

create() {
    : "${DOMAIN_XML:?}" "${DIGEST:?}"
    if exists; then
        [[ "$(mark stack)" == "${OWNER}" ]] ||
            die "a domain named ${DOMAIN_NAME} exists and was not created by ${OWNER}; rename the VM in the config or remove the domain"
        if [[ "$(mark digest)" != "${DIGEST}" ]]; then
            log "definition changed: redefining"
            define
            if running && [[ "$(size)" != "$(size --inactive)" ]]; then
                stop
            fi
        fi
    else
        log "defining"
        define
    fi
    if ! running; then
        log "starting"
        virsh_ start "${DOMAIN_NAME}" >/dev/null
    fi
    if [[ "${AUTOSTART}" == "1" ]] && ! autostarted; then
        virsh_ autostart "${DOMAIN_NAME}" >/dev/null
    fi
    echo "domain ${DOMAIN_NAME}: $(virsh_ domstate "${DOMAIN_NAME}")"
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
    if [[ "$(virsh_ domstate "${DOMAIN_NAME}")" != "shut off" ]]; then
        log "stopping"
        virsh_ destroy "${DOMAIN_NAME}" >/dev/null
    fi
    log "undefining"
    virsh_ undefine --managed-save --snapshots-metadata "${DOMAIN_NAME}" >/dev/null
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
