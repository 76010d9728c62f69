#!/usr/bin/env bash
# The VirtualBox host: checked once, before anything is made there, for a VBoxManage these
# scripts can drive and for the tools they run; reports the kind of host-only attachment.
#
# create: reads `VBoxManage --version` (its last line: warnings about kernel modules may come
#         first; the format is <x.y.z>[_<build>]r<revision>), refuses a version the scripts
#         cannot drive with the reason, and prints one line:
#           virtualbox=<x.y.z> os=<uname -s> hostonly=<hostonly|hostonlynet>
#         hostonlynet: macOS with VirtualBox 7 has host-only networks instead of host-only
#         interfaces (as Vagrant's use_host_only_nets? decides).
# There is nothing to delete.
#
# Versions: 7.0.2 and later 7.x. Refused: 6.1 and older (no --nat-pf, --mac-address,
# --host-only-adapter, --uart-mode names: they came with 7.0); 7.0.0 and 7.0.1 (showvminfo
# prints no Forwarding(N) lines once a VM has more than one NAT rule, so the NAT rules could
# not be compared). A later major version is used with a warning.
#
# Usage: host.sh create
# Environment:
#   VBOXMANAGE   the VBoxManage command (default: VBoxManage on PATH)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${1:-create}" != create ]]; then
    printf 'usage: %s create\n' "$0" >&2
    exit 2
fi
# The scripts use associative arrays and ${x^^}: bash 4 (macOS still ships bash 3.2).
((BASH_VERSINFO[0] >= 4)) ||
    die "bash ${BASH_VERSION} is too old: the scripts need bash 4 or later (macOS: brew install bash, first on the PATH)"
for tool in ssh ssh-keygen; do
    command -v "${tool}" >/dev/null || die "${tool} is not installed on the VirtualBox host (OpenSSH client)"
done

vboxmanage="${VBOXMANAGE:-VBoxManage}"
output=""
for try in 1 2 3; do
    # VBoxManage's text in English; a Windows host ends its lines with CR LF. An empty answer
    # happens on Windows now and then (Vagrant's meta.rb tries three times, a second apart).
    output="$(LC_ALL=C "${vboxmanage}" --version 2>&1 | tr -d '\r')" ||
        die "${vboxmanage} --version failed: ${output:-no output} (is VirtualBox installed, VBOXMANAGE right?)"
    [[ -z "${output}" ]] || break
    ((try == 3)) || sleep 1
done
if grep -Eqi 'kernel module(s)? (is|are) not loaded|Please install' <<<"${output}"; then
    die "VirtualBox is not ready on this host: ${output}"
fi
version="$(grep -E '^[0-9]+\.[0-9]+\.[0-9]+' <<<"${output}" | tail -n 1 || true)"
[[ "${version}" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]] ||
    die "could not read the VirtualBox version from '${vboxmanage} --version': '${output}'"
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}" patch="${BASH_REMATCH[3]}"
number="${major}.${minor}.${patch}"
if ((major < 7)); then
    die "VirtualBox ${number} is too old: the scripts use VBoxManage 7's option names (--nat-pf, --mac-address, --host-only-adapter, --uart-mode); install VirtualBox 7.0.2 or later"
fi
if ((major == 7 && minor == 0 && patch < 2)); then
    die "VirtualBox ${number} cannot be driven: its showvminfo prints no Forwarding(N) lines once a VM has more than one NAT rule (fixed in 7.0.2); update VirtualBox"
fi
if ((major > 7)); then
    printf 'host: VirtualBox %s is newer than the 7.x these scripts know; going on\n' "${number}" >&2
fi

os="$(uname -s)"
hostonly=hostonly
[[ "${os}" == Darwin ]] && hostonly=hostonlynet
printf 'virtualbox=%s os=%s hostonly=%s\n' "${number}" "${os}" "${hostonly}"
