#!/usr/bin/env bash
# The key the stack logs in to its guests with to see that cloud-init has finished: an ed25519
# key pair made on the VirtualBox host, which never leaves it. cloud-init installs the public
# half for the login user next to the user's own key.
#
# create: makes KEY_PATH (private, mode 0600) and KEY_PATH.pub unless they exist; prints the
#         public key.
# delete: removes both files.
#
# Usage: ready-key.sh create|delete
# Environment:
#   KEY_PATH   the private key file (a leading ~/ means the home directory)
set -euo pipefail

ACTION="${1:-create}"

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

key="$(expand "${KEY_PATH:?KEY_PATH is required}")"

create() {
    if [[ ! -s "${key}" || ! -s "${key}.pub" ]]; then
        mkdir -p "$(dirname -- "${key}")"
        rm -f -- "${key}" "${key}.pub"
        ssh-keygen -q -t ed25519 -N '' -C cloudlabs-ready -f "${key}" </dev/null
    fi
    cat -- "${key}.pub"
}

delete() {
    rm -f -- "${key}" "${key}.pub"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
