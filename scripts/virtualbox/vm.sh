#!/usr/bin/env bash
# A VirtualBox VM: settings, adapters, NAT port forwards, boot disk, seed DVD, and its first
# serial port written to <VM folder>/console.log (the guest's boot log).
#
# create: creates or updates the VM until it matches the environment, then starts it (or stops
#         it, VM_START=no). It reads the VM's state (showvminfo) and changes only what differs.
#         Settings that VirtualBox changes only on a powered-off VM (CPUs, memory, firmware,
#         boot order, serial port, adapters, disk, seed DVD) stop it first: the ACPI power
#         button, a power-off after VM_STOP_TIMEOUT; a saved state is discarded. NAT rules
#         change live. A VM in a passing state (starting, stopping, saving...) is waited for.
# delete: powers the VM off (or discards its saved state), detaches its disk and seed (they are
#         deleted by their own scripts), unregisters it and deletes its settings and boot log.
# A VM of that name whose settings are not under VM_BASEFOLDER was not made here: create fails
# and leaves it untouched, delete leaves it as it is.
#
# Usage: vm.sh create|delete
# Environment:
#   VM_NAME           the VM's name in VirtualBox
#   VM_BASEFOLDER     where the VM's settings live (a leading ~/ means the home directory)
#   VM_OSTYPE         create: VirtualBox OS type (Ubuntu_64)
#   VM_CPUS           create: number of virtual CPUs
#   VM_MEMORY_MB      create: memory in MB
#   VM_FIRMWARE       create: bios or efi
#   VM_DISK           create: the boot disk (SATA port 0)
#   VM_SEED           create, optional: the cloud-init seed ISO (DVD on SATA port 1)
#   VM_NIC1_MAC       create: MAC address of adapter 1 (NAT), 12 hex digits
#   VM_NIC2           create: adapter 2: none, intnet, hostonly (a host-only interface) or
#                     hostonlynet (a host-only network: macOS hosts with VirtualBox 7)
#   VM_NIC2_NETWORK   create: the internal network, host-only interface or host-only network
#   VM_NIC2_MAC       create: MAC address of adapter 2
#   VM_FORWARDS       create: NAT rules of adapter 1, one per line: name,tcp,hostip,hostport,,guestport
#   VM_START          create: yes to start the VM (headless), no to have it powered off
#   VM_STOP_TIMEOUT   create: seconds to wait for an ACPI shutdown (default 120)
#   VM_SETTLE_TIMEOUT seconds to wait for a VM in a passing state (default 60)
#   VBOXMANAGE        the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

ACTION="${1:-create}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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
console="${base}/${name}/console.log"

info="$(mktemp)"
trap 'rm -f -- "${info}"' EXIT
refresh() { vbm showvminfo "${name}" --machinereadable >"${info}"; }
# The value of one key of `showvminfo --machinereadable` (keys may be quoted), unquoted.
get() {
    awk -v key="$1" '{ k = $0; sub(/=.*/, "", k); gsub(/"/, "", k)
        if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^"|"$/, "", v); print v; exit } }' "${info}"
}
state() { refresh; get VMState; }
# States VirtualBox stays in (machineStateToName in VBoxManageInfo.cpp names them); any other
# (starting, stopping, saving, restoring, snapshotting...) passes by itself.
steady() {
    case "$1" in
    running | paused | gurumeditation | poweroff | aborted | saved | aborted-saved | teleported) return 0 ;;
    *) return 1 ;;
    esac
}
# The VM's state once it is a steady one, waiting at most VM_SETTLE_TIMEOUT seconds.
settled() {
    local now waited=0 limit="${VM_SETTLE_TIMEOUT:-60}"
    now="$(state)"
    while ! steady "${now}" && ((waited < limit)); do
        sleep 1
        waited=$((waited + 1))
        now="$(state)"
    done
    printf '%s\n' "${now}"
}
# Whether the VM's settings file is where createvm --basefolder puts it: <base>/<name>/<name>.vbox.
owned() {
    local dir want="${base}/${name}"
    dir="$(dirname -- "$(get CfgFile)")"
    same_path "${dir}" "${want}" && return 0
    [[ -d "${dir}" && -d "${want}" && "$(cd -- "${dir}" && pwd -P)" == "$(cd -- "${want}" && pwd -P)" ]]
}

# Powers the VM off: the ACPI power button, then (after VM_STOP_TIMEOUT, or at once for a
# paused or stuck VM) a power-off. The VM reads running while its guest shuts down, then
# stopping; a power-off that fails because the VM got there meanwhile is no failure: what
# counts is the state it ends in.
stop_vm() {
    local now waited=0 timeout="${VM_STOP_TIMEOUT:-120}"
    now="$(settled)"
    if [[ "${now}" == running ]]; then
        act controlvm "${name}" acpipowerbutton || true
        now="$(state)"
        while [[ "${now}" == running || "${now}" == stopping ]] && ((waited < timeout)); do
            sleep 2
            waited=$((waited + 2))
            now="$(state)"
        done
    fi
    if [[ "${now}" == running || "${now}" == paused || "${now}" == gurumeditation ]]; then
        act controlvm "${name}" poweroff || true
    fi
    now="$(settled)"
    [[ "${now}" == poweroff || "${now}" == aborted ]] || die "${name} did not power off (state ${now})"
}

# NAT port forwards of adapter 1: live on a running VM, in the settings otherwise.
natpf() {
    if [[ "${running}" == yes ]]; then act controlvm "${name}" natpf1 "$@"; else act modifyvm "${name}" --nat-pf1 "$@"; fi
}

