#!/usr/bin/env bash
# Delete a disk created by disk-create.sh: unregister it and remove its file.
#
# Environment:
#   DISK_PATH   the disk (a leading ~/ means the home directory)
#   VBOXMANAGE  the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }
registered() { vbm list hdds | sed -n 's/^Location:[[:space:]]*//p' | grep -Fxq -- "$1"; }

disk="$(expand "${DISK_PATH:?DISK_PATH is required}")"
if registered "${disk}"; then
    vbm closemedium disk "${disk}" --delete
fi
rm -f -- "${disk}"
