#!/usr/bin/env bash
# Delete a VM made by vm-apply.sh: power it off, detach its disk and seed (they are deleted by
# their own scripts), unregister it and delete its settings.
#
# Environment:
#   VM_NAME     the VM's name in VirtualBox
#   VBOXMANAGE  the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }

name="${VM_NAME:?VM_NAME is required}"
info="$(mktemp)"
trap 'rm -f -- "${info}"' EXIT
if ! vbm showvminfo "${name}" --machinereadable >"${info}" 2>/dev/null; then
    exit 0
fi
get() {
    awk -v key="$1" '{ k = $0; sub(/=.*/, "", k); gsub(/"/, "", k)
        if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v); print v; exit } }' "${info}"
}

case "$(get VMState)" in
running | paused | stuck)
    vbm controlvm "${name}" poweroff
    for _ in $(seq 1 30); do
        vbm showvminfo "${name}" --machinereadable >"${info}"
        [[ "$(get VMState)" == running || "$(get VMState)" == stopping ]] || break
        sleep 1
    done
    ;;
esac
for port in 0 1; do
    medium="$(get "SATA-${port}-0")"
    if [[ -n "${medium}" && "${medium}" != none && "${medium}" != emptydrive ]]; then
        vbm storageattach "${name}" --storagectl SATA --port "${port}" --device 0 --medium none
    fi
done
vbm unregistervm "${name}" --delete
