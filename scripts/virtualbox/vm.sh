#!/usr/bin/env bash
# A VirtualBox VM: settings, adapters, NAT port forwards, boot disk and seed DVD.
#
# create: creates or updates the VM until it matches the environment, then starts it (or stops
#         it, VM_START=no). It reads the VM's state (showvminfo) and changes only what differs.
#         Settings that VirtualBox changes only on a powered-off VM (CPUs, memory, adapters,
#         disk) stop it first (ACPI shutdown, then power off after VM_STOP_TIMEOUT); NAT rules
#         and the seed DVD change live.
# delete: powers the VM off, detaches its disk and seed (they are deleted by their own
#         scripts), unregisters it and deletes its settings.
# A VM of that name whose settings are not under VM_BASEFOLDER was not made here: create fails
# and leaves it untouched, delete leaves it as it is.
#
# Usage: vm.sh create|delete
# Environment:
#   VM_NAME          the VM's name in VirtualBox
#   VM_BASEFOLDER    where the VM's settings live (a leading ~/ means the home directory)
#   VM_OSTYPE        create: VirtualBox OS type (Ubuntu_64)
#   VM_CPUS          create: number of virtual CPUs
#   VM_MEMORY_MB     create: memory in MB
#   VM_FIRMWARE      create: bios or efi
#   VM_DISK          create: the boot disk (SATA port 0)
#   VM_SEED          create, optional: the cloud-init seed ISO (DVD on SATA port 1)
#   VM_NIC1_MAC      create: MAC address of adapter 1 (NAT), 12 hex digits
#   VM_NIC2          create: none, intnet or hostonly: adapter 2
#   VM_NIC2_NETWORK  create: the internal network's name, or the host-only interface
#   VM_NIC2_MAC      create: MAC address of adapter 2
#   VM_FORWARDS      create: NAT rules of adapter 1, one per line: name,tcp,hostip,hostport,,guestport
#   VM_START         create: yes to start the VM (headless), no to have it powered off
#   VM_STOP_TIMEOUT  create: seconds to wait for an ACPI shutdown (default 120)
#   VBOXMANAGE       the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }
die() { printf 'vm: %s\n' "$*" >&2; exit 1; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }
# Whether `VBoxManage list $1` has a "$2:" line holding exactly $3. A failing VBoxManage stops
# the script instead of reading as "not there"; grep reads all its input (no -q: under pipefail
# an early exit would fail the pipeline when sed is still writing).
listed() {
    local out
    out="$(vbm list "$1")" || exit 1
    sed -n "s/^$2:[[:space:]]*//p" <<<"${out}" | grep -Fx -- "$3" >/dev/null
}

name="${VM_NAME:?VM_NAME is required}"
base="$(expand "${VM_BASEFOLDER:?VM_BASEFOLDER is required}")"

info="$(mktemp)"
trap 'rm -f -- "${info}"' EXIT
refresh() { vbm showvminfo "${name}" --machinereadable >"${info}"; }
# The value of one key of `showvminfo --machinereadable` (keys may be quoted), unquoted.
get() {
    awk -v key="$1" '{ k = $0; sub(/=.*/, "", k); gsub(/"/, "", k)
        if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v); print v; exit } }' "${info}"
}
state() { refresh; get VMState; }
# Whether the VM's settings file is where createvm --basefolder puts it: <base>/<name>/<name>.vbox.
owned() {
    local dir want="${base}/${name}"
    dir="$(dirname -- "$(get CfgFile)")"
    [[ "${dir}" == "${want}" ]] && return 0
    [[ -d "${dir}" && -d "${want}" && "$(cd -- "${dir}" && pwd -P)" == "$(cd -- "${want}" && pwd -P)" ]]
}

stop_vm() {
    local waited=0 timeout="${VM_STOP_TIMEOUT:-120}"
    vbm controlvm "${name}" acpipowerbutton
    while [[ "$(state)" == running ]] && ((waited < timeout)); do
        sleep 2
        waited=$((waited + 2))
    done
    if [[ "$(state)" != poweroff && "$(state)" != aborted ]]; then
        vbm controlvm "${name}" poweroff
    fi
}

# NAT port forwards of adapter 1: live on a running VM, in the settings otherwise.
natpf() {
    if [[ "${running}" == yes ]]; then vbm controlvm "${name}" natpf1 "$@"; else vbm modifyvm "${name}" --nat-pf1 "$@"; fi
}