create() {
    local disk seed="" nic2 settings=() need_ctl need_disk need_seed want_fw rule rule_name now
    disk="$(expand "${VM_DISK:?VM_DISK is required}")"
    [[ -z "${VM_SEED:-}" ]] || seed="$(expand "${VM_SEED}")"
    nic2="${VM_NIC2:-none}"

    if ! vbm showvminfo "${name}" --machinereadable >"${info}" 2>/dev/null; then
        mkdir -p "${base}"
        act createvm --name "${name}" --ostype "${VM_OSTYPE:?VM_OSTYPE is required}" \
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
    # Boot from the disk (the seed DVD is not bootable), as Multipass's backend sets it.
    [[ "$(get boot1)" == disk ]] || settings+=(--boot1 disk)
    # Ubuntu cloud images log to the first serial port; a disconnected one is tied to very slow
    # boots. Write it to a file in the VM's folder, as Multipass does: the guest's boot log.
    if [[ "$(get uart1)" != "0x03f8,4" ]] || [[ "$(get uartmode1)" != file,* ]] ||
        ! same_path "$(get uartmode1 | sed 's/^file,//')" "${console}"; then
        settings+=(--uart1 0x3F8 4 --uart-mode1 file "${console}")
    fi
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
    hostonlynet)
        # macOS hosts with VirtualBox 7 have host-only networks instead of interfaces; showvminfo
        # names the attachment hostonlynetwork (VBoxManageInfo.cpp, Vagrant's version_7_0.rb).
        listed hostonlynets Name "${VM_NIC2_NETWORK:?}" ||
            die "host-only network ${VM_NIC2_NETWORK} does not exist (VirtualBox: File > Tools > Network)"
        [[ "$(get nic2)" == hostonlynetwork ]] || settings+=(--nic2 hostonlynet)
        [[ "$(get hostonly-network2)" == "${VM_NIC2_NETWORK}" ]] ||
            settings+=(--host-only-net2 "${VM_NIC2_NETWORK}")
        ;;
    *) die "VM_NIC2 must be none, intnet, hostonly or hostonlynet (got '${nic2}')" ;;
    esac
    if [[ "${nic2}" != none ]]; then
        [[ "$(get macaddress2)" == "${VM_NIC2_MAC:?}" ]] || settings+=(--mac-address2 "${VM_NIC2_MAC}")
    fi
    need_ctl=no
    [[ "$(get storagecontrollername0)" == SATA ]] || need_ctl=yes
    need_disk=no
    same_path "$(get SATA-0-0)" "${disk}" || need_disk=yes
    # The seed DVD too: a running VM only swaps the medium of a drive it has, and cloud-init
    # reads its seed at boot.
    need_seed=no
    if [[ -n "${seed}" ]]; then
        same_path "$(get SATA-1-0)" "${seed}" || need_seed=yes
    elif [[ -n "$(get SATA-1-0)" && "$(get SATA-1-0)" != none && "$(get SATA-1-0)" != emptydrive ]]; then
        need_seed=yes
    fi

    if ((${#settings[@]} > 0)) || [[ "${need_ctl}${need_disk}${need_seed}" == *yes* ]]; then
        now="$(settled)"
        case "${now}" in
        running | paused | gurumeditation) stop_vm ;;
        saved | aborted-saved) act discardstate "${name}" ;;
        esac
        ((${#settings[@]} == 0)) || act modifyvm "${name}" "${settings[@]}"
        if [[ "${need_ctl}" == yes ]]; then
            act storagectl "${name}" --name SATA --add sata --controller IntelAhci --portcount 2
        fi
        if [[ "${need_disk}" == yes ]]; then
            act storageattach "${name}" --storagectl SATA --port 0 --device 0 --type hdd --medium "${disk}"
        fi
        if [[ "${need_seed}" == yes ]]; then
            act storageattach "${name}" --storagectl SATA --port 1 --device 0 --type dvddrive \
                --medium "${seed:-emptydrive}"
        fi
        refresh
    fi

    # NAT port forwards of adapter 1 (natpf above reads `running`).
    running=no
    [[ "$(settled)" == running ]] && running=yes
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

    now="$(settled)"
    if [[ "${VM_START:-yes}" == yes && "${now}" != running ]]; then
        act startvm "${name}" --type headless
    elif [[ "${VM_START:-yes}" != yes && "${now}" =~ ^(running|paused|gurumeditation)$ ]]; then
        stop_vm
    fi
    printf '%s %s\n' "${name}" "$(settled)"
}

delete() {
    local vms port medium now
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
    now="$(settled)"
    case "${now}" in
    running | paused | gurumeditation)
        act controlvm "${name}" poweroff || true
        now="$(settled)"
        ;;
    saved | aborted-saved)
        act discardstate "${name}"
        now="$(settled)"
        ;;
    esac
    [[ "${now}" == poweroff || "${now}" == aborted ]] || die "${name} did not power off (state ${now})"
    for port in 0 1; do
        medium="$(get "SATA-${port}-0")"
        if [[ -n "${medium}" && "${medium}" != none && "${medium}" != emptydrive ]]; then
            act storageattach "${name}" --storagectl SATA --port "${port}" --device 0 --medium none
        fi
    done
    act unregistervm "${name}" --delete
    # The boot log is this script's, not VirtualBox's: it goes too, and the folder if empty.
    rm -f -- "${console}"
    rmdir -- "${base}/${name}" 2>/dev/null || true
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
