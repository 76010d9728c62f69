#!/usr/bin/env bash
# Delete a seed ISO made by seed-create.sh: forget it in VirtualBox and remove the file.
#
# Environment:
#   SEED_PATH   the ISO (a leading ~/ means the home directory)
#   VBOXMANAGE  the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

vbm() { "${VBOXMANAGE:-VBoxManage}" "$@"; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }

iso="$(expand "${SEED_PATH:?SEED_PATH is required}")"
if vbm list dvds | sed -n 's/^Location:[[:space:]]*//p' | grep -Fxq -- "${iso}"; then
    vbm closemedium dvd "${iso}"
fi
rm -f -- "${iso}"
