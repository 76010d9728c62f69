#!/usr/bin/env bash
# Delete a VM made by vm-apply.sh: power it off, detach its disk and seed (they are deleted by
# their own scripts), unregister it and delete its settings. A VM of that name whose settings
# are not under VM_BASEFOLDER was not made by vm-apply.sh: it is left as it is.
#
# Environment:
#   VM_NAME        the VM's name in VirtualBox
#   VM_BASEFOLDER  where vm-apply.sh put the VM's settings (a leading ~/ means the home directory)
#   VBOXMANAGE     the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }

name="${VM_NAME:?VM_NAME is required}"
base="$(expand "${VM_BASEFOLDER:?VM_BASEFOLDER is required}")"
# `list vms` fails loudly when VBoxManage does; only a VM missing from it is already gone.
vms="$(vbm list vms)"
if ! grep -F -- "\"${name}\" {" >/dev/null <<<"${vms}"; then
    exit 0
fi
info="$(mktemp)"
trap 'rm -f -- "${info}"' EXIT
vbm showvminfo "${name}" --machinereadable >"${info}"
get() {
    awk -v key="$1" '{ k = $0; sub(/=.*/, "", k); gsub(/"/, "", k)
        if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v); print v; exit } }' "${info}"
}
dir="$(dirname -- "$(get CfgFile)")"
want="${base}/${name}"
if [[ "${dir}" != "${want}" ]] &&
    ! [[ -d "${dir}" && -d "${want}" && "$(cd -- "${dir}" && pwd -P)" == "$(cd -- "${want}" && pwd -P)" ]]; then
    printf 'vm-delete: %s (%s) was not made under %s: left as it is\n' "${name}" "$(get CfgFile)" "${base}" >&2
    exit 0
fi

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
