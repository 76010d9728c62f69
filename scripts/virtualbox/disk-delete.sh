#!/usr/bin/env bash
# Delete a disk created by disk-create.sh: unregister it and remove its file.
#
# Environment:
#   DISK_PATH   the disk (a leading ~/ means the home directory)
#   VBOXMANAGE  the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }
# Whether `VBoxManage list $1` has a "$2:" line holding exactly $3. A failing VBoxManage stops
# the script instead of reading as "not there"; grep reads all its input (no -q: under pipefail
# an early exit would fail the pipeline when sed is still writing).
listed() {
    local out
    out="$(vbm list "$1")" || exit 1
    sed -n "s/^$2:[[:space:]]*//p" <<<"${out}" | grep -Fx -- "$3" >/dev/null
}
registered() { listed hdds Location "$1"; }

disk="$(expand "${DISK_PATH:?DISK_PATH is required}")"
if registered "${disk}"; then
    vbm closemedium disk "${disk}" --delete
fi
rm -f -- "${disk}"