create() {
    local disk seed="" nic2 settings=() need_ctl need_disk want_fw rule rule_name
    disk="$(expand "${VM_DISK:?VM_DISK is required}")"
    [[ -z "${VM_SEED:-}" ]] || seed="$(expand "${VM_SEED}")"
    nic2="${VM_NIC2:-none}"

    if ! vbm showvminfo "${name}" --machinereadable >"${info}" 2>/dev/null; then
        mkdir -p "${base}"
        vbm createvm --name "${name}" --ostype "${VM_OSTYPE:?VM_OSTYPE is required}" \
            --basefolder "${base}" --register
        refresh
    elif ! owned; then
        die "a VM named ${name} already exists ($(get CfgFile)) and was not made under ${base}: rename or remove it"
    fi

    # Settings that need a powered-off VM.
    [[ "$(get cpus)" == "${VM_CPUS:?}" ]] || settings+=(--cpus "${VM_CPUS}")
    [[ "$(get memory)" == "${VM_MEMORY_MB:?}" ]] || settings+=(--memory "${VM_MEMORY_MB}")
    want_fw="${VM_FIRMWARE:-bios}"
    [[ "$(get firmware)" == "${want_fw^^}" ]] || settings+=(--firmware "${want_fw}")
    [[ "$(get ioapic)" == on ]] || settings+=(--ioapic on)
    # Ubuntu cloud images log to the first serial port; give them one, disconnected.
    [[ "$(get uart1)" == "0x03f8,4" ]] || settings+=(--uart1 0x3F8 4 --uart-mode1 disconnected)
    [[ "$(get nic1)" == nat ]] || settings+=(--nic1 nat)
    [[ "$(get macaddress1)" == "${VM_NIC1_MAC:?}" ]] || settings+=(--mac-address1 "${VM_NIC1_MAC}")
    case "${nic2}" in
    none) [[ "$(get nic2)" == none ]] || settings+=(--nic2 none) ;;
    intnet)
        [[ "$(get nic2)" == intnet ]] || settings+=(--nic2 intnet)
        [[ "$(get intnet2)" == "${VM_NIC2_NETWORK:?}" ]] || settings+=(--intnet2 "${VM_NIC2_NETWORK}")
        ;;
    hostonly)
        listed hostonlyifs Name "${VM_NIC2_NETWORK:?}" ||
            die "host-only interface ${VM_NIC2_NETWORK} does not exist (VirtualBox: File > Tools > Network)"
        [[ "$(get nic2)" == hostonly ]] || settings+=(--nic2 hostonly)
        [[ "$(get hostonlyadapter2)" == "${VM_NIC2_NETWORK}" ]] ||
            settings+=(--host-only-adapter2 "${VM_NIC2_NETWORK}")
        ;;
    *) die "VM_NIC2 must be none, intnet or hostonly (got '${nic2}')" ;;
    esac
    if [[ "${nic2}" != none ]]; then
        [[ "$(get macaddress2)" == "${VM_NIC2_MAC:?}" ]] || settings+=(--mac-address2 "${VM_NIC2_MAC}")
    fi
    need_ctl=no
    [[ "$(get storagecontrollername0)" == SATA ]] || need_ctl=yes
    need_disk=no
    [[ "$(get SATA-0-0)" == "${disk}" ]] || need_disk=yes

    if ((${#settings[@]} > 0)) || [[ "${need_ctl}" == yes || "${need_disk}" == yes ]]; then
        if [[ "$(get VMState)" == running ]]; then
            stop_vm
        fi
        ((${#settings[@]} == 0)) || vbm modifyvm "${name}" "${settings[@]}"
        if [[ "${need_ctl}" == yes ]]; then
            vbm storagectl "${name}" --name SATA --add sata --controller IntelAhci --portcount 2
        fi
        if [[ "${need_disk}" == yes ]]; then
            vbm storageattach "${name}" --storagectl SATA --port 0 --device 0 --type hdd --medium "${disk}"
        fi
        refresh
    fi

    # The seed DVD can change on a running VM.
    if [[ -n "${seed}" && "$(get SATA-1-0)" != "${seed}" ]]; then
        vbm storageattach "${name}" --storagectl SATA --port 1 --device 0 --type dvddrive --medium "${seed}"
    elif [[ -z "${seed}" && -n "$(get SATA-1-0)" && "$(get SATA-1-0)" != none && "$(get SATA-1-0)" != emptydrive ]]; then
        vbm storageattach "${name}" --storagectl SATA --port 1 --device 0 --type dvddrive --medium emptydrive
    fi

    # NAT port forwards of adapter 1 (natpf above reads `running`).
    running=no
    [[ "$(get VMState)" == running ]] && running=yes
    declare -A want=()
    while IFS= read -r rule; do
        [[ -n "${rule}" ]] || continue
        want["${rule%%,*}"]="${rule}"
    done <<<"${VM_FORWARDS:-}"
    declare -A have=()
    while IFS= read -r rule; do
        [[ -n "${rule}" ]] || continue
        have["${rule%%,*}"]="${rule}"
    done < <(sed -n 's/^Forwarding([0-9]*)="\(.*\)"$/\1/p' "${info}")
    for rule_name in "${!have[@]}"; do
        if [[ "${want[${rule_name}]:-}" != "${have[${rule_name}]}" ]]; then
            natpf delete "${rule_name}"
        fi
    done
    for rule_name in "${!want[@]}"; do
        if [[ "${have[${rule_name}]:-}" != "${want[${rule_name}]}" ]]; then
            natpf "${want[${rule_name}]}"
        fi
    done

    if [[ "${VM_START:-yes}" == yes && "$(state)" != running ]]; then
        vbm startvm "${name}" --type headless
    elif [[ "${VM_START:-yes}" != yes && "$(state)" == running ]]; then
        stop_vm
    fi
    printf '%s %s\n' "${name}" "$(state)"
}

delete() {
    local vms port medium
    # `list vms` fails loudly when VBoxManage does; only a VM missing from it is already gone.
    vms="$(vbm list vms)"
    if ! grep -F -- "\"${name}\" {" >/dev/null <<<"${vms}"; then
        return 0
    fi
    refresh
    if ! owned; then
        printf 'vm: %s (%s) was not made under %s: left as it is\n' "${name}" "$(get CfgFile)" "${base}" >&2
        return 0
    fi
    case "$(get VMState)" in
    running | paused | stuck)
        vbm controlvm "${name}" poweroff
        for _ in $(seq 1 30); do
            refresh
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
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
